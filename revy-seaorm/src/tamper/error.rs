//! [`TamperError`]: what the journal's check found.

use thiserror::Error;

/// What [`verify`](crate::tamper::verify()) found. Under
/// [`Error::Tamper`](crate::error::Error::Tamper).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::tamper::{Finding, TamperError};
///
/// let e: Error = TamperError::Tampered {
///     content_type: "users".into(),
///     content_id: "7".into(),
///     object_delta_id: 12,
///     finding: Finding::Altered,
/// }
/// .into();
/// assert!(matches!(&e, Error::Tamper(t) if matches!(**t, TamperError::Tampered { object_delta_id: 12, .. })));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TamperError {
    /// [`verify`](crate::tamper::verify()) found a journal entry that revy did not
    /// write as it is: changed, removed, reordered or inserted out of band.
    #[error(
        "the journal was tampered with: object delta {object_delta_id} of {content_type} {content_id} {finding} (table revy_object_deltas)"
    )]
    Tampered {
        /// The object's table (its content type).
        content_type: String,
        /// The object's key text.
        content_id: String,
        /// The object delta at which the object's chain breaks.
        object_delta_id: i64,
        /// What is wrong there.
        finding: crate::tamper::Finding,
    },
}
