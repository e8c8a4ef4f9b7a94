//! The SQLite form of a journal write: an object delta and its attribute
//! deltas in one query of two statements.
//!
//! sqlx runs the statements of one query in order on one connection, so the
//! pair costs one round trip to SQLite's worker thread instead of two. The
//! values every attribute delta shares with its object delta (revision,
//! table, key, time) are bound once and named by number (`?1`, `?6`, ..) in
//! every row; each row binds only its own seven values. The SQL text
//! depends only on the number of rows, so it is built once per size and
//! sqlx's per-connection statement cache keeps it prepared.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, EntityName, IdenStatic, Statement};

use super::write::{AttributeChange, NewObjectDelta, actor_columns, attribute_action};
use super::{attribute_delta, object_delta};

/// Parameters of the object delta, in the order of `?1`..`?8`.
const OBJECT_PARAMS: usize = 8;
/// Parameters of each attribute delta row.
const ROW_PARAMS: usize = 7;

/// The query writing `delta` and one attribute delta per change.
pub(crate) fn record(
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
        let (actor_type, actor_id) = match change.actor {
            Some(actor) => (Some(actor.kind), Some(actor.id)),
            None => (None, None),
        };
        let action = attribute_action(&change.new_value).as_str();
        values.extend([
            actor_type.into(),
            actor_id.into(),
            action.into(),
            change.description.into(),
            change.field_name.into(),
            change.old_value.into(),
            change.new_value.into(),
        ]);
    }
    Statement::from_sql_and_values(DbBackend::Sqlite, &*sql(rows), values)
}

/// The SQL for `rows` attribute deltas, built once per size.
fn sql(rows: usize) -> Arc<str> {
    // sizes past this are rare (tables of many columns) and built each time
    const CACHED: usize = 256;
    static CACHE: OnceLock<Mutex<HashMap<usize, Arc<str>>>> = OnceLock::new();
    if rows > CACHED {
        return build(rows).into();
    }
    let cache = CACHE.get_or_init(Default::default);
    if let Some(sql) = cache.lock().ok().and_then(|c| c.get(&rows).cloned()) {
        return sql;
    }
    let sql: Arc<str> = build(rows).into();
    if let Ok(mut c) = cache.lock() {
        c.insert(rows, sql.clone());
    }
    sql
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `INSERT INTO revy_object_deltas .. VALUES (?1 .. ?8);` then the attribute
/// deltas. `last_insert_rowid()` changes with every row inserted, so it is
/// read once, into a materialized CTE, before the first attribute row; the
/// ordinal in the first VALUES column keeps the rows in the order given, so
/// their ids follow the columns' order.
fn build(rows: usize) -> String {
    use attribute_delta::Column as A;
    use object_delta::Column as O;
    let object_columns = [
        O::RevisionId,
        O::ActorType,
        O::ActorId,
        O::Action,
        O::Description,
        O::ContentType,
        O::ContentId,
        O::CreatedAt,
    ];
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8); ",
        quoted(object_delta::Entity.table_name()),
        object_columns
            .iter()
            .map(|c| quoted(c.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    );
    // (column, what fills it): the parent's id, a shared parameter, or the
    // row's own value in VALUES column N (column1 is the ordinal)
    let attribute_columns = [
        (A::ObjectDeltaId, "\"revy_parent\".\"id\"".to_owned()),
        (A::RevisionId, "?1".to_owned()),
        (A::ActorType, "\"v\".\"column2\"".to_owned()),
        (A::ActorId, "\"v\".\"column3\"".to_owned()),
        (A::Action, "\"v\".\"column4\"".to_owned()),
        (A::Description, "\"v\".\"column5\"".to_owned()),
        (A::ContentType, "?6".to_owned()),
        (A::ContentId, "?7".to_owned()),
        (A::FieldName, "\"v\".\"column6\"".to_owned()),
        (A::OldValue, "\"v\".\"column7\"".to_owned()),
        (A::NewValue, "\"v\".\"column8\"".to_owned()),
        (A::CreatedAt, "?8".to_owned()),
    ];
    let _ = write!(
        sql,
        "WITH \"revy_parent\"(\"id\") AS MATERIALIZED (SELECT last_insert_rowid()) \
         INSERT INTO {} ({}) SELECT {} FROM \"revy_parent\", (VALUES ",
        quoted(attribute_delta::Entity.table_name()),
        attribute_columns
            .iter()
            .map(|(c, _)| quoted(c.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        attribute_columns
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut next = OBJECT_PARAMS + 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "({row}");
        for _ in 0..ROW_PARAMS {
            let _ = write!(sql, ", ?{next}");
            next += 1;
        }
        sql.push(')');
    }
    sql.push_str(") AS \"v\" ORDER BY \"v\".\"column1\"");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_the_order_values_are_bound() {
        let sql = build(2);
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
    }

    #[test]
    fn the_sql_of_a_size_is_built_once() {
        assert!(Arc::ptr_eq(&sql(3), &sql(3)));
        assert_eq!(&*sql(300), build(300).as_str());
    }
}
