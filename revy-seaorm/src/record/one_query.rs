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

use super::rows::{
    AttributeChange, Head, NewObjectDelta, OBJECT_DELTA_COLUMNS, actor_columns, newest_link_sql,
    newest_version_sql,
};
use crate::journal::attribute_delta::encode_entries;
use crate::journal::{attribute_delta, object_delta};

/// Parameters of the object delta, in the order of `?1`..`?8`; a write
/// that requires the object's version binds it as `?9`.
const OBJECT_PARAMS: usize = 8;
/// Parameters of each attribute delta of its own.
const ROW_PARAMS: usize = 7;

/// Whether the backend takes a journal write in one query.
pub(crate) fn supported(backend: DbBackend) -> bool {
    matches!(backend, DbBackend::Sqlite | DbBackend::Postgres)
}

/// The object delta and `changes` (at most a few thousand, and at least
/// one) as one statement. When the delta requires a version
/// ([`NewObjectDelta::after_version`]) and the object's newest delta has
/// another, the statement writes nothing and reports no rows.
pub(crate) fn record(
    backend: DbBackend,
    delta: &NewObjectDelta<'_>,
    created_at: chrono::DateTime<chrono::Utc>,
    changes: Vec<AttributeChange>,
) -> Statement {
    let (actor_type, actor_id) = actor_columns(delta.actor);
    let rows = changes.len();
    let mut values: Vec<Value> = Vec::with_capacity(OBJECT_PARAMS + 2 + rows * ROW_PARAMS);
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
    if let Some(version) = delta.after_version {
        values.push(version.into()); // ?9
    }
    let entries = encode_entries(&changes, delta.actor, delta.description);
    for change in changes {
        values.extend(change.into_own_values());
    }
    values.push(entries.into()); // the last: the inline attribute deltas
    let shape = Shape {
        postgres: backend == DbBackend::Postgres,
        rows,
        checked: delta.after_version.is_some(),
        sealed: false,
    };
    Statement::from_sql_and_values(backend, &*sql(shape), values)
}

/// [`record`] with tamper evidence on: the delta is written only when the
/// object's newest delta is `head` (its version `?9`, its link `?10`, `''`
/// for none), as version `?9 + 1` with link `hash` (`?11`); otherwise the
/// statement writes nothing and reports no rows.
pub(crate) fn record_sealed(
    backend: DbBackend,
    delta: &NewObjectDelta<'_>,
    created_at: chrono::DateTime<chrono::Utc>,
    head: &Head,
    hash: &str,
    changes: &[AttributeChange],
) -> Statement {
    let (actor_type, actor_id) = actor_columns(delta.actor);
    let rows = changes.len();
    let mut values: Vec<Value> = Vec::with_capacity(OBJECT_PARAMS + 4 + rows * ROW_PARAMS);
    values.extend([
        delta.revision_id.into(),
        actor_type.into(),
        actor_id.into(),
        delta.action.as_str().into(),
        delta.description.into(),
        delta.content_type.into(),
        delta.content_id.into(),
        created_at.into(),
        head.version.into(),
        head.hash.clone().unwrap_or_default().into(),
        hash.into(),
    ]);
    for change in changes {
        values.extend(change.clone().into_own_values());
    }
    values.push(encode_entries(changes, delta.actor, delta.description).into());
    let shape = Shape {
        postgres: backend == DbBackend::Postgres,
        rows,
        checked: true,
        sealed: true,
    };
    Statement::from_sql_and_values(backend, &*sql(shape), values)
}

/// What the SQL text depends on.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    postgres: bool,
    rows: usize,
    checked: bool,
    /// Tamper evidence: the link is checked (`?10`) and written (`?11`).
    sealed: bool,
}

/// The SQL of a shape, built once for up to 256 rows.
fn sql(shape: Shape) -> Arc<str> {
    const CACHED: usize = 256;
    type Cache = Mutex<HashMap<Shape, Arc<str>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    if shape.rows > CACHED {
        return build(shape).into();
    }
    let cache = CACHE.get_or_init(Default::default);
    if let Some(sql) = cache.lock().ok().and_then(|c| c.get(&shape).cloned()) {
        return sql;
    }
    let sql: Arc<str> = build(shape).into();
    if let Ok(mut c) = cache.lock() {
        c.insert(shape, sql.clone());
    }
    sql
}

