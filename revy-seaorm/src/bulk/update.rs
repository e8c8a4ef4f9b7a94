//! `update_many`: a tracked `UPDATE .. SET .. WHERE ..`.

use std::collections::HashMap;
use std::marker::PhantomData;

use revy_core::{Action, Context};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable,
    QueryFilter, QueryTrait, TransactionTrait, UpdateResult,
};

use super::Where;
use crate::bulk::BulkError;
use crate::db::keys::{self, content_type};
use crate::db::keyset::{self, Pages};
use crate::db::returning;
use crate::error::Error;
use crate::handoff::own_writes;
use crate::hooks::{row_values, update_changes};
use crate::policy::{self, TrackingPolicy};
use crate::record::Seal;
use crate::record::batch::{self, RowDelta};
use crate::record::rows::ContextValues;
use crate::record::write;

/// A tracked `UPDATE` of every row a filter selects: sea-orm's
/// [`UpdateMany`](sea_orm::UpdateMany), journaled. Made by [`update_many`].
#[derive(Debug)]
pub struct UpdateMany<E: EntityTrait> {
    values: Vec<(E::Column, Expr)>,
    filter: Where,
    chunk_size: u64,
    entity: PhantomData<E>,
}

/// Starts a tracked `UPDATE` of `E`'s rows: add `col_expr`/`set` and
/// sea-orm's `filter`, then `exec`. Each row whose values change gets an
/// `Update` object delta with one attribute delta per changed column.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
///
/// for code in ["A-1", "A-2", "B-1"] {
///     account::ActiveModel { code: Set(code.into()), ..Default::default() }.insert(&db).await?;
/// }
/// let result = Context::via_actor(Some(Actor::new("users", 7)))
///     .scope(
///         revy_seaorm::bulk::update_many::<account::Entity>()
///             .set(account::ActiveModel { code: Set("closed".into()), ..Default::default() })
///             .filter(account::Column::Code.starts_with("A-"))
///             .exec(&db),
///     )
///     .await?;
/// assert_eq!(result.rows_affected, 2);
/// // (the rows were written untracked: each also got a baseline, by the system)
/// let by_user = object_delta::Entity::find()
///     .filter(object_delta::Column::ActorId.eq("7"))
///     .all(&db)
///     .await?;
/// assert_eq!(by_user.len(), 2);
/// for change in &by_user {
///     let columns: Vec<String> = change.attribute_deltas()?.into_iter().map(|e| e.field_name).collect();
///     assert_eq!(columns, ["code"]);
/// }
/// # Ok(()) }
/// ```
pub fn update_many<E: TrackingPolicy>() -> UpdateMany<E> {
    UpdateMany {
        values: Vec::new(),
        filter: Where::default(),
        chunk_size: crate::deletion::DEFAULT_CHUNK_SIZE,
        entity: PhantomData,
    }
}

impl<E: EntityTrait> QueryFilter for UpdateMany<E> {
    type QueryStatement = Where;

    fn query(&mut self) -> &mut Where {
        &mut self.filter
    }
}

impl<E: TrackingPolicy> UpdateMany<E> {
    /// Sets `col` to `expr`, which may read the row's current values
    /// (`Expr::col(post::Column::Views).add(1)`), as sea-orm's
    /// `UpdateMany::col_expr`.
    pub fn col_expr(mut self, col: E::Column, expr: Expr) -> Self {
        self.values.push((col, expr));
        self
    }

    /// Sets every column that `model` has `Set`, as sea-orm's `UpdateMany::set`.
    pub fn set<A: ActiveModelTrait<Entity = E>>(mut self, model: A) -> Self {
        for col in E::Column::iter() {
            if let ActiveValue::Set(value) = model.get(col) {
                self.values.push((col, col.save_as(Expr::val(value))));
            }
        }
        self
    }

    /// Rows read, updated and journaled per round (default
    /// [`DEFAULT_CHUNK_SIZE`](crate::deletion::DEFAULT_CHUNK_SIZE)).
    pub fn chunk_size(mut self, rows: u64) -> Self {
        self.chunk_size = rows.max(1);
        self
    }

