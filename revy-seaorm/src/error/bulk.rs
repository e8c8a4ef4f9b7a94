//! [`BulkError`]: why a tracked bulk write cannot run or be journaled.

use thiserror::Error;

/// Why a tracked bulk write cannot run or be journaled; nothing of the
/// call was kept. Under [`Error::Bulk`](crate::error::Error::Bulk).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::bulk::BulkError;
///
/// let e: Error = BulkError::KeyUpdate { table: "users".into(), column: "id".into() }.into();
/// assert!(matches!(&e, Error::Bulk(b) if matches!(**b, BulkError::KeyUpdate { .. })));
/// assert!(e.to_string().contains("insert it with its new key"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BulkError {
    /// A tracked bulk update tried to set a primary-key column.
    #[error(
        "revy::bulk::update_many on {table} sets key column {column}: the journal names rows by key, so a key \
         cannot change in a tracked update; delete the row and insert it with its new key instead"
    )]
    KeyUpdate {
        /// The table.
        table: String,
        /// The key column the update sets.
        column: String,
    },

    /// `insert_many(..).on_conflict_*` needs every model to set the
    /// conflict target's columns: the rows it conflicts with are found by them.
    #[error(
        "revy: insert_many into {table} with on_conflict: a model leaves {column}, a column of \
         the conflict target, NotSet; set it on every model"
    )]
    ConflictTargetNotSet {
        /// The table.
        table: String,
        /// The column of the target left `NotSet`.
        column: String,
    },

    /// A row a bulk write changed could not be read back to journal it
    /// (nothing of the call was kept).
    #[error(
        "revy: row {key} of {table} was written but could not be read back to journal it; \
         nothing of the call was kept{hint}"
    )]
    NotReadBack {
        /// The table.
        table: String,
        /// The key, as text.
        key: String,
        /// What may explain it.
        hint: String,
    },
}
