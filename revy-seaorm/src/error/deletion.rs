//! [`DeletionError`]: deletion policies that cannot run.

use thiserror::Error;

/// Why a tracked delete cannot apply its deletion policies; nothing was
/// deleted. Under [`Error::Deletion`](crate::error::Error::Deletion).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::deletion::DeletionError;
///
/// let e: Error = DeletionError::CompositeParent { table: "memberships".into() }.into();
/// assert!(matches!(&e, Error::Deletion(d) if matches!(**d, DeletionError::CompositeParent { .. })));
/// assert!(e.to_string().contains("memberships"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeletionError {
    /// Deletion policies need the parent's primary key to be one column.
    #[error(
        "table {table} has a composite primary key: deletion policies follow single-column keys only"
    )]
    CompositeParent {
        /// The parent table.
        table: String,
    },

    /// A deletion policy cannot be applied to its column.
    #[error("deletion policy on {table}.{column} cannot run: {reason}")]
    PolicyNotPossible {
        /// The child table.
        table: String,
        /// The foreign-key column.
        column: String,
        /// Why.
        reason: String,
    },

    /// Deletion policies nest deeper than revy follows.
    #[error("deletion policies nest deeper than revy follows ({} levels): {}", path.len(), path.join(" -> "))]
    PolicyTooDeep {
        /// The rows on the path, as `table:key`.
        path: Vec<String>,
    },
}
