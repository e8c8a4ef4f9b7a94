//! Keeping the journal small: folding old history into checkpoints.
//!
//! The why and how are on [`Prune`], which users see.

mod object;

use std::io::Write;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Order, Query};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, IdenStatic, IsolationLevel, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::db::keys::content_type;
use crate::error::Error;
use crate::journal::{object_delta, tag};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::export::reborrow;
use crate::record::write::finish;

pub use object::CHECKPOINT_DESCRIPTION;
pub(crate) use object::{fold, remove_empty_revisions};

/// Objects a prune handles per transaction unless told otherwise.
pub const PRUNE_CHUNK_SIZE: u64 = 200;

/// The most objects per transaction: a chunk's export walk names each
/// object with three parameters (SQLite takes at most 32,766).
const MAX_CHUNK_SIZE: u64 = 5000;

/// A prune of the journal: made by [`prune()`], run by [`Prune::exec`].
///
/// revy rebuilds a past state of a row from deltas, so old deltas cannot
/// simply be dropped: every later snapshot would lose the columns they set.
/// A prune instead folds the old part of each object's history (its object
/// deltas before the cut, a prefix in id order) into one **checkpoint**: a
/// `Create` object delta by the system holding every column's value as the
/// snapshot at the cut gives it (old values null), like a baseline. The
/// checkpoint keeps the id and time of the newest delta it replaces, so it
/// sorts before everything kept and every snapshot, [`as_of`](crate::history::as_of),
/// history page and [`diff`](crate::history::diff) for a time at or after the cut
/// answers exactly as before. An object whose last delta before the cut is
/// a `Delete` disappears from the journal (when something kept follows that
/// is not a `Create`, the checkpoint is a `Delete` holding the last state
/// instead, so that its later snapshots keep their columns). Checkpoints
/// live in revisions of their own, of kind
/// [`RevisionKind::Checkpoint`](crate::entity::revision::RevisionKind::Checkpoint) and
/// described by [`CHECKPOINT_DESCRIPTION`]; revisions left empty are
/// removed.
///
/// The work goes a chunk of objects at a time, each chunk in one
/// transaction: nothing half-pruned is ever visible, memory holds one chunk
/// (its objects, a page of 500 deltas being exported, and the ids of the
/// revisions the chunk touched),
/// and a prune stopped at any point (a crash, a timeout) is finished by
/// running it again, which never changes what an earlier run did: an object
/// whose old history is already one checkpoint is left alone. Each object's
/// newest pruned delta is locked before it is read, so two prunes never
/// fold one object twice; tracked writes only ever add deltas, newer than
/// anything a prune touches, and go on while it runs.
///
/// Undoing a checkpoint's revision with [`undo_revision`](crate::rollback::undo_revision)
/// would undo the rows' creation: leave those revisions alone.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::history::ObjectSnapshot;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let mut ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// for name in ["Anna", "Annie", "Anne"] {
///     let mut am = ann.into_active_model();
///     am.name = Set(name.into());
///     ann = Context::new().scope(am.update(&db)).await?;
/// }
///
/// // keep each object's last 2 object deltas; the rest folds into a checkpoint
/// let mut backup = Vec::new();
/// let report = revy_seaorm::lifecycle::prune().keep_last(2).export(&mut backup).exec(&db).await?;
/// assert_eq!(report.checkpoints, 1);
/// assert_eq!(report.object_deltas_pruned, 2);
///
/// let history = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?;
/// assert_eq!(history.len(), 3); // the checkpoint and the two kept
/// let newest = ObjectSnapshot::<user::Entity>::at(history[0].id).one(&db).await?;
/// assert_eq!(newest, Some(ann));
/// assert_eq!(String::from_utf8(backup)?.lines().count(), 2); // one line per revision
/// # Ok(()) }
/// ```
#[must_use = "a prune does nothing until .exec(&db) runs it"]
pub struct Prune<'w> {
    older_than: Option<DateTime<Utc>>,
    keep_last: Option<u64>,
    content_type: Option<String>,
    chunk_size: u64,
    export: Option<&'w mut (dyn Write + Send)>,
    fail_in_chunk: Option<u64>,
}

/// Starts a prune of the journal. Give it a cut, [`older_than`](Prune::older_than)
/// a time and/or [`keep_last`](Prune::keep_last) object deltas per object;
/// see [`Prune`].
pub fn prune() -> Prune<'static> {
    Prune {
        older_than: None,
        keep_last: None,
        content_type: None,
        chunk_size: PRUNE_CHUNK_SIZE,
        export: None,
        fail_in_chunk: None,
    }
}

