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
        finding: Finding,
    },
}

/// What is wrong with the journal entry [`TamperError::Tampered`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Its fields or its attribute deltas are not what its hash covers.
    Altered,
    /// Deltas before it are missing: its version is `version` where
    /// `expected` was (a first delta that is neither version 1 nor a
    /// checkpoint expects 1).
    Missing {
        /// The version the entry holds.
        version: i64,
        /// The version the object's chain expects there.
        expected: i64,
    },
    /// The object's deltas are not in the order of their versions: this
    /// one holds `version` where `expected` was, and a later one holds
    /// `expected`.
    OutOfOrder {
        /// The version the entry holds.
        version: i64,
        /// The version the object's chain expects there.
        expected: i64,
    },
    /// It was added outside revy: no link where the object's chain has
    /// begun, a version the chain already has, a checkpoint after the
    /// chain's start, or attribute deltas of an object delta that does not
    /// exist.
    Inserted,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Altered => f.write_str("was altered: its hash does not match its contents"),
            Finding::Missing { version, expected } => write!(
                f,
                "has version {version} where {expected} was expected: deltas before it were removed"
            ),
            Finding::OutOfOrder { version, expected } => write!(
                f,
                "has version {version} where {expected} was expected, and a later delta has {expected}: deltas were reordered"
            ),
            Finding::Inserted => f.write_str("was inserted outside revy"),
        }
    }
}
