//! Tracked deletion policies: what happens to the rows that point at a row
//! being deleted (Revy's CASCADE, SET, SET_NULL, SET_DEFAULT).
//!
//! A parent entity declares, per child foreign-key column, what to do with
//! the children; [`delete`] applies the declarations depth-first, a chunk of
//! rows at a time, before it deletes the parent, all in one transaction.
//! Inside an enabled context every child change is journaled as the
//! system's, described by the context's deletion description, in the
//! parent's revision, so [`undo_revision`](crate::rollback::undo_revision) brings the
//! whole tree back. With tracking disabled the same statements run, and
//! nothing is journaled.
//!
//! Database-level `ON DELETE` clauses are left alone. Declared children are
//! dealt with before the parent's row goes, so a database cascade finds
//! nothing left of them. Children you did not declare are still handled by
//! the database, unjournaled: [`register_child_policies`](crate::deletion::cascade::register_child_policies)
//! adopts the database's cascading keys as policies in one line, and a
//! [`Guarded`](crate::guard::Guarded) connection reports the keys left over (see
//! the [`cascade`] module).

pub mod cascade;

pub use crate::error::DeletionError;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use revy_core::{Action, Context, LazyRevision};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DeleteResult, EntityTrait, IdenStatic,
    IntoActiveModel, ModelTrait, QueryFilter, TransactionTrait, Value,
};

use crate::db::dyn_conn::{Conn, RawConn};
use crate::db::keys::{self, content_type};
use crate::db::keyset::{self, Pages, RowKey};
use crate::db::values;
use crate::error::Error;
use crate::guard::sealed::Sealed;
use crate::guard::{GuardedTransaction, RevyTransaction};
use crate::handoff::own_writes;
use crate::record::Seal;
use crate::record::batch::{self, RowDelta};
use crate::record::rows::{AttributeChange, ContextValues};
use crate::record::write;
use crate::registry::TrackedEntity;

/// What to do with a child row when its parent is deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum OnDelete {
    /// Delete the child too (and, first, its own children by their policies).
    Cascade,
    /// Set the child's foreign key to NULL.
    SetNull,
    /// Set the child's foreign key to the column's declared default.
    SetDefault,
    /// Set the child's foreign key to this value.
    Set(Value),
}

/// The rows of one table that a deletion reaches, and how to treat them.
type Apply = dyn for<'a> Fn(
        &'a dyn RawConn,
        &'a Value,
        &'a mut Walk,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>
    + Send
    + Sync;

/// One declared policy: a child table's foreign-key column and what to do
/// with its rows. Made with [`ChildPolicy::new`].
#[derive(Clone)]
pub struct ChildPolicy {
    table: String,
    column: &'static str,
    on_delete: OnDelete,
    apply: Arc<Apply>,
}

impl std::fmt::Debug for ChildPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildPolicy")
            .field("table", &self.table)
            .field("column", &self.column)
            .field("on_delete", &self.on_delete)
            .finish()
    }
}

impl ChildPolicy {
    /// The rows whose `column` holds the parent's primary key get `on_delete`.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// // the fixture's account declares:
    /// //     ChildPolicy::new(transaction::Column::AccountId, OnDelete::Cascade)
    /// use revy_core::Context;
    /// use revy_seaorm::entity::object_delta;
    /// use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
    ///
    /// let acc = account::ActiveModel { code: Set("A-1".into()), ..Default::default() }.insert(&db).await?;
    /// for amount in [10, 20] {
    ///     transaction::ActiveModel {
    ///         account_id: Set(acc.id),
    ///         amount: Set(amount),
    ///         local_amount: Set(amount),
    ///         ..Default::default()
    ///     }
    ///     .insert(&db)
    ///     .await?;
    /// }
    /// Context::via_deletion_description("closed with its account")
    ///     .scope(revy_seaorm::deletion::delete(acc).exec(&db))
    ///     .await?;
    /// assert_eq!(transaction::Entity::find().count(&db).await?, 0);
    /// // three rows written untracked: a baseline and a Delete each
    /// assert_eq!(object_delta::Entity::find().count(&db).await?, 3 * 2);
    /// # Ok(()) }
    /// ```
    pub fn new<C>(column: C, on_delete: OnDelete) -> Self
    where
        C: ColumnTrait + Send + Sync + 'static,
        C::EntityName: TrackedEntity + DeletionPolicies + EntityTrait<Column = C>,
    {
        let policy = on_delete.clone();
        let apply: Arc<Apply> = Arc::new(move |txn, parent_key, walk| {
            let policy = policy.clone();
            Box::pin(async move {
                let children = cascade::policies_of::<C::EntityName>;
                apply_policy::<C::EntityName>(txn, column, parent_key, &policy, walk, children)
                    .await
            })
        });
        ChildPolicy {
            table: content_type::<C::EntityName>(),
            column: column.as_str(),
            on_delete,
            apply,
        }
    }

