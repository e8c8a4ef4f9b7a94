//! The tables revy tracks: which entity each table of the journal is.
//!
//! A revision names its rows by table, so undoing it, guarding a
//! connection and adopting a database's cascades all start from a table
//! name and need the entity behind it. [`register`] records an entity under
//! its [`content_type`](crate::registry::content_type); `track!` calls it on
//! an entity's first save or delete.
//!
//! What each area keeps of a registered entity stays in that area (how to
//! roll its rows back in [`rollback`](crate::rollback), how to make a child
//! policy on one of its columns in [`deletion`](crate::deletion)). This
//! ground floor names no area above it: [`register`] reaches them through
//! the crate-private trait [`Parts`], which `rollback` implements for every
//! tracked entity.

use std::collections::BTreeSet;
use std::sync::{LazyLock, RwLock};

use crate::db::keys::content_type;
use crate::registry::TrackedEntity;

/// The registered tables, by content type.
static TABLES: LazyLock<RwLock<BTreeSet<String>>> = LazyLock::new(Default::default);

/// What the areas above the registry keep of an entity, registered with it.
/// One blanket implementation, in `rollback`, covers every tracked entity.
pub(crate) trait Parts {
    /// Records the entity's parts in each area that keeps some.
    fn register_parts();
}

/// Tells revy which entity a table is, so that every table-driven part of
/// revy knows it before the entity's first save:
/// [`undo_revision`](crate::rollback::undo_revision) and
/// [`undo_to_tag`](crate::rollback::undo_to_tag) can rebuild its rows, a
/// [`Guarded`](crate::guard::Guarded) connection counts writes that bypass
/// revy, and a parent's cascading foreign key to it can be adopted
/// ([`register_child_policies`](crate::deletion::cascade::register_child_policies)).
///
/// `revy::track!()` registers an entity the first time it saves or
/// deletes; call this at start-up for entities that may not have yet.
/// Registering twice does nothing more.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// revy_seaorm::registry::register::<user::Entity>();
/// revy_seaorm::registry::register::<account::Entity>();
/// assert!(revy_seaorm::registry::is_registered("users"));
/// # Ok(()) }
/// ```
pub fn register<E: TrackedEntity>() {
    if let Ok(mut tables) = TABLES.write() {
        tables.insert(content_type::<E>());
    }
    <E as Parts>::register_parts();
}

/// Whether an entity is registered for `table` (its content type).
///
/// ```
/// assert!(!revy_seaorm::registry::is_registered("no_such_table"));
/// ```
pub fn is_registered(table: &str) -> bool {
    TABLES.read().is_ok_and(|t| t.contains(table))
}

/// The registered table (its content type) that `matches` accepts, if any.
pub(crate) fn tracked_table(matches: impl Fn(&str) -> bool) -> Option<String> {
    TABLES
        .read()
        .ok()
        .and_then(|t| t.iter().find(|t| matches(t)).cloned())
}
