//! Writing revisions, object deltas and attribute deltas.

use chrono::{DateTime, Utc};

use sea_orm::sea_query::{Alias, Expr, InsertStatement, Query};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Set};

use super::rows::{
    ATTRIBUTE_DELTA_COLUMNS, AttributeChange, ContextValues, NewObjectDelta, OBJECT_DELTA_COLUMNS,
    actor_columns, next_version, now,
};
use super::{Seal, numbering, one_query};
use crate::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::{attribute_delta, object_delta, revision};
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
        || text.contains("fk_revy_attribute_deltas_revision")
        // SQLite does not name the constraint; the revision is the only
        // parent a first journal row of an operation can miss
        || text.contains("FOREIGN KEY constraint failed")
}

// Rows per INSERT of attribute deltas: 12 parameters a row stays under
// every backend's limit on bound parameters (SQLite's 32766 is the lowest).
pub(crate) const ATTRIBUTE_ROWS_PER_STATEMENT: usize = 2500;

/// What the attribute deltas of one object delta have in common.
pub(crate) struct Parent<'a> {
    /// The object delta's id, or an expression that yields it.
    pub object_delta_id: Expr,
    pub revision_id: i64,
    pub content_type: &'a str,
    pub content_id: &'a str,
    pub created_at: DateTime<Utc>,
}

/// One attribute delta's values, in the order of [`ATTRIBUTE_DELTA_COLUMNS`].
pub(crate) fn attribute_row(parent: &Parent<'_>, change: AttributeChange) -> [Expr; 12] {
    let [
        actor_type,
        actor_id,
        action,
        description,
        field_name,
        old_value,
        new_value,
    ] = change.into_own_values();
    [
        parent.object_delta_id.clone(),
        Expr::val(parent.revision_id),
        Expr::val(actor_type),
        Expr::val(actor_id),
        Expr::val(action),
        Expr::val(description),
        Expr::val(parent.content_type),
        Expr::val(parent.content_id),
        Expr::val(field_name),
        Expr::val(old_value),
        Expr::val(new_value),
        Expr::val(parent.created_at),
    ]
}

/// A multi-row INSERT of attribute deltas, built with sea-query directly:
/// going through active models would copy every value twice more.
fn attribute_insert(rows: impl IntoIterator<Item = [Expr; 12]>) -> Result<InsertStatement, Error> {
    let mut insert = Query::insert();
    insert
        .into_table(attribute_delta::Entity)
        .columns(ATTRIBUTE_DELTA_COLUMNS);
    for row in rows {
        insert
            .values(row)
            .map_err(|e| Error::Db(DbErr::Custom(format!("revy_attribute_deltas: {e}"))))?;
    }
    Ok(insert)
}

pub(crate) async fn insert_attributes<C: ConnectionTrait>(
    db: &C,
    rows: impl IntoIterator<Item = [Expr; 12]>,
) -> Result<(), Error> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let insert = attribute_insert(rows.by_ref().take(ATTRIBUTE_ROWS_PER_STATEMENT))?;
        db.execute_raw(db.get_database_backend().build(&insert))
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
    }
    Ok(())
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

/// Writes one object delta and its attribute deltas: one query on
/// PostgreSQL and SQLite (see `one_query`), two on MySQL (the object delta,
/// then one multi-row insert). The delta's version is read in the statement
/// that writes it (see [`next_version`]).
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
    let backend = db.get_database_backend();
    if !changes.is_empty()
        && changes.len() <= ATTRIBUTE_ROWS_PER_STATEMENT
        && one_query::supported(backend)
    {
        let statement = one_query::record(backend, &delta, created_at, changes);
        let done = db.execute_raw(statement).await.map_err(journal_error)?;
        // the statement reports attribute rows, and writes one at least
        // when it writes at all
        return Ok(if done.rows_affected() == 0 {
            Outcome::VersionMoved
        } else {
            Outcome::Written
        });
    }
    let entries = encode_entries(&changes, delta.actor, delta.description);
    let Some(object_delta_id) = insert_object_delta(db, &delta, created_at, &entries).await? else {
        return Ok(Outcome::VersionMoved);
    };
    let parent = Parent {
        object_delta_id: Expr::val(object_delta_id),
        revision_id: delta.revision_id,
        content_type: delta.content_type,
        content_id: delta.content_id,
        created_at,
    };
    insert_attributes(db, changes.into_iter().map(|c| attribute_row(&parent, c))).await?;
    Ok(Outcome::Written)
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

/// A failed write of both journal tables, naming the one the database named.
pub(crate) fn journal_error(e: DbErr) -> Error {
    let table = if e.to_string().contains("revy_attribute_deltas") {
        "revy_attribute_deltas"
    } else {
        "revy_object_deltas"
    };
    Error::from_journal(table, e)
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
