//! Restore, revert and undo. Each is a confirmation page (GET) whose form
//! posts the action with a CSRF token; the POST runs in a revy context whose
//! actor is the viewer, so the browser's own actions are journaled.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use revy_core::{Action, Context};
use revy_seaorm::rollback::RollbackError;
use revy_seaorm::versions::VersionError;
use serde::Deserialize;

use super::render::{self, clean, query, row_href};
use super::row::{entry_of, side_by_side};
use super::{Shared, UiError, Viewer, csrf};

/// The revision description of the browser's actions.
const RESTORED: &str = "Restored in the history browser";
const REVERTED: &str = "Reverted in the history browser";
const UNDONE: &str = "Undone in the history browser";

#[derive(Debug, Deserialize)]
pub(crate) struct RowAction {
    table: String,
    key: String,
    delta: i64,
    /// Revert only: the version the confirmation page showed.
    #[serde(default)]
    expected: Option<i64>,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UndoAction {
    revision: i64,
    #[serde(default)]
    csrf: String,
}

fn writable(s: &Shared) -> Result<(), UiError> {
    if s.read_only {
        return Err(UiError::Forbidden(
            "the history browser is read-only".into(),
        ));
    }
    Ok(())
}

fn checked(s: &Shared, viewer: &Viewer, token: &str) -> Result<(), UiError> {
    writable(s)?;
    if !csrf::check(&s.secret, &viewer.actor, token) {
        return Err(UiError::Forbidden(
            "the form's CSRF token is missing or wrong: open the confirmation page again".into(),
        ));
    }
    Ok(())
}

fn see_other(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// A confirmation form: hidden fields, the token, a button and a way back.
fn confirm_form(
    s: &Shared,
    viewer: &Viewer,
    action: &str,
    fields: &[(&str, String)],
    button: &str,
    back: &str,
) -> Markup {
    html! {
        form.confirm method="post" action={ (viewer.base) "/actions/" (action) } {
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name="csrf" value=(csrf::token(&s.secret, &viewer.actor));
            button.danger type="submit" { (button) }
            " " a href=(back) { "Cancel" }
        }
    }
}

fn tables(s: &Shared) -> Vec<String> {
    s.entities.keys().cloned().collect()
}

pub(crate) async fn confirm_restore(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Query(q): Query<RowAction>,
) -> Result<Response, UiError> {
    writable(&s)?;
    let b = s.entity(&q.table)?.clone();
    let entry = entry_of(&s, b.as_ref(), &q.key, q.delta).await?;
    if entry.action != Action::Delete {
        return Err(UiError::BadRequest(format!(
            "object delta {} is not a delete: only a deleted row can be restored",
            q.delta
        )));
    }
    let snapshot = b.snapshot(&s.db, q.delta).await?;
    let back = row_href(&viewer.base, &q.table, &q.key);
    let body = html! {
        p { "Insert row " code { (render::text(&q.key)) } " of " (clean(&q.table))
            " again as it was when it was deleted at " (render::time(&entry.at)) ", by " (render::actor(&entry.actor)) "." }
        (side_by_side(&b.columns(), &b.unrecorded()?, (html! { "now" }, None), (html! { "restored" }, snapshot.as_ref())))
        (confirm_form(&s, &viewer, "restore", &[("table", q.table.clone()), ("key", q.key.clone()), ("delta", q.delta.to_string())], "Restore this row", &back))
    };
    Ok(render::page(
        &viewer,
        "Restore a deleted row?",
        &tables(&s),
        body,
    ))
}

pub(crate) async fn restore(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Form(f): Form<RowAction>,
) -> Result<Response, UiError> {
    checked(&s, &viewer, &f.csrf)?;
    let b = s.entity(&f.table)?.clone();
    // the delta must be this row's delete, as the confirmation page showed
    let entry = entry_of(&s, b.as_ref(), &f.key, f.delta).await?;
    if entry.action != Action::Delete {
        return Err(UiError::BadRequest(format!(
            "object delta {} is not a delete",
            f.delta
        )));
    }
    Context::via_actor(Some(viewer.actor.clone()))
        .revision_description(RESTORED)
        .scope(b.restore(&s.db, f.delta))
        .await?;
    Ok(see_other(row_href(&viewer.base, &f.table, &f.key)))
}

pub(crate) async fn confirm_revert(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Query(q): Query<RowAction>,
) -> Result<Response, UiError> {
    writable(&s)?;
    let b = s.entity(&q.table)?.clone();
    let entry = entry_of(&s, b.as_ref(), &q.key, q.delta).await?;
    let live = b.live(&s.db, &q.key).await?;
    let Some(current) = b.version(&s.db, &q.key).await? else {
        return Err(UiError::NotFound("the row has no history".into()));
    };
    if live.is_none() {
        return Err(UiError::BadRequest(
            "the row is deleted: restore it instead".into(),
        ));
    }
    let target = b.snapshot(&s.db, q.delta).await?;
    let back = row_href(&viewer.base, &q.table, &q.key);
    let body = html! {
        p { "Set row " code { (render::text(&q.key)) } " of " (clean(&q.table)) " back to version " (entry.version)
            ", as saved at " (render::time(&entry.at)) " by " (render::actor(&entry.actor))
            ". The row is at version " (current) " now; if it changes before you confirm, nothing is written." }
        (side_by_side(&b.columns(), &b.unrecorded()?, (html! { "now (v" (current) ")" }, live.as_ref()), (html! { "after (as v" (entry.version) ")" }, target.as_ref())))
        (confirm_form(&s, &viewer, "revert", &[("table", q.table.clone()), ("key", q.key.clone()), ("delta", q.delta.to_string()), ("expected", current.to_string())], "Revert this row", &back))
    };
    Ok(render::page(&viewer, "Revert a row?", &tables(&s), body))
}

pub(crate) async fn revert(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Form(f): Form<RowAction>,
) -> Result<Response, UiError> {
    checked(&s, &viewer, &f.csrf)?;
    let b = s.entity(&f.table)?.clone();
    let Some(expected) = f.expected else {
        return Err(UiError::BadRequest(
            "the form names no expected version".into(),
        ));
    };
    entry_of(&s, b.as_ref(), &f.key, f.delta).await?;
    let done = Context::via_actor(Some(viewer.actor.clone()))
        .revision_description(REVERTED)
        .scope(b.revert(&s.db, f.delta, expected))
        .await;
    let back = row_href(&viewer.base, &f.table, &f.key);
    match done {
        Ok(()) => Ok(see_other(back)),
        Err(revy_seaorm::Error::Version(e)) => {
            let VersionError::VersionConflict {
                expected, current, ..
            } = *e
            else {
                return Err(revy_seaorm::Error::Version(e).into());
            };
            let again = format!(
                "{}/actions/revert{}",
                viewer.base,
                query(&[
                    ("table", &f.table),
                    ("key", &f.key),
                    ("delta", &f.delta.to_string())
                ])
            );
            let body = html! {
                p.conflict {
                    "The row changed after you looked: you confirmed version " (expected) ", it is "
                    @match current { Some(v) => { "at version " (v) }, None => "deleted" }
                    " now. Nothing was written."
                }
                p { a href=(back) { "See what changed" } " · " a href=(again) { "Review the revert again" } }
            };
            let mut response =
                render::page(&viewer, "Conflict: the row moved on", &tables(&s), body);
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn confirm_undo(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Query(q): Query<UndoAction>,
) -> Result<Response, UiError> {
    writable(&s)?;
    let revision = super::revision::find(&s, q.revision).await?;
    let deltas = revy_seaorm::history::revision_deltas(q.revision)
        .all(&s.db)
        .await?;
    let back = format!("{}/revisions/{}", viewer.base, q.revision);
    let body = html! {
        p { "Reverse every change of revision #" (revision.id) " (" (render::time(&revision.created_at)) "), "
            (deltas.len()) " rows, in one new revision. If any of these rows changed since, nothing is written." }
        @if !revision.description.is_empty() { p.description { (render::text(&revision.description)) } }
        ul.rows {
            @for d in deltas.iter().take(50) {
                li { (render::action(d.action)) " " (clean(&d.content_type)) " " code { (render::text(&d.content_id)) } }
            }
        }
        (confirm_form(&s, &viewer, "undo", &[("revision", q.revision.to_string())], "Undo this revision", &back))
    };
    Ok(render::page(&viewer, "Undo a revision?", &tables(&s), body))
}

pub(crate) async fn undo(
    State(s): State<Arc<Shared>>,
    viewer: Viewer,
    Form(f): Form<UndoAction>,
) -> Result<Response, UiError> {
    checked(&s, &viewer, &f.csrf)?;
    let done = Context::via_actor(Some(viewer.actor.clone()))
        .revision_description(UNDONE)
        .scope(revy_seaorm::rollback::undo_revision(f.revision).exec(&s.db))
        .await;
    match done {
        Ok(new) => Ok(see_other(format!(
            "{}/revisions/{}",
            viewer.base,
            new.unwrap_or(f.revision)
        ))),
        Err(revy_seaorm::Error::Rollback(e)) if matches!(*e, RollbackError::Conflict { .. }) => {
            let body = html! {
                p.conflict { (clean(&e.to_string())) ". Nothing was written." }
                p { a href={ (viewer.base) "/revisions/" (f.revision) } { "Back to the revision" } }
            };
            let mut response = render::page(&viewer, "Conflict: a row moved on", &tables(&s), body);
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}