    /// A policy adopted from a database foreign key, on an entity known
    /// only as tracked: its own children are those registered for it.
    pub(crate) fn adopted<E: TrackedEntity>(column: E::Column, on_delete: OnDelete) -> Self {
        let policy = on_delete.clone();
        let apply: Arc<Apply> = Arc::new(move |txn, parent_key, walk| {
            let policy = policy.clone();
            Box::pin(async move {
                let children = registered_of::<E>;
                apply_policy::<E>(txn, column, parent_key, &policy, walk, children).await
            })
        });
        ChildPolicy {
            table: content_type::<E>(),
            column: column.as_str(),
            on_delete,
            apply,
        }
    }

    /// The child table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The child's foreign-key column.
    pub fn column(&self) -> &'static str {
        self.column
    }

    /// The policy.
    pub fn on_delete(&self) -> &OnDelete {
        &self.on_delete
    }
}

/// The policies an entity declares for the rows that point at it. Entities
/// with no children implement it with the empty default; every entity that
/// appears as a child must implement it too, so the walk can go deeper.
///
/// ```
/// mod folder {
///     use sea_orm::entity::prelude::*;
///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
///     #[sea_orm(table_name = "folders")]
///     pub struct Model { #[sea_orm(primary_key)] pub id: i32 }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
///     impl revy_seaorm::TrackingPolicy for Entity {}
///
///     // a folder's files go with it
///     impl revy_seaorm::deletion::DeletionPolicies for Entity {
///         fn on_delete() -> Vec<revy_seaorm::deletion::ChildPolicy> {
///             vec![revy_seaorm::deletion::ChildPolicy::new(
///                 super::file::Column::FolderId,
///                 revy_seaorm::deletion::OnDelete::Cascade,
///             )]
///         }
///     }
/// }
/// mod file {
///     use sea_orm::entity::prelude::*;
///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
///     #[sea_orm(table_name = "files")]
///     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub folder_id: i32 }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
///     impl revy_seaorm::TrackingPolicy for Entity {}
///
///     // no children of its own
///     impl revy_seaorm::deletion::DeletionPolicies for Entity {}
/// }
/// # fn main() {}
/// ```
pub trait DeletionPolicies: EntityTrait {
    /// One policy per child foreign-key column.
    fn on_delete() -> Vec<ChildPolicy> {
        Vec::new()
    }
}

/// How deep policies may nest (parent, child, grandchild, ...).
pub const MAX_DEPTH: usize = 64;

/// The rows a deletion reaches per query, unless [`delete_in_chunks`] says otherwise.
pub const DEFAULT_CHUNK_SIZE: u64 = 1000;

/// The policies registered for `E`'s table, for a child whose declared
/// ones are unknown.
fn registered_of<E: EntityTrait>() -> Vec<ChildPolicy> {
    cascade::registered(&content_type::<E>()).unwrap_or_default()
}

/// State of one deletion: settings, the context it journals with, and the
/// rows on the current path (a row already being deleted is not visited
/// again, so cycles in the data end), besides the rows of the same chunk a
/// bulk delete is removing.
pub(crate) struct Walk {
    chunk_size: u64,
    tracking: Option<ContextValues>,
    path: Vec<(String, String)>,
    siblings: Vec<(String, String)>,
}

