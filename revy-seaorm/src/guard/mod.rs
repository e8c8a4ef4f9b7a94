//! The guard: a connection that notices writes to tracked tables that
//! bypass revy.
//!
//! revy journals what passes through its hooks (an active model's
//! `insert`, `update`, `save`, `delete`) and its own calls
//! ([`delete`](crate::deletion::delete), the bulk writes). Everything else sea-orm can
//! send, `Entity::update_many()`, `Entity::insert(..).exec(..)`,
//! `Entity::delete_by_id(..)`, raw SQL, changes rows with no trace in the
//! journal. [`Guarded`] wraps a connection and looks at each statement
//! before it runs: a write to a tracked table that is not revy's own is
//! counted ([`untracked_writes`]) and warned about once per table with
//! `tracing`, or, in [strict](Guarded::strict) mode, refused with
//! [`GuardError::UntrackedWrite`] before it runs
//! (and warned about once per table all the same, so that a refusal an
//! application turns into a bare error response still shows in its logs).
//!
//! # What the guard sees
//!
//! - Every statement sent through the guarded connection or its
//!   transactions, built or raw (`execute_unprepared` included), and each
//!   statement of a batch.
//! - The table each statement writes: the target of `INSERT INTO`,
//!   `REPLACE INTO`, `UPDATE`, `DELETE FROM`, `TRUNCATE` and `MERGE INTO`,
//!   also inside a leading `WITH`, with quoted (`"`, `` ` ``) and
//!   schema-qualified names. `SELECT .. FOR UPDATE`, `ON CONFLICT .. DO
//!   UPDATE` and `ON DUPLICATE KEY UPDATE` are not writes of their own.
//! - Which tables are tracked: those in revy's registry.
//!   [`track!`](crate::track) registers an entity on its first save or
//!   delete; register the others at start-up with
//!   [`register`](crate::registry::register) or [`Guarded::register`], or their
//!   first bypassing write goes unnoticed.
//! - Only while tracking is enabled ([`Context::is_enabled`]). With
//!   [`Guarded::report_without_context`], also writes made with no context
//!   at all (a background job, a seed script, a `tokio::spawn` that did not
//!   carry the context with [`Context::capture`]): nothing journals those.
//!   A write inside a context that disables tracking is never reported.
//!
//! # What it cannot see
//!
//! - Statements sent on a plain [`DatabaseConnection`] or
//!   [`DatabaseTransaction`]: only connections wrapped in [`Guarded`] are
//!   looked at.
//! - What the database does on its own: triggers, stored procedures and
//!   functions, `ON UPDATE` clauses. `ON DELETE` clauses between tracked
//!   tables are the exception: a tracked delete's foreign keys are read from
//!   the catalog, and a cascading key it applies no policy for is reported
//!   (see the [`cascade`](crate::deletion::cascade) module). The guard reads
//!   the statement's text with a small tokenizer, not the database's plan,
//!   so a `CALL` or a `SELECT f()` that writes is invisible.
//! - Other processes and clients writing the same database.
//!
//! [`Context::is_enabled`]: revy_core::Context::is_enabled
//! [`Context::capture`]: revy_core::Context::capture

mod cascade;
mod report;
mod sql;

use std::future::Future;
use std::pin::Pin;

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, TransactionError, TransactionOptions,
    TransactionSession, TransactionTrait,
};

use report::{Settings, check};

pub use crate::error::GuardError;
pub use report::{UntrackedWrites, reset_untracked_writes, untracked_writes};

use crate::registry::TrackedEntity;

/// A connection that notices writes to tracked tables that bypass revy:
/// see the [module documentation](self) for what it sees.
///
/// It is a sea-orm connection like the one it wraps ([`ConnectionTrait`],
/// [`TransactionTrait`]); its transactions ([`GuardedTransaction`]) are
/// guarded too.
///
/// As a connection, in default mode (count and warn):
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, EntityTrait, Set, sea_query::Expr};
///
/// let db = revy_seaorm::guard::Guarded::new(db).register::<user::Entity>();
/// Context::new()
///     .scope(async {
///         // journaled: passes silently
///         user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db).await?;
///         // not journaled: counted, and warned about once
///         user::Entity::update_many()
///             .col_expr(user::Column::Name, Expr::value("Bob"))
///             .exec(&db)
///             .await
///     })
///     .await?;
/// assert!(revy_seaorm::guard::untracked_writes().get("users") >= 1);
/// # Ok(()) }
/// ```
///
/// As a strict connection, refusing such writes:
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ConnectionTrait, EntityTrait};
///
/// let db = revy_seaorm::guard::Guarded::new(db).strict().register::<user::Entity>();
/// let refused = Context::new()
///     .scope(db.execute_unprepared("UPDATE users SET name = 'Bob'"))
///     .await
///     .unwrap_err();
/// assert!(refused.to_string().contains("users"));
/// # Ok(()) }
/// ```
///
/// As a transaction:
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
///
/// let db = revy_seaorm::guard::Guarded::new(db).strict();
/// Context::new()
///     .scope(async {
///         let txn = db.begin().await?; // a GuardedTransaction, strict too
///         user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&txn).await?;
///         txn.commit().await
///     })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Guarded<C = DatabaseConnection> {
    conn: C,
    settings: Settings,
}

