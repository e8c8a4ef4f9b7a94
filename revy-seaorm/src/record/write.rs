//! Writing revisions, object deltas and attribute deltas.

use chrono::{DateTime, Utc};

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Set};

use super::rows::{
    ContextValues, NewObjectDelta, OBJECT_DELTA_COLUMNS, actor_columns, next_version, now,
};
use super::{Seal, numbering};
use crate::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::{object_delta, revision};
use crate::policy::Vetted;

/// Inserts a revision row and returns its id.
pub(crate) async fn insert_revision<C: ConnectionTrait>(
    db: &C,
    description: String,
    meta: serde_json::Value,
) -> Result<i64, Error> {
    let row = revision::ActiveModel {
        id: NotSet,
        description: Set(description),
        meta: Set((!meta.is_null()).then_some(meta)),
        created_at: Set(now()),
    };
    revision::Entity::insert(row)
        .exec(db)
        .await
        .map(|r| r.last_insert_id)
        .map_err(|e| Error::from_journal("revy_revisions", e))
}

/// The revision an operation writes into: the context's (created on first
/// use when lazy) or a new one of its own.
pub(crate) async fn revision_for<C: ConnectionTrait>(
    db: &C,
    ctx: &ContextValues,
) -> Result<i64, Error> {
    let create = || insert_revision(db, ctx.revision_description.clone(), ctx.meta.clone());
    match &ctx.revision {
        Some(lazy) => lazy.get_or_try_create(create).await,
        None => create().await,
    }
}

/// Runs `write` with the id of the revision the operation writes into.
///
/// A context's [`LazyRevision`](revy_core::LazyRevision) keeps the id of
/// the revision it created; when the transaction that created it rolled
/// back, the row is gone, and the write fails on the journal's foreign key.
/// Then the id is forgotten and, where the failed statement left the
/// transaction usable (SQLite, MySQL), the revision is created anew and the
/// write runs again. PostgreSQL aborts the whole transaction at the failed
/// statement, so there the error ([`Error::RevisionRolledBack`]) says to
/// retry it; the retry creates the revision.
pub(crate) async fn with_revision<C, T, F, Fut>(
    db: &C,
    ctx: &ContextValues,
    write: F,
) -> Result<T, Error>
where
    C: ConnectionTrait,
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let revision_id = revision_for(db, ctx).await?;
    let failure = match write(revision_id).await {
        Err(e) if names_missing_revision(&e) => e,
        done => return done,
    };
    let Some(lazy) = ctx.revision.as_ref().filter(|l| !l.is_named()) else {
        return Err(failure);
    };
    lazy.forget(revision_id);
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        return Err(Error::RevisionRolledBack { revision_id });
    }
    write(revision_for(db, ctx).await?).await
}

/// Whether a failed journal write says its revision does not exist.
fn names_missing_revision(e: &Error) -> bool {
    let text = e.to_string();
    text.contains("fk_revy_object_deltas_revision")
        // SQLite does not name the constraint; the revision is the only
        // parent a first journal row of an operation can miss
        || text.contains("FOREIGN KEY constraint failed")
}

/// Whether a journal write happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Outcome {
    Written,
    /// The delta required a version ([`NewObjectDelta::after_version`])
    /// and the object's newest delta has another: nothing was written.
    VersionMoved,
}

/// Writes one object delta with its attribute deltas inline: one
/// statement. The delta's version is read in the statement that writes it
/// (see [`next_version`]; MySQL names it, see `numbering`).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    delta: NewObjectDelta<'_>,
    changes: Vetted,
    seal: Seal,
) -> Result<Outcome, Error> {
    let changes = changes.into_inner();
    let created_at = now();
    if seal.is_on() {
        return super::sealed::record(db, delta, changes, created_at).await;
    }
    let entries = encode_entries(&changes, delta.actor, delta.description);
    Ok(
        match insert_object_delta(db, &delta, created_at, &entries).await? {
            Some(_) => Outcome::Written,
            None => Outcome::VersionMoved,
        },
    )
}

