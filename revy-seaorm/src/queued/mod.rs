//! Queued transactions: the journal of a whole transaction written at once,
//! right before it commits.
//!
//! A tracked save on a plain connection or transaction writes its journal
//! rows right after the save: one more round trip per operation. Inside a
//! [`Transaction`] opened with [`revy::transaction`](transaction()) or
//! [`revy::begin`](begin()), the hooks queue those rows instead, and
//! [`commit`](Transaction::commit) writes them all right before `COMMIT`:
//! one statement on PostgreSQL, a few multi-row `INSERT`s on SQLite and
//! MySQL, whatever the number of operations. The commit is the only way out
//! that keeps the changes, so a queue cannot be forgotten.
//!
//! ```
//! # revy_seaorm::__doc_fixture!();
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = setup().await?;
//! use revy_core::{Actor, Context};
//! use sea_orm::{ActiveModelTrait, Set};
//!
//! Context::via_actor(Some(Actor::new("user", "7")))
//!     .scope(async {
//!         revy_seaorm::transaction(&db, |txn| {
//!             Box::pin(async move {
//!                 for name in ["Ann", "Bob", "Cy"] {
//!                     user::ActiveModel { name: Set(name.into()), ..Default::default() }
//!                         .insert(txn)
//!                         .await?;
//!                 }
//!                 // reads of the journal see the queued rows: the queue is
//!                 // written first
//!                 assert_eq!(revy_seaorm::history::of::<user::Entity>(1).all(txn).await?.len(), 1);
//!                 Ok::<_, revy_seaorm::Error>(())
//!             })
//!         })
//!         .await
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # What it changes, and what it keeps
//!
//! - The journal rows of queued operations reach the database when the
//!   queue is flushed: at commit, before any statement through the
//!   transaction that names a journal table (`revy_…`: every revy read,
//!   and your own queries of the journal entities), before a nested
//!   transaction begins, and when the queue holds 1,000 object deltas or
//!   20,000 attribute deltas (so memory stays bounded). Other connections
//!   see them at commit, as before.
//! - Everything else is the same journal, row for row: baselines, the
//!   update diff against the locked row, drafts' per-attribute actors,
//!   policies, the context's revision. Bulk writes, deletion policies and
//!   `undo` through a queued transaction flush the queue and then write
//!   their journal as they do elsewhere.
//! - A journal write that fails at the flush fails the commit, which rolls
//!   the transaction back: the change and its history are both gone. A
//!   failed flush before the commit (a statement that needed it) makes the
//!   commit refuse too.
//! - Rolling back, or dropping the transaction, discards the queue. A
//!   nested transaction ([`TransactionTrait::begin`]) is a savepoint:
//!   rolling it back discards what was queued inside it.
//! - A revision a flush created for the context's
//!   [`LazyRevision`](revy_core::LazyRevision) is forgotten again when the
//!   transaction does not commit, so a retried request under the same
//!   context creates it anew.
//!
//! Saves through any other connection or transaction keep writing their
//! journal at once.

mod detect;
mod queue;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, Statement, TransactionError, TransactionOptions, TransactionSession,
    TransactionTrait,
};

pub(crate) use detect::is_transaction;
pub(crate) use queue::Queue;

use crate::guard::{GuardedTransaction, RevyTransaction, run, sealed};
use crate::handoff;

/// A transaction whose journal rows are queued and written right before it
/// commits: see the [module documentation](self).
///
/// It is a sea-orm connection ([`ConnectionTrait`], [`TransactionTrait`],
/// [`TransactionSession`]) wrapping the transaction it began: hand `&txn`
/// to sea-orm and revy as you would a [`DatabaseTransaction`].
pub struct Transaction<X = DatabaseTransaction> {
    inner: X,
    guard: QueueGuard,
}

/// A transaction's hold on its queue: what to discard when it ends without
/// committing.
struct QueueGuard {
    queue: Arc<Queue>,
    /// Entries and created revisions queued before this (nested)
    /// transaction began.
    mark: usize,
    created_mark: usize,
    armed: bool,
}

impl QueueGuard {
    fn new(queue: Arc<Queue>) -> Self {
        let mark = queue.len();
        let created_mark = queue.created_len();
        QueueGuard {
            queue,
            mark,
            created_mark,
            armed: true,
        }
    }

    /// The transaction ended without committing: drop what it queued and
    /// forget the revisions its flushes created.
    fn discard(&mut self) {
        if self.armed {
            self.armed = false;
            self.queue.truncate(self.mark, self.created_mark);
        }
    }
}

impl Drop for QueueGuard {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Begins a [`Transaction`] on `db` whose journal rows are written at
/// commit. Commit it with [`Transaction::commit`]; dropping it rolls back.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// Context::new()
///     .scope(async {
///         let txn = revy_seaorm::begin(&db).await?;
///         user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&txn).await?;
///         assert_eq!(txn.queued(), 1); // the Create, not written yet
///         txn.commit().await // writes it, then commits
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub async fn begin<C>(db: &C) -> Result<Transaction<C::Transaction>, DbErr>
where
    C: TransactionTrait,
{
    Ok(Transaction::new(db.begin().await?))
}

/// Runs `callback` in a [`Transaction`] on `db`, then commits (writing the
/// queued journal first) on `Ok` and rolls back on `Err`: sea-orm's
/// [`TransactionTrait::transaction`], with the journal written at once.
/// See the [module documentation](self) for an example.
pub async fn transaction<C, F, T, E>(db: &C, callback: F) -> Result<T, TransactionError<E>>
where
    C: TransactionTrait,
    C::Transaction: Sync,
    F: for<'c> FnOnce(
            &'c Transaction<C::Transaction>,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
        + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    let txn = begin(db).await.map_err(TransactionError::Connection)?;
    run(txn, callback).await
}