/// A transaction of a [`Guarded`] connection, guarded the same way: what
/// [`Guarded::begin`](TransactionTrait::begin) returns.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use sea_orm::TransactionTrait;
///
/// let db = revy_seaorm::guard::Guarded::new(db).strict();
/// let txn: revy_seaorm::guard::GuardedTransaction = db.begin().await?;
/// assert!(txn.is_strict());
/// txn.rollback().await?;
/// # Ok(()) }
/// ```
pub type GuardedTransaction = Guarded<DatabaseTransaction>;

impl<C> Guarded<C> {
    /// Guards `conn` in default mode: untracked writes to tracked tables
    /// made while tracking is enabled are counted and warned about once per
    /// table. Any connection can be wrapped, a transaction too.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// let db = revy_seaorm::guard::Guarded::new(db);
    /// assert!(!db.is_strict());
    /// # Ok(()) }
    /// ```
    pub fn new(conn: C) -> Self {
        Guarded {
            conn,
            settings: Settings {
                on: true,
                strict: false,
                without_context: false,
            },
        }
    }

    /// Strict mode: an untracked write is refused before it runs, with
    /// [`GuardError::UntrackedWrite`] (inside
    /// sea-orm's `DbErr::Custom` where sea-orm's traits return `DbErr`),
    /// naming the table and the tracked call to use. Counted, and warned
    /// about with `tracing` once per table, as outside strict mode: log the
    /// errors you turn into responses too.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use sea_orm::EntityTrait;
    ///
    /// let db = revy_seaorm::guard::Guarded::new(db).strict().register::<user::Entity>();
    /// let refused = Context::new().scope(user::Entity::delete_by_id(1).exec(&db)).await;
    /// assert!(refused.unwrap_err().to_string().contains("revy::deletion::delete"));
    /// # Ok(()) }
    /// ```
    pub fn strict(mut self) -> Self {
        self.settings.strict = true;
        self
    }

    /// Also reports writes to tracked tables made with no context at all
    /// (nothing journals those), not only those made while tracking is
    /// enabled. Writes in a context that disables tracking stay unreported.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use sea_orm::{ActiveModelTrait, Set};
    ///
    /// let db = revy_seaorm::guard::Guarded::new(db).strict().report_without_context().register::<user::Entity>();
    /// // a seed script that forgot its context: refused
    /// let seed = user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db).await;
    /// assert!(seed.unwrap_err().to_string().contains("no revy context"));
    /// # Ok(()) }
    /// ```
    pub fn report_without_context(mut self) -> Self {
        self.settings.without_context = true;
        self
    }

    /// Registers `E` as tracked ([`register`](crate::registry::register)), so the
    /// guard knows its table before its first tracked save.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// let db = revy_seaorm::guard::Guarded::new(db)
    ///     .register::<user::Entity>()
    ///     .register::<account::Entity>();
    /// # Ok(()) }
    /// ```
    pub fn register<E: TrackedEntity>(self) -> Self {
        crate::registry::register::<E>();
        self
    }

    /// Whether untracked writes are refused ([`Guarded::strict`]).
    pub fn is_strict(&self) -> bool {
        self.settings.strict
    }

    /// The wrapped connection. Statements sent on it are not looked at.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// let guarded = revy_seaorm::guard::Guarded::new(db);
    /// let plain: &sea_orm::DatabaseConnection = guarded.inner();
    /// # Ok(()) }
    /// ```
    pub fn inner(&self) -> &C {
        &self.conn
    }