/// Inserts one object delta, `INSERT .. SELECT` so that its version is read
/// as it is written, and returns its id; `None` when the delta requires a
/// version the object is not at.
async fn insert_object_delta<C: ConnectionTrait>(
    db: &C,
    delta: &NewObjectDelta<'_>,
    created_at: DateTime<Utc>,
    entries: &str,
) -> Result<Option<i64>, Error> {
    use sea_orm::sea_query::ExprTrait;
    const CURRENT: &str = "revy_current";
    if db.get_database_backend() == sea_orm::DbBackend::MySql {
        return insert_object_delta_named(db, delta, created_at, entries).await;
    }
    let current = Query::select()
        .expr_as(
            next_version(
                Expr::val(delta.content_type),
                Expr::val(delta.content_id),
                0,
            ),
            object_delta::Column::Version,
        )
        .to_owned();
    let current_version = Expr::col((Alias::new(CURRENT), object_delta::Column::Version));
    let mut select = Query::select();
    let mut values = own_values(delta, created_at).to_vec();
    values.push(current_version.clone().add(1));
    values.push(Expr::val(entries));
    select
        .exprs(values)
        .from_subquery(current, Alias::new(CURRENT));
    if let Some(version) = delta.after_version {
        select.and_where(current_version.eq(version));
    }
    let mut insert = Query::insert();
    insert
        .into_table(object_delta::Entity)
        .columns(with_changes())
        .select_from(select)
        .map_err(|e| Error::Db(DbErr::Custom(format!("revy_object_deltas: {e}"))))?;
    let backend = db.get_database_backend();
    let failed = |e| Error::from_journal("revy_object_deltas", e);
    insert.returning_col(object_delta::Column::Id);
    let row = db
        .query_one_raw(backend.build(&insert))
        .await
        .map_err(failed)?;
    row.map(|r| r.try_get::<i64>("", object_delta::Column::Id.as_str()))
        .transpose()
        .map_err(Error::Db)
}

/// [`insert_object_delta`] on MySQL: the version is named, one more than
/// the newest the writer read; a version taken (the read was a stale
/// snapshot) is read again with a lock and the insert retried once (see
/// `numbering`).
async fn insert_object_delta_named<C: ConnectionTrait>(
    db: &C,
    delta: &NewObjectDelta<'_>,
    created_at: DateTime<Utc>,
    entries: &str,
) -> Result<Option<i64>, Error> {
    let mut version = match delta.after_version {
        Some(v) => v + 1,
        None => delta.known_version.unwrap_or(0) + 1,
    };
    let backend = db.get_database_backend();
    let mut retried = false;
    loop {
        let mut insert = Query::insert();
        insert
            .into_table(object_delta::Entity)
            .columns(with_changes())
            .values(
                own_values(delta, created_at)
                    .into_iter()
                    .chain([Expr::val(version), Expr::val(entries)]),
            )
            .map_err(|e| Error::Db(DbErr::Custom(format!("revy_object_deltas: {e}"))))?;
        match db.execute_raw(backend.build(&insert)).await {
            Ok(done) => return Ok(Some(done.last_insert_id() as i64)),
            Err(e) if numbering::version_taken(&e) && delta.after_version.is_some() => {
                return Ok(None);
            }
            Err(e) if numbering::version_taken(&e) && !retried => {
                retried = true;
                let object = (delta.content_type.to_owned(), delta.content_id.to_owned());
                let newest =
                    numbering::newest_versions(db, std::slice::from_ref(&object), true).await?;
                version = newest.get(&object).copied().unwrap_or(0) + 1;
            }
            Err(e) => return Err(Error::from_journal("revy_object_deltas", e)),
        }
    }
}

/// [`OBJECT_DELTA_COLUMNS`] and the inline attribute deltas.
fn with_changes() -> Vec<object_delta::Column> {
    let mut columns = OBJECT_DELTA_COLUMNS.to_vec();
    columns.push(object_delta::Column::Changes);
    columns
}

/// An object delta's values but its version, in the order of
/// [`OBJECT_DELTA_COLUMNS`].
pub(crate) fn own_values(delta: &NewObjectDelta<'_>, created_at: DateTime<Utc>) -> [Expr; 8] {
    let (actor_type, actor_id) = actor_columns(delta.actor);
    [
        Expr::val(delta.revision_id),
        Expr::val(actor_type),
        Expr::val(actor_id),
        Expr::val(delta.action.as_str()),
        Expr::val(delta.description),
        Expr::val(delta.content_type),
        Expr::val(delta.content_id),
        Expr::val(created_at),
    ]
}

/// Commits `txn` when `result` is a success; otherwise rolls it back before
/// returning the error, so its locks are gone when the caller sees the
/// failure (dropping a transaction only schedules the rollback).
pub(crate) async fn finish<T, S: sea_orm::TransactionSession>(
    txn: S,
    result: Result<T, Error>,
) -> Result<T, Error> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // the operation's error says what went wrong; a failed rollback
            // (the connection is gone) ends the transaction just the same
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}
