//! A journal write in one query: an object delta and its attribute deltas
//! in one round trip to the database.
//!
//! - PostgreSQL: one statement, the object delta inserted inside a WITH
//!   clause and its id read by every attribute row.
//! - SQLite: one query of two statements (sqlx runs them in order on one
//!   connection), the attribute rows reading the object delta's id from
//!   `last_insert_rowid()`. One round trip to SQLite's worker thread
//!   instead of two.
//! - MySQL allows neither (no INSERT in WITH, no multi-statement prepared
//!   queries), so `write::record` sends it two queries.
//!
//! The values every attribute delta shares with its object delta (revision,
//! table, key, time) are bound once and named by number (`?1`/`$1`, ..) in
//! every row; each row binds only its own seven values. The SQL text
//! depends only on the backend and the number of rows, so it is built once
//! per size and sqlx's per-connection statement cache keeps it prepared.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, EntityName, IdenStatic, Statement};

use super::rows::{AttributeChange, NewObjectDelta, OBJECT_DELTA_COLUMNS, actor_columns};
use super::{attribute_delta, object_delta};

/// Parameters of the object delta, in the order of `?1`..`?8`.
const OBJECT_PARAMS: usize = 8;
/// Parameters of each attribute delta row.
const ROW_PARAMS: usize = 7;

/// Whether `backend` writes a journal entry in one query.
pub(crate) fn supported(backend: DbBackend) -> bool {
    matches!(backend, DbBackend::Sqlite | DbBackend::Postgres)
}

/// The query writing `delta` and one attribute delta per change, on a
/// backend [`supported`] says can.
pub(crate) fn record(
    backend: DbBackend,
    delta: &NewObjectDelta<'_>,
    created_at: chrono::DateTime<chrono::Utc>,
    changes: Vec<AttributeChange>,
) -> Statement {
    let (actor_type, actor_id) = actor_columns(delta.actor);
    let rows = changes.len();
    let mut values: Vec<Value> = Vec::with_capacity(OBJECT_PARAMS + rows * ROW_PARAMS);
    // ?1 .. ?8, shared with every attribute row where noted
    values.extend([
        delta.revision_id.into(),     // ?1, shared
        actor_type.into(),            // ?2
        actor_id.into(),              // ?3
        delta.action.as_str().into(), // ?4
        delta.description.into(),     // ?5
        delta.content_type.into(),    // ?6, shared
        delta.content_id.into(),      // ?7, shared
        created_at.into(),            // ?8, shared
    ]);
    for change in changes {
        values.extend(change.into_own_values());
    }
    Statement::from_sql_and_values(backend, &*sql(backend, rows), values)
}

/// The SQL for `rows` attribute deltas, built once per backend and size.
fn sql(backend: DbBackend, rows: usize) -> Arc<str> {
    // sizes past this are rare (tables of many columns) and built each time
    const CACHED: usize = 256;
    type Cache = Mutex<HashMap<(bool, usize), Arc<str>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let postgres = backend == DbBackend::Postgres;
    if rows > CACHED {
        return build(postgres, rows).into();
    }
    let cache = CACHE.get_or_init(Default::default);
    let key = (postgres, rows);
    if let Some(sql) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return sql;
    }
    let sql: Arc<str> = build(postgres, rows).into();
    if let Ok(mut c) = cache.lock() {
        c.insert(key, sql.clone());
    }
    sql
}

pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQLite: `INSERT INTO revy_object_deltas .. VALUES (?1, .., ?8);` then the
/// attribute deltas. `last_insert_rowid()` changes with every row inserted,
/// so it is read once, into a materialized CTE, before the first attribute
/// row; the ordinal in the first VALUES column keeps the rows in the order
/// given, so their ids follow the columns' order.
///
/// PostgreSQL: `WITH new AS (INSERT INTO revy_object_deltas .. VALUES ($1,
/// .., $8) RETURNING id) INSERT INTO revy_attribute_deltas .. VALUES
/// ((SELECT id FROM new), $1, $9, ..), ..`.
fn build(postgres: bool, rows: usize) -> String {
    use attribute_delta::Column as A;
    let p = if postgres { '$' } else { '?' };
    let object_insert = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quoted(object_delta::Entity.table_name()),
        list(OBJECT_DELTA_COLUMNS.iter().map(|c| quoted(c.as_str()))),
        list((1..=OBJECT_PARAMS).map(|i| format!("{p}{i}"))),
    );
    // Each attribute column and what fills it: the parent's id, a shared
    // parameter, or the row's own value number N of ROW_PARAMS.
    enum Fill {
        Parent,
        Shared(usize),
        Own(usize),
    }
    let attribute_columns = [
        (A::ObjectDeltaId, Fill::Parent),
        (A::RevisionId, Fill::Shared(1)),
        (A::ActorType, Fill::Own(0)),
        (A::ActorId, Fill::Own(1)),
        (A::Action, Fill::Own(2)),
        (A::Description, Fill::Own(3)),
        (A::ContentType, Fill::Shared(6)),
        (A::ContentId, Fill::Shared(7)),
        (A::FieldName, Fill::Own(4)),
        (A::OldValue, Fill::Own(5)),
        (A::NewValue, Fill::Own(6)),
        (A::CreatedAt, Fill::Shared(8)),
    ];
    let attribute_table = quoted(attribute_delta::Entity.table_name());
    let attribute_names = list(attribute_columns.iter().map(|(c, _)| quoted(c.as_str())));
    let own = |row: usize, i: usize| format!("{p}{}", OBJECT_PARAMS + 1 + row * ROW_PARAMS + i);
    if postgres {
        let mut sql = format!(
            "WITH \"revy_new_object_delta\" AS ({object_insert} RETURNING \"id\") \
             INSERT INTO {attribute_table} ({attribute_names}) VALUES "
        );
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            let fills = attribute_columns.iter().map(|(_, fill)| match fill {
                Fill::Parent => "(SELECT \"id\" FROM \"revy_new_object_delta\")".to_owned(),
                Fill::Shared(i) => format!("{p}{i}"),
                Fill::Own(i) => own(row, *i),
            });
            let _ = write!(sql, "({})", list(fills));
        }
        return sql;
    }
    let fills = attribute_columns.iter().map(|(_, fill)| match fill {
        Fill::Parent => "\"revy_parent\".\"id\"".to_owned(),
        Fill::Shared(i) => format!("{p}{i}"),
        // VALUES columns are column1, column2, ..: column1 is the ordinal
        Fill::Own(i) => format!("\"v\".\"column{}\"", i + 2),
    });
    let mut sql = format!(
        "{object_insert}; WITH \"revy_parent\"(\"id\") AS MATERIALIZED (SELECT last_insert_rowid()) \
         INSERT INTO {attribute_table} ({attribute_names}) SELECT {} FROM \"revy_parent\", (VALUES ",
        list(fills),
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let _ = write!(
            sql,
            "({row}, {})",
            list((0..ROW_PARAMS).map(|i| own(row, i)))
        );
    }
    sql.push_str(") AS \"v\" ORDER BY \"v\".\"column1\"");
    sql
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_the_order_values_are_bound() {
        let sql = build(false, 2);
        assert!(
            sql.contains("VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "(0, ?9, ?10, ?11, ?12, ?13, ?14, ?15), (1, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
            ),
            "{sql}"
        );
        assert!(!sql.contains("?23"), "{sql}");
        let sql = build(true, 2);
        assert!(
            sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING"),
            "{sql}"
        );
        assert!(
            sql.contains("$1, $9, $10, $11, $12, $6, $7, $13, $14, $15, $8), "),
            "{sql}"
        );
        assert!(
            sql.ends_with("$1, $16, $17, $18, $19, $6, $7, $20, $21, $22, $8)"),
            "{sql}"
        );
    }

    #[test]
    fn the_sql_of_a_size_is_built_once() {
        assert!(Arc::ptr_eq(
            &sql(DbBackend::Sqlite, 3),
            &sql(DbBackend::Sqlite, 3)
        ));
        assert!(!Arc::ptr_eq(
            &sql(DbBackend::Sqlite, 3),
            &sql(DbBackend::Postgres, 3)
        ));
        assert_eq!(&*sql(DbBackend::Sqlite, 300), build(false, 300).as_str());
    }
}
