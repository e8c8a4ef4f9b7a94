//! Rolling back: restore a deleted row ([`restore`], [`restore_latest`]),
//! put a live row back as it was ([`revert`]), undo a whole revision
//! ([`undo_revision`]) or everything after a tag ([`undo_to_tag`]).
//!
//! Each of them writes through the tracked hooks, so a rollback is a
//! revision of its own and can itself be undone.
//! [`registry::register`](crate::registry::register) tells revy which
//! entity a table is, for undoing revisions that touched it.

pub(crate) mod restore;
mod to_tag;
pub(crate) mod undo;

pub use crate::error::RollbackError;
pub use restore::{restore, restore_latest, revert};
pub use to_tag::{UndoToTag, undo_to_tag};
pub use undo::undo_revision;
