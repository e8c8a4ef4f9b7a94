//! Object versions and optimistic concurrency.
//!
//! Every object delta carries the object's version after it: 1 at the
//! object's first delta, one more at each later one, continuing after a
//! delete and a restore (the journal numbers one key's history, whatever
//! happened to the row). A row the journal has never seen is at version 0
//! ([`version_of`] gives `None`): a save that requires 0 of such a row (one
//! written before tracking began, or by an untracked path) is accepted, and
//! records the row's baseline as version 1 before the save's own delta,
//! version 2. A save that requires 0 of a row the journal knows is a
//! conflict like any other.
//!
//! A save can require the version its caller read
//! ([`update_at_version`], [`delete_at_version`],
//! [`Tracked::expect_version`](crate::hooks::draft::Tracked::expect_version)). The check
//! costs no round trip of its own:
//! - the hooks' locked read of the row (`SELECT .. FOR UPDATE`) also reads
//!   the newest delta's version, and a row found at another version fails
//!   the save before anything is sent;
//! - the journal statement writes the delta only when the object's newest
//!   delta still has the required version. PostgreSQL and MySQL read the
//!   locked row's newest journal entry as of the locked read's snapshot,
//!   which may predate a writer that committed while the read waited for
//!   the lock; the journal statement reads the journal afresh, so that
//!   writer is seen there, and the save fails with the same error.
//!
//! In the second case the row's UPDATE or DELETE was already sent: the
//! error must roll the transaction back, which `update_at_version` and
//! `delete_at_version` do themselves (they run in a transaction, or a
//! savepoint of yours).

pub use crate::error::VersionError;
use std::marker::PhantomData;

use revy_core::Context;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DeleteResult, EntityTrait, IdenStatic,
    IntoActiveModel, PrimaryKeyTrait, TransactionTrait,
};

use crate::db::keys::{self, content_type};
use crate::error::Error;
use crate::handoff;
use crate::journal::object_delta;
use crate::record::write;

/// The conflict error for a row, left as a [`handoff::VersionConflict`]
/// for [`take_conflict`].
pub(crate) fn conflict(
    table: &str,
    content_id: &str,
    expected: i64,
    current: Option<i64>,
) -> Error {
    let make = || {
        Error::from(VersionError::VersionConflict {
            table: table.to_owned(),
            key: content_id.to_owned(),
            expected,
            current,
        })
    };
    handoff::VersionConflict::leave(make());
    make()
}

/// Takes the conflict the hooks found in this frame, if any.
pub(crate) fn take_conflict() -> Option<Error> {
    handoff::VersionConflict::take()
}

/// The newest version the journal holds of row `content_id` of table
/// `content_type`, read with a shared lock where the backend has one (so
/// MySQL reads the newest committed entry, not its snapshot's).
pub(crate) async fn newest<C: ConnectionTrait>(
    db: &C,
    content_type: &str,
    content_id: &str,
) -> Result<Option<i64>, Error> {
    use object_delta::Column as O;
    let mut select = Query::select();
    select
        .column(O::Version)
        .from(object_delta::Entity)
        .and_where(Expr::col(O::ContentType).eq(content_type))
        .and_where(Expr::col(O::ContentId).eq(content_id))
        .order_by(O::Id, Order::Desc)
        .limit(1);
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        select.lock_shared();
    }
    let row = db
        .query_one_raw(db.get_database_backend().build(&select))
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    row.map(|r| r.try_get::<i64>("", O::Version.as_str()))
        .transpose()
        .map_err(Error::Db)
}

/// The version of the row of `E` whose primary key is `key`: the version
/// after its newest object delta, `None` when the journal has none. A
/// deleted row keeps the version of its `Delete`.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// assert_eq!(revy_seaorm::versions::version_of::<user::Entity>(ann.id).one(&db).await?, Some(1));
/// let mut am = ann.into_active_model();
/// am.name = Set("Annie".into());
/// let ann = Context::new().scope(am.update(&db)).await?;
/// assert_eq!(revy_seaorm::versions::version_of::<user::Entity>(ann.id).one(&db).await?, Some(2));
/// # Ok(()) }
/// ```
pub fn version_of<E: EntityTrait>(
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
) -> VersionOf<E> {
    VersionOf {
        key,
        _entity: PhantomData,
    }
}

/// What [`version_of`] makes: nothing happens until
/// [`.one(db)`](VersionOf::one).
#[must_use = "nothing happens until `.one(db)`"]
pub struct VersionOf<E: EntityTrait> {
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    _entity: PhantomData<fn() -> E>,
}

