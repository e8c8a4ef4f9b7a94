//! A row's page: whether it is live or deleted now, its timeline of
//! versions, a side-by-side diff of any two of them, blame, and its state
//! at a chosen time.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use revy_core::Action;
use revy_seaorm::history::HistoryEntry;
use serde::Deserialize;

use super::registry::{Browse, Row};
use super::render::{self, clean, query, row_href};
use super::revision::changes;
use super::{Shared, UiError, Viewer};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RowQuery {
    #[serde(default)]
    pub(crate) key: String,
    /// Object delta ids of the two versions to compare.
    #[serde(default)]
    a: Option<i64>,
    #[serde(default)]
    b: Option<i64>,
    /// A time to show the row at.
    #[serde(default)]
    at: String,
    /// Older history: entries before this object delta.
    #[serde(default)]
    before: Option<i64>,
}

/// The entry of object delta `id` of this row, or a 404.
pub(crate) async fn entry_of(
    s: &Shared,
    b: &dyn Browse,
    key: &str,
    id: i64,
) -> Result<HistoryEntry, UiError> {
    b.entries(&s.db, key, Some(id.saturating_add(1)), 1)
        .await?
        .into_iter()
        .find(|e| e.object_delta_id == id)
        .ok_or_else(|| {
            UiError::NotFound(format!(
                "object delta {id} is not in the history of row {} of {}",
                clean(key),
                clean(&b.table())
            ))
        })
}