impl Walk {
    fn reaches(&self, table: &str, content_id: &str) -> bool {
        self.path
            .iter()
            .chain(&self.siblings)
            .any(|(t, k)| t == table && k == content_id)
    }
}

/// The context a deletion's child changes are journaled with, when
/// tracking is on: the system's, described by the deletion description.
fn child_tracking() -> Result<Option<ContextValues>, Error> {
    if !Context::is_enabled() {
        return Ok(None);
    }
    let mut ctx = ContextValues::current()?;
    ctx.actor = None;
    ctx.object_delta_description = Context::deletion_description();
    ctx.attribute_delta_description = Context::deletion_description();
    Ok(Some(ctx))
}

/// Deletes `model`, first applying its entity's [`DeletionPolicies`] to the
/// rows that point at it, depth-first, in chunks of [`DEFAULT_CHUNK_SIZE`]
/// rows, in one transaction (a savepoint when `db` is already one). Once
/// [`register_child_policies`](crate::deletion::cascade::register_child_policies) has run for
/// an entity, its registered policies are applied instead: the declared ones
/// and those adopted from the database's foreign keys.
///
/// Inside an enabled context, the parent's delete is journaled as usual, and
/// each child change as the system's with the context's deletion
/// description, all in the context's revision or, if it has none, in one
/// new revision. Outside a context or with tracking disabled, the same
/// changes are made without a journal.
///
/// `db` may be a [`Guarded`](crate::guard::Guarded) connection or transaction:
/// the statements revy sends for the policies are its own, so a strict
/// guard lets them pass.
pub fn delete<M: ModelTrait>(model: M) -> Delete<M> {
    Delete { model }
}

/// What [`delete`] makes: nothing happens until
/// [`.exec(db)`](Delete::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct Delete<M: ModelTrait> {
    model: M,
}

impl<M: ModelTrait> Delete<M> {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<DeleteResult, Error>
    where
        M::Entity: TrackedEntity<Model = M> + DeletionPolicies,
        C: TransactionTrait<Transaction: RevyTransaction>,
    {
        let Self { model } = self;
        delete_in_chunks(model, DEFAULT_CHUNK_SIZE).exec(db).await
    }
}

/// [`delete`] with `chunk_size` rows per query.
pub fn delete_in_chunks<M: ModelTrait>(model: M, chunk_size: u64) -> DeleteInChunks<M> {
    DeleteInChunks { model, chunk_size }
}

/// What [`delete_in_chunks`] makes: nothing happens until
/// [`.exec(db)`](DeleteInChunks::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct DeleteInChunks<M: ModelTrait> {
    model: M,
    chunk_size: u64,
}

impl<M: ModelTrait> DeleteInChunks<M> {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<DeleteResult, Error>
    where
        M::Entity: TrackedEntity<Model = M> + DeletionPolicies,
        C: TransactionTrait<Transaction: RevyTransaction>,
    {
        let Self { model, chunk_size } = self;
        let txn = db.begin().await?.into_guarded();
        let result = if Context::is_enabled() {
            let mut frame = Context::new();
            if Context::revision().is_none() {
                frame = frame.revision(LazyRevision::new());
            }
            frame
                .scope(delete_tree::<M::Entity>(&txn, model, chunk_size))
                .await
        } else {
            delete_tree::<M::Entity>(&txn, model, chunk_size).await
        };
        write::finish(txn, result).await
    }
}

async fn delete_tree<E>(
    txn: &GuardedTransaction,
    model: E::Model,
    chunk_size: u64,
) -> Result<DeleteResult, Error>
where
    E: TrackedEntity + DeletionPolicies,
{
    let table = content_type::<E>();
    let mut walk = Walk {
        chunk_size: std::cmp::max(chunk_size, 1),
        tracking: child_tracking()?,
        path: vec![(table.clone(), keys::content_id_of_model(&model)?)],
        siblings: Vec::new(),
    };
    let policies = cascade::policies_of::<E>();
    if !policies.is_empty() {
        let key = parent_key::<E>(&model)?;
        for policy in &policies {
            (policy.apply)(txn, &key, &mut walk).await?;
        }
    }
    let delete = model.into_active_model().delete(txn);
    Ok(cascade::applying(&table, &policies, delete).await?)
}

