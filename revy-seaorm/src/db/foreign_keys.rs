//! Reading the foreign keys that point at a table from the database's own
//! catalog, once per table per process: what the guard checks a tracked
//! delete against ([`crate::guard`]) and what
//! [`register_child_policies`](crate::deletion::cascade::register_child_policies)
//! adopts.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::error::Error;

/// What a foreign key makes the database do to the child rows when their
/// parent row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Cascade,
    SetNull,
    SetDefault,
    /// `RESTRICT` or `NO ACTION`: the delete fails, nothing changes unseen.
    Refuse,
}

impl Rule {
    /// From the catalog's spelling: SQLite's and MySQL's words, PostgreSQL's
    /// one-letter `confdeltype`.
    fn parse(text: &str) -> Rule {
        match text.trim().to_ascii_uppercase().as_str() {
            "CASCADE" | "C" => Rule::Cascade,
            "SET NULL" | "N" => Rule::SetNull,
            "SET DEFAULT" | "D" => Rule::SetDefault,
            _ => Rule::Refuse,
        }
    }

    /// The SQL words, for messages.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Rule::Cascade => "CASCADE",
            Rule::SetNull => "SET NULL",
            Rule::SetDefault => "SET DEFAULT",
            Rule::Refuse => "RESTRICT",
        }
    }
}

/// Whether a content type (`table` or `schema.table`) and a table name the
/// catalog gives are the same table.
pub(crate) fn same_table(content_type: &str, catalog_name: &str) -> bool {
    let name = content_type
        .rsplit_once('.')
        .map_or(content_type, |(_, t)| t);
    name.eq_ignore_ascii_case(catalog_name)
}

/// One foreign key pointing at a parent table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignKey {
    /// The referencing table.
    pub(crate) child_table: String,
    /// Its referencing columns, in key order.
    pub(crate) child_columns: Vec<String>,
    pub(crate) on_delete: Rule,
}

impl ForeignKey {
    /// `comments.article_id`, or `(a, b)` for a composite key.
    pub(crate) fn columns_text(&self) -> String {
        match self.child_columns.as_slice() {
            [one] => format!("{}.{one}", self.child_table),
            many => format!("{}.({})", self.child_table, many.join(", ")),
        }
    }
}

type Cache = HashMap<(&'static str, String), Arc<Vec<ForeignKey>>>;

fn backend_name(backend: DbBackend) -> &'static str {
    backend.as_str()
}

/// Keyed by backend and table name: a process is expected to talk to one
/// database per backend; [`reset_foreign_keys`] forgets everything read.
static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Default::default);

/// Forgets the foreign keys revy has read from the database, so the next
/// delete of each tracked table reads them again: after a migration that
/// changes foreign keys while the process runs, and in tests that build
/// tables with the same names in several databases.
///
/// revy reads the keys pointing at a table at the first tracked delete of
/// a row of that table (or at [`register_child_policies`]), once per table
/// per process.
///
/// [`register_child_policies`]: crate::deletion::cascade::register_child_policies
///
/// ```
/// revy_seaorm::deletion::cascade::reset_foreign_keys();
/// ```
pub fn reset_foreign_keys() {
    if let Ok(mut cache) = CACHE.lock() {
        cache.clear();
    }
}

/// Forgets what was read of one table, so it is read again.
pub(crate) fn forget(backend: DbBackend, table: &str) {
    if let Ok(mut cache) = CACHE.lock() {
        cache.remove(&(backend_name(backend), table.to_owned()));
    }
}

/// The foreign keys pointing at `table` (a content type, `schema.table` or
/// `table`), read from the catalog on first use.
pub(crate) async fn foreign_keys_to<C: ConnectionTrait + ?Sized>(
    db: &C,
    table: &str,
) -> Result<Arc<Vec<ForeignKey>>, Error> {
    let backend = db.get_database_backend();
    let key = (backend_name(backend), table.to_owned());
    if let Some(found) = CACHE.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(found);
    }
    let read = Arc::new(read(db, table).await?);
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(key, read.clone());
    }
    Ok(read)
}