/// What a prune did.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// # revy_seaorm::install(&db).await?;
/// let report = revy_seaorm::lifecycle::prune().keep_last(100).exec(&db).await?;
/// println!(
///     "{} objects folded, {} removed, {} object deltas gone",
///     report.checkpoints,
///     report.objects_removed,
///     report.object_deltas_pruned,
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneReport {
    /// Checkpoints written (objects whose old history was folded).
    pub checkpoints: u64,
    /// Objects removed from the journal (deleted before the cut).
    pub objects_removed: u64,
    /// Object deltas folded into a checkpoint or removed.
    pub object_deltas_pruned: u64,
    /// Revisions removed because no object delta was left in them.
    pub revisions_removed: u64,
    /// Transactions (chunks of objects) committed.
    pub chunks: u64,
}

impl PruneReport {
    fn add(&mut self, other: &PruneReport) {
        self.checkpoints += other.checkpoints;
        self.objects_removed += other.objects_removed;
        self.object_deltas_pruned += other.object_deltas_pruned;
        self.revisions_removed += other.revisions_removed;
        self.chunks += other.chunks;
    }
}

impl<'w> Prune<'w> {
    /// Prunes the object deltas written before `cut`: snapshots, `as_of`,
    /// history and diffs for times at or after it stay as they were.
    pub fn older_than(mut self, cut: DateTime<Utc>) -> Self {
        self.older_than = Some(cut);
        self
    }

    /// Keeps each object's newest `n` object deltas (and with
    /// [`older_than`](Prune::older_than) too, also every delta at or after
    /// that time): snapshots at every kept delta stay as they were.
    /// `keep_last(0)` folds each object's whole history into a checkpoint
    /// of its current state.
    pub fn keep_last(mut self, n: u64) -> Self {
        self.keep_last = Some(n);
        self
    }

    /// Prunes only the history of rows of `E` (by default: of every table).
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// let report = revy_seaorm::lifecycle::prune().keep_last(10).entity::<user::Entity>().exec(&db).await?;
    /// assert_eq!(report.checkpoints, 0);
    /// # Ok(()) }
    /// ```
    pub fn entity<E: EntityTrait>(self) -> Self {
        self.content_type(content_type::<E>())
    }

    /// Prunes only the history of the table `content_type` (as the journal
    /// names it, see [`content_type`](crate::registry::content_type)); for tables whose
    /// entity this program does not have.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # revy_seaorm::install(&db).await?;
    /// let cut = chrono::Utc::now() - chrono::Duration::days(365);
    /// revy_seaorm::lifecycle::prune().older_than(cut).content_type("legacy_orders").exec(&db).await?;
    /// # Ok(()) }
    /// ```
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Objects per transaction (default [`PRUNE_CHUNK_SIZE`]; at least 1,
    /// at most 5,000, which keeps a chunk's statements under every
    /// backend's limit on bound parameters).
    pub fn chunk_size(mut self, n: u64) -> Self {
        self.chunk_size = n.clamp(1, MAX_CHUNK_SIZE);
        self
    }

    /// Writes everything the prune removes to `out` as JSON Lines (see
    /// [`import`](crate::lifecycle::import())), each chunk's lines before the chunk's
    /// deletions, and flushed before they commit.
    pub fn export<'v>(self, out: &'v mut (dyn Write + Send)) -> Prune<'v> {
        Prune {
            older_than: self.older_than,
            keep_last: self.keep_last,
            content_type: self.content_type,
            chunk_size: self.chunk_size,
            export: Some(out),
            fail_in_chunk: self.fail_in_chunk,
        }
    }

    /// For revy's crash tests: fails chunk `n` (1-based) after its writes,
    /// before its commit.
    #[doc(hidden)]
    pub fn __fail_in_chunk(mut self, n: u64) -> Self {
        self.fail_in_chunk = Some(n);
        self
    }

    /// Runs the prune, a chunk of objects per transaction, and says what it
    /// did. On an error, the chunks before it stay committed and the failed
    /// one left nothing behind: run the same prune again to finish.
    pub async fn exec<C>(self, db: &C) -> Result<PruneReport, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let Prune {
            older_than,
            keep_last,
            content_type,
            chunk_size,
            mut export,
            fail_in_chunk,
        } = self;
        if older_than.is_none() && keep_last.is_none() {
            return Err(LifecycleError::NoCut.into());
        }
        let cut = object::Cut {
            older_than,
            keep_last,
            first_tagged: first_tagged(db).await?,
        };
        let mut report = PruneReport::default();
        let mut after: Option<(String, String)> = None;
        loop {
            let objects = next_objects(
                db,
                &cut,
                content_type.as_deref(),
                chunk_size,
                after.as_ref(),
            )
            .await?;
            let Some(last) = objects.last() else { break };
            after = Some(last.clone());
            let txn = begin(db).await?;
            let mut result = object::prune_chunk(&txn, &cut, &objects, reborrow(&mut export)).await;
            if let (Ok(_), Some(out)) = (&result, reborrow(&mut export))
                && let Err(e) = out.flush()
            {
                result = Err(LifecycleError::Export(e).into());
            }
            if fail_in_chunk == Some(report.chunks + 1) && result.is_ok() {
                // it stands for a database error, which a chunk's
                // statements meet: no typed error of its own
                result = Err(Error::Db(sea_orm::DbErr::Custom(format!(
                    "revy: prune failed on purpose in chunk {} (a test)",
                    report.chunks + 1
                ))));
            }
            let done = finish(txn, result).await?;
            report.add(&done);
            report.chunks += 1;
            if (objects.len() as u64) < chunk_size {
                break;
            }
        }
        Ok(report)
    }
}