impl<E: EntityTrait> VersionOf<E> {
    /// Runs the query on `db`.
    pub async fn one(self, db: &impl ConnectionTrait) -> Result<Option<i64>, Error> {
        let Self { key, .. } = self;
        let content_id = crate::history::key_text::<E>(key)?;
        newest(db, &content_type::<E>(), &content_id).await
    }
}

/// Updates the row `am` names if it is still at `version`, the version its
/// caller read (from [`version_of`] or a history entry); otherwise fails
/// with [`VersionError::VersionConflict`] and writes nothing. The update is
/// tracked as any other (open a context for the actor and descriptions).
///
/// It runs in a transaction of its own, or a savepoint when `db` is a
/// transaction, so a conflict found at the journal write rolls the row's
/// update back.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::{Error, versions::VersionError, versions::update_at_version, versions::version_of};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let read = version_of::<user::Entity>(ann.id).one(&db).await?.unwrap_or(0); // 1
///
/// let mut first = ann.clone().into_active_model();
/// first.name = Set("Annie".into());
/// update_at_version(first, read).exec(&db).await?; // now at version 2
///
/// let mut second = ann.into_active_model();
/// second.name = Set("Anna".into());
/// match update_at_version(second, read).exec(&db).await {
///     Err(Error::Version(e))
///         if matches!(*e, VersionError::VersionConflict { expected: 1, current: Some(2), .. }) => {}
///     other => panic!("expected a conflict, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
///
/// Version 0 is the version of a row the journal never saw (written before
/// tracking began, or untracked): requiring it is accepted, and the save
/// records the row's baseline (version 1) and then itself (version 2).
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_seaorm::{versions::update_at_version, versions::version_of};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// // no context: written before revy tracked this table
/// let old = user::ActiveModel { name: Set("Bo".into()), ..Default::default() }.insert(&db).await?;
/// assert_eq!(version_of::<user::Entity>(old.id).one(&db).await?, None);
///
/// let mut am = old.into_active_model();
/// am.name = Set("Bob".into());
/// let bob = update_at_version(am, 0).exec(&db).await?;
/// assert_eq!(version_of::<user::Entity>(bob.id).one(&db).await?, Some(2));
/// let history = revy_seaorm::history::of::<user::Entity>(bob.id).all(&db).await?;
/// assert_eq!(history.len(), 2, "the baseline, then the update");
/// # Ok(()) }
/// ```
pub fn update_at_version<A>(am: A, version: i64) -> UpdateAtVersion<A> {
    UpdateAtVersion { am, version }
}

/// What [`update_at_version`] makes: nothing happens until
/// [`.exec(db)`](UpdateAtVersion::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct UpdateAtVersion<A> {
    am: A,
    version: i64,
}

impl<A> UpdateAtVersion<A> {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<<A::Entity as EntityTrait>::Model, Error>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send + 'static,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
        C: ConnectionTrait + TransactionTrait,
    {
        let Self { am, version } = self;
        let content_id = keys::content_id_of_active(&am)?;
        Context::new()
            .scope(async move {
                handoff::RequiredVersion::leave::<A::Entity>(content_id, version)?;
                let txn = db.begin().await?;
                let result = am.update(&txn).await;
                let result = settle(result);
                write::finish(txn, result).await
            })
            .await
    }
}

/// Deletes the row `am` names if it is still at `version`, as
/// [`update_at_version`] updates it.
pub fn delete_at_version<A>(am: A, version: i64) -> DeleteAtVersion<A> {
    DeleteAtVersion { am, version }
}

/// What [`delete_at_version`] makes: nothing happens until
/// [`.exec(db)`](DeleteAtVersion::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct DeleteAtVersion<A> {
    am: A,
    version: i64,
}

impl<A> DeleteAtVersion<A> {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<DeleteResult, Error>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send + 'static,
        C: ConnectionTrait + TransactionTrait,
    {
        let Self { am, version } = self;
        let content_id = keys::content_id_of_active(&am)?;
        Context::new()
            .scope(async move {
                handoff::RequiredVersion::leave::<A::Entity>(content_id, version)?;
                let txn = db.begin().await?;
                let result = am.delete(&txn).await;
                let result = settle(result);
                write::finish(txn, result).await
            })
            .await
    }
}

/// A save's result, with the structured conflict in place of the `DbErr`
/// that carried it out of the hooks; an expectation the save never
/// reached is dropped with the frame.
pub(crate) fn settle<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, Error> {
    match result {
        Ok(v) => {
            take_conflict();
            Ok(v)
        }
        Err(e) => Err(take_conflict().unwrap_or(Error::Db(e))),
    }
}