/// Two states of the row side by side, changed columns marked.
pub(crate) fn side_by_side(
    columns: &[String],
    unrecorded: &[(String, &'static str)],
    (left_title, left): (Markup, Option<&Row>),
    (right_title, right): (Markup, Option<&Row>),
) -> Markup {
    let get = |row: Option<&Row>, col: &str| {
        row.and_then(|r| r.iter().find(|(c, _)| c == col).map(|(_, v)| v.clone()))
    };
    html! {
        table.diff {
            thead { tr { th { "column" } th { (left_title) } th { (right_title) } } }
            tbody {
                @for col in columns {
                    @let why = unrecorded.iter().find(|(c, _)| c == col).map(|(_, w)| *w);
                    @let (l, r) = (get(left, col), get(right, col));
                    @let changed = why.is_none() && l != r;
                    tr class=[changed.then_some("changed")] {
                        th { (clean(col)) }
                        td { @match &l { Some(v) => (render::snapshot_value(v, why)), None => span.absent { "no row" } } }
                        td { @match &r { Some(v) => (render::snapshot_value(v, why)), None => span.absent { "no row" } } }
                    }
                }
            }
        }
    }
}

fn version_label(e: &HistoryEntry) -> Markup {
    html! { "v" (e.version) " " (render::action(e.action)) }
}

pub(crate) async fn page(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Path(table): Path<String>,
    Query(q): Query<RowQuery>,
) -> Result<Response, UiError> {
    let db = &s.db;
    let b = s.entity(&table)?.clone();
    if q.key.is_empty() {
        return Err(UiError::BadRequest(
            "which row? add ?key=… to the address".into(),
        ));
    }
    let key = q.key.as_str();
    let live = b.live(db, key).await?;
    let version = b.version(db, key).await?;
    let entries = b.entries(db, key, q.before, s.page_size).await?;
    let blame = b.blame(db, key).await?;
    let unrecorded = b.unrecorded()?;
    let columns = b.columns();
    let base = &viewer.base;
    let here = row_href(base, &table, key);

    let diff = match (q.a, q.b) {
        (Some(a), Some(bb)) => {
            let (ea, eb) = (
                entry_of(&s, b.as_ref(), key, a).await?,
                entry_of(&s, b.as_ref(), key, bb).await?,
            );
            let (sa, sb) = (b.snapshot(db, a).await?, b.snapshot(db, bb).await?);
            Some(side_by_side(
                &columns,
                &unrecorded,
                (
                    html! { "v" (ea.version) " · " (render::time(&ea.at)) },
                    sa.as_ref(),
                ),
                (
                    html! { "v" (eb.version) " · " (render::time(&eb.at)) },
                    sb.as_ref(),
                ),
            ))
        }
        _ => None,
    };
    let at_state = if q.at.is_empty() {
        None
    } else {
        let at = render::parse_time(&q.at).ok_or_else(|| {
            UiError::BadRequest(format!(
                "{:?} is not a time: write 2026-01-31T12:00 (UTC)",
                clean(&q.at)
            ))
        })?;
        Some((at, b.as_of(db, key, at).await?))
    };
    let deleted_now = live.is_none() && version.is_some();
    let newest_delete = entries
        .first()
        .filter(|e| e.action == Action::Delete)
        .map(|e| e.object_delta_id);
    let (default_a, default_b) = match entries.as_slice() {
        [newest, older, ..] => (older.object_delta_id, newest.object_delta_id),
        [only] => (only.object_delta_id, only.object_delta_id),
        [] => (0, 0),
    };
    let older = match entries.last() {
        Some(last) if entries.len() as u64 >= s.page_size => Some(format!(
            "{here}&{}",
            query(&[("before", &last.object_delta_id.to_string())]).trim_start_matches('?')
        )),
        _ => None,
    };
    let tables: Vec<String> = s.entities.keys().cloned().collect();
    let body = html! {
        p.status {
            @if deleted_now {
                span.badge.delete { "deleted now" }
                @if let (false, Some(d)) = (s.read_only, newest_delete) {
                    " " a.button href={ (base) "/actions/restore" (query(&[("table", &table), ("key", key), ("delta", &d.to_string())])) } { "Restore…" }
                }
            } @else if live.is_some() {
                span.badge.create { "live" } " at version " (version.unwrap_or(0))
            } @else {
                span.badge { "not in the journal" }
            }
            " · " a href={ (render::home(base)) (query(&[("table", &table), ("key", key)])) } { "revisions of this row" }
        }
        h2 { "Timeline" }
        table.timeline {
            thead { tr { th { "version" } th { "who" } th { "when" } th { "revision" } th { "changes" } th {} } }
            tbody {
                @for e in &entries {
                    tr {
                        td { (version_label(e)) }
                        td { (render::actor(&e.actor)) }
                        td { (render::time(&e.at)) }
                        td {
                            a href={ (base) "/revisions/" (e.revision_id) } { "#" (e.revision_id) }
                            @if !e.revision_description.is_empty() { " " (render::text(&e.revision_description)) }
                        }
                        td { (changes(e)) }
                        td {
                            @if !s.read_only && live.is_some() && e.action != Action::Delete && Some(e.version) != version {
                                a.button href={ (base) "/actions/revert" (query(&[("table", &table), ("key", key), ("delta", &e.object_delta_id.to_string())])) } { "Revert to v" (e.version) "…" }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(older) = older {
            p.paging { a.next href=(older) { "Older versions →" } }
        }
        // the fragment brings the result into view after the form's GET
        h2 #compare { "Compare two versions" }
        form.compare method="get" action={ (base) "/rows/" (render::pct(&table)) "#compare" } {
            input type="hidden" name="key" value=(key);
            label { "From " select name="a" {
                @for e in &entries { option value=(e.object_delta_id) selected[q.a.unwrap_or(default_a) == e.object_delta_id] { "v" (e.version) " (" (e.at.format("%Y-%m-%d %H:%M:%S")) ")" } }
            } }
            label { " to " select name="b" {
                @for e in &entries { option value=(e.object_delta_id) selected[q.b.unwrap_or(default_b) == e.object_delta_id] { "v" (e.version) " (" (e.at.format("%Y-%m-%d %H:%M:%S")) ")" } }
            } }
            button type="submit" { "Compare" }
        }
        @if let Some(diff) = diff { (diff) }
        h2 { "Blame" }
        @if blame.is_empty() {
            p.empty { "No history." }
        } @else {
            table.blame {
                thead { tr { th { "column" } th { "value" } th { "set by" } th { "when" } th { "revision" } } }
                tbody {
                    @for c in &blame {
                        tr {
                            th { (clean(&c.column)) }
                            td { (render::field(&c.value)) }
                            td { (render::actor(&c.actor)) }
                            td { (render::time(&c.at)) }
                            td { a href={ (base) "/revisions/" (c.revision_id) } { "#" (c.revision_id) } }
                        }
                    }
                }
            }
        }
        h2 { "State at a time" }
        form.at method="get" action={ (base) "/rows/" (render::pct(&table)) } {
            input type="hidden" name="key" value=(key);
            label { "At (UTC) " input name="at" value=(q.at) placeholder="2026-01-31T12:00"; }
            button type="submit" { "Show" }
        }
        @if let Some((at, state)) = &at_state {
            @match state {
                Some(row) => (side_by_side(&columns, &unrecorded, (html! { "live now" }, live.as_ref()), (html! { "at " (render::time(at)) }, Some(row)))),
                None => p.absent { "The row did not exist at " (render::time(at)) "." },
            }
        }
    };
    Ok(render::page(
        &viewer,
        &format!("{table} {key}"),
        &tables,
        body,
    ))
}
