//! Writing revisions, object deltas and attribute deltas.

use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set};

use super::insert::{self, Expect, Row};
use super::rows::{ContextValues, NewObjectDelta, now};
use super::{Seal, numbering};
use crate::error::{Error, JournalError};
use crate::journal::revision;
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
/// statement, so there the error ([`JournalError::RevisionRolledBack`]) says to
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
        return Err(JournalError::RevisionRolledBack { revision_id }.into());
    }
    write(revision_for(db, ctx).await?).await
}

/// Whether a failed journal write says its revision does not exist: a
/// foreign-key violation, by the database's error code (the revision is
/// the only parent a journal row of an operation has).
fn names_missing_revision(e: &Error) -> bool {
    matches!(e, Error::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))))
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

/// Writes one object delta into the revision the operation writes into
/// (see [`with_revision`]); `delta` describes it given that revision's id.
///
/// When that revision does not exist yet, it is created as by
/// [`record_in_new_revision`]: on PostgreSQL and SQLite in the statement
/// that writes the delta, so a tracked save in a transaction of its own,
/// a web request's usual shape, sends one journal statement instead of
/// two.
pub(crate) async fn record_in_revision<'a, C: ConnectionTrait>(
    db: &C,
    ctx: &ContextValues,
    delta: impl Fn(i64) -> NewObjectDelta<'a>,
    changes: Vetted,
    seal: Seal,
) -> Result<Outcome, Error> {
    let revision = || insert::Revision {
        description: &ctx.revision_description,
        meta: &ctx.meta,
        created_at: now(),
    };
    match &ctx.revision {
        None => {
            return record_in_new_revision(db, revision(), &delta, changes, seal)
                .await
                .map(|(_, outcome)| outcome);
        }
        Some(lazy) if lazy.id().is_none() && in_one_statement(db, seal) => {
            let outcome = std::sync::Mutex::new(None);
            lazy.get_or_try_create(|| async {
                let (id, written) =
                    record_in_new_revision(db, revision(), &delta, changes.clone(), seal).await?;
                *outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(written);
                Ok::<_, Error>(id)
            })
            .await?;
            if let Some(written) = outcome.into_inner().unwrap_or_else(|e| e.into_inner()) {
                return Ok(written);
            }
            // another write of the context created the revision
            // meanwhile: this one goes into it below
        }
        Some(_) => {}
    }
    with_revision(db, ctx, |revision_id| {
        record(db, delta(revision_id), changes.clone(), seal)
    })
    .await
}

/// Whether [`record_in_new_revision`] writes `delta` and its revision in
/// one statement: on PostgreSQL and SQLite (see
/// [`insert::opening_statement`]), for an unsealed delta (a sealed one's
/// link hashes its revision's id).
fn in_one_statement<C: ConnectionTrait>(db: &C, seal: Seal) -> bool {
    db.get_database_backend() != sea_orm::DbBackend::MySql && !seal.is_on()
}

/// Writes one object delta into `revision`, created for it; `delta`
/// describes it given the revision's id. Returns that id and the outcome
/// (the revision is created even when the delta's required version has
/// moved).
///
/// One statement where [`in_one_statement`] says so; otherwise the
/// revision, then [`record`].
pub(crate) async fn record_in_new_revision<'a, C: ConnectionTrait>(
    db: &C,
    revision: insert::Revision<'_>,
    delta: &impl Fn(i64) -> NewObjectDelta<'a>,
    changes: Vetted,
    seal: Seal,
) -> Result<(i64, Outcome), Error> {
    if !in_one_statement(db, seal) {
        let id =
            insert_revision(db, revision.description.to_owned(), revision.meta.clone()).await?;
        return Ok((id, record(db, delta(id), changes, seal).await?));
    }
    let changes = changes.into_inner();
    let delta = delta(0);
    let expect = match delta.after_version {
        Some(version) => Expect::Version(version),
        None => Expect::Any,
    };
    let row = delta.row(revision.created_at, &changes);
    let backend = db.get_database_backend();
    let statement = insert::opening_statement(backend, &row, expect, revision)?;
    let failed = |e| Error::from_journal("revy_object_deltas", e);
    let rows = db.query_all_raw(statement).await.map_err(failed)?;
    // the first row names the revision; a delta id in any row says the
    // delta was written
    let id = rows
        .first()
        .ok_or_else(|| insert::invalid("a new revision's statement returned no row"))?
        .try_get::<i64>("", "revision_id")
        .map_err(failed)?;
    let mut written = Outcome::VersionMoved;
    for row in &rows {
        if row
            .try_get::<Option<i64>>("", "id")
            .map_err(failed)?
            .is_some()
        {
            written = Outcome::Written;
        }
    }
    Ok((id, written))
}

/// Writes one object delta with its attribute deltas inline: one
/// statement. The delta's version is read in the statement that writes it
/// (see [`next_version`](super::rows::next_version); MySQL names it, see
/// `numbering`).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    delta: NewObjectDelta<'_>,
    changes: Vetted,
    seal: Seal,
) -> Result<Outcome, Error> {
    let changes = changes.into_inner();
    let row = delta.row(now(), &changes);
    if seal.is_on() {
        return super::sealed::record(db, &delta, row).await;
    }
    let backend = db.get_database_backend();
    if backend == sea_orm::DbBackend::MySql {
        return record_named(db, &delta, row).await;
    }
    let expect = match delta.after_version {
        Some(version) => Expect::Version(version),
        None => Expect::Any,
    };
    let statement = backend.build(&insert::read_in_statement(&row, expect)?);
    let written = db
        .query_one_raw(statement)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(match written {
        Some(_) => Outcome::Written,
        None => Outcome::VersionMoved,
    })
}

/// [`record`] on MySQL: the version is named, one more than the newest
/// the writer read; a version taken (the read was a stale snapshot) is
/// read again with a lock and the insert retried once (see `numbering`).
async fn record_named<C: ConnectionTrait>(
    db: &C,
    delta: &NewObjectDelta<'_>,
    row: Row<'_>,
) -> Result<Outcome, Error> {
    let mut version = match delta.after_version {
        Some(v) => v + 1,
        None => delta.known_version.unwrap_or(0) + 1,
    };
    let backend = db.get_database_backend();
    let mut retried = false;
    loop {
        let statement = insert::values([(row, version, None)], Seal::Off)?;
        match db.execute_raw(backend.build(&statement)).await {
            Ok(_) => return Ok(Outcome::Written),
            Err(e) if numbering::version_taken(&e) && delta.after_version.is_some() => {
                return Ok(Outcome::VersionMoved);
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
