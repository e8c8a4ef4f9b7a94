//! The revisions page: newest first, a page at a time (keyset on the
//! revision id), filtered by actor, table, row key, time range and tag.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::html;
use revy_core::Actor;
use serde::Deserialize;

use super::render::{self, clean, pct, query, row_href};
use super::{Shared, UiError, Viewer};

/// Rows listed under each revision before "and N more".
const ROWS_SHOWN: usize = 10;

/// The page's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    table: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    before: String,
}

/// The actor a filter names: `system` is the system.
fn actor_filter(text: &str) -> Result<Option<Actor>, UiError> {
    if text == "system" {
        return Ok(None);
    }
    text.parse::<Actor>().map(Some).map_err(|e| {
        UiError::BadRequest(format!(
            "actor {:?}: {e}; write kind:id (users:7) or system",
            clean(text)
        ))
    })
}

fn time_filter(name: &str, text: &str) -> Result<Option<DateTime<Utc>>, UiError> {
    if text.is_empty() {
        return Ok(None);
    }
    render::parse_time(text).map(Some).ok_or_else(|| {
        UiError::BadRequest(format!(
            "{name} {:?} is not a time: write 2026-01-31T12:00 (UTC) or RFC 3339",
            clean(text)
        ))
    })
}

pub(crate) async fn page(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Query(f): Query<Filters>,
) -> Result<Response, UiError> {
    let db = &s.db;
    let mut q = revy_seaorm::history::revisions().limit(s.page_size);
    if !f.actor.is_empty() {
        q = q.actor(actor_filter(&f.actor)?);
    }
    match (f.table.is_empty(), f.key.is_empty()) {
        (false, true) => q = q.table(f.table.clone()),
        (false, false) => q = q.row(f.table.clone(), f.key.clone()),
        (true, false) => {
            return Err(UiError::BadRequest(
                "a row key needs its table: choose the table too".into(),
            ));
        }
        (true, true) => {}
    }
    let from = time_filter("from", &f.from)?;
    let to = time_filter("to", &f.to)?;
    if from.is_some() || to.is_some() {
        let floor = DateTime::<Utc>::UNIX_EPOCH;
        let ceiling = render::parse_time("9999-12-31T23:59:59").unwrap_or_else(Utc::now);
        q = q.between(from.unwrap_or(floor), to.unwrap_or(ceiling));
    }
    let mut bound: Option<i64> = None;
    if !f.before.is_empty() {
        let before = f
            .before
            .parse::<i64>()
            .map_err(|_| UiError::BadRequest("before must be a revision id".into()))?;
        bound = Some(before);
    }
    if !f.tag.is_empty() {
        let Some(tag) = revy_seaorm::tags::find_tag(&f.tag).one(db).await? else {
            return Err(UiError::NotFound(format!(
                "no tag named {:?}",
                clean(&f.tag)
            )));
        };
        // the tag's revision and those before it
        let up_to = tag.revision_id.saturating_add(1);
        bound = Some(bound.map_or(up_to, |b| b.min(up_to)));
    }
    if let Some(b) = bound {
        q = q.before(b);
    }
    let revisions = q.all(db).await?;
    let tags = revy_seaorm::tags::all(db).await?;
    let ids: Vec<i64> = revisions.iter().map(|r| r.id).collect();
    let summaries = revy_seaorm::history::revision_summaries(&ids, ROWS_SHOWN as u64)
        .all(db)
        .await?;
    let shown: Vec<_> = revisions.iter().zip(summaries).collect();
    let base = &viewer.base;
    let tables: Vec<String> = s.entities.keys().cloned().collect();
    let next = match revisions.last() {
        Some(last) if revisions.len() as u64 >= s.page_size => Some(format!(
            "{}{}",
            render::home(base),
            query(&[
                ("actor", &f.actor),
                ("table", &f.table),
                ("key", &f.key),
                ("from", &f.from),
                ("to", &f.to),
                ("tag", &f.tag),
                ("before", &last.id.to_string()),
            ])
        )),
        _ => None,
    };
    let body = html! {
        form.filters method="get" action=(render::home(base)) {
            label { "Actor " input name="actor" value=(f.actor) placeholder="users:7 or system"; }
            label { "Table "
                select name="table" {
                    option value="" { "any" }
                    @for t in &tables {
                        option value=(t) selected[*t == f.table] { (clean(t)) }
                    }
                }
            }
            label { "Row key " input name="key" value=(f.key) placeholder="7"; }
            label { "From " input name="from" value=(f.from) placeholder="2026-01-31T00:00"; }
            label { "To " input name="to" value=(f.to) placeholder="2026-02-01T00:00"; }
            label { "Up to tag "
                select name="tag" {
                    option value="" { "none" }
                    @for t in &tags {
                        option value=(t.name) selected[t.name == f.tag] { (clean(&t.name)) }
                    }
                }
            }
            button type="submit" { "Filter" }
            " " a href=(render::home(base)) { "clear" }
        }
        @if shown.is_empty() {
            p.empty { "No revision matches." }
        }
        ol.revisions {
            @for (r, summary) in &shown {
                li.revision {
                    div.head {
                        a.id href={ (base) "/revisions/" (r.id) } { "#" (r.id) }
                        " " (render::time(&r.created_at)) " by "
                        @for (i, a) in summary.actors.iter().enumerate() {
                            @if i > 0 { ", " }
                            (render::actor(a))
                        }
                        @for t in tags.iter().filter(|t| t.revision_id == r.id) {
                            " " span.tag { (clean(&t.name)) }
                        }
                    }
                    @if !r.description.is_empty() {
                        div.description { (render::text(&r.description)) }
                    }
                    @if let Some(meta) = &r.meta {
                        div.meta { "meta " (render::text(&meta.to_string())) }
                    }
                    ul.rows {
                        @for d in &summary.deltas {
                            li {
                                (render::action(d.action)) " "
                                @if s.entities.contains_key(&d.content_type) {
                                    a href=(row_href(base, &d.content_type, &d.content_id)) {
                                        (clean(&d.content_type)) " " code { (render::text(&d.content_id)) }
                                    }
                                } @else {
                                    (clean(&d.content_type)) " " code { (render::text(&d.content_id)) }
                                }
                                " v" (d.version)
                            }
                        }
                        @if summary.delta_count > summary.deltas.len() as u64 {
                            li.more { a href={ (base) "/revisions/" (r.id) } { "and " (summary.delta_count - summary.deltas.len() as u64) " more" } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.paging { a.next href=(next) { "Older revisions →" } }
        }
        @if !f.table.is_empty() && s.entities.contains_key(&f.table) {
            p { a href={ (base) "/tables/" (pct(&f.table)) } { "Browse table " (clean(&f.table)) } }
        }
    };
    Ok(render::page(&viewer, "Revisions", &tables, body))
}
