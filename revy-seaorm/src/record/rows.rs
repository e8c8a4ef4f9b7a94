//! The rows the journal writers write: what the context said, one
//! column's change, one object delta.

use chrono::{DateTime, SubsecRound, Utc};
use revy_core::{Action, Actor, Context, LazyRevision};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Order, Query, Value};

use super::insert::Row;
use crate::error::{Error, JournalError};
use crate::journal::object_delta;
use crate::journal::revision::RevisionKind;

/// The columns of `revy_object_deltas` a writer fills (all but the id), in
/// the order every writer binds them.
pub(crate) const OBJECT_DELTA_COLUMNS: [object_delta::Column; 9] = [
    object_delta::Column::RevisionId,
    object_delta::Column::ActorType,
    object_delta::Column::ActorId,
    object_delta::Column::Action,
    object_delta::Column::Description,
    object_delta::Column::ContentType,
    object_delta::Column::ContentId,
    object_delta::Column::CreatedAt,
    object_delta::Column::Version,
];

/// The version a new object delta of one object takes: the object's newest
/// delta's version plus `step` (0 for an object the journal has never
/// seen). Every writer computes it in the statement that inserts the
/// delta, where the database reads the journal as it is then: after the
/// row's lock is held, so concurrent writers of one row number their deltas
/// one after the other.
///
/// `step` is 1 where each inserted row sees the rows the same statement
/// inserted before it, and the row's rank among its object's rows in the
/// statement where the statement reads the journal as it was when it began.
pub(crate) fn next_version(content_type: Expr, content_id: Expr, step: i64) -> Expr {
    newest(
        object_delta::Column::Version,
        0i64,
        content_type,
        content_id,
    )
    .add(step)
}

/// `column` of an object's newest delta, `default` when it has none.
fn newest(
    column: object_delta::Column,
    default: impl Into<Value>,
    content_type: Expr,
    content_id: Expr,
) -> Expr {
    use object_delta::Column as O;
    let newest = Query::select()
        .column(column)
        .from(object_delta::Entity)
        .and_where(Expr::col(O::ContentType).eq(content_type))
        .and_where(Expr::col(O::ContentId).eq(content_id))
        .order_by(O::Id, Order::Desc)
        .limit(1)
        .to_owned();
    Expr::expr(Func::coalesce([
        Expr::SubQuery(None, Box::new(newest.into())),
        Expr::val(default),
    ]))
}

/// The chain link of an object's newest delta, `''` when it has none (no
/// delta, or one written with tamper evidence off): what a sealed write
/// requires of the object (see [`tamper`](crate::tamper)).
pub(crate) fn newest_link(content_type: Expr, content_id: Expr) -> Expr {
    newest(object_delta::Column::Hash, "", content_type, content_id)
}

/// [`next_version`] as SQL text for the statements revy writes by hand
/// (PostgreSQL and SQLite quoting), without the step: `content_type` and
/// `content_id` are SQL expressions (parameters or column references).
pub(crate) fn newest_version_sql(content_type: &str, content_id: &str) -> String {
    newest_sql("version", "0", content_type, content_id)
}

/// [`newest`] as SQL text.
fn newest_sql(column: &str, default: &str, content_type: &str, content_id: &str) -> String {
    format!(
        "COALESCE((SELECT \"revy_prev\".\"{column}\" FROM \"revy_object_deltas\" AS \"revy_prev\" \
         WHERE \"revy_prev\".\"content_type\" = {content_type} AND \"revy_prev\".\"content_id\" = {content_id} \
         ORDER BY \"revy_prev\".\"id\" DESC LIMIT 1), {default})"
    )
}

/// What the context said when an operation began.
#[derive(Debug, Clone)]
pub(crate) struct ContextValues {
    pub actor: Option<Actor>,
    pub object_delta_description: String,
    pub attribute_delta_description: String,
    pub revision: Option<LazyRevision>,
    pub revision_description: String,
    pub meta: serde_json::Value,
}

impl ContextValues {
    /// The context now; an error when its meta uses the key revy reserves
    /// for its own revisions' kinds, before anything is written.
    pub(crate) fn current() -> Result<Self, Error> {
        let meta = Context::meta();
        if RevisionKind::is_reserved(&meta) {
            return Err(JournalError::ReservedMeta { meta }.into());
        }
        Ok(ContextValues {
            actor: Context::actor(),
            object_delta_description: Context::object_delta_description(),
            attribute_delta_description: Context::attribute_delta_description(),
            revision: Context::revision(),
            revision_description: Context::revision_description(),
            meta,
        })
    }
}

pub(crate) use crate::journal::attribute_delta::AttributeChange;

/// The journal's timestamp: now, at the microsecond precision every backend keeps.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) use crate::journal::actor_columns;

/// An object delta about to be written.
pub(crate) struct NewObjectDelta<'a> {
    pub revision_id: i64,
    pub action: Action,
    pub actor: &'a Option<Actor>,
    pub description: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
    /// The version the object's newest delta must have for this one to be
    /// written (optimistic concurrency); `None` writes it whatever it is.
    pub after_version: Option<i64>,
    /// The object's newest version as the writer read it (`None`: none, or
    /// not read). MySQL numbers the delta from it (see `write::record`).
    pub known_version: Option<i64>,
    /// The object's newest delta as one read saw it, version and link
    /// together (`None`: not read): what a sealed write chains to (see
    /// [`tamper`](crate::tamper)).
    pub known_head: Option<Head>,
}

impl<'a> NewObjectDelta<'a> {
    /// The row the writer inserts, written at `created_at` with `changes`.
    pub(crate) fn row<'b>(
        &self,
        created_at: DateTime<Utc>,
        changes: &'b [AttributeChange],
    ) -> Row<'b>
    where
        'a: 'b,
    {
        let of_table = NewObjectDeltas {
            revision_id: self.revision_id,
            action: self.action,
            actor: self.actor,
            description: self.description,
            content_type: self.content_type,
        };
        of_table.row(self.content_id, created_at, changes)
    }
}

/// An object's newest delta: its version (0: none) and chain link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Head {
    pub version: i64,
    pub hash: Option<String>,
}

/// Object deltas of one action by one actor, for many rows of one table.
pub(crate) struct NewObjectDeltas<'a> {
    pub revision_id: i64,
    pub action: Action,
    pub actor: &'a Option<Actor>,
    pub description: &'a str,
    pub content_type: &'a str,
}

impl<'a> NewObjectDeltas<'a> {
    /// The row of the object `content_id`, written at `created_at` with
    /// `changes`.
    pub(crate) fn row<'b>(
        &self,
        content_id: &'b str,
        created_at: DateTime<Utc>,
        changes: &'b [AttributeChange],
    ) -> Row<'b>
    where
        'a: 'b,
    {
        Row {
            revision_id: self.revision_id,
            actor: self.actor,
            action: self.action,
            description: self.description,
            content_type: self.content_type,
            content_id,
            created_at,
            changes,
        }
    }
}

/// A double-quoted identifier (PostgreSQL and SQLite).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
