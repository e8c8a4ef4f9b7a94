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
//! - **Track** an entity: [`track!`], the [`hooks`] it expands to, [`install`]
//!   for the journal tables, the journal's [`entity`] modules, [`Tracked`]
//!   drafts with per-column actors.
//! - **Choose what is recorded**: [`TrackingPolicy`] per entity, built with
//!   [`Policy`] (ignore, only, redact, a condition); the [`policy`] module
//!   says what snapshots and restores do with columns kept out of the
//!   journal; [`is_redacted`] tells the redaction marker.
//! - **Context** (who acts, why, whether tracking is on): [`Context`],
//!   [`Frame`], [`Actor`], [`LazyRevision`], [`CapturedContext`].
//! - **Read** the history: [`history`], [`as_of`], [`diff`], [`ObjectSnapshot`],
//!   [`revision_actors`], [`revision_deltas`], [`revisions`] (newest first,
//!   filtered) with [`revision_summaries`] for a page of them, and
//!   [`with_snapshot`](SelectSnapshotExt::with_snapshot) from the [`prelude`].
//! - **Ask** the history: [`blame`] (who set each column), history
//!   [`entries`](History::entries) a UI can show, [`tag`]s ([`tags`],
//!   [`find_tag`], [`as_of_tag`]), whole-table time travel
//!   ([`table_as_of`] at a time or a [`Moment::tag`]).
//! - **Trash**: [`deleted`] lists the rows whose newest journal entry is a
//!   delete, with who deleted them, when and why, a page at a time.
//! - **Roll back**: [`restore`], [`restore_latest`], [`revert`],
//!   [`undo_revision`], [`undo_to_tag`].
//! - **Deletion** policies: [`DeletionPolicies`], [`ChildPolicy`], [`OnDelete`],
//!   [`delete`], [`delete_in_chunks`].
//! - **Write fast**: [`transaction()`] / [`begin()`] open a queued
//!   [`Transaction`] whose journal is written at once, right before it
//!   commits (see the [`transaction`](mod@transaction) module).
//! - **Bulk** writes: see the bulk group below.
//! - **Change feed**: [`feed`] (committed revisions from a cursor, never
//!   skipping a late commit; an `async` stream with [`feed::subscribe`]),
//!   relayed to NATS JetStream by `revy::nats::Relay` (feature `nats`).
//! - **Erase** a person's data from a row's whole history, the facts kept:
//!   [`erase()`] and [`erase_all`] (the columns a policy marks
//!   [`Policy::personal`] by default); [`is_erased`] tells the marker, and
//!   [`Erasure`] carries an erasure to a replica through the feed.
//! - **Schema changes**: what happens to old history when a column is
//!   added, dropped, renamed ([`Policy::renamed`]) or retyped
//!   ([`Policy::convert`]), and [`rename_table`] for a renamed table: the
//!   [`schema_change`] guide.
//! - **Journal lifecycle**: [`prune()`] folds old history into checkpoints
//!   (optionally exporting what it removes), [`import()`] reads an export
//!   back; see the journal lifecycle group below.
//! - **Web**: `revy::axum` (feature `axum`).
//!
//! This crate only re-exports [`revy_core`] (the context, actors, actions; no
//! database) and [`revy_seaorm`] (the journal, hooks and queries).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use revy_core;
pub use revy_seaorm;

// Track: one line per entity, the journal it writes, drafts.
#[doc(inline)]
pub use revy_seaorm::{
    CONTENT_ID_LEN, CONTENT_TYPE_LEN, FIELD_NAME_LEN, Tracked, codec, content_type, entity, hooks,
    install, register, track,
};

// What is recorded: ignored, only-listed and redacted columns, conditions.
#[doc(inline)]
pub use revy_seaorm::{Policy, TrackingPolicy, is_redacted, policy};

// Context: who acts, why, and whether tracking is on.
#[doc(inline)]
pub use revy_core::{
    Action, Actor, CapturedContext, Context, ContextError, Frame, LazyRevision, ParseError, Scoped,
    context,
};

