//! The trash: the rows of a table whose newest journal entry is a delete,
//! found without knowing their keys.
//!
//! A row is in the trash while the newest object delta of its key is a
//! `Delete`; a restore (a `Create` under the same key) takes it out. Pages
//! run newest deletion first and are keyed by the delete's object delta id
//! (as [`history`](crate::history::of()) pages are), so a page costs one
//! statement however far the walk has gone, and a row deleted while a
//! walk is under way never shifts the pages after it.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, TryIntoModel,
};
use serde::Serialize;

use crate::db::keys::content_type;
use crate::error::Error;
use crate::history::snapshot::SelectSnapshotExt;
use crate::history::time_travel::DEFAULT_PAGE_SIZE;
use crate::journal::object_delta;
use crate::policy::TrackingPolicy;

/// The alias of the journal in the "a newer delta exists" subquery.
const NEWER: &str = "revy_newer";

/// One deleted row: who deleted it, when, in which revision and why. An
/// entry of [`Trash::all`].
///
/// Bring the row back with
/// [`restore(row.object_delta_id).exec(&db)`](crate::rollback::restore()): the snapshot at a
/// `Delete` is the row as it was just before. Serializes (serde) with its
/// fields under their own names, `actor` as `{"kind": .., "id": ..}` or
/// `null`, `at` RFC 3339 in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeletedRow {
    /// The row's primary key as the journal writes it: its text, or a JSON
    /// array for a composite key.
    pub key: String,
    /// The `Delete` object delta (the cursor of [`Trash::before`]).
    pub object_delta_id: i64,
    /// The revision the delete belongs to.
    pub revision_id: i64,
    /// The object's version after the delete.
    pub version: i64,
    /// Who deleted it: `None` is the system.
    pub actor: Option<Actor>,
    /// When.
    pub at: DateTime<Utc>,
    /// The delete's description: the context's object delta description,
    /// or its deletion description for a row a deletion policy cascaded
    /// to (`""` when none).
    pub description: String,
}

impl From<object_delta::Model> for DeletedRow {
    fn from(d: object_delta::Model) -> Self {
        DeletedRow {
            actor: d.actor(),
            key: d.content_id,
            object_delta_id: d.id,
            revision_id: d.revision_id,
            version: d.version,
            at: d.created_at,
            description: d.description,
        }
    }
}

/// The deleted rows of `E`: made by [`deleted`], run a page at a time by
/// [`Trash::all`].
#[must_use = "a trash query does nothing until .all(&db) runs it"]
pub struct Trash<E> {
    limit: u64,
    before: Option<i64>,
    between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    entity: PhantomData<E>,
}

/// The trash of `E`: the rows whose newest object delta is a `Delete`,
/// newest deletion first, [`DEFAULT_PAGE_SIZE`] a page unless
/// [`limit`](Trash::limit) says otherwise.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use sea_orm::{ActiveModelTrait, ModelTrait, Set};
///
/// let mut users = Vec::new();
/// for name in ["Ann", "Bob", "Cid"] {
///     let am = user::ActiveModel { name: Set(name.into()), ..Default::default() };
///     users.push(Context::new().scope(am.insert(&db)).await?);
/// }
/// for u in &users[..2] {
///     Context::via_actor(Some(Actor::new("users", 9)))
///         .object_delta_description("Spam")
///         .scope(u.clone().delete(&db))
///         .await?;
/// }
///
/// // a page at a time, newest deletion first
/// let page = revy_seaorm::history::deleted::<user::Entity>().limit(1).all(&db).await?;
/// assert_eq!(page[0].key, users[1].id.to_string());
/// assert_eq!(page[0].actor, Some(Actor::new("users", 9)));
/// assert_eq!(page[0].description, "Spam");
/// let next = revy_seaorm::history::deleted::<user::Entity>()
///     .limit(1)
///     .before(page[0].object_delta_id)
///     .all(&db)
///     .await?;
/// assert_eq!(next[0].key, users[0].id.to_string());
///
/// // restored, a row leaves the trash
/// let bob = revy_seaorm::rollback::restore::<user::Entity>(page[0].object_delta_id).exec(&db).await?;
/// assert_eq!(bob, users[1]);
/// let trash = revy_seaorm::history::deleted::<user::Entity>().all(&db).await?;
/// assert_eq!(trash.len(), 1);
/// # Ok(()) }
/// ```
pub fn deleted<E: EntityTrait>() -> Trash<E> {
    Trash {
        limit: DEFAULT_PAGE_SIZE,
        before: None,
        between: None,
        entity: PhantomData,
    }
}

