//! Rolling back: restoring deleted rows, reverting live ones, undoing revisions.

use revy_core::{Action, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    Select,
};
use std::marker::PhantomData;

use crate::db::keys::{self, content_type};
use crate::error::Error;
use crate::history::snapshot::ObjectSnapshot;
use crate::journal::object_delta;
use crate::registry::TrackedEntity;
use crate::rollback::RollbackError;

pub(crate) fn find_by_key<E: EntityTrait>(key: &[(E::Column, sea_orm::Value)]) -> Select<E> {
    let mut select = E::find();
    for (col, value) in key {
        select = select.filter(col.eq(value.clone()));
    }
    select
}

/// The snapshot at `delta_id`, or an error saying there is none.
async fn snapshot_or_error<E, C>(db: &C, delta_id: i64) -> Result<E::Model, Error>
where
    E: TrackedEntity,
    C: ConnectionTrait,
{
    ObjectSnapshot::<E>::at(delta_id)
        .one(db)
        .await?
        .ok_or_else(|| {
            RollbackError::NoSnapshot {
                table: content_type::<E>(),
                object_delta_id: delta_id,
            }
            .into()
        })
}

/// Inserts the snapshot at `delta_id` again, with its original primary key,
/// tracked as a `Create` (in the current context; outside one, in a frame of
/// its own so the restore is always recorded).
///
/// Fails, recording nothing, when a row with that key exists: the error
/// names the table and the key.
///
/// A column the entity's [tracking policy](crate::policy) keeps out of the
/// journal gets its default, or NULL; with neither, the restore fails with
/// [`HistoryError::NotRecorded`](crate::history::HistoryError::NotRecorded) naming it, and writes nothing.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
///
/// let bob = Context::new()
///     .scope(user::ActiveModel { name: Set("Bob".into()), ..Default::default() }.insert(&db))
///     .await?;
/// Context::new().scope(bob.clone().into_active_model().delete(&db)).await?;
///
/// let delete = object_delta::Entity::find()
///     .filter(object_delta::Column::Action.eq("Delete"))
///     .one(&db)
///     .await?
///     .unwrap();
/// let back = revy_seaorm::rollback::restore::<user::Entity>(delete.id).exec(&db).await?;
/// assert_eq!(back, bob); // the same key, the same values
/// // a second restore would overwrite the live row: refused
/// assert!(revy_seaorm::rollback::restore::<user::Entity>(delete.id).exec(&db).await.is_err());
/// # Ok(()) }
/// ```
pub fn restore<E: TrackedEntity>(delta_id: i64) -> Restore<E> {
    Restore {
        delta_id,
        _entity: PhantomData,
    }
}

/// What [`restore`] makes: nothing happens until
/// [`.exec(db)`](Restore::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct Restore<E: TrackedEntity> {
    delta_id: i64,
    _entity: PhantomData<fn() -> E>,
}

impl<E: TrackedEntity> Restore<E> {
    /// Runs it on `db`.
    pub async fn exec(self, db: &impl ConnectionTrait) -> Result<E::Model, Error> {
        let Self { delta_id, .. } = self;
        let snapshot = snapshot_or_error::<E, _>(db, delta_id).await?;
        insert_snapshot::<E, _>(db, snapshot).await
    }
}

/// Restores the row of `E` whose primary key is `key` from its newest
/// `Delete`, as [`restore`] does from that delta's id.
///
/// Fails with [`RollbackError::NeverDeleted`] when the journal holds no `Delete`
/// of that key, and with [`RollbackError::KeyTaken`] when the row is live.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let bob = Context::new()
///     .scope(user::ActiveModel { name: Set("Bob".into()), ..Default::default() }.insert(&db))
///     .await?;
/// Context::new().scope(bob.clone().into_active_model().delete(&db)).await?;
///
/// let back = revy_seaorm::rollback::restore_latest::<user::Entity>(bob.id).exec(&db).await?;
/// assert_eq!(back, bob);
/// // live again: nothing to restore
/// assert!(revy_seaorm::rollback::restore_latest::<user::Entity>(bob.id).exec(&db).await.is_err());
/// # Ok(()) }
/// ```
pub fn restore_latest<E: TrackedEntity>(
    key: <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType,
) -> RestoreLatest<E> {
    RestoreLatest {
        key,
        _entity: PhantomData,
    }
}

/// What [`restore_latest`] makes: nothing happens until
/// [`.exec(db)`](RestoreLatest::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct RestoreLatest<E: TrackedEntity> {
    key: <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType,
    _entity: PhantomData<fn() -> E>,
}

impl<E: TrackedEntity> RestoreLatest<E> {
    /// Runs it on `db`.
    pub async fn exec(self, db: &impl ConnectionTrait) -> Result<E::Model, Error> {
        let Self { key, .. } = self;
        let content_id = crate::history::key_text::<E>(key)?;
        use sea_orm::QueryOrder;
        let deleted = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq(content_type::<E>()))
            .filter(object_delta::Column::ContentId.eq(content_id.as_str()))
            .filter(object_delta::Column::Action.eq(Action::Delete))
            .order_by_desc(object_delta::Column::Id)
            .one(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        match deleted {
            Some(delete) => restore::<E>(delete.id).exec(db).await,
            None => Err(Error::from(RollbackError::NeverDeleted {
                table: content_type::<E>(),
                key: content_id,
            })),
        }
    }
}

