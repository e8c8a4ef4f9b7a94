//! # revy
//!
//! Records the history of your SeaORM data as it changes: who changed what,
//! when and why. Each tracked insert, update and delete inside a context
//! writes an *object delta* (the row was created, updated, deleted) and
//! *attribute deltas* (this column went from that value to this one, set by
//! this actor), grouped into *revisions*.
//!
//! ```
//! # mod account {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "accounts")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub code: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
//! #     #[async_trait::async_trait]
//! #     impl ActiveModelBehavior for ActiveModel { revy::track!(); }
//! # }
//! use revy::entity::{attribute_delta, object_delta};
//! use revy::{Actor, Context};
//! use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Schema, Set, TransactionTrait};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite::memory:").await?;
//! revy::install(&db).await?;
//! # let backend = db.get_database_backend();
//! # db.execute(&Schema::new(backend).create_table_from_entity(account::Entity)).await?;
//!
//! Context::via_actor(Some(Actor::new("users", 7)))
//!     .revision_description("Open an account")
//!     .scope(async {
//!         let txn = db.begin().await?;
//!         account::ActiveModel { code: Set("ACC-1".into()), ..Default::default() }
//!             .insert(&txn)
//!             .await?;
//!         txn.commit().await
//!     })
//!     .await?;
//!
//! let delta = object_delta::Entity::find().one(&db).await?.unwrap();
//! assert_eq!(delta.action, Action::Create);
//! assert_eq!(delta.actor(), Some(Actor::new("users", 7)));
//! assert_eq!(delta.actor_id.as_deref(), Some("7"));
//! // one attribute delta per column: `id` (filled by the database) and `code`
//! assert_eq!(attribute_delta::Entity::find().all(&db).await?.len(), 2);
//! # Ok(()) }
//! ```
//!
//! This crate re-exports [`revy_core`] (the context, actors, actions) and
//! [`revy_seaorm`] (the journal, hooks and queries).
#![deny(missing_docs)]

pub use revy_core::*;
pub use revy_seaorm::*;

/// Web backends: [`RevyLayer`](revy_axum::RevyLayer), a tower layer that
/// runs each HTTP request in a context with its user as the actor and its
/// `X-Commit-Message` as the revision description. Enabled by the `axum`
/// feature.
#[cfg(feature = "axum")]
pub use revy_axum as axum;

/// Extension traits that add sea-orm abilities to revy's core types:
/// `Actor::of(&model)` and `actor.load::<E>(&db)`.
pub mod prelude {
    pub use revy_seaorm::prelude::*;
}
