//! Tracked twins of sea-orm's single-row shortcuts, `Entity::insert(am)`,
//! `Entity::update(am)` and `Entity::delete(am)`, which send their
//! statement without the active-model hooks.
//!
//! Each twin takes the same active model and ends in `.exec(&db)` with
//! the same return type, so converting a call is one word
//! (`user::Entity::insert(am)` becomes `revy::bulk::insert_one(am)`), and its
//! callers do not change. Each runs the active model's own save or
//! delete, so the hooks [`track!`](crate::track) installs journal it
//! exactly as they journal `am.insert(&db)`: the same object delta,
//! attribute deltas, baseline, policy and version checks. The errors are
//! sea-orm's `DbErr`, as the calls they replace return (revy's own
//! errors arrive as `DbErr::Custom` with revy's message).

use sea_orm::sea_query::{FromValueTuple, IntoValueTuple};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DbErr, DeleteResult, EntityTrait,
    InsertResult, IntoActiveModel, PrimaryKeyTrait,
};

type Model<A> = <<A as ActiveModelTrait>::Entity as EntityTrait>::Model;
type Key<A> =
    <<<A as ActiveModelTrait>::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType;

/// A tracked insert of one row: made by [`insert_one`], run by
/// [`exec`](InsertOne::exec).
#[must_use = "an insert does nothing until .exec(&db) runs it"]
pub struct InsertOne<A> {
    model: A,
}

/// A tracked update of one row: made by [`update_one`], run by
/// [`exec`](UpdateOne::exec).
#[must_use = "an update does nothing until .exec(&db) runs it"]
pub struct UpdateOne<A> {
    model: A,
}

/// A tracked delete of one row: made by [`delete_one`], run by
/// [`exec`](DeleteOne::exec).
#[must_use = "a delete does nothing until .exec(&db) runs it"]
pub struct DeleteOne<A> {
    model: A,
}

/// Inserts one row, tracked: the twin of sea-orm's `Entity::insert(am)`,
/// with the same `exec` (an [`InsertResult`] holding the new key) and
/// `exec_with_returning` (the row as stored).
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Actor, Context};
/// use sea_orm::{EntityTrait, Set};
///
/// let am = user::ActiveModel { name: Set("Ann".into()), ..Default::default() };
/// // was: user::Entity::insert(am).exec(&db)
/// let inserted = Context::via_actor(Some(Actor::new("users", 1)))
///     .scope(revy_seaorm::bulk::insert_one(am).exec(&db))
///     .await?;
/// let history = revy_seaorm::history::of::<user::Entity>(inserted.last_insert_id).all(&db).await?;
/// assert_eq!(history[0].action, Action::Create);
/// assert_eq!(history[0].actor(), Some(Actor::new("users", 1)));
/// # Ok(()) }
/// ```
pub fn insert_one<A: ActiveModelTrait>(model: A) -> InsertOne<A> {
    InsertOne { model }
}

/// Updates one row, tracked: the twin of sea-orm's `Entity::update(am)`,
/// whose `exec` returns the updated model.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Context};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() };
/// let ann = Context::new().scope(ann.insert(&db)).await?;
/// let mut am = ann.into_active_model();
/// am.name = Set("Annie".into());
/// // was: user::Entity::update(am).exec(&db)
/// let annie: user::Model = Context::new().scope(revy_seaorm::bulk::update_one(am).exec(&db)).await?;
/// assert_eq!(annie.name, "Annie");
/// let history = revy_seaorm::history::of::<user::Entity>(annie.id).all(&db).await?;
/// assert_eq!(history[0].action, Action::Update);
/// # Ok(()) }
/// ```
pub fn update_one<A: ActiveModelTrait>(model: A) -> UpdateOne<A> {
    UpdateOne { model }
}

/// Deletes one row, tracked: the twin of sea-orm's `Entity::delete(am)`,
/// whose `exec` returns a [`DeleteResult`]. It deletes the one row and
/// applies no [`DeletionPolicies`](crate::deletion::DeletionPolicies):
/// [`delete`](crate::deletion::delete()) does.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Context};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() };
/// let ann = Context::new().scope(ann.insert(&db)).await?;
/// // was: user::Entity::delete(am).exec(&db)
/// let deleted = Context::new()
///     .scope(revy_seaorm::bulk::delete_one(ann.clone().into_active_model()).exec(&db))
///     .await?;
/// assert_eq!(deleted.rows_affected, 1);
/// let history = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?;
/// assert_eq!(history[0].action, Action::Delete);
/// # Ok(()) }
/// ```
pub fn delete_one<A: ActiveModelTrait>(model: A) -> DeleteOne<A> {
    DeleteOne { model }
}

impl<A> InsertOne<A>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    Model<A>: IntoActiveModel<A>,
{
    /// Inserts the row and journals it; the [`InsertResult`] holds the key
    /// of the row as the database stored it.
    ///
    /// It runs the steps of `am.insert(&db)` (the hooks around sea-orm's
    /// insert) with sea-orm's own `exec`, whose result only sea-orm can
    /// make, then reads the row back by that key for the journal: one
    /// statement more than `exec_with_returning` where the backend has
    /// `RETURNING`, as many where it has not.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<InsertResult<A>, DbErr> {
        let am = A::before_save(self.model, db, true).await?;
        let mut result = <A::Entity as EntityTrait>::insert(am).exec(db).await?;
        // the key type is not Clone: it goes out as a value tuple and comes
        // back from a copy of it, which has its own arity and types
        let key = result.last_insert_id.into_value_tuple();
        result.last_insert_id = FromValueTuple::from_value_tuple(key.clone());
        let row = <A::Entity as EntityTrait>::find_by_id(
            <Key<A> as FromValueTuple>::from_value_tuple(key),
        )
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the row just inserted".into()))?;
        A::after_save(row, db, true).await?;
        Ok(result)
    }

    /// Inserts the row and journals it; returns the row as the database
    /// stored it.
    pub async fn exec_with_returning<C: ConnectionTrait>(self, db: &C) -> Result<Model<A>, DbErr> {
        self.model.insert(db).await
    }
}

impl<A> UpdateOne<A>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    Model<A>: IntoActiveModel<A>,
{
    /// Updates the row and journals the columns whose values changed;
    /// returns the row as the database stored it.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<Model<A>, DbErr> {
        self.model.update(db).await
    }
}

impl<A> DeleteOne<A>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
{
    /// Deletes the row and journals it.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<DeleteResult, DbErr> {
        self.model.delete(db).await
    }
}
