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
//! #     impl revy::TrackingPolicy for Entity {}
//! # }
//! use revy::entity::object_delta;
//! use revy::{Action, Actor, Context};
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
//! // one attribute delta per column, inline: `id` (filled by the database) and `code`
//! assert_eq!(delta.attribute_deltas()?.len(), 2);
//! # Ok(()) }
//! ```
//!
//! The [README](https://github.com/revy-rs/revy#readme) is the guide; every
//! code block in it is compiled and run as a test of this crate.
//!
//! # Cargo features
//!
//! revy turns on no sea-orm driver and no runtime: your application's own
//! `sea-orm` line picks them (`sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite`,
//! and `runtime-tokio` or another runtime), and cargo builds only those.
//!
//! | feature | adds |
//! |---|---|
//! | `migration` | [`migration::Migration`], a sea-orm-migration step that creates the journal tables (sea-orm-migration without any driver of its own) |
//! | `axum` | [`axum::RevyLayer`], a tower layer that runs each HTTP request in a context |
//! | `history-ui` | `axum::HistoryUi`, an embeddable history browser (implies `axum`) |
//! | `nats` | [`nats::Relay`], the change feed relayed to NATS JetStream (async-nats with JetStream only) |
//! | `feed-postgres` | [`feed::subscribe`] on PostgreSQL woken by LISTEN/NOTIFY instead of polling (turns on sea-orm's `sqlx-postgres`) |
//!
//! # What is where
//!
//! The root holds what every application touches: [`track!`], [`install`],
//! [`Context`], [`Actor`], [`Action`], [`Tracked`], [`TrackingPolicy`] and
//! [`Policy`], [`begin()`] and [`transaction()`], [`Error`] (every error
//! type is in [`error`]), and the [`prelude`]. Everything
//! else lives in the module of its task, with the area's own error
//! ([`tags::TagError`], [`rollback::RollbackError`], ...), which [`Error`]
//! boxes under a kind of its own:
//!
//! - **Track** an entity: [`track!`], the [`hooks`] it expands to,
//!   [`install`] (or [`migration`]) for the journal tables, the journal's
//!   [`entity`] modules, [`Tracked`] drafts with per-column actors, and the
//!   [`registry`] of tracked entities; the [`handoff`] page says what revy
//!   carries beside sea-orm's hook calls, and how.
//! - **Choose what is recorded**: [`TrackingPolicy`] per entity, built with
//!   [`Policy`]; the [`policy`] module says what snapshots and restores do
//!   with columns kept out of the journal.
//! - **Context** (who acts, why, whether tracking is on): [`Context`],
//!   [`Actor`], and the [`context`] module ([`context::Frame`],
//!   [`context::LazyRevision`], [`context::CapturedContext`]).
//! - **Read and ask** the history: [`history`]: an object's history
//!   ([`history::of`]), a row as it was ([`history::as_of`],
//!   [`history::ObjectSnapshot`], `with_snapshot` from the [`prelude`]),
//!   [`history::diff`], [`history::blame`], history entries a UI can show,
//!   revisions newest first ([`history::revisions`]), the trash
//!   ([`history::deleted`]) and whole-table time travel
//!   ([`history::table_as_of`]).
//! - **Tags**: names for revisions, and the journal as it was at one: [`tags`].
//! - **Versions** and saves that require the one they read: [`versions`].
//! - **Roll back**: [`rollback`] (restore, revert, undo a revision or back
//!   to a tag).
//! - **Deletion** policies and database cascades: [`deletion`].
//! - **Write fast**: [`begin()`] / [`transaction()`] open a queued
//!   transaction whose journal is written at once, right before it commits
//!   (the [`queued`] module).
//! - **Bulk** writes: [`bulk`], and the [`guard`] that reports writes that
//!   bypass revy.
//! - **Change feed**: [`feed`] (committed revisions from a cursor, never
//!   skipping a late commit; an `async` stream with [`feed::subscribe`]),
//!   relayed to NATS JetStream by `revy::nats::Relay` (feature `nats`).
//! - **Running for years**: [`lifecycle`]: prune old history into
//!   checkpoints (optionally exporting what it removes), import an export
//!   back, erase a person's data from a row's whole history, move a renamed
//!   table's history; the [`schema_change`] guide.
//! - **Tamper evidence**: [`tamper`].
//! - **Web**: `revy::axum` (feature `axum`).
//!
//! This crate only re-exports [`revy_core`] (the context, actors, actions; no
//! database) and [`revy_seaorm`] (the journal, hooks and queries).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use revy_core;
pub use revy_seaorm;

// The root: what every application touches.
#[doc(inline)]
pub use revy_core::{Action, Actor, Context};
#[doc(inline)]
pub use revy_seaorm::{Error, Policy, Tracked, TrackingPolicy, begin, install, track, transaction};

// Track: the hooks `track!` expands to, the journal's tables, what revy
// knows of tracked entities, values to JSON and back.
#[doc(inline)]
pub use revy_seaorm::{codec, entity, error, hooks, registry};

// What is recorded.
#[doc(inline)]
pub use revy_seaorm::policy;

/// The context: who acts, why, and whether tracking is on. [`Context`]
/// reads and sets it; a [`Frame`](context::Frame) runs work in a changed context.
pub mod context {
    #[doc(inline)]
    pub use revy_core::context::*;
    #[doc(inline)]
    pub use revy_core::{ContextError, LazyRevision, ParseError};
}

// Read and ask the history; names for revisions; versions; rolling back.
#[doc(inline)]
pub use revy_seaorm::{history, rollback, tags, versions};

// Deletion policies and database cascades; bulk writes and the guard;
// queued transactions.
#[doc(inline)]
pub use revy_seaorm::{bulk, deletion, guard, queued};

// The change feed; running for years; tamper evidence.
#[doc(inline)]
pub use revy_seaorm::{feed, lifecycle, tamper};

/// Web backends: [`RevyLayer`](revy_axum::RevyLayer), a tower layer that
/// runs each HTTP request in a context with its user as the actor and its
/// `X-Commit-Message` as the revision description. Enabled by the `axum`
/// feature.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use revy_axum as axum;

/// The change feed relayed to NATS JetStream: [`Relay`](revy_nats::Relay)
/// publishes one message per committed revision and stores its cursor
/// after JetStream acknowledged. Enabled by the `nats` feature.
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use revy_nats as nats;

/// The journal as a sea-orm-migration step. Enabled by the `migration`
/// feature.
#[cfg(feature = "migration")]
#[cfg_attr(docsrs, doc(cfg(feature = "migration")))]
pub mod migration {
    #[doc(inline)]
    pub use revy_seaorm::migration::Migration;
}

#[doc = include_str!("../docs/schema-changes.md")]
pub mod schema_change {
    #[doc(inline)]
    pub use revy_seaorm::lifecycle::{RENAME_CHUNK_SIZE, rename_table, rename_table_in_chunks};
}

#[doc = include_str!("../docs/handoff.md")]
pub mod handoff {}

/// Extension traits that add sea-orm abilities to revy's core types:
/// `Actor::of(&model)`, `actor.load::<E>(&db)` and `select.with_snapshot::<E>()`.
pub mod prelude {
    #[doc(inline)]
    pub use revy_seaorm::prelude::*;
}

/// The README, compiled: each of its Rust blocks is a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
