//! [`HistoryError`]: the past states the journal cannot give back.

use thiserror::Error;

/// A past state the journal cannot give back: a column's value is missing
/// (added after the history was written), kept out by the tracking policy,
/// erased, or of a type the column no longer has. The readers raise it
/// (snapshots, history entries, time travel), and so everything built on
/// them (restore, revert, undo); under [`Error::History`](crate::error::Error::History).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::history::HistoryError;
///
/// let e: Error = HistoryError::MissingColumn { table: "users".into(), column: "rank".into() }.into();
/// assert!(matches!(&e, Error::History(h) if matches!(**h, HistoryError::MissingColumn { .. })));
/// assert!(e.to_string().contains("give it a default_value"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A column of the entity has no value in the journal, no default and is not nullable.
    #[error(
        "column {table}.{column} has no value in the journal (it was probably added after the history was written), no default and is not nullable: give it a default_value in the entity"
    )]
    MissingColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },

    /// A snapshot needs a column its entity's tracking policy keeps out of
    /// the journal, and nothing can stand in for it.
    #[error(
        "column {table}.{column} is {treatment} by the entity's tracking policy, so the journal holds no value for it; the row {key} no longer exists to take it from, and the column has no default and is not nullable: give it a default_value in the entity or make it nullable"
    )]
    NotRecorded {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// `ignored` or `redacted`.
        treatment: &'static str,
        /// The row's key text.
        key: String,
    },

    /// A snapshot needs a value that [`erase`](crate::lifecycle::erase()) removed from
    /// the journal, and nothing can stand in for it.
    #[error(
        "column {table}.{column} of row {key} was erased from the journal (revy::lifecycle::erase), the row no longer exists to take it from, and the column has no default and is not nullable: give it a default_value in the entity or make it nullable"
    )]
    ErasedValue {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row's key text.
        key: String,
    },

    /// A value the journal holds does not decode as its column's type: the
    /// column's type changed after the value was written, to one the old
    /// value does not fit.
    #[error(
        "column {table}.{column}: the {json_type} value recorded by object delta {object_delta_id} \
         (table revy_object_deltas) does not decode as the column's type ({reason}); if a \
         migration changed the column's type, declare a conversion of its old values in the \
         entity's tracking policy: Policy::new().convert(Column::.., |old| ..)"
    )]
    Undecodable {
        /// The table.
        table: String,
        /// The column, as the entity names it now.
        column: String,
        /// The object delta that recorded the value.
        object_delta_id: i64,
        /// The value's JSON type: `null`, `boolean`, `number`, `string`,
        /// `array` or `object` (the value itself is not quoted, as it may
        /// be personal data).
        json_type: &'static str,
        /// What the column's type expected.
        reason: String,
    },

    /// The conversion a tracking policy declares for a column (see
    /// [`Policy::convert`](crate::policy::Policy::convert)) refused a value the
    /// journal holds.
    #[error(
        "column {table}.{column}: the tracking policy's conversion refused the {json_type} value \
         recorded by object delta {object_delta_id} (table revy_object_deltas): {reason}; make \
         the conversion accept it"
    )]
    ConversionFailed {
        /// The table.
        table: String,
        /// The column, as the entity names it now.
        column: String,
        /// The object delta that recorded the value.
        object_delta_id: i64,
        /// The value's JSON type.
        json_type: &'static str,
        /// The conversion's own message.
        reason: String,
    },
}