/// A double-quoted identifier (PostgreSQL and SQLite).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn build(shape: Shape) -> String {
    use attribute_delta::Column as A;
    let Shape {
        postgres,
        rows,
        checked,
        sealed,
    } = shape;
    let p = if postgres { '$' } else { '?' };
    let object_params = OBJECT_PARAMS + usize::from(checked) + 2 * usize::from(sealed);
    // the version is read in the statement that writes the delta (see
    // `rows::next_version`); a required version makes the insert conditional
    let (ct, ci) = (format!("{p}6"), format!("{p}7"));
    // the inline attribute deltas: the last parameter, after every row's
    let entries = format!("{p}{}", object_params + rows * ROW_PARAMS + 1);
    let mut object_insert = match sealed {
        false => format!(
            "INSERT INTO {} ({}, \"changes\") SELECT {}, \"v\".\"version\" + 1, {entries} \
             FROM (SELECT {} AS \"version\") AS \"v\"",
            quoted(object_delta::Entity.table_name()),
            list(OBJECT_DELTA_COLUMNS.iter().map(|c| quoted(c.as_str()))),
            list((1..=OBJECT_PARAMS).map(|i| format!("{p}{i}"))),
            newest_version_sql(&ct, &ci),
        ),
        true => format!(
            "INSERT INTO {} ({}, \"hash\", \"changes\") SELECT {}, \"v\".\"version\" + 1, {p}11, {entries} \
             FROM (SELECT {} AS \"version\", {} AS \"hash\") AS \"v\"",
            quoted(object_delta::Entity.table_name()),
            list(OBJECT_DELTA_COLUMNS.iter().map(|c| quoted(c.as_str()))),
            list((1..=OBJECT_PARAMS).map(|i| format!("{p}{i}"))),
            newest_version_sql(&ct, &ci),
            newest_link_sql(&ct, &ci),
        ),
    };
    if checked {
        let _ = write!(object_insert, " WHERE \"v\".\"version\" = {p}9");
    }
    if sealed {
        let _ = write!(object_insert, " AND \"v\".\"hash\" = {p}10");
    }
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
    let own = |row: usize, i: usize| format!("{p}{}", object_params + 1 + row * ROW_PARAMS + i);
    if postgres {
        let mut values = String::new();
        for row in 0..rows {
            if row > 0 {
                values.push_str(", ");
            }
            let fills = attribute_columns.iter().map(|(_, fill)| match fill {
                Fill::Parent => "(SELECT \"id\" FROM \"revy_new_object_delta\")".to_owned(),
                Fill::Shared(i) => format!("{p}{i}"),
                Fill::Own(i) => own(row, *i),
            });
            let _ = write!(values, "({})", list(fills));
        }
        let mut sql = format!(
            "WITH \"revy_new_object_delta\" AS ({object_insert} RETURNING \"id\") \
             INSERT INTO {attribute_table} ({attribute_names}) "
        );
        if checked {
            // no object delta: no parent id, and no attribute row either
            let _ = write!(
                sql,
                "SELECT * FROM (VALUES {values}) AS \"v\" WHERE \"v\".\"column1\" IS NOT NULL"
            );
        } else {
            let _ = write!(sql, "VALUES {values}");
        }
        return sql;
    }
    let fills = attribute_columns.iter().map(|(_, fill)| match fill {
        Fill::Parent => "\"revy_parent\".\"id\"".to_owned(),
        Fill::Shared(i) => format!("{p}{i}"),
        Fill::Own(i) => format!("\"v\".\"column{}\"", i + 2),
    });
    // after a conditional insert that wrote nothing, last_insert_rowid()
    // names an older row: the parent is only taken when the insert wrote
    let parent = if checked {
        "SELECT last_insert_rowid() WHERE changes() = 1"
    } else {
        "SELECT last_insert_rowid()"
    };
    let mut sql = format!(
        "{object_insert}; WITH \"revy_parent\"(\"id\") AS MATERIALIZED ({parent}) \
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

    fn shape(postgres: bool, rows: usize, checked: bool) -> Shape {
        Shape {
            postgres,
            rows,
            checked,
            sealed: false,
        }
    }

    #[test]
    fn a_sealed_write_checks_the_link_and_writes_its_own() {
        let sql = build(Shape {
            postgres: false,
            rows: 1,
            checked: true,
            sealed: true,
        });
        // the link ?11, then the inline entries after the row's own values
        assert!(sql.contains("\"version\" + 1, ?11, ?19 FROM"), "{sql}");
        assert!(
            sql.contains("WHERE \"v\".\"version\" = ?9 AND \"v\".\"hash\" = ?10;"),
            "{sql}"
        );
        assert!(
            sql.contains("(0, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"),
            "{sql}"
        );
    }

    #[test]
    fn parameters_are_numbered_in_the_order_values_are_bound() {
        let sql = build(shape(false, 2, false));
        assert!(
            sql.contains("SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \"v\".\"version\" + 1"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "(0, ?9, ?10, ?11, ?12, ?13, ?14, ?15), (1, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
            ),
            "{sql}"
        );
        // the inline entries: the last parameter
        assert!(sql.contains("\"version\" + 1, ?23 FROM"), "{sql}");
        assert!(!sql.contains("?24"), "{sql}");
        let sql = build(shape(true, 2, false));
        assert!(
            sql.contains("SELECT $1, $2, $3, $4, $5, $6, $7, $8, \"v\".\"version\" + 1"),
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
    fn a_required_version_is_the_ninth_parameter() {
        let sql = build(shape(false, 1, true));
        assert!(sql.contains("WHERE \"v\".\"version\" = ?9;"), "{sql}");
        assert!(sql.contains("WHERE changes() = 1"), "{sql}");
        assert!(
            sql.contains("(0, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"),
            "{sql}"
        );
        let sql = build(shape(true, 1, true));
        assert!(
            sql.contains("WHERE \"v\".\"version\" = $9 RETURNING"),
            "{sql}"
        );
        assert!(sql.ends_with("IS NOT NULL"), "{sql}");
        assert!(
            sql.contains("$10, $11, $12, $13, $6, $7, $14, $15, $16, $8)"),
            "{sql}"
        );
    }

    #[test]
    fn the_sql_of_a_size_is_built_once() {
        assert!(Arc::ptr_eq(
            &sql(shape(false, 3, false)),
            &sql(shape(false, 3, false))
        ));
        assert!(!Arc::ptr_eq(
            &sql(shape(false, 3, false)),
            &sql(shape(true, 3, false))
        ));
        assert!(!Arc::ptr_eq(
            &sql(shape(false, 3, false)),
            &sql(shape(false, 3, true))
        ));
        assert_eq!(
            &*sql(shape(false, 300, false)),
            build(shape(false, 300, false)).as_str()
        );
    }
}
