//! The error type of revy's SeaORM integration: the database's error, the
//! context's, and one kind per area that boxes the area's own error (as
//! sqlx's `Error::Migrate` boxes its `MigrateError`); and the journal's
//! error, which every area can meet.

mod bulk;
mod deletion;
mod guard;
mod history;
mod lifecycle;
mod rollback;
mod tags;
mod tamper;
mod versions;

pub use bulk::BulkError;
pub use deletion::DeletionError;
pub use guard::GuardError;
pub use history::HistoryError;
pub use lifecycle::LifecycleError;
pub use rollback::RollbackError;
pub use tags::TagError;
pub use tamper::{Finding, TamperError};
pub use versions::VersionError;

use sea_orm::sqlx::error::{DatabaseError, Error as SqlxError};
use sea_orm::{DbErr, RuntimeErr};
use thiserror::Error;

use crate::codec::CodecError;

/// What went wrong, by kind: the database's error, the context's, or the
/// error of the area that failed, which names the table, column or key
/// and says the fix.
///
/// | kind | area error | raised by |
/// |---|---|---|
/// | [`Db`](Error::Db) | sea-orm's [`DbErr`] | the database |
/// | [`Context`](Error::Context) | [`ContextError`](revy_core::ContextError) | the context |
/// | [`Journal`](Error::Journal) | [`JournalError`] | the journal's tables, recording: keys, values, policies, revisions |
/// | [`History`](Error::History) | [`HistoryError`] | reading past states |
/// | [`Rollback`](Error::Rollback) | [`RollbackError`] | restore, revert, undo |
/// | [`Version`](Error::Version) | [`VersionError`] | saves that require a version |
/// | [`Tag`](Error::Tag) | [`TagError`] | tags |
/// | [`Bulk`](Error::Bulk) | [`BulkError`] | tracked bulk writes |
/// | [`Guard`](Error::Guard) | [`GuardError`] | a strict guard's refusals |
/// | [`Deletion`](Error::Deletion) | [`DeletionError`] | deletion policies |
/// | [`Lifecycle`](Error::Lifecycle) | [`LifecycleError`] | prune, export and import, renamed tables |
/// | [`Tamper`](Error::Tamper) | [`TamperError`] | the journal's check |
///
/// An area error turns into an `Error` with `?` or `.into()`, and prints
/// the same inside it. Match the kind, then the area error behind its box:
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::tags::TagError;
///
/// let e: Error = TagError::NoTag { name: "v1".into() }.into();
/// assert!(matches!(&e, Error::Tag(t) if matches!(**t, TagError::NoTag { .. })));
/// assert_eq!(e.to_string(), TagError::NoTag { name: "v1".into() }.to_string());
/// ```
///
/// Hooks must return sea-orm's [`DbErr`]; there an `Error` travels as
/// `DbErr::Custom` with the same message (`From<Error> for DbErr`).
///
/// ```
/// use revy_seaorm::error::{Error, JournalError};
/// let e = Error::from(JournalError::NoPrimaryKey { table: "events".into() });
/// assert!(e.to_string().contains("events"));
/// let db: sea_orm::DbErr = e.into();
/// assert!(db.to_string().contains("no primary key"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The database reported an error.
    #[error(transparent)]
    Db(#[from] DbErr),

    /// A context operation failed.
    #[error(transparent)]
    Context(#[from] revy_core::ContextError),

    /// The journal's tables, or recording into them: a table missing, a
    /// key, value or tracking policy that cannot be journaled, a revision
    /// that does not exist or was rolled back.
    #[error(transparent)]
    Journal(Box<JournalError>),

    /// A past state the journal cannot give back.
    #[error(transparent)]
    History(Box<HistoryError>),

    /// A restore, revert or undo that cannot run.
    #[error(transparent)]
    Rollback(Box<RollbackError>),

    /// A save that required a version found another.
    #[error(transparent)]
    Version(Box<VersionError>),

    /// A tag that cannot be written, found, or undone back to.
    #[error(transparent)]
    Tag(Box<TagError>),

    /// A tracked bulk write that cannot run or be journaled.
    #[error(transparent)]
    Bulk(Box<BulkError>),

    /// A write a strict guard refused.
    #[error(transparent)]
    Guard(Box<GuardError>),

    /// A deletion policy that cannot run.
    #[error(transparent)]
    Deletion(Box<DeletionError>),

    /// A prune, export, import or table rename that stopped.
    #[error(transparent)]
    Lifecycle(Box<LifecycleError>),

    /// What the journal's check found.
    #[error(transparent)]
    Tamper(Box<TamperError>),
}

/// `From<area error> for Error`, boxing it under its kind.
macro_rules! kinds {
    ($($kind:ident($area:ty)),* $(,)?) => {$(
        impl From<$area> for Error {
            fn from(e: $area) -> Error {
                Error::$kind(Box::new(e))
            }
        }
    )*};
}

kinds!(
    Journal(JournalError),
    History(HistoryError),
    Rollback(RollbackError),
    Version(VersionError),
    Tag(TagError),
    Bulk(BulkError),
    Guard(GuardError),
    Deletion(DeletionError),
    Lifecycle(LifecycleError),
    Tamper(TamperError),
);

/// The journal's tables, and recording into them: what the hooks, the
/// journal writer and [`install`](crate::install()) can fail with, whatever
/// the area that called them. Under [`Error::Journal`].
///
/// ```
/// use revy_seaorm::error::{Error, JournalError};
///
/// let e: Error = JournalError::KeyNotSet { table: "users".into() }.into();
/// match &e {
///     Error::Journal(j) => match &**j {
///         JournalError::KeyNotSet { table } => assert_eq!(table, "users"),
///         other => panic!("{other}"),
///     },
///     other => panic!("{other}"),
/// }
/// assert!(e.to_string().contains("set it before saving"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A journal table does not exist.
    #[error(
        "journal table {table} is missing: call revy::install(&db) or run the revy migration (database said: {source})"
    )]
    JournalMissing {
        /// The missing table.
        table: &'static str,
        /// The database's own error.
        source: DbErr,
    },

    /// The database holds a journal in the three-table shape revy had
    /// before 0.1 (a `revy_attribute_deltas` table beside the object
    /// deltas). revy 0.1 keeps a change's attribute deltas inline in its
    /// object delta and has no in-place upgrade: export the old journal
    /// with the revy that wrote it, drop its tables, install, and import
    /// the export.
    #[error(
        "this database holds revy's three-table journal from before 0.1 (table {table}); revy 0.1 \
         keeps a change's attribute deltas in its object delta and does not upgrade it in place: \
         export it with the revy that wrote it (revy::lifecycle::prune().older_than(<a time after its newest \
         change>).export(..)), drop the tables revy_tags, revy_attribute_deltas, \
         revy_object_deltas and revy_revisions, run revy::install, then revy::lifecycle::import the export"
    )]
    OldJournal {
        /// The table that shows the old shape.
        table: &'static str,
    },

    /// The SQLite library linked into the application is older than 3.35,
    /// the first with `RETURNING`, which revy's SQLite paths rely on
    /// (sqlx's bundled SQLite is newer; an old one comes from linking the
    /// system's library).
    #[error(
        "revy needs SQLite 3.35 or newer (RETURNING); the linked library is {}: \
         use sqlx's bundled SQLite or a newer system library",
        version.as_deref().unwrap_or("older")
    )]
    SqliteTooOld {
        /// The library's `sqlite_version()`, when it was read.
        version: Option<String>,
    },

    /// An object delta's inline attribute deltas (its `changes` column)
    /// cannot be read: the row was written by hand or damaged.
    #[error(
        "revy: object delta {object_delta_id}: its attribute deltas (column `changes`) cannot be read: {reason}"
    )]
    BadEntries {
        /// The object delta.
        object_delta_id: i64,
        /// What is wrong with them.
        reason: String,
    },

    /// The context's meta is an object with the key `"revy"`, which revy
    /// reserves for the kind of the revisions it writes itself (see
    /// [`RevisionKind`](crate::entity::revision::RevisionKind)). Nothing was written.
    #[error(
        "the context's meta {meta} has the key \"revy\", which revy reserves to mark its own revisions (baselines, prune checkpoints, erasures); put your metadata under another key"
    )]
    ReservedMeta {
        /// The context's meta.
        meta: serde_json::Value,
    },

    /// The context's revision was created in a transaction that rolled
    /// back (PostgreSQL, which aborts the transaction at the failed journal
    /// write). revy forgot it: retry the transaction and the revision is
    /// created anew. [`transaction`](crate::transaction()) and
    /// [`begin`](crate::begin()) forget it on their own, at the rollback.
    #[error(
        "the context's revision {revision_id} was created in a transaction that rolled back, so this transaction failed; revy forgot the revision: retry the transaction and it is created anew"
    )]
    RevisionRolledBack {
        /// The revision's id.
        revision_id: i64,
    },

    /// No revision has this id.
    #[error("revision {revision_id} does not exist")]
    NoRevision {
        /// The id asked for.
        revision_id: i64,
    },

    /// A column's value could not be written to or read from the journal.
    #[error("column {table}.{column}: {source}")]
    Codec {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What the codec found.
        source: CodecError,
    },

    /// The entity has no primary key, so its rows cannot be told apart in the journal.
    #[error("table {table} has no primary key: revy tracks only entities with one")]
    NoPrimaryKey {
        /// The table.
        table: String,
    },

    /// The model's primary key is not set, so the row it names is unknown.
    #[error(
        "the primary key of {table} is not set on this model: set it before saving or deleting"
    )]
    KeyNotSet {
        /// The table.
        table: String,
    },

    /// The primary key's text is longer than the journal's key column.
    #[error(
        "primary key {key} of {table} is {len} characters long; the journal stores keys of at most {max}"
    )]
    KeyTooLong {
        /// The table.
        table: String,
        /// The key, as text.
        key: String,
        /// Its length in characters.
        len: usize,
        /// The longest key the journal stores.
        max: u32,
    },

    /// A primary key stored in the journal does not fit the entity's key columns.
    #[error("key {key} in the journal does not fit the primary key of {table}: {reason}")]
    BadKey {
        /// The table.
        table: String,
        /// The key text from the journal.
        key: String,
        /// Why it does not fit.
        reason: String,
    },

    /// An entity's tracking policy declares something it cannot mean.
    #[error("tracking policy of {table}: column {column} {problem}")]
    Policy {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong, and the fix.
        problem: &'static str,
    },

    /// An actor was loaded as an entity of another table.
    #[error("actor is a {found}, not a {expected}: load it with the entity of table {found}")]
    ActorKind {
        /// The table of the entity asked for.
        expected: String,
        /// The actor's kind.
        found: String,
    },

    /// An earlier journal write of this queued transaction failed, so its
    /// journal is incomplete: it refuses to write more, and to commit.
    #[error("revy: an earlier journal write of this transaction failed ({reason}); roll it back")]
    EarlierWriteFailed {
        /// The earlier write's error.
        reason: String,
    },

    /// With tamper evidence on, the newest object delta of a row kept
    /// changing while a delta of it was written, so its chain could not be
    /// extended (other writers of the row, not holding its lock).
    #[error(
        "revy_object_deltas: the newest delta of {content_type} {content_id} kept changing while a delta of it was written; is the row locked?"
    )]
    HeadKeptChanging {
        /// The row's table (its content type).
        content_type: String,
        /// The row's key text.
        content_id: String,
    },

    /// The database numbered a journal row past `i64`, the journal's ids.
    #[error("{table}: an id past i64")]
    IdOutOfRange {
        /// The journal table.
        table: &'static str,
    },

    /// The system's random source, which seeds the salts of tamper
    /// evidence, failed; nothing was written.
    #[error("tamper evidence: the system's random source failed: {reason}")]
    RandomSource {
        /// The random source's error.
        reason: String,
    },
}

