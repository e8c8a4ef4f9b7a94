//! [`VersionError`]: a save that required a version found another.

use thiserror::Error;

/// A save that required a version found the row at another. Under
/// [`Error::Version`](crate::error::Error::Version).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::versions::VersionError;
///
/// let e: Error = VersionError::VersionConflict {
///     table: "users".into(),
///     key: "7".into(),
///     expected: 1,
///     current: Some(2),
/// }
/// .into();
/// assert!(matches!(&e, Error::Version(v) if matches!(**v, VersionError::VersionConflict { current: Some(2), .. })));
/// assert!(e.to_string().contains("read it again"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VersionError {
    /// A save that required the version it read found the row at another
    /// (optimistic concurrency, see [`update_at_version`](crate::versions::update_at_version)):
    /// nothing was written.
    #[error(
        "{table} row {key} {}, not at version {expected} as the save required: it changed since it was read; read it again and redo the change",
        describe_current(*.current)
    )]
    VersionConflict {
        /// The table of the row.
        table: String,
        /// The row's key.
        key: String,
        /// The version the save required.
        expected: i64,
        /// The version the row is at; `None` when it no longer exists.
        current: Option<i64>,
    },
}

fn describe_current(current: Option<i64>) -> String {
    match current {
        Some(v) => format!("is at version {v}"),
        None => "no longer exists".to_owned(),
    }
}