    fn statement(&self) -> sea_orm::UpdateMany<E> {
        let mut update = E::update_many();
        for (col, expr) in &self.values {
            update = update.col_expr(*col, expr.clone());
        }
        update
    }

    /// Runs the update and returns the rows affected, as sea-orm does.
    /// Inside an enabled context every changed row is journaled, in one
    /// transaction with the update; otherwise it is the plain statement.
    pub async fn exec<C>(self, db: &C) -> Result<UpdateResult, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if Context::is_disabled() {
            return Ok(self
                .statement()
                .filter(self.filter.condition())
                .exec(db)
                .await?);
        }
        let rules = policy::rules::<E>()?;
        if !self.values.is_empty()
            && self
                .values
                .iter()
                .all(|(col, _)| rules.treatment(*col) == policy::Treatment::Ignore)
        {
            // it changes only ignored columns: nothing to read or record
            let update = self.statement().filter(self.filter.condition());
            return Ok(own_writes(&content_type::<E>(), update.exec(db)).await?);
        }
        let key_cols = keys::key_columns::<E>()?;
        if let Some((col, _)) = self
            .values
            .iter()
            .find(|(c, _)| key_cols.iter().any(|k| k.as_str() == c.as_str()))
        {
            return Err(BulkError::KeyUpdate {
                table: content_type::<E>(),
                column: col.as_str().to_owned(),
            }
            .into());
        }
        let txn = super::begin(db).await?;
        let result = super::as_one_call::<E, _>(self.tracked(&txn)).await;
        write::finish(txn, result).await
    }

    async fn tracked<C: ConnectionTrait>(self, db: &C) -> Result<UpdateResult, Error> {
        let ctx = ContextValues::current()?;
        let table = content_type::<E>();
        let rules = policy::rules::<E>()?;
        let mut pages = Pages::<E>::new(self.filter.condition(), self.chunk_size)?;
        let mut rows_affected = 0;
        loop {
            let before = pages.next(db).await?;
            if before.is_empty() {
                break;
            }
            let keys: Vec<_> = before
                .iter()
                .map(|row| keyset::key_of::<E>(row, pages.key_columns()))
                .collect();
            let update = self.statement().filter(keyset::key_in::<E>(&keys));
            let after = if returning::speaks(db).await? {
                let rows = returning::update::<E, _>(db, update.into_query()).await?;
                rows_affected += rows.len() as u64;
                rows
            } else {
                rows_affected += update.exec(db).await?.rows_affected;
                E::find().filter(keyset::key_in::<E>(&keys)).all(db).await?
            };
            let mut after: HashMap<String, E::Model> = after
                .into_iter()
                .map(|row| Ok((keys::content_id_of_model(&row)?, row)))
                .collect::<Result<_, Error>>()?;
            let mut changed = Vec::with_capacity(before.len());
            for old in &before {
                let content_id = keys::content_id_of_model(old)?;
                let Some(new) = after.remove(&content_id) else {
                    return Err(BulkError::NotReadBack {
                        table: table.clone(),
                        key: content_id,
                        hint: String::new(),
                    }
                    .into());
                };
                let changes = update_changes(
                    &row_values(old),
                    &new,
                    &ctx.actor,
                    &ctx.attribute_delta_description,
                )?;
                if changes.is_empty() {
                    continue;
                }
                changed.push((content_id, old, new, changes));
            }
            let deltas = changed
                .iter_mut()
                .map(|(content_id, old, new, changes)| RowDelta {
                    content_id: content_id.clone(),
                    before: Some(*old),
                    after: Some(&*new),
                    changes: std::mem::take(changes),
                })
                .collect();
            batch::record_rows(db, &ctx, Action::Update, &rules, deltas, Seal::current()).await?;
        }
        let mut result = UpdateResult::default();
        result.rows_affected = rows_affected;
        Ok(result)
    }
}
