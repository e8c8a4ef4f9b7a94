//! A revision's page: every change in it, field by field, with actors and
//! descriptions.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use revy_seaorm::history::HistoryEntry;
use serde::Deserialize;

use super::render::{self, clean, query, row_href};
use super::{Shared, UiError, Viewer};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Paging {
    /// Show the revision's changes from this object delta on.
    #[serde(default)]
    after: Option<i64>,
}

/// The changes of one history entry as a table of old and new values.
pub(crate) fn changes(entry: &HistoryEntry) -> Markup {
    html! {
        @if entry.changes.is_empty() {
            p.nochange { "No column values recorded." }
        } @else {
            table.changes {
                thead { tr { th { "column" } th { "old" } th { "new" } th { "set by" } } }
                tbody {
                    @for c in &entry.changes {
                        tr {
                            th { (clean(&c.column)) }
                            td.old { (render::field(&c.old)) }
                            td.new { (render::field(&c.new)) }
                            td {
                                (render::actor(&c.actor))
                                @if !c.description.is_empty() { " · " (render::text(&c.description)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The revision `id`, read through the revisions query.
pub(crate) async fn find(
    s: &Shared,
    id: i64,
) -> Result<revy_seaorm::entity::revision::Model, UiError> {
    let found = revy_seaorm::history::revisions()
        .before(id.saturating_add(1))
        .limit(1)
        .all(&s.db)
        .await?;
    found
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| UiError::NotFound(format!("no revision {id} in the journal")))
}

pub(crate) async fn page(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> Result<Response, UiError> {
    let db = &s.db;
    let revision = find(&s, id).await?;
    let actors = revy_seaorm::history::revision_actors(id).all(db).await?;
    let deltas = revy_seaorm::history::revision_deltas(id).all(db).await?;
    let tags = revy_seaorm::tags::all(db).await?;
    let from = paging.after.unwrap_or(i64::MIN);
    let page: Vec<_> = deltas
        .iter()
        .filter(|d| d.id > from)
        .take(usize::try_from(s.page_size).unwrap_or(usize::MAX))
        .collect();
    let mut shown = Vec::new();
    for d in &page {
        let entry = match s.entities.get(&d.content_type) {
            Some(b) => b
                .entries(db, &d.content_id, Some(d.id.saturating_add(1)), 1)
                .await?
                .into_iter()
                .find(|e| e.object_delta_id == d.id),
            None => None,
        };
        shown.push((*d, entry));
    }
    let base = &viewer.base;
    let next = match page.last() {
        Some(last) if deltas.iter().any(|d| d.id > last.id) => Some(format!(
            "{base}/revisions/{id}{}",
            query(&[("after", &last.id.to_string())])
        )),
        _ => None,
    };
    let tables: Vec<String> = s.entities.keys().cloned().collect();
    let body = html! {
        dl.facts {
            dt { "When" } dd { (render::time(&revision.created_at)) }
            dt { "Actors" } dd {
                @for (i, a) in actors.iter().enumerate() { @if i > 0 { ", " } (render::actor(a)) }
            }
            dt { "Description" } dd { (render::text(&revision.description)) }
            @if let Some(meta) = &revision.meta {
                dt { "Meta" } dd { (render::text(&meta.to_string())) }
            }
            @let named: Vec<_> = tags.iter().filter(|t| t.revision_id == id).collect();
            @if !named.is_empty() {
                dt { "Tags" } dd { @for t in named { span.tag { (clean(&t.name)) } " " } }
            }
            dt { "Rows" } dd { (deltas.len()) }
        }
        @if !s.read_only && !deltas.is_empty() {
            p.actions { a.button href={ (base) "/actions/undo" (query(&[("revision", &id.to_string())])) } { "Undo this revision…" } }
        }
        @for (d, entry) in &shown {
            section.delta {
                h2 {
                    (render::action(d.action)) " "
                    @if s.entities.contains_key(&d.content_type) {
                        a href=(row_href(base, &d.content_type, &d.content_id)) {
                            (clean(&d.content_type)) " " code { (render::text(&d.content_id)) }
                        }
                    } @else {
                        (clean(&d.content_type)) " " code { (render::text(&d.content_id)) }
                    }
                    " → v" (d.version)
                }
                p.by { "by " (render::actor(&d.actor())) " at " (render::time(&d.created_at))
                    @if !d.description.is_empty() { " · " (render::text(&d.description)) } }
                @match entry {
                    Some(e) => (changes(e)),
                    None => p.note { "This table is not registered with the browser: its values are not shown." },
                }
            }
        }
        @if let Some(next) = next {
            p.paging { a.next href=(next) { "More rows of this revision →" } }
        }
    };
    Ok(render::page(
        &viewer,
        &format!("Revision #{id}"),
        &tables,
        body,
    ))
}