impl<X> Transaction<X> {
    /// Wraps a transaction begun on `db`: its journal rows are queued.
    pub fn new(inner: X) -> Self {
        Transaction {
            inner,
            guard: QueueGuard::new(Arc::default()),
        }
    }

    /// The number of object deltas queued and not written yet.
    pub fn queued(&self) -> usize {
        self.guard.queue.len()
    }
}

impl<X: ConnectionTrait> Transaction<X> {
    /// Writes the queued journal rows now, inside the transaction. Needed
    /// only to make them visible to something that does not go through
    /// this transaction's connection; revy flushes before its own reads.
    pub async fn flush(&self) -> Result<(), DbErr> {
        Ok(self.guard.queue.flush(&self.inner).await?)
    }

    /// Before a statement: the queue is written first when the statement
    /// names a journal table, or when the queue is full. A hook's own read
    /// is exempt.
    async fn before(&self, sql: &str) -> Result<(), DbErr> {
        if handoff::take_exemption() {
            return Ok(());
        }
        let queue = &self.guard.queue;
        if (sql.contains("revy_") && queue.len() > 0) || queue.is_full() {
            queue.flush(&self.inner).await?;
        }
        Ok(())
    }
}

impl<X: ConnectionTrait + TransactionSession + Sync> Transaction<X> {
    /// Writes the queued journal rows, then commits. If the journal cannot
    /// be written, the transaction is rolled back and the error returned:
    /// nothing of it remains.
    pub async fn commit(self) -> Result<(), DbErr> {
        let Transaction { inner, mut guard } = self;
        if let Err(e) = guard.queue.flush(&inner).await {
            // the operation's error says what went wrong; a failed rollback
            // (the connection is gone) ends the transaction just the same
            let _ = inner.rollback().await;
            guard.discard();
            return Err(e.into());
        }
        inner.commit().await?;
        guard.armed = false;
        Ok(())
    }

    /// Rolls back, discarding the queue.
    pub async fn rollback(self) -> Result<(), DbErr> {
        let Transaction { inner, mut guard } = self;
        guard.discard();
        inner.rollback().await
    }
}

impl<X> std::fmt::Debug for Transaction<X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl<X: ConnectionTrait + Send + Sync> ConnectionTrait for Transaction<X> {
    fn get_database_backend(&self) -> DbBackend {
        handoff::QueueProbe::answer(&self.guard.queue);
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.before(&stmt.sql).await?;
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.before(sql).await?;
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.before(&stmt.sql).await?;
        self.inner.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.before(&stmt.sql).await?;
        self.inner.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.inner.is_mock_connection()
    }
}

impl<X> Transaction<X>
where
    X: ConnectionTrait + TransactionTrait<Transaction = X> + Send + Sync,
{
    /// A nested transaction (a savepoint) sharing the queue: what is queued
    /// so far is written first, so rolling the savepoint back discards only
    /// what was queued inside it.
    async fn nested(&self, inner: impl Future<Output = Result<X, DbErr>>) -> Result<Self, DbErr> {
        self.flush().await?;
        let inner = inner.await?;
        Ok(Transaction {
            inner,
            guard: QueueGuard::new(self.guard.queue.clone()),
        })
    }
}

#[async_trait::async_trait]
impl<X> TransactionTrait for Transaction<X>
where
    X: ConnectionTrait + TransactionTrait<Transaction = X> + TransactionSession + Send + Sync,
{
    type Transaction = Transaction<X>;

    async fn begin(&self) -> Result<Self::Transaction, DbErr> {
        self.nested(self.inner.begin()).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Self::Transaction, DbErr> {
        self.nested(self.inner.begin_with_config(isolation_level, access_mode))
            .await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<Self::Transaction, DbErr> {
        self.nested(self.inner.begin_with_options(options)).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self.begin().await.map_err(TransactionError::Connection)?;
        run(txn, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self
            .begin_with_config(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        run(txn, callback).await
    }
}

#[async_trait::async_trait]
impl<X: ConnectionTrait + TransactionSession + Send + Sync> TransactionSession for Transaction<X> {
    async fn commit(self) -> Result<(), DbErr> {
        Transaction::commit(self).await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        Transaction::rollback(self).await
    }
}

/// revy's own multi-statement calls ([`delete`](crate::deletion::delete),
/// [`undo_revision`](crate::rollback::undo_revision), ..) run in a savepoint of a
/// queued transaction with their journal written at once: beginning it
/// flushed the queue, so their rows follow the queued ones.
impl<X: sealed::Sealed> RevyTransaction for Transaction<X> {}

impl<X: sealed::Sealed> sealed::Sealed for Transaction<X> {
    fn into_guarded(self) -> GuardedTransaction {
        let Transaction { inner, mut guard } = self;
        // nothing was queued since it began; what it writes now is written
        // at once, and rolls back with the savepoint
        guard.armed = false;
        inner.into_guarded()
    }
}
