//! A table's page: its rows as they were at a chosen time or tag (now by
//! default), a page at a time.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use maud::html;
use revy_seaorm::history::Moment;
use serde::Deserialize;

use super::render::{self, clean, pct, query, row_href};
use super::{Shared, UiError, Viewer};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TableQuery {
    #[serde(default)]
    at: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    after: String,
}

pub(crate) async fn page(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Path(table): Path<String>,
    Query(q): Query<TableQuery>,
) -> Result<Response, UiError> {
    let db = &s.db;
    let b = s.entity(&table)?.clone();
    let (moment, shown_at) = if !q.tag.is_empty() {
        if revy_seaorm::tags::find_tag(&q.tag).one(db).await?.is_none() {
            return Err(UiError::NotFound(format!(
                "no tag named {:?}",
                clean(&q.tag)
            )));
        }
        (
            Moment::tag(q.tag.clone()),
            html! { "tag " span.tag { (clean(&q.tag)) } },
        )
    } else if !q.at.is_empty() {
        let at = render::parse_time(&q.at).ok_or_else(|| {
            UiError::BadRequest(format!(
                "{:?} is not a time: write 2026-01-31T12:00 (UTC)",
                clean(&q.at)
            ))
        })?;
        (Moment::Time(at), render::time(&at))
    } else {
        let now = Utc::now();
        (
            Moment::Time(now),
            html! { "now (" (render::time(&now)) ")" },
        )
    };
    let after = (!q.after.is_empty()).then(|| q.after.clone());
    let page = b.table_page(db, moment, after, s.page_size).await?;
    let tags = revy_seaorm::tags::all(db).await?;
    let columns = b.columns();
    let unrecorded = b.unrecorded()?;
    let base = &viewer.base;
    let here = format!("{base}/tables/{}", pct(&table));
    let tables: Vec<String> = s.entities.keys().cloned().collect();
    let body = html! {
        form.filters method="get" action=(here) {
            label { "At (UTC) " input name="at" value=(q.at) placeholder="2026-01-31T12:00"; }
            label { " or tag "
                select name="tag" {
                    option value="" { "none" }
                    @for t in &tags { option value=(t.name) selected[t.name == q.tag] { (clean(&t.name)) } }
                }
            }
            button type="submit" { "Travel" }
            " " a href=(here) { "now" }
        }
        p { "As of " (shown_at) ". " a href={ (render::home(base)) (query(&[("table", &table)])) } { "Revisions of this table" } }
        @if page.rows.is_empty() {
            p.empty { "No rows at that moment." }
        } @else {
            table.rows {
                thead { tr { th { "row" } @for c in &columns { th { (clean(c)) } } } }
                tbody {
                    @for (key, row) in &page.rows {
                        tr {
                            td { a href=(row_href(base, &table, key)) { code { (render::text(key)) } } }
                            @for (col, v) in row {
                                @let why = unrecorded.iter().find(|(c, _)| c == col).map(|(_, w)| *w);
                                td { (render::snapshot_value(v, why)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &page.next {
            p.paging { a.next href={ (here) (query(&[("at", &q.at), ("tag", &q.tag), ("after", next)])) } { "Next rows →" } }
        }
    };
    Ok(render::page(
        &viewer,
        &format!("Table {table}"),
        &tables,
        body,
    ))
}