/// Each query gives one row per (key, column) in key order: `key_id`
/// groups the columns of one key, `child_table`, `child_column`, `rule`.
async fn read<C: ConnectionTrait + ?Sized>(db: &C, table: &str) -> Result<Vec<ForeignKey>, Error> {
    let backend = db.get_database_backend();
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    };
    let sql = match (backend, schema) {
        (DbBackend::Sqlite, _) => {
            "SELECT m.name || ':' || f.id AS key_id, m.name AS child_table, \
                    f.\"from\" AS child_column, f.on_delete AS rule \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.\"table\" = ? COLLATE NOCASE \
             ORDER BY m.name, f.id, f.seq"
        }
        (DbBackend::MySql, None) => {
            "SELECT r.CONSTRAINT_NAME AS key_id, k.TABLE_NAME AS child_table, \
                    k.COLUMN_NAME AS child_column, r.DELETE_RULE AS rule \
             FROM information_schema.REFERENTIAL_CONSTRAINTS r \
             JOIN information_schema.KEY_COLUMN_USAGE k \
               ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA \
              AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME \
              AND k.TABLE_NAME = r.TABLE_NAME \
             WHERE r.CONSTRAINT_SCHEMA = DATABASE() AND r.REFERENCED_TABLE_NAME = ? \
             ORDER BY r.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        }
        (DbBackend::MySql, Some(_)) => {
            "SELECT r.CONSTRAINT_NAME AS key_id, k.TABLE_NAME AS child_table, \
                    k.COLUMN_NAME AS child_column, r.DELETE_RULE AS rule \
             FROM information_schema.REFERENTIAL_CONSTRAINTS r \
             JOIN information_schema.KEY_COLUMN_USAGE k \
               ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA \
              AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME \
              AND k.TABLE_NAME = r.TABLE_NAME \
             WHERE r.CONSTRAINT_SCHEMA = ? AND r.REFERENCED_TABLE_NAME = ? \
             ORDER BY r.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        }
        (DbBackend::Postgres, None) => {
            "SELECT c.oid::text AS key_id, child.relname::text AS child_table, \
                    a.attname::text AS child_column, c.confdeltype::text AS rule \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class parent ON parent.oid = c.confrelid \
             JOIN pg_catalog.pg_class child ON child.oid = c.conrelid \
             CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
             WHERE c.contype = 'f' AND parent.relname = $1 \
               AND pg_catalog.pg_table_is_visible(parent.oid) \
             ORDER BY c.oid, k.ord"
        }
        (DbBackend::Postgres, Some(_)) => {
            "SELECT c.oid::text AS key_id, child.relname::text AS child_table, \
                    a.attname::text AS child_column, c.confdeltype::text AS rule \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class parent ON parent.oid = c.confrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = parent.relnamespace \
             JOIN pg_catalog.pg_class child ON child.oid = c.conrelid \
             CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
             WHERE c.contype = 'f' AND n.nspname = $1 AND parent.relname = $2 \
             ORDER BY c.oid, k.ord"
        }
        // a backend without a catalog revy knows: nothing to report
        _ => return Ok(Vec::new()),
    };
    let mut values: Vec<Value> = Vec::new();
    if backend != DbBackend::Sqlite
        && let Some(schema) = schema
    {
        values.push(schema.into());
    }
    values.push(if backend == DbBackend::Sqlite {
        table.into()
    } else {
        name.into()
    });
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut keys: Vec<(String, ForeignKey)> = Vec::new();
    for row in rows {
        let id: String = row.try_get("", "key_id")?;
        let child_table: String = row.try_get("", "child_table")?;
        let column: String = row.try_get("", "child_column")?;
        let rule: String = row.try_get("", "rule")?;
        match keys.last_mut() {
            Some((last, key)) if *last == id => key.child_columns.push(column),
            _ => keys.push((
                id,
                ForeignKey {
                    child_table,
                    child_columns: vec![column],
                    on_delete: Rule::parse(&rule),
                },
            )),
        }
    }
    Ok(keys.into_iter().map(|(_, key)| key).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_match_content_types() {
        assert!(same_table("comments", "COMMENTS"));
        assert!(same_table("blog.comments", "comments"));
        assert!(!same_table("comments", "comment"));
    }

    #[test]
    fn rules_read_from_each_catalog_spelling() {
        assert_eq!(Rule::parse("CASCADE"), Rule::Cascade);
        assert_eq!(Rule::parse("c"), Rule::Cascade);
        assert_eq!(Rule::parse("SET NULL"), Rule::SetNull);
        assert_eq!(Rule::parse("n"), Rule::SetNull);
        assert_eq!(Rule::parse("SET DEFAULT"), Rule::SetDefault);
        assert_eq!(Rule::parse("NO ACTION"), Rule::Refuse);
        assert_eq!(Rule::parse("a"), Rule::Refuse);
        assert_eq!(Rule::parse("RESTRICT"), Rule::Refuse);
    }
}