/// Applies `policies` to the children of `rows`, rows of `E` a bulk delete
/// is about to remove, journaled as [`delete`] journals them.
pub(crate) async fn apply_to_rows<E: EntityTrait>(
    db: &dyn RawConn,
    rows: &[E::Model],
    policies: &[ChildPolicy],
    chunk_size: u64,
) -> Result<(), Error> {
    let table = content_type::<E>();
    let mut walk = Walk {
        chunk_size: std::cmp::max(chunk_size, 1),
        tracking: child_tracking()?,
        path: Vec::new(),
        siblings: Vec::with_capacity(rows.len()),
    };
    for row in rows {
        walk.siblings
            .push((table.clone(), keys::content_id_of_model(row)?));
    }
    for row in rows {
        let key = parent_key::<E>(row)?;
        walk.path
            .push((table.clone(), keys::content_id_of_model(row)?));
        for policy in policies {
            (policy.apply)(db, &key, &mut walk).await?;
        }
        walk.path.pop();
    }
    Ok(())
}

/// The single-column primary key children refer to.
fn parent_key<E: EntityTrait>(model: &E::Model) -> Result<Value, Error> {
    match keys::key_columns::<E>()?.as_slice() {
        [col] => Ok(model.get(*col)),
        _ => Err(DeletionError::CompositeParent {
            table: content_type::<E>(),
        }
        .into()),
    }
}

/// The value a set-policy writes into `column`.
fn new_value<E: TrackedEntity>(
    column: E::Column,
    policy: &OnDelete,
) -> Result<Option<Value>, Error> {
    match policy {
        OnDelete::Cascade => Ok(None),
        OnDelete::Set(v) => Ok(Some(v.clone())),
        OnDelete::SetNull => {
            if !column.def().is_null() {
                return Err(DeletionError::PolicyNotPossible {
                    table: content_type::<E>(),
                    column: column.as_str().to_owned(),
                    reason: "SetNull on a column that is not nullable".into(),
                }
                .into());
            }
            let defaults = <E::ActiveModel as ActiveModelTrait>::default_values();
            let null = values::templates_of(&defaults, column)
                .into_iter()
                .next()
                .unwrap_or(Value::String(None));
            Ok(Some(null))
        }
        OnDelete::SetDefault => match column.def().get_column_default() {
            Some(Expr::Value(v)) => Ok(Some(v.clone())),
            _ => Err(DeletionError::PolicyNotPossible {
                table: content_type::<E>(),
                column: column.as_str().to_owned(),
                reason: "SetDefault on a column without a declared default value".into(),
            }
            .into()),
        },
    }
}

async fn apply_policy<E>(
    db: &dyn RawConn,
    column: E::Column,
    parent_key: &Value,
    policy: &OnDelete,
    walk: &mut Walk,
    children: fn() -> Vec<ChildPolicy>,
) -> Result<(), Error>
where
    E: TrackedEntity,
{
    let txn = &Conn(db);
    if walk.path.len() > MAX_DEPTH {
        return Err(DeletionError::PolicyTooDeep {
            path: walk.path.iter().map(|(t, k)| format!("{t}:{k}")).collect(),
        }
        .into());
    }
    let table = content_type::<E>();
    let set_to = new_value::<E>(column, policy)?;
    let new_json = set_to
        .as_ref()
        .map(|v| values::encode::<E>(column, v))
        .transpose()?;
    if let (Some(v), Ok(parent)) = (&new_json, values::encode::<E>(column, parent_key))
        && values::identical(v, &parent)
    {
        return Ok(()); // setting the key it already holds changes nothing
    }
    let mut pages = Pages::<E>::new(
        Condition::all().add(column.eq(parent_key.clone())),
        walk.chunk_size,
    )?;
    loop {
        let rows = pages.next(txn).await?;
        if rows.is_empty() {
            break;
        }
        let mut chunk = Vec::with_capacity(rows.len());
        for row in rows {
            let content_id = keys::content_id_of_model(&row)?;
            if walk.reaches(&table, &content_id) {
                continue; // an ancestor being deleted: a cycle in the data
            }
            chunk.push((content_id, row));
        }
        if !chunk.is_empty() {
            match &set_to {
                None => cascade_chunk::<E>(txn, &table, chunk, walk, children).await?,
                Some(value) => {
                    set_chunk::<E>(txn, &table, column, value.clone(), chunk, walk).await?
                }
            }
        }
    }
    Ok(())
}

