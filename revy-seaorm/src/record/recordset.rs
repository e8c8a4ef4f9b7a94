//! PostgreSQL: many journal rows in one statement of two parameters.
//!
//! A multi-row `INSERT .. VALUES` binds every value of every row, which
//! PostgreSQL must parse, type and plan, in statements of at most 65,535
//! parameters. Here the rows travel as JSON texts, which
//! `json_to_recordset` turns into typed rows inside the server: one
//! statement whatever the number of rows, its SQL text the same every time
//! (so it stays prepared), and the JSON values kept as written (the
//! parameters are text, not `jsonb`).
//!
//! The one statement serves a queued transaction's flush (new revisions
//! and object deltas of any tables) and a bulk chunk (object deltas of one
//! table in a revision that exists): the revisions and the object deltas
//! are inserted in `WITH` clauses, each `INSERT .. SELECT .. ORDER BY` the
//! rows' order, so the ids the sequence hands out rise in that order; each
//! object delta of a new revision finds its id by rank (`row_number()
//! OVER (ORDER BY id)`), whatever order `RETURNING` yields them in. The
//! statement returns `(ord, id)` of each new revision.
//!
//! Each delta's version is its object's newest before the statement plus
//! the delta's step: the statement reads the journal as it was when it
//! began, so the step is the delta's rank among its object's deltas in it.
//! A bulk chunk gives the newest versions it read itself, under the rows'
//! locks (`base`), and the statement reads none (`COALESCE` evaluates its
//! subquery only when `base` is null).

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, EntityName, IdenStatic, Statement};

use super::insert::{Revision, Row};
use super::rows::{actor_columns, newest_version_sql, quoted};
use crate::journal::{object_delta, revision};

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One object delta of the statement: the row, its step (see the module
/// documentation), and the revision it belongs to when that is one the
/// statement creates (its index among the new revisions; the row's own
/// `revision_id` is then not used).
pub(crate) struct Delta<'a> {
    pub row: Row<'a>,
    pub step: i64,
    pub new_revision: Option<usize>,
    /// The object's newest version before the statement, when the caller
    /// read it current while holding the object's row lock (a bulk
    /// chunk): the statement then adds the step to it instead of reading
    /// it again.
    pub base: Option<i64>,
}

/// The statement that inserts `revisions`, then `deltas` in their order.
pub(crate) fn statement<'a>(
    revisions: impl IntoIterator<Item = Revision<'a>>,
    deltas: impl IntoIterator<Item = Delta<'a>>,
) -> Statement {
    let revisions: Vec<serde_json::Value> = revisions
        .into_iter()
        .enumerate()
        .map(|(ord, r)| {
            serde_json::json!({
                "ord": ord,
                "description": r.description,
                "meta": r.meta,
                "created_at": timestamp(r.created_at),
            })
        })
        .collect();
    let objects: Vec<serde_json::Value> = deltas
        .into_iter()
        .enumerate()
        .map(|(ord, d)| {
            let row = d.row;
            let (actor_type, actor_id) = actor_columns(row.actor);
            let revision_id = d.new_revision.is_none().then_some(row.revision_id);
            serde_json::json!({
                "ord": ord,
                "revision_id": revision_id,
                "revision_ord": d.new_revision,
                "actor_type": actor_type,
                "actor_id": actor_id,
                "action": row.action.as_str(),
                "description": row.description,
                "content_type": row.content_type,
                "content_id": row.content_id,
                "created_at": timestamp(row.created_at),
                "step": d.step,
                "base": d.base,
                "changes": row.entries(),
            })
        })
        .collect();
    let values =
        [revisions, objects].map(|rows| Value::from(serde_json::Value::Array(rows).to_string()));
    Statement::from_sql_and_values(DbBackend::Postgres, sql(), values)
}

fn sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(build_sql)
}

fn build_sql() -> String {
    use object_delta::Column as O;
    use revision::Column as R;
    fn q(c: impl IdenStatic) -> String {
        quoted(c.as_str())
    }
    let revisions = quoted(revision::Entity.table_name());
    let objects = quoted(object_delta::Entity.table_name());
    let object_names = [
        O::RevisionId,
        O::ActorType,
        O::ActorId,
        O::Action,
        O::Description,
        O::ContentType,
        O::ContentId,
        O::CreatedAt,
        O::Version,
        O::Changes,
    ]
    .map(q)
    .join(", ");
    format!(
        "WITH \"revy_rv\" AS (\
            INSERT INTO {revisions} ({rd}, {rm}, {rc}) \
            SELECT \"r\".\"description\", \"r\".\"meta\", \"r\".\"created_at\" \
            FROM json_to_recordset(CAST($1 AS json)) AS \"r\"(\"ord\" bigint, \"description\" text, \"meta\" json, \"created_at\" timestamptz) \
            ORDER BY \"r\".\"ord\" RETURNING {rid}), \
         \"revy_rvn\" AS (SELECT {rid}, row_number() OVER (ORDER BY {rid}) - 1 AS \"ord\" FROM \"revy_rv\"), \
         \"revy_od\" AS (\
            INSERT INTO {objects} ({object_names}) \
            SELECT COALESCE(\"r\".\"revision_id\", \"n\".{rid}), \"r\".\"actor_type\", \"r\".\"actor_id\", \"r\".\"action\", \
                   \"r\".\"description\", \"r\".\"content_type\", \"r\".\"content_id\", \"r\".\"created_at\", \
                   COALESCE(\"r\".\"base\", {version}) + \"r\".\"step\", \"r\".\"changes\" \
            FROM json_to_recordset(CAST($2 AS json)) AS \"r\"(\"ord\" bigint, \"revision_id\" bigint, \"revision_ord\" bigint, \
                 \"actor_type\" text, \"actor_id\" text, \"action\" text, \"description\" text, \"content_type\" text, \
                 \"content_id\" text, \"created_at\" timestamptz, \"step\" bigint, \"base\" bigint, \"changes\" text) \
            LEFT JOIN \"revy_rvn\" AS \"n\" ON \"n\".\"ord\" = \"r\".\"revision_ord\" \
            ORDER BY \"r\".\"ord\") \
         SELECT \"ord\", {rid} FROM \"revy_rvn\"",
        rd = q(R::Description),
        rm = q(R::Meta),
        rc = q(R::CreatedAt),
        rid = q(R::Id),
        version = newest_version_sql("\"r\".\"content_type\"", "\"r\".\"content_id\""),
    )
}