/// The oldest object delta of any tagged revision.
async fn first_tagged<C: ConnectionTrait>(db: &C) -> Result<Option<i64>, Error> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let tagged = Query::select()
        .column(tag::Column::RevisionId)
        .from(tag::Entity)
        .to_owned();
    let first: Option<Option<i64>> = object_delta::Entity::find()
        .select_only()
        .column_as(object_delta::Column::Id.min(), "first")
        .filter(object_delta::Column::RevisionId.in_subquery(tagged))
        .into_tuple()
        .one(db)
        .await
        .map_err(|e| Error::from_journal("revy_tags", e))?;
    Ok(first.flatten())
}

/// The next chunk of objects with history to look at, after `after` in
/// (content type, content id) order: with a time cut, those with a delta
/// before it; with only `keep_last(n)`, those with more than `n`.
async fn next_objects<C: ConnectionTrait>(
    db: &C,
    cut: &object::Cut,
    table: Option<&str>,
    chunk_size: u64,
    after: Option<&(String, String)>,
) -> Result<Vec<(String, String)>, Error> {
    use object_delta::Column as C;
    let mut q = Query::select();
    q.columns([C::ContentType, C::ContentId])
        .from(object_delta::Entity)
        .group_by_columns([C::ContentType, C::ContentId])
        .order_by(C::ContentType, Order::Asc)
        .order_by(C::ContentId, Order::Asc)
        .limit(chunk_size);
    if let Some(table) = table {
        q.and_where(Expr::col(C::ContentType).eq(table));
    }
    if let Some((table, id)) = after {
        q.and_where(
            Expr::col(C::ContentType)
                .gt(table.as_str())
                .or(Expr::col(C::ContentType)
                    .eq(table.as_str())
                    .and(Expr::col(C::ContentId).gt(id.as_str()))),
        );
    }
    match (cut.older_than, cut.keep_last) {
        (Some(at), _) => {
            q.and_where(Expr::col(C::CreatedAt).lt(at));
        }
        (None, Some(n)) => {
            q.and_having(Func::count(Expr::col(C::Id)).gt(n));
        }
        (None, None) => {}
    }
    let rows = db
        .query_all_raw(db.get_database_backend().build(&q))
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", C::ContentType.as_str())?,
                r.try_get::<String>("", C::ContentId.as_str())?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Error::Db)
}

/// Begins a chunk's transaction: on SQLite an `IMMEDIATE` one (the write
/// lock before the first read); elsewhere `READ COMMITTED`, so that locking
/// reads take no gap locks (MariaDB) and tracked inserts of newer deltas
/// never wait for a prune.
pub(crate) async fn begin<C: ConnectionTrait + TransactionTrait>(
    db: &C,
) -> Result<C::Transaction, Error> {
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let options = TransactionOptions {
        sqlite_transaction_mode: sqlite.then_some(SqliteTransactionMode::Immediate),
        isolation_level: (!sqlite).then_some(IsolationLevel::ReadCommitted),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}
