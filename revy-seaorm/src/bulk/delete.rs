//! `delete_many` and `delete_by_id`: a tracked `DELETE .. WHERE ..`.

use std::marker::PhantomData;

use revy_core::{Action, Context};
use sea_orm::sea_query::IntoValueTuple;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DeleteResult, EntityTrait, PrimaryKeyToColumn,
    PrimaryKeyTrait, QueryFilter, TransactionTrait,
};

use super::Where;
use crate::db::keys;
use crate::db::keyset::{self, Pages};
use crate::deletion::{self, cascade};
use crate::error::Error;
use crate::policy::{self, TrackingPolicy};
use crate::record::Seal;
use crate::record::batch::{self, RowDelta};
use crate::record::rows::ContextValues;
use crate::record::write;
use sea_orm::Iterable;

/// A tracked `DELETE` of every row a filter selects: sea-orm's
/// [`DeleteMany`](sea_orm::DeleteMany), journaled. Made by
/// [`delete_many`] or [`delete_by_id`].
#[derive(Debug)]
pub struct DeleteMany<E: EntityTrait> {
    filter: Where,
    chunk_size: u64,
    entity: PhantomData<E>,
}

/// Starts a tracked `DELETE` of `E`'s rows: add sea-orm's `filter`, then
/// `exec`. Each deleted row gets a `Delete` object delta (and a baseline
/// first if the journal has never seen it), so
/// [`restore`](crate::rollback::restore) brings it back.
///
/// The child policies registered for `E` with
/// [`register_child_policies`](crate::deletion::cascade::register_child_policies) (its
/// declared ones and those adopted from the database's foreign keys) are
/// applied first to each deleted row's children, journaled as
/// [`delete`](crate::deletion::delete) journals them, in the same transaction.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Context};
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
///
/// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db).await?;
/// let gone = Context::new()
///     .scope(revy_seaorm::bulk::delete_many::<user::Entity>().filter(user::Column::Name.eq("Ann")).exec(&db))
///     .await?;
/// assert_eq!(gone.rows_affected, 1);
/// let delete = object_delta::Entity::find()
///     .filter(object_delta::Column::Action.eq(Action::Delete))
///     .one(&db)
///     .await?
///     .unwrap();
/// let back = revy_seaorm::rollback::restore::<user::Entity>(delete.id).exec(&db).await?;
/// assert_eq!(back, ann);
/// # Ok(()) }
/// ```
pub fn delete_many<E: TrackingPolicy>() -> DeleteMany<E> {
    DeleteMany {
        filter: Where::default(),
        chunk_size: crate::deletion::DEFAULT_CHUNK_SIZE,
        entity: PhantomData,
    }
}

/// A tracked delete of the row with this primary key, as sea-orm's
/// `Entity::delete_by_id`; `exec` returns how many rows went (0 or 1).
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db).await?;
/// let gone = Context::new()
///     .scope(revy_seaorm::bulk::delete_by_id::<user::Entity>(ann.id).exec(&db))
///     .await?;
/// assert_eq!(gone.rows_affected, 1);
/// # Ok(()) }
/// ```
pub fn delete_by_id<E: TrackingPolicy>(
    id: impl Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
) -> DeleteMany<E> {
    let mut condition = Condition::all();
    for (key, value) in E::PrimaryKey::iter().zip(id.into().into_value_tuple()) {
        condition = condition.add(key.into_column().eq(value));
    }
    delete_many::<E>().filter(condition)
}

impl<E: EntityTrait> QueryFilter for DeleteMany<E> {
    type QueryStatement = Where;

    fn query(&mut self) -> &mut Where {
        &mut self.filter
    }
}

impl<E: TrackingPolicy> DeleteMany<E> {
    /// Rows read, journaled and deleted per round (default
    /// [`DEFAULT_CHUNK_SIZE`](crate::deletion::DEFAULT_CHUNK_SIZE)).
    pub fn chunk_size(mut self, rows: u64) -> Self {
        self.chunk_size = rows.max(1);
        self
    }

    /// Runs the delete and returns the rows affected, as sea-orm does.
    /// Inside an enabled context every deleted row is journaled, in one
    /// transaction with the delete; otherwise it is the plain statement.
    pub async fn exec<C>(self, db: &C) -> Result<DeleteResult, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if Context::is_disabled() {
            return Ok(E::delete_many()
                .filter(self.filter.condition())
                .exec(db)
                .await?);
        }
        let txn = super::begin(db).await?;
        let result = super::as_one_call::<E, _>(self.tracked(&txn)).await;
        write::finish(txn, result).await
    }

    async fn tracked<C: ConnectionTrait>(self, db: &C) -> Result<DeleteResult, Error> {
        let ctx = ContextValues::current()?;
        let rules = policy::rules::<E>()?;
        let table = keys::content_type::<E>();
        // the bulk builder knows E only as tracked: its policies are the
        // ones registered for its table
        let policies = cascade::registered(&table).unwrap_or_default();
        let mut pages = Pages::<E>::new(self.filter.condition(), self.chunk_size)?;
        let mut result: Option<DeleteResult> = None;
        let mut rows_affected = 0;
        loop {
            let rows = pages.next(db).await?;
            if rows.is_empty() {
                break;
            }
            let keys: Vec<_> = rows
                .iter()
                .map(|row| keyset::key_of::<E>(row, pages.key_columns()))
                .collect();
            let deltas = rows
                .iter()
                .map(|row| {
                    Ok(RowDelta {
                        content_id: keys::content_id_of_model(row)?,
                        before: Some(row),
                        after: None,
                        changes: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            if !policies.is_empty() {
                deletion::apply_to_rows::<E>(db, &rows, &policies, self.chunk_size).await?;
            }
            batch::record_rows(db, &ctx, Action::Delete, &rules, deltas, Seal::current()).await?;
            let delete = E::delete_many().filter(keyset::key_in::<E>(&keys)).exec(db);
            let deleted = cascade::applying(&table, &policies, delete).await?;
            rows_affected += deleted.rows_affected;
            result = Some(deleted);
        }
        let mut result = match result {
            Some(result) => result,
            // sea-orm's result cannot be made outside sea-orm: this
            // statement names no row and deletes nothing
            None => {
                E::delete_many()
                    .filter(keyset::key_in::<E>(&[]))
                    .exec(db)
                    .await?
            }
        };
        result.rows_affected = rows_affected;
        Ok(result)
    }
}
