//! The one error type of revy's SeaORM integration.

use sea_orm::sqlx::error::{DatabaseError, Error as SqlxError};
use sea_orm::{DbErr, RuntimeErr};
use thiserror::Error;

use crate::codec::CodecError;

/// What went wrong, and for which table, column or key.
///
/// Hooks must return sea-orm's [`DbErr`]; there an `Error` travels as
/// `DbErr::Custom` with the same message (`From<Error> for DbErr`).
///
/// ```
/// use revy_seaorm::Error;
/// let e = Error::NoPrimaryKey { table: "events".into() };
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

    /// [`undo_revision`](crate::rollback::undo_revision) of an erasure: the values it
    /// removed are in no journal row any more.
    #[error(
        "revision {revision_id} is an erasure (revy::lifecycle::erase): the values it removed are gone from the journal, so it cannot be undone; write the values again if they may be kept"
    )]
    ErasureIsFinal {
        /// The revision.
        revision_id: i64,
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
    /// created anew. [`transaction`](crate::queued()) and
    /// [`begin`](crate::begin()) forget it on their own, at the rollback.
    #[error(
        "the context's revision {revision_id} was created in a transaction that rolled back, so this transaction failed; revy forgot the revision: retry the transaction and it is created anew"
    )]
    RevisionRolledBack {
        /// The revision's id.
        revision_id: i64,
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

    /// No revision has this id.
    #[error("revision {revision_id} does not exist")]
    NoRevision {
        /// The id asked for.
        revision_id: i64,
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

    /// A revision touches a table whose entity revy does not know in this process.
    #[error(
        "cannot undo changes to table {table}: no entity is registered for it; call revy::rollback::register::<your_entity::Entity>() at start-up"
    )]
    UnknownEntity {
        /// The table.
        table: String,
    },

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

    /// An actor was loaded as an entity of another table.
    #[error("actor is a {found}, not a {expected}: load it with the entity of table {found}")]
    ActorKind {
        /// The table of the entity asked for.
        expected: String,
        /// The actor's kind.
        found: String,
    },

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

    /// A tag with this name already exists.
    #[error(
        "tag {name} already exists in revy_tags (it names revision {revision_id}): pick another name, or find the existing tag with revy::tags::find_tag"
    )]
    TagExists {
        /// The name asked for.
        name: String,
        /// The revision the existing tag names.
        revision_id: i64,
    },

    /// A tag name is longer than the journal stores.
    #[error(
        "tag name {name} is {len} characters long; revy_tags stores names of at most {max}: pick a shorter one"
    )]
    TagNameTooLong {
        /// The name asked for.
        name: String,
        /// Its length in characters.
        len: usize,
        /// The longest name the journal stores.
        max: u32,
    },

    /// No tag has this name.
    #[error("tag {name} does not exist in revy_tags: list the tags with revy::tags::all(&db)")]
    NoTag {
        /// The name asked for.
        name: String,
    },

    /// Undoing back to a tag would also discard a change that belongs at
    /// or before the tag.
    #[error(
        "cannot undo back to tag {tag}: {table} row {key} was changed by revision {revision_id}, at or before the tag's revision, after a later revision had changed it (object delta {object_delta_id}); revert that row by hand"
    )]
    TagConflict {
        /// The tag.
        tag: String,
        /// The table of the row.
        table: String,
        /// The row's key.
        key: String,
        /// The revision at or before the tag's that wrote late.
        revision_id: i64,
        /// The late object delta.
        object_delta_id: i64,
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

    /// A context operation failed.
    #[error(transparent)]
    Context(#[from] revy_core::ContextError),

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

fn describe_current(current: Option<i64>) -> String {
    match current {
        Some(v) => format!("is at version {v}"),
        None => "no longer exists".to_owned(),
    }
}

impl Error {
    /// Turns a database error from a statement on a journal table into
    /// [`Error::JournalMissing`] when the table does not exist.
    pub(crate) fn from_journal(table: &'static str, e: DbErr) -> Error {
        Error::from_journal_tables(&[table], e)
    }

    /// [`Error::from_journal`] for a statement on several journal tables:
    /// the missing one is the one the database names.
    pub(crate) fn from_journal_tables(tables: &[&'static str], e: DbErr) -> Error {
        let missing =
            database_error(&e).and_then(|d| tables.iter().find(|table| is_missing_table(d, table)));
        match missing {
            Some(&table) => Error::JournalMissing { table, source: e },
            None => Error::Db(e),
        }
    }
}
