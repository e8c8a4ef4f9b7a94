//! The runtime-agnostic core of [revy](https://docs.rs/revy): the context
//! that says who is acting, why, and whether tracking is on; the [`Actor`]
//! and [`Action`] types; and [`LazyRevision`], which groups operations into
//! one revision.
//!
//! This crate knows nothing of databases. The `revy-seaorm` crate reads the
//! context from its SeaORM hooks and writes the journal; most users depend on
//! the `revy` facade, which re-exports both.
//!
//! ```
//! use revy_core::{Actor, Context, LazyRevision};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let revision = LazyRevision::new();
//! Context::new()
//!     .actor(Some(Actor::new("users", 7)))
//!     .revision(revision.clone())
//!     .revision_description("Imported from CSV")
//!     .scope(async {
//!         assert!(Context::is_enabled());
//!         assert_eq!(Context::actor().unwrap().id, "7");
//!         // the system corrects one value inside the user's request
//!         Context::via_actor(None)
//!             .attribute_delta_description("Corrected by the system.")
//!             .sync_scope(|| assert_eq!(Context::actor(), None));
//!     })
//!     .await;
//! # }
//! ```
#![deny(missing_docs)]

mod action;
mod actor;
pub mod context;
mod error;
mod revision;

pub use action::Action;
pub use actor::Actor;
pub use context::{CapturedContext, Context, Frame, Scoped};
pub use error::{ContextError, ParseError};
pub use revision::LazyRevision;
