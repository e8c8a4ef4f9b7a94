//! [`LifecycleError`]: why a prune, export, import or table rename stopped.

use thiserror::Error;

/// Why a prune, export, import or table rename stopped. Under
/// [`Error::Lifecycle`](crate::error::Error::Lifecycle).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::lifecycle::LifecycleError;
///
/// let e: Error = LifecycleError::NoCut.into();
/// assert!(matches!(&e, Error::Lifecycle(l) if matches!(**l, LifecycleError::NoCut)));
/// assert!(e.to_string().contains(".older_than(time)"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// [`prune`](crate::lifecycle::prune()) was run without a cut.
    #[error(
        "revy::lifecycle::prune() needs a cut: call .older_than(time) and/or .keep_last(n) before .exec(&db)"
    )]
    NoCut,

    /// Writing a prune's export failed; the chunk being pruned was rolled
    /// back, nothing of it was deleted.
    #[error(
        "writing the prune export failed, so nothing more was pruned (earlier chunks are done and exported): {0}"
    )]
    Export(std::io::Error),

    /// A line of an export could not be read or imported; the lines before
    /// it are imported.
    #[error("import of line {line} of the export failed: {reason}")]
    Import {
        /// The line's number, from 1.
        line: u64,
        /// What was wrong with it.
        reason: String,
    },

    /// An imported object delta's id is taken in the journal by another
    /// delta: one of another row, or of the same row with other content
    /// that is neither the delta itself nor a checkpoint of it (a journal
    /// installed again reuses ids). Nothing of the line was written.
    #[error(
        "cannot import object delta {id} of {content_type} row {content_id}: the journal holds another delta with that id \
         (other content), so its line was not imported (the lines before it were): import into the journal the export came from, or into an empty one"
    )]
    ImportConflict {
        /// The object delta's id.
        id: i64,
        /// Its table.
        content_type: String,
        /// Its row's key.
        content_id: String,
    },

    /// An imported revision's id is taken in the journal by another
    /// revision (written at another time): a journal installed again reuses
    /// ids. Nothing of the line was written.
    #[error(
        "revision {id} in the journal is another revision (written {journal_created_at}, not {created_at}): import into the \
         journal the export came from, or into an empty one"
    )]
    ImportRevisionConflict {
        /// The revision's id.
        id: i64,
        /// When the export's revision was written.
        created_at: chrono::DateTime<chrono::Utc>,
        /// When the journal's revision with that id was written.
        journal_created_at: chrono::DateTime<chrono::Utc>,
    },

    /// [`rename_table`](crate::lifecycle::rename_table()) cannot move a table's
    /// journal to the new name.
    #[error("cannot rename table {old} to {new} in the journal (revy_object_deltas): {reason}")]
    RenameTable {
        /// The table's name in the journal so far.
        old: String,
        /// The name asked for.
        new: String,
        /// Why, and the fix.
        reason: String,
    },
}
