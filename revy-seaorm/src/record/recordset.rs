//! PostgreSQL: many journal rows in one statement with one parameter.
//!
//! A multi-row `INSERT .. VALUES` binds every value of every row: 12 per
//! attribute delta, over 100,000 for a chunk of 1,000 eight-column rows,
//! which PostgreSQL must parse, type and plan, in statements of at most
//! 65,535 parameters. Here the rows travel as one JSON text, which
//! `json_to_recordset` turns into typed rows inside the server: one
//! statement per table whatever the chunk, the SQL text the same for every
//! chunk (so it stays prepared), and the JSON values kept as written (the
//! parameter is text, not `jsonb`).

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, EntityName, IdenStatic, Statement};

use super::rows::quoted;
use super::rows::{NewObjectDeltas, actor_columns, newest_version_sql};
use crate::journal::object_delta;

/// The object delta columns filled, with their PostgreSQL types.
const OBJECT: [(object_delta::Column, &str); 9] = [
    (object_delta::Column::RevisionId, "bigint"),
    (object_delta::Column::ActorType, "text"),
    (object_delta::Column::ActorId, "text"),
    (object_delta::Column::Action, "text"),
    (object_delta::Column::Description, "text"),
    (object_delta::Column::ContentType, "text"),
    (object_delta::Column::ContentId, "text"),
    (object_delta::Column::CreatedAt, "timestamptz"),
    (object_delta::Column::Changes, "text"),
];

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `INSERT INTO table (cols) SELECT cols FROM json_to_recordset($1) AS r(col type, ..) [RETURNING id, content_id]`.
/// `INSERT .. SELECT` of the rows of a JSON recordset; `extra` is one more
/// column and the expression that fills it, over the recordset `"r"`.
fn sql<C: IdenStatic>(
    table: &str,
    columns: &[(C, &str)],
    extra: Option<(&str, String)>,
    returning: bool,
) -> String {
    let mut names: Vec<String> = columns.iter().map(|(c, _)| quoted(c.as_str())).collect();
    // a JSON column's value travels wrapped in a one-element array: a bare
    // JSON `null` would become SQL NULL in the record
    let mut selected: Vec<String> = columns
        .iter()
        .map(|(c, ty)| match *ty {
            "json" => format!("{} -> 0", quoted(c.as_str())),
            _ => quoted(c.as_str()),
        })
        .collect();
    if let Some((column, expr)) = extra {
        names.push(quoted(column));
        selected.push(expr);
    }
    let typed: Vec<String> = columns
        .iter()
        .map(|(c, ty)| format!("{} {ty}", quoted(c.as_str())))
        .collect();
    let mut sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM json_to_recordset(CAST($1 AS json)) AS \"r\"({})",
        quoted(table),
        names.join(", "),
        selected.join(", "),
        typed.join(", "),
    );
    if returning {
        let _ = write!(
            sql,
            " RETURNING {}, {}",
            quoted(object_delta::Column::Id.as_str()),
            quoted(object_delta::Column::ContentId.as_str())
        );
    }
    sql
}

fn statement(sql: String, rows: Vec<serde_json::Value>) -> Statement {
    let text = serde_json::Value::Array(rows).to_string();
    Statement::from_sql_and_values(DbBackend::Postgres, sql, [Value::from(text)])
}

/// The object deltas of `content_ids`, returning `(id, content_id)` rows.
pub(crate) fn object_deltas(
    deltas: &NewObjectDeltas<'_>,
    content_ids: impl Iterator<Item = (String, String)>,
    created_at: DateTime<Utc>,
) -> Statement {
    let (actor_type, actor_id) = actor_columns(deltas.actor);
    let at = timestamp(created_at);
    let rows = content_ids
        .map(|(content_id, entries)| {
            serde_json::json!({
                object_delta::Column::Changes.as_str(): entries,
                object_delta::Column::RevisionId.as_str(): deltas.revision_id,
                object_delta::Column::ActorType.as_str(): actor_type,
                object_delta::Column::ActorId.as_str(): actor_id,
                object_delta::Column::Action.as_str(): deltas.action.as_str(),
                object_delta::Column::Description.as_str(): deltas.description,
                object_delta::Column::ContentType.as_str(): deltas.content_type,
                object_delta::Column::ContentId.as_str(): content_id,
                object_delta::Column::CreatedAt.as_str(): at,
            })
        })
        .collect();
    // each row's object appears once in the statement
    let version = format!(
        "{} + 1",
        newest_version_sql("\"r\".\"content_type\"", "\"r\".\"content_id\"")
    );
    statement(
        sql(
            object_delta::Entity.table_name(),
            &OBJECT,
            Some((object_delta::Column::Version.as_str(), version)),
            true,
        ),
        rows,
    )
}
