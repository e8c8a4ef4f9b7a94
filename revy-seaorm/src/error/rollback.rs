//! [`RollbackError`]: why a restore, revert or undo cannot run.

use thiserror::Error;

/// Why a restore, revert or undo cannot run; nothing was written. Under
/// [`Error::Rollback`](crate::error::Error::Rollback).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::rollback::RollbackError;
///
/// let e: Error = RollbackError::RowGone { table: "users".into(), key: "7".into() }.into();
/// match &e {
///     Error::Rollback(r) => match &**r {
///         RollbackError::RowGone { key, .. } => assert_eq!(key, "7"),
///         other => panic!("{other}"),
///     },
///     other => panic!("{other}"),
/// }
/// assert!(e.to_string().contains("restore it instead"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RollbackError {
    /// There is no snapshot of this table's row at that object delta.
    #[error(
        "object delta {object_delta_id} has no snapshot of a row of {table}: it does not exist or belongs to another table"
    )]
    NoSnapshot {
        /// The table asked for.
        table: String,
        /// The object delta.
        object_delta_id: i64,
    },

    /// A restore would overwrite a live row.
    #[error(
        "cannot restore {table} row {key}: a row with that key exists; revert it instead, or delete it first"
    )]
    KeyTaken {
        /// The table.
        table: String,
        /// The key, as text.
        key: String,
    },

    /// A revert needs a live row and there is none.
    #[error("cannot revert {table} row {key}: it no longer exists; restore it instead")]
    RowGone {
        /// The table.
        table: String,
        /// The key, as text.
        key: String,
    },

    /// `restore_latest` found no deleted row to restore.
    #[error(
        "cannot restore {table} row {key}: the journal holds no Delete of it; restore_latest brings back deleted rows only"
    )]
    NeverDeleted {
        /// The table.
        table: String,
        /// The key, as text.
        key: String,
    },

    /// A revision cannot be undone because a row changed after it.
    #[error(
        "cannot undo revision {revision_id}: {table} row {key} changed after it (object delta {later_delta_id}); undo the later revision first"
    )]
    Conflict {
        /// The revision being undone.
        revision_id: i64,
        /// The table of the row.
        table: String,
        /// The row's key.
        key: String,
        /// The later object delta.
        later_delta_id: i64,
    },

    /// The revision records rows as they already were, not a change.
    #[error(
        "revision {revision_id} is {what}: it records rows as they were before tracking (or before a prune), not a change, so undoing it would delete rows no tracked operation created; undo the revisions after it instead"
    )]
    NotUndoable {
        /// The revision.
        revision_id: i64,
        /// `a baseline` or `a prune checkpoint`.
        what: &'static str,
    },

    /// [`undo_revision`](crate::rollback::undo_revision) of an erasure: the values it
    /// removed are in no journal row any more.
    #[error(
        "revision {revision_id} is an erasure (revy::lifecycle::erase): the values it removed are gone from the journal, so it cannot be undone; write the values again if they may be kept"
    )]
    ErasureIsFinal {
        /// The revision.
        revision_id: i64,
    },

    /// A revision touches a table whose entity revy does not know in this process.
    #[error(
        "cannot undo changes to table {table}: no entity is registered for it; call revy::registry::register::<your_entity::Entity>() at start-up"
    )]
    UnknownEntity {
        /// The table.
        table: String,
    },
}