impl<E: EntityTrait> Trash<E> {
    /// At most `n` rows a page (at least one).
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = std::cmp::max(n, 1);
        self
    }

    /// Only rows deleted before the object delta `id`: the page after the
    /// one whose last row's [`object_delta_id`](DeletedRow::object_delta_id)
    /// is `id`.
    pub fn before(mut self, id: i64) -> Self {
        self.before = Some(id);
        self
    }

    /// Only rows deleted at or after `from` and before `to`.
    pub fn between(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.between = Some((from, to));
        self
    }

    /// Runs the query: one page of deleted rows, newest deletion first. One
    /// statement, served by the journal's history index (table, key, id).
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<DeletedRow>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let rows = self
            .select()
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        Ok(rows.into_iter().map(DeletedRow::from).collect())
    }

    /// Runs the query like [`all`](Self::all), with each row as it was
    /// just before its deletion (its snapshot at the `Delete`; see
    /// [`ObjectSnapshot`](crate::history::ObjectSnapshot) for what a redacted column
    /// becomes, and why a snapshot can be `None`). The snapshots cost what
    /// [`with_snapshot`](SelectSnapshotExt::with_snapshot) costs for the
    /// page: one statement more or less, whatever the page's size.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use sea_orm::{ActiveModelTrait, ModelTrait, Set};
    ///
    /// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() };
    /// let ann = Context::new().scope(ann.insert(&db)).await?;
    /// Context::new().scope(ann.clone().delete(&db)).await?;
    ///
    /// let trash = revy_seaorm::history::deleted::<user::Entity>().with_snapshots(&db).await?;
    /// assert_eq!(trash[0].1, Some(ann));
    /// # Ok(()) }
    /// ```
    pub async fn with_snapshots<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Vec<(DeletedRow, Option<E::Model>)>, Error>
    where
        E: TrackingPolicy,
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    {
        let rows = self.select().with_snapshot::<E>().all(db).await?;
        Ok(rows
            .into_iter()
            .map(|(d, model)| (DeletedRow::from(d), model))
            .collect())
    }

    /// The page's query: `E`'s `Delete` deltas that no later delta of the
    /// same key follows.
    fn select(self) -> Select<object_delta::Entity> {
        use object_delta::Column as O;
        let table = content_type::<E>();
        let newer = Alias::new(NEWER);
        let later = Query::select()
            .expr(Expr::val(1))
            .from_as(object_delta::Entity, newer.clone())
            .and_where(Expr::col((newer.clone(), O::ContentType)).eq(table.as_str()))
            .and_where(
                Expr::col((newer.clone(), O::ContentId))
                    .equals((object_delta::Entity, O::ContentId)),
            )
            .and_where(Expr::col((newer, O::Id)).gt(Expr::col((object_delta::Entity, O::Id))))
            .to_owned();
        let mut q = object_delta::Entity::find()
            .filter(O::ContentType.eq(table))
            .filter(O::Action.eq(Action::Delete))
            .filter(Expr::exists(later).not());
        if let Some(before) = self.before {
            q = q.filter(O::Id.lt(before));
        }
        if let Some((from, to)) = self.between {
            q = q.filter(O::CreatedAt.gte(from)).filter(O::CreatedAt.lt(to));
        }
        q.order_by_desc(O::Id).limit(self.limit)
    }
}