impl From<Error> for DbErr {
    fn from(e: Error) -> DbErr {
        match e {
            Error::Db(db) => db,
            other => DbErr::Custom(other.to_string()),
        }
    }
}

/// The error the database itself returned, under sea-orm's.
fn database_error(e: &DbErr) -> Option<&dyn DatabaseError> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = e
    else {
        return None;
    };
    match e.as_ref() {
        SqlxError::Database(d) => Some(d.as_ref()),
        _ => None,
    }
}

/// Whether the database said that `table` does not exist. PostgreSQL,
/// MySQL and MariaDB say a table is missing with a code; which table, only
/// the message says, and it matters: a statement on the journal may read
/// other tables too (a hook's locked read is of the application's table).
/// SQLite has no code for it: a missing table is `SQLITE_ERROR` (1), the
/// code of every SQL error, so there its message, which SQLite never
/// translates, tells.
fn is_missing_table(e: &dyn DatabaseError, table: &str) -> bool {
    match e.code().as_deref() {
        // PostgreSQL's undefined_table; MySQL's and MariaDB's "base table
        // or view not found" (ER_NO_SUCH_TABLE, 1146)
        Some("42P01" | "42S02") => e.message().contains(table),
        // SQLite's SQLITE_ERROR
        Some("1") => e
            .message()
            .strip_prefix("no such table: ")
            .is_some_and(|name| name.rsplit('.').next() == Some(table)),
        _ => false,
    }
}

impl Error {
    /// Turns a database error from a statement on a journal table into
    /// [`JournalError::JournalMissing`] when the table does not exist.
    pub(crate) fn from_journal(table: &'static str, e: DbErr) -> Error {
        Error::from_journal_tables(&[table], e)
    }

    /// [`Error::from_journal`] for a statement on several journal tables:
    /// the missing one is the one the database names.
    pub(crate) fn from_journal_tables(tables: &[&'static str], e: DbErr) -> Error {
        let missing =
            database_error(&e).and_then(|d| tables.iter().find(|table| is_missing_table(d, table)));
        match missing {
            Some(&table) => JournalError::JournalMissing { table, source: e }.into(),
            None => Error::Db(e),
        }
    }
}
