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

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::extension::mysql::{IndexHintScope, IndexName, MySqlSelectStatementExt};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, UnionType};
use sea_orm::{ConnectionTrait, DbErr, IdenStatic};

use super::rows::Head;
use crate::error::Error;
use crate::journal::object_delta;
use crate::journal::schema::CONTENT_INDEX;

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
/// in [`newest_versions`] (see [`locked_heads`]).
pub(crate) async fn newest_heads<C: ConnectionTrait>(
    db: &C,
    objects: &[Object],
    locked: bool,
    links: bool,
) -> Result<HashMap<Object, Head>, Error> {
    use object_delta::Column as O;
    if locked {
        return locked_heads(db, objects, links).await;
    }
    let mut out = HashMap::new();
    // 2 parameters an object: far under every limit
    for chunk in objects.chunks(5_000) {
        let among = Expr::tuple([Expr::col(O::ContentType), Expr::col(O::ContentId)]).in_tuples(
            chunk
                .iter()
                .map(|(t, i)| (t.clone(), i.clone()))
                .collect::<Vec<_>>(),
        );
        // each object's newest delta by id (the end of its index range),
        // then its version: no object's whole history is read
        let newest = Query::select()
            .expr(Expr::col(O::Id).max())
            .from(object_delta::Entity)
            .and_where(among)
            .group_by_columns([O::ContentType, O::ContentId])
            .to_owned();
        let mut select = Query::select();
        select
            .columns([O::ContentType, O::ContentId, O::Version])
            .from(object_delta::Entity)
            .and_where(Expr::col(O::Id).in_subquery(newest));
        if links {
            select.column(O::Hash);
        }
        let rows = db
            .query_all_raw(db.get_database_backend().build(&select))
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        for row in rows {
            let (object, version) = object_and(&row, O::Version.as_str())?;
            let hash = match links {
                true => row.try_get::<Option<String>>("", O::Hash.as_str())?,
                false => None,
            };
            out.insert(object, Head { version, hash });
        }
    }
    Ok(out)
}

/// The column [`locked_heads`] reads each object's newest delta into.
const NEWEST: &str = "revy_newest";

/// Objects per statement of [`locked_heads`].
const OBJECTS_PER_LOCKED_READ: usize = 500;

/// [`newest_heads`] read current, on MySQL (where a plain read returns the
/// transaction's snapshot): the objects as a derived table of one-row
/// SELECTs, each asking for its newest delta by a scalar subquery with a
/// locking clause of its own. One seek of the content index an object,
/// whatever its history, and a lock on that delta only.
///
/// The lock is on the subquery: MySQL/MariaDB read a subquery of a locking
/// statement from the snapshot unless the subquery locks itself. The form
/// before, a `MAX(version)` per object under one `LOCK IN SHARE MODE`,
/// read and locked every delta of every object: a bulk update of 1,000 rows
/// with 270 deltas each took 560 ms in it, against 14 ms this way.
///
/// With `links`, the subqueries give the deltas' ids, and a second locking
/// read takes their versions and hashes by primary key.
async fn locked_heads<C: ConnectionTrait>(
    db: &C,
    objects: &[Object],
    links: bool,
) -> Result<HashMap<Object, Head>, Error> {
    use object_delta::Column as O;
    let backend = db.get_database_backend();
    let journal = |e| Error::from_journal("revy_object_deltas", e);
    let (keys, key, newest) = (
        Alias::new("revy_keys"),
        Alias::new("revy_key"),
        Alias::new(NEWEST),
    );
    let mut out = HashMap::new();
    let mut ids = Vec::new();
    // by table: the table is a constant of each statement (compared with
    // a column of the keys, MariaDB walked the primary key back from the
    // newest delta instead, 750 rows a key)
    let mut by_table: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (t, i) in objects {
        by_table.entry(t.as_str()).or_default().push(i.as_str());
    }
    let mut chunks: Vec<(&str, &[&str])> = Vec::new();
    for (t, keys) in &by_table {
        chunks.extend(keys.chunks(OBJECTS_PER_LOCKED_READ).map(|c| (*t, c)));
    }
    for (content_type, chunk) in chunks {
        let mut rows = chunk.iter().map(|i| {
            Query::select()
                .expr_as(Expr::val(*i), key.clone())
                .to_owned()
        });
        let Some(mut union) = rows.next() else {
            continue;
        };
        union.unions(rows.map(|r| (UnionType::All, r)));
        let read = if links { O::Id } else { O::Version };
        let head = Query::select()
            .column((object_delta::Entity, read))
            .from(object_delta::Entity)
            .force_index(IndexName::new(CONTENT_INDEX), IndexHintScope::All)
            .and_where(Expr::col((object_delta::Entity, O::ContentType)).eq(content_type))
            .and_where(
                Expr::col((object_delta::Entity, O::ContentId)).equals((keys.clone(), key.clone())),
            )
            .order_by((object_delta::Entity, O::Id), Order::Desc)
            .limit(1)
            .lock_shared()
            .to_owned();
        let select = Query::select()
            .expr_as(Expr::col((keys.clone(), key.clone())), O::ContentId)
            .expr_as(Expr::SubQuery(None, Box::new(head.into())), newest.clone())
            .from_subquery(union, keys.clone())
            .to_owned();
        for row in db
            .query_all_raw(backend.build(&select))
            .await
            .map_err(journal)?
        {
            let content_id = row.try_get::<String>("", O::ContentId.as_str())?;
            let Some(found) = row.try_get::<Option<i64>>("", NEWEST)? else {
                continue; // no delta yet
            };
            if links {
                ids.push(found);
            } else {
                out.insert(
                    (content_type.to_owned(), content_id),
                    Head {
                        version: found,
                        hash: None,
                    },
                );
            }
        }
    }
    // the deltas found, by key: current too, as a locking read
    for ids in ids.chunks(1_000) {
        let select = Query::select()
            .columns([O::ContentType, O::ContentId, O::Version, O::Hash])
            .from(object_delta::Entity)
            .and_where(Expr::col(O::Id).is_in(ids.iter().copied()))
            .lock_shared()
            .to_owned();
        for row in db
            .query_all_raw(backend.build(&select))
            .await
            .map_err(journal)?
        {
            let (object, version) = object_and(&row, O::Version.as_str())?;
            let hash = row.try_get::<Option<String>>("", O::Hash.as_str())?;
            out.insert(object, Head { version, hash });
        }
    }
    Ok(out)
}

/// A row's object, and its column `column`.
fn object_and<T: sea_orm::TryGetable>(
    row: &sea_orm::QueryResult,
    column: &str,
) -> Result<(Object, T), Error> {
    use object_delta::Column as O;
    Ok((
        (
            row.try_get::<String>("", O::ContentType.as_str())?,
            row.try_get::<String>("", O::ContentId.as_str())?,
        ),
        row.try_get::<T>("", column)?,
    ))
}
