//! # revy-nats
//!
//! Relays revy's [change feed](revy_seaorm::feed) to a NATS JetStream
//! stream: one message per committed revision, so caches, search indexes,
//! replicas and webhooks on other machines follow the application's data
//! through a replicated broker.
//!
//! # Messages
//!
//! - **Subject**: `<prefix>.<content type>` (prefix `revy` by default), the
//!   content type (table) of the revision's first object delta. A revision
//!   that changed several tables is still one message, on the subject of
//!   its first table; the header `Revy-Content-Types` lists every table of
//!   it (comma-separated), so a consumer of one table filters on that
//!   header, or subscribes to `<prefix>.>`.
//! - **Body**: a [`Message`] as JSON: the revision, its object deltas and
//!   their attribute deltas with the [codec](revy_seaorm::codec)'s values.
//! - **Headers**: `Nats-Msg-Id` ([`Relay::msg_id`]: revision id and
//!   position), `Revy-Revision`, `Revy-Position`, `Revy-Content-Types`.
//!
//! # Delivery
//!
//! The relay reads the feed from the cursor stored under its name in
//! `revy_feed_cursors`, publishes a batch, awaits JetStream's
//! acknowledgments (pipelined, in windows of 256), and only then stores the
//! new cursor. A relay that dies anywhere in between publishes again, when
//! restarted, what was after the stored cursor: with the same `Nats-Msg-Id`,
//! which JetStream's duplicate window (2 minutes on a stream the relay
//! creates) drops. So within the window every revision is in the stream
//! exactly once; after a longer outage a consumer dedupes on
//! `Nats-Msg-Id` (or on object delta ids, which is what applying a
//! revision twice amounts to for a replica).
//!
//! The feed never skips a revision that commits late and never delivers
//! one rolled back (see [`revy_seaorm::feed`]); per row, deltas reach the
//! stream in the order they were made. The relay does not change the
//! write path: a tracked write costs the same with the relay running.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! let client = async_nats::connect("127.0.0.1:4222").await?;
//! let relay = revy_nats::Relay::new().subject_prefix("shop").stream("SHOP");
//! tokio::spawn(async move { relay.run(&db, client).await });
//! # Ok(()) }
//! ```
//!
//! The cursor table is created with sea-query on SQLite, PostgreSQL and
//! MySQL/MariaDB ([`install_cursors`]); [`load_cursor`] and
//! [`store_cursor`] serve a consumer that keeps its own cursor the same way.
#![deny(missing_docs)]

mod cursor;
mod error;
mod message;
mod relay;

/// The NATS client crate, as the relay uses it.
pub use async_nats;
pub use cursor::{CURSOR_TABLE, install_cursors, load_cursor, store_cursor};
pub use error::Error;
pub use message::{Message, MessageAttribute, MessageDelta, MessageRevision};
pub use relay::{
    DEFAULT_DUPLICATE_WINDOW, DEFAULT_NAME, DEFAULT_PREFIX, DEFAULT_STREAM, HEADER_CONTENT_TYPES,
    HEADER_POSITION, HEADER_REVISION, Relay,
};
