//! Actors that are database rows.

use revy_core::Actor;
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait};

use crate::db::keys::{content_id_of_model, content_type, key_values_from_id};
use crate::error::{Error, JournalError};

/// Makes actors from sea-orm models and loads them back.
/// Comes with `use revy::prelude::*`.
///
/// ```
/// # use revy_seaorm::prelude::ActorExt;
/// # mod user {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "users")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// use revy_core::Actor;
///
/// let alice = user::Model { id: 7, name: "Alice".into() };
/// let actor = Actor::of(&alice).unwrap();
/// assert_eq!(actor, Actor::new("users", 7));
/// ```
#[async_trait::async_trait]
pub trait ActorExt: Sized {
    /// The actor that is this model: kind = its table, id = its primary key text.
    fn of<M: ModelTrait>(model: &M) -> Result<Self, Error>;

    /// Fetches the model this actor names; `Ok(None)` if the row is gone.
    /// Fails when the actor is of another kind than `E`'s table.
    async fn load<E>(&self, db: &(impl ConnectionTrait)) -> Result<Option<E::Model>, Error>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>;
}

#[async_trait::async_trait]
impl ActorExt for Actor {
    fn of<M: ModelTrait>(model: &M) -> Result<Self, Error> {
        Ok(Actor::new(
            content_type::<M::Entity>(),
            content_id_of_model(model)?,
        ))
    }

    async fn load<E>(&self, db: &(impl ConnectionTrait)) -> Result<Option<E::Model>, Error>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>,
    {
        let table = content_type::<E>();
        if self.kind != table {
            return Err(JournalError::ActorKind {
                expected: table,
                found: self.kind.clone(),
            }
            .into());
        }
        let key = key_values_from_id::<E::ActiveModel>(&self.id)?;
        let mut select = E::find();
        for (col, value) in key {
            select = sea_orm::QueryFilter::filter(select, sea_orm::ColumnTrait::eq(&col, value));
        }
        Ok(select.one(db).await?)
    }
}