fn keys_of<E: EntityTrait>(rows: &[(String, E::Model)]) -> Result<Vec<RowKey<E>>, Error> {
    let key_cols = keys::key_columns::<E>()?;
    Ok(rows
        .iter()
        .map(|(_, row)| keyset::key_of::<E>(row, &key_cols))
        .collect())
}

async fn cascade_chunk<E>(
    txn: &Conn<'_>,
    table: &str,
    chunk: Vec<(String, E::Model)>,
    walk: &mut Walk,
    children: fn() -> Vec<ChildPolicy>,
) -> Result<(), Error>
where
    E: TrackedEntity,
{
    // grandchildren first, each below its own parent on the path
    let policies = children();
    if !policies.is_empty() {
        for (content_id, row) in &chunk {
            let key = parent_key::<E>(row)?;
            walk.path.push((table.to_owned(), content_id.clone()));
            for policy in &policies {
                (policy.apply)(txn.0, &key, walk).await?;
            }
            walk.path.pop();
        }
    }
    let keys = keys_of::<E>(&chunk)?;
    if let Some(ctx) = walk.tracking.clone() {
        journal_chunk::<E>(txn, &ctx, &chunk, Action::Delete, &[], |_| Ok(Vec::new())).await?;
    }
    let delete = E::delete_many()
        .filter(keyset::key_in::<E>(&keys))
        .exec(txn);
    cascade::applying(table, &policies, own_writes(table, delete)).await?;
    Ok(())
}

async fn set_chunk<E>(
    txn: &Conn<'_>,
    table: &str,
    column: E::Column,
    value: Value,
    chunk: Vec<(String, E::Model)>,
    walk: &mut Walk,
) -> Result<(), Error>
where
    E: TrackedEntity,
{
    let keys = keys_of::<E>(&chunk)?;
    let update = E::update_many()
        .col_expr(column, Expr::val(value.clone()))
        .filter(keyset::key_in::<E>(&keys));
    own_writes(table, update.exec(txn)).await?;
    if let Some(ctx) = walk.tracking.clone() {
        let new_value = values::encode::<E>(column, &value)?;
        let description = ctx.attribute_delta_description.clone();
        // the rows as the update left them, for the policy's condition
        let after = chunk
            .iter()
            .map(|(_, row)| {
                let mut after = row.clone();
                after.try_set(column, value.clone())?;
                Ok(after)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        journal_chunk::<E>(txn, &ctx, &chunk, Action::Update, &after, |row| {
            Ok(vec![AttributeChange {
                field_name: column.as_str().to_owned(),
                old_value: values::encode::<E>(column, &row.get(column))?,
                new_value: new_value.clone(),
                actor: None,
                description: description.clone(),
            }])
        })
        .await?;
    }
    Ok(())
}

/// Journals one chunk of children, with baselines for rows the journal
/// has never seen.
async fn journal_chunk<E>(
    txn: &Conn<'_>,
    ctx: &ContextValues,
    chunk: &[(String, E::Model)],
    action: Action,
    after: &[E::Model],
    changes: impl Fn(&E::Model) -> Result<Vec<AttributeChange>, Error>,
) -> Result<(), Error>
where
    E: TrackedEntity,
{
    let rows = chunk
        .iter()
        .enumerate()
        .map(|(i, (content_id, row))| {
            Ok(RowDelta {
                content_id: content_id.clone(),
                before: Some(row),
                after: after.get(i),
                changes: changes(row)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let rules = crate::policy::rules::<E>()?;
    batch::record_rows(txn, ctx, action, &rules, rows, Seal::current()).await
}