pub(crate) async fn insert_snapshot<E, C>(db: &C, snapshot: E::Model) -> Result<E::Model, Error>
where
    E: TrackedEntity,
    C: ConnectionTrait,
{
    if let Some(key) = live_key::<E, C>(db, &snapshot, true).await? {
        return Err(RollbackError::KeyTaken {
            table: content_type::<E>(),
            key,
        }
        .into());
    }
    let am = snapshot.into_active_model().reset_all();
    Ok(Context::new().scope(am.insert(db)).await?)
}

/// The key text of the row `model` names, when whether that row is live
/// equals `live` (so the caller has something to report); `None` otherwise.
async fn live_key<E, C>(db: &C, model: &E::Model, live: bool) -> Result<Option<String>, Error>
where
    E: TrackedEntity,
    C: ConnectionTrait,
{
    let key: Vec<_> = keys::key_columns::<E>()?
        .into_iter()
        .map(|c| (c, sea_orm::ModelTrait::get(model, c)))
        .collect();
    let found = find_by_key::<E>(&key).one(db).await?.is_some();
    if found == live {
        Ok(Some(keys::content_id_of::<E>(&key)?))
    } else {
        Ok(None)
    }
}

/// Updates the live row back to the snapshot at `delta_id`, tracked as an
/// `Update` of the columns that differ. Fails when the row no longer exists
/// (use [`restore`] for that).
///
/// Columns the entity's [tracking policy](crate::policy) keeps out of the
/// journal are left as the live row has them.
pub fn revert<E: TrackedEntity>(delta_id: i64) -> Revert<E> {
    Revert {
        delta_id,
        _entity: PhantomData,
    }
}

/// What [`revert`] makes: nothing happens until
/// [`.exec(db)`](Revert::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct Revert<E: TrackedEntity> {
    delta_id: i64,
    _entity: PhantomData<fn() -> E>,
}

impl<E: TrackedEntity> Revert<E> {
    /// Runs it on `db`.
    pub async fn exec(self, db: &impl ConnectionTrait) -> Result<E::Model, Error> {
        let Self { delta_id, .. } = self;
        let snapshot = snapshot_or_error::<E, _>(db, delta_id).await?;
        update_to_snapshot::<E, _>(db, snapshot).await
    }
}

pub(crate) async fn update_to_snapshot<E, C>(db: &C, snapshot: E::Model) -> Result<E::Model, Error>
where
    E: TrackedEntity,
    C: ConnectionTrait,
{
    if let Some(key) = live_key::<E, C>(db, &snapshot, false).await? {
        return Err(RollbackError::RowGone {
            table: content_type::<E>(),
            key,
        }
        .into());
    }
    let mut am = snapshot.into_active_model().reset_all();
    // columns the journal does not hold stay as the live row has them
    for (col, _) in crate::policy::rules::<E>()?.unrecorded() {
        am.not_set(col);
    }
    Ok(Context::new().scope(am.update(db)).await?)
}

/// The newest object delta of an object before `before_id`, if any.
pub(crate) async fn previous_delta<C: ConnectionTrait>(
    db: &C,
    content_type: &str,
    content_id: &str,
    before_id: i64,
) -> Result<Option<object_delta::Model>, Error> {
    use sea_orm::QueryOrder;
    Ok(object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(content_type))
        .filter(object_delta::Column::ContentId.eq(content_id))
        .filter(object_delta::Column::Id.lt(before_id))
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await?)
}

/// Brings one object back to its state before `first_delta_id` (absent if
/// it did not exist then): the typed step of [`undo_revision`](crate::rollback::undo_revision).
pub(crate) async fn roll_back_object<E, C>(
    db: &C,
    content_id: &str,
    first_delta_id: i64,
) -> Result<(), Error>
where
    E: TrackedEntity,
    C: ConnectionTrait,
{
    let table = content_type::<E>();
    let target = match previous_delta(db, &table, content_id, first_delta_id).await? {
        Some(d) if d.action != Action::Delete => Some(snapshot_or_error::<E, C>(db, d.id).await?),
        _ => None,
    };
    let key = keys::key_values_from_id::<E::ActiveModel>(content_id)?;
    let live = find_by_key::<E>(&key).one(db).await?;
    match (target, live) {
        (None, Some(live)) => {
            Context::new()
                .scope(live.into_active_model().delete(db))
                .await?;
        }
        (Some(target), None) => {
            insert_snapshot::<E, C>(db, target).await?;
        }
        (Some(target), Some(_)) => {
            update_to_snapshot::<E, C>(db, target).await?;
        }
        (None, None) => {}
    }
    Ok(())
}
