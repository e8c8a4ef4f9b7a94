//! How MySQL numbers object versions.
//!
//! PostgreSQL and SQLite read an object's newest version in the statement
//! that inserts its next delta (see [`next_version`](super::rows::next_version)).
//! MySQL cannot do that well: an `INSERT` that reads a table takes shared
//! next-key locks on what it reads (a repeatable-read transaction's plain
//! reads would return its snapshot, which may predate the row lock) and,
//! holding the table's auto-increment lock for the whole statement, waits
//! on them, so concurrent writers time out.
//!
//! So on MySQL the writer names the version: one more than the newest
//! version it read (the hooks' locked read, or the queue's entries before
//! it). A unique index on `(content_type, content_id, version)` refuses a
//! version read from a stale snapshot; the writer then reads the newest
//! versions with a locking read (the current ones) and writes again, once.
//! A failed statement leaves a MySQL transaction usable, so the retry
//! needs nothing else.
//!
//! SQLite's queued flush names versions the same way, from the hooks'
//! reads, which are current there (writers are serialized); it reads
//! [`newest_versions`] only for the keys its creates wrote.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, IdenStatic};

use super::rows::Head;
use crate::error::Error;
use crate::journal::object_delta;

/// Whether a failed insert into the object deltas says that a version it
/// wrote is taken: a unique violation, by the database's error code (the
/// index of versions is the table's only unique index but its key, which
/// the database hands out).
pub(crate) fn version_taken(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// An object: `(content type, key text)`.
pub(crate) type Object = (String, String);

/// The newest version of each of `objects` the journal has (objects it
/// has none of are left out). `locked` reads with a shared lock, which
/// on MySQL reads the newest committed rows instead of the snapshot's.
pub(crate) async fn newest_versions<C: ConnectionTrait>(
    db: &C,
    objects: &[Object],
    locked: bool,
) -> Result<HashMap<Object, i64>, Error> {
    Ok(newest_heads(db, objects, locked, false)
        .await?
        .into_iter()
        .map(|(o, h)| (o, h.version))
        .collect())
}

/// The newest delta of each of `objects` the journal has, with its chain
/// link when `links` (objects it has none of are left out). `locked` as
/// in [`newest_versions`]; a locked read of links reads twice (the
/// versions, then their rows, both locking reads).
pub(crate) async fn newest_heads<C: ConnectionTrait>(
    db: &C,
    objects: &[Object],
    locked: bool,
    links: bool,
) -> Result<HashMap<Object, Head>, Error> {
    use object_delta::Column as O;
    let mut out = HashMap::new();
    // 2 parameters an object: far under every limit
    for chunk in objects.chunks(5_000) {
        let among = Expr::tuple([Expr::col(O::ContentType), Expr::col(O::ContentId)]).in_tuples(
            chunk
                .iter()
                .map(|(t, i)| (t.clone(), i.clone()))
                .collect::<Vec<_>>(),
        );
        let mut select = Query::select();
        if locked {
            // a locking read of the deltas themselves: MySQL would read a
            // subquery from the transaction's snapshot, the very thing this
            // read is for getting past
            select
                .column(O::ContentType)
                .column(O::ContentId)
                .expr_as(Expr::col(O::Version).max(), O::Version)
                .from(object_delta::Entity)
                .and_where(among)
                .group_by_columns([O::ContentType, O::ContentId])
                .lock_shared();
        } else {
            // each object's newest delta by id (the end of its index
            // range), then its version: no object's whole history is read
            let newest = Query::select()
                .expr(Expr::col(O::Id).max())
                .from(object_delta::Entity)
                .and_where(among)
                .group_by_columns([O::ContentType, O::ContentId])
                .to_owned();
            select
                .columns([O::ContentType, O::ContentId, O::Version])
                .from(object_delta::Entity)
                .and_where(Expr::col(O::Id).in_subquery(newest));
            if links {
                select.column(O::Hash);
            }
        }
        let rows = db
            .query_all_raw(db.get_database_backend().build(&select))
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let object = (
                row.try_get::<String>("", O::ContentType.as_str())?,
                row.try_get::<String>("", O::ContentId.as_str())?,
            );
            let version = row.try_get::<i64>("", O::Version.as_str())?;
            let hash = match links && !locked {
                true => row.try_get::<Option<String>>("", O::Hash.as_str())?,
                false => None,
            };
            found.push((object, Head { version, hash }));
        }
        if links && locked && !found.is_empty() {
            // the rows of those versions, read current too
            let select = Query::select()
                .columns([O::ContentType, O::ContentId, O::Hash])
                .from(object_delta::Entity)
                .and_where(
                    Expr::tuple([
                        Expr::col(O::Version),
                        Expr::col(O::ContentType),
                        Expr::col(O::ContentId),
                    ])
                    .in_tuples(
                        found
                            .iter()
                            .map(|((t, i), h)| (h.version, t.clone(), i.clone()))
                            .collect::<Vec<_>>(),
                    ),
                )
                .lock_shared()
                .to_owned();
            let mut hashes = HashMap::new();
            for row in db
                .query_all_raw(db.get_database_backend().build(&select))
                .await
                .map_err(|e| Error::from_journal("revy_object_deltas", e))?
            {
                hashes.insert(
                    (
                        row.try_get::<String>("", O::ContentType.as_str())?,
                        row.try_get::<String>("", O::ContentId.as_str())?,
                    ),
                    row.try_get::<Option<String>>("", O::Hash.as_str())?,
                );
            }
            for (object, head) in &mut found {
                head.hash = hashes.remove(object).flatten();
            }
        }
        out.extend(found);
    }
    Ok(out)
}