    /// The wrapped connection, unwrapped.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// let db: sea_orm::DatabaseConnection = revy_seaorm::guard::Guarded::new(db).into_inner();
    /// # Ok(()) }
    /// ```
    pub fn into_inner(self) -> C {
        self.conn
    }

    fn wrap<T>(&self, conn: T) -> Guarded<T> {
        Guarded {
            conn,
            settings: self.settings,
        }
    }
}

impl<C: ConnectionTrait> Guarded<C> {
    /// Looks at a statement before it runs; for a tracked delete, also at
    /// the foreign keys that would let the database change other tracked
    /// rows unseen.
    async fn check(&self, sql: &str) -> Result<(), DbErr> {
        let deletes = check(self.settings, self.conn.get_database_backend(), sql)?;
        // read now, on the thread polling the statement, before any await
        let applied: Vec<_> = deletes
            .iter()
            .map(|table| crate::handoff::AppliedPolicies::of(table))
            .collect();
        for (table, applied) in deletes.iter().zip(&applied) {
            cascade::check(&self.conn, table, applied, self.settings.strict).await?;
        }
        Ok(())
    }
}

impl GuardedTransaction {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.conn.commit().await
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.conn.rollback().await
    }
}

#[async_trait::async_trait]
impl<C: ConnectionTrait + Send> ConnectionTrait for Guarded<C> {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.check(&stmt.sql).await?;
        self.conn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.check(sql).await?;
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.check(&stmt.sql).await?;
        self.conn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.check(&stmt.sql).await?;
        self.conn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.conn.is_mock_connection()
    }
}

#[async_trait::async_trait]
impl<C> TransactionTrait for Guarded<C>
where
    C: TransactionTrait + Send,
    C::Transaction: Sync,
{
    type Transaction = Guarded<C::Transaction>;

    async fn begin(&self) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(self.conn.begin().await?))
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(
            self.conn
                .begin_with_config(isolation_level, access_mode)
                .await?,
        ))
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(self.conn.begin_with_options(options).await?))
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
impl<C: TransactionSession + Send> TransactionSession for Guarded<C> {
    async fn commit(self) -> Result<(), DbErr> {
        self.conn.commit().await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        self.conn.rollback().await
    }
}

/// The transactions revy's own multi-statement calls
/// ([`delete`](crate::deletion::delete), [`undo_revision`](crate::rollback::undo_revision))
/// run in: sea-orm's [`DatabaseTransaction`], or a [`GuardedTransaction`],
/// so those calls accept a plain or a [`Guarded`] connection alike. Sealed.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let db = revy_seaorm::guard::Guarded::new(db).strict();
/// Context::new()
///     .scope(async {
///         let acc = account::ActiveModel { code: Set("A-1".into()), ..Default::default() }.insert(&db).await?;
///         // the cascade's own statements pass the strict guard
///         revy_seaorm::deletion::delete(acc).exec(&db).await
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub trait RevyTransaction: sealed::Sealed {}

impl RevyTransaction for DatabaseTransaction {}
impl RevyTransaction for GuardedTransaction {}

pub(crate) mod sealed {
    use super::{GuardedTransaction, Settings};

    /// Turns a transaction into the one type revy's own calls run in.
    pub trait Sealed: Sized {
        /// The transaction, guarded as it was (a plain one not at all).
        fn into_guarded(self) -> GuardedTransaction;
    }

    impl Sealed for sea_orm::DatabaseTransaction {
        fn into_guarded(self) -> GuardedTransaction {
            super::Guarded {
                conn: self,
                settings: Settings::OFF,
            }
        }
    }

    impl Sealed for GuardedTransaction {
        fn into_guarded(self) -> GuardedTransaction {
            self
        }
    }
}

/// Runs `callback` in `txn`, then commits on `Ok` and rolls back on `Err`:
/// sea-orm's `TransactionTrait::transaction` for revy's connections.
pub(crate) async fn run<S, F, T, E>(txn: S, callback: F) -> Result<T, sea_orm::TransactionError<E>>
where
    S: sea_orm::TransactionSession + Send + Sync,
    F: for<'c> FnOnce(
            &'c S,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>,
        > + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    match callback(&txn).await {
        Ok(value) => {
            txn.commit()
                .await
                .map_err(sea_orm::TransactionError::Connection)?;
            Ok(value)
        }
        Err(e) => {
            txn.rollback()
                .await
                .map_err(sea_orm::TransactionError::Connection)?;
            Err(sea_orm::TransactionError::Transaction(e))
        }
    }
}
