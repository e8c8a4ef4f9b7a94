//! [`GuardError`]: the writes a strict guard refuses.

use thiserror::Error;

/// A write a strict [`Guarded`](crate::guard::Guarded) connection refused
/// before it ran, because the journal would not see it. Under
/// [`Error::Guard`](crate::error::Error::Guard); where sea-orm's traits return
/// `DbErr`, inside `DbErr::Custom` with the same message.
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::guard::GuardError;
///
/// let e: Error = GuardError::UntrackedWrite {
///     table: "users".into(),
///     statement: "DELETE",
///     reason: "delete through revy::deletion::delete".into(),
/// }
/// .into();
/// assert!(matches!(&e, Error::Guard(g) if matches!(**g, GuardError::UntrackedWrite { .. })));
/// assert!(e.to_string().contains("revy::deletion::delete"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GuardError {
    /// A strict [`Guarded`](crate::guard::Guarded) connection refused a write to a
    /// tracked table that bypasses revy (or, with `report_without_context`,
    /// that runs with no context), before it ran.
    #[error("refused an untracked {statement} on table {table}: {reason}")]
    UntrackedWrite {
        /// The tracked table.
        table: String,
        /// The statement's keyword: `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE`.
        statement: &'static str,
        /// Why it would not be journaled, and the tracked call to use.
        reason: String,
    },

    /// A strict [`Guarded`](crate::guard::Guarded) connection refused a tracked
    /// delete that would let the database cascade to, or set null in, rows
    /// of another tracked table unjournaled (see the
    /// [`cascade`](crate::deletion::cascade) module), before it ran.
    #[error(
        "refused a DELETE on table {parent}: its foreign key {key} ON DELETE {rule} would let \
         the database change rows of tracked table {child} that the journal never sees; {fix}"
    )]
    UnjournaledCascade {
        /// The table whose rows were being deleted.
        parent: String,
        /// The tracked table the foreign key is on.
        child: String,
        /// The key's column(s), as `table.column`.
        key: String,
        /// The key's `ON DELETE` rule: `CASCADE`, `SET NULL` or `SET DEFAULT`.
        rule: &'static str,
        /// How to have the children journaled.
        fix: String,
    },
}