// Read: history, snapshots, diffs.
#[doc(inline)]
pub use revy_seaorm::{
    ActorExt, AttributeDelta, History, ObjectSnapshot, RevisionKind, SelectSnapshotExt,
    SnapshotSelect, as_of, diff, history, revision_actors, revision_deltas,
};

// Ask the history: blame, entries a UI can show, tags, whole-table time travel.
#[doc(inline)]
pub use revy_seaorm::{
    Blame, ColumnBlame, DEFAULT_PAGE_SIZE, FieldChange, FieldValue, HistoryEntry, Moment, Page,
    TAG_NAME_LEN, TableAsOf, as_of_tag, blame, find_tag, table_as_of, tag, tags,
};
// Revisions newest first, filtered by actor, table, row and time, and a
// page of them summed up in three or four statements.
#[doc(inline)]
pub use revy_seaorm::{RevisionSummary, Revisions, revision_summaries, revisions};

// The trash: rows whose newest journal entry is a delete, a page at a time.
#[doc(inline)]
pub use revy_seaorm::{DeletedRow, Trash, deleted};

// Versions: every object's version, and saves that require the one they read.
#[doc(inline)]
pub use revy_seaorm::{delete_at_version, update_at_version, version_of};

// Roll back: restore a deleted row, revert a row, undo a revision.
#[doc(inline)]
pub use revy_seaorm::{TrackedEntity, restore, restore_latest, revert, undo_revision, undo_to_tag};

// Deletion: tracked CASCADE / SET / SET_NULL / SET_DEFAULT.
#[doc(inline)]
pub use revy_seaorm::{
    ChildPolicy, DEFAULT_CHUNK_SIZE, DeletionPolicies, MAX_DEPTH, OnDelete, cascade, delete,
    delete_in_chunks, register_child_policies, reset_foreign_keys,
};

// Write fast: a transaction whose journal is written at once, at commit.
#[doc(inline)]
pub use revy_seaorm::{Transaction, begin, transaction};

// Bulk: tracked `insert_many`, `update_many`, `delete_many`, `delete_by_id`,
// and the guard that reports writes that bypass revy.
#[doc(inline)]
pub use revy_seaorm::{
    DeleteMany, Guarded, GuardedTransaction, InsertMany, RevyTransaction, UntrackedWrites,
    UpdateMany, Where, delete_by_id, delete_many, insert_many, reset_untracked_writes,
    untracked_writes, update_many,
};

// Single-row shortcuts: tracked twins of `Entity::insert/update/delete(am)`.
#[doc(inline)]
pub use revy_seaorm::{DeleteOne, InsertOne, UpdateOne, delete_one, insert_one, update_one};

// Change feed: committed revisions from a cursor.
#[doc(inline)]
pub use revy_seaorm::feed;
// Journal lifecycle: keeping the journal small, exporting what goes,
// reading it back.
pub use revy_seaorm::{
    CHECKPOINT_DESCRIPTION, ImportReport, PRUNE_CHUNK_SIZE, Prune, PruneReport, import, prune,
};

// Erasure: a person's values out of a row's whole history, the facts kept.
#[doc(inline)]
pub use revy_seaorm::{
    ERASE_CHUNK_SIZE, ERASURES, Erase, Erased, Erasure, erase, erase_all, is_erased,
};

// Schema changes: the history of a renamed table follows it (the guide is
// the `schema_change` module below).
#[doc(inline)]
pub use revy_seaorm::{RENAME_CHUNK_SIZE, rename_table, rename_table_in_chunks};

// Tamper evidence: hash-chained journal entries, and the walk that checks them.
#[doc(inline)]
pub use revy_seaorm::{Verified, tamper, verify};

// Errors.
#[doc(inline)]
pub use revy_seaorm::Error;

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
    pub use revy_seaorm::schema_change::{RENAME_CHUNK_SIZE, rename_table, rename_table_in_chunks};
}

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
