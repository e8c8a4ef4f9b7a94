//! `RETURNING`, decided by revy from the backend, not from sea-orm's features.
//!
//! sea-orm's `support_returning()` answers from its cargo features: SQLite
//! says no unless `sqlite-use-returning-for-3_35` is on (it is one of
//! sea-orm's default features, so an application with
//! `default-features = false` loses it), and MySQL says yes for
//! `mariadb-use-returning` even though MariaDB has no `UPDATE .. RETURNING`.
//! Paths that branched on it took a MySQL-only path on SQLite, or sent a
//! statement MariaDB cannot parse. revy therefore appends `RETURNING` to
//! the statements it builds itself, whenever the server speaks it, whatever
//! the application's sea-orm features are: PostgreSQL and SQLite (3.35 or
//! newer, checked by [`install`](crate::journal::install) and once here) always,
//! MySQL and MariaDB never (they are read back by key).

use std::sync::atomic::{AtomicU8, Ordering};

use sea_orm::sea_query::{InsertStatement, Query, UpdateStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Iterable, QueryResult,
    Statement,
};

use crate::error::{Error, JournalError};

/// The oldest SQLite that has `RETURNING`.
const SQLITE_RETURNING: (u32, u32) = (3, 35);

/// 0: not asked yet; 1: the linked SQLite has `RETURNING`; 2: it has not.
static SQLITE_SPEAKS: AtomicU8 = AtomicU8::new(0);

/// Whether revy appends `RETURNING` to its own statements on `db`. On
/// SQLite the linked library's version is asked once per process (one
/// process links one SQLite), and one older than 3.35 is refused with
/// [`JournalError::SqliteTooOld`]: revy's SQLite paths rely on `RETURNING`.
pub(crate) async fn speaks<C: ConnectionTrait>(db: &C) -> Result<bool, Error> {
    match db.get_database_backend() {
        DbBackend::Postgres => Ok(true),
        DbBackend::MySql => Ok(false),
        DbBackend::Sqlite => {
            match SQLITE_SPEAKS.load(Ordering::Relaxed) {
                1 => return Ok(true),
                2 => return Err(JournalError::SqliteTooOld { version: None }.into()),
                _ => {}
            }
            check_sqlite(db).await?;
            Ok(true)
        }
        // sea-orm's backend enum may grow: treat anything new like MySQL,
        // read back by key, which every SQL database can do
        #[allow(unreachable_patterns)]
        _ => Ok(false),
    }
}

/// Asks the SQLite library its version and refuses one without
/// `RETURNING`, naming it. Called by `install` and by [`speaks`].
pub(crate) async fn check_sqlite<C: ConnectionTrait>(db: &C) -> Result<(), Error> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sqlite_version() AS v",
        ))
        .await?;
    let version = match row {
        Some(row) => row.try_get::<String>("", "v")?,
        None => String::new(),
    };
    if has_returning(&version) {
        SQLITE_SPEAKS.store(1, Ordering::Relaxed);
        Ok(())
    } else {
        SQLITE_SPEAKS.store(2, Ordering::Relaxed);
        Err(JournalError::SqliteTooOld {
            version: Some(version),
        }
        .into())
    }
}

fn has_returning(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= SQLITE_RETURNING
}

/// Every column of `E`, as sea-orm returns them (an enum column cast to
/// its text on PostgreSQL, as sea-orm's own selects do).
fn all_columns<E: EntityTrait>(backend: DbBackend) -> sea_orm::sea_query::ReturningClause {
    Query::returning().exprs(E::Column::iter().map(|c| c.select_as(c.into_returning_expr(backend))))
}

fn models<E: EntityTrait>(rows: Vec<QueryResult>) -> Result<Vec<E::Model>, Error> {
    Ok(rows
        .iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect::<Result<_, _>>()?)
}

/// Runs `insert` with `RETURNING` every column of `E` and gives the rows
/// it inserted (for `ON CONFLICT DO NOTHING`, only those). Only where
/// [`speaks`] said yes.
pub(crate) async fn insert<E, C>(
    db: &C,
    mut insert: InsertStatement,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let backend = db.get_database_backend();
    insert.returning(all_columns::<E>(backend));
    models::<E>(db.query_all_raw(backend.build(&insert)).await?)
}

/// Runs `update` with `RETURNING` every column of `E` and gives the rows
/// it changed. Only where [`speaks`] said yes.
pub(crate) async fn update<E, C>(
    db: &C,
    mut update: UpdateStatement,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let backend = db.get_database_backend();
    update.returning(all_columns::<E>(backend));
    models::<E>(db.query_all_raw(backend.build(&update)).await?)
}

#[cfg(test)]
mod tests {
    use super::has_returning;

    #[test]
    fn versions_with_returning() {
        assert!(has_returning("3.35.0"));
        assert!(has_returning("3.46.1"));
        assert!(has_returning("4.0.0"));
        assert!(!has_returning("3.34.1"));
        assert!(!has_returning("3.8"));
        assert!(!has_returning(""));
        assert!(!has_returning("garbage"));
    }
}
