//! PostgreSQL wake-ups: a trigger that sends a `NOTIFY` in every writing
//! transaction, and a listener that turns them into wake-ups of a
//! subscription (see the [feed](super) module).

pub use crate::journal::trigger::NOTIFY_CHANNEL;

#[cfg(feature = "feed-postgres")]
pub(super) use listener::{Wakeups, postgres_pool};

#[cfg(feature = "feed-postgres")]
mod listener {
    use std::any::Any;
    use std::time::Duration;

    use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
    use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseConnectionType, Statement};
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use super::NOTIFY_CHANNEL;
    use crate::error::Error;

    /// The pool of `db` when it is a sea-orm connection to PostgreSQL.
    /// `subscribe` is generic over the connection; only this one type
    /// carries a pool to open a listener from.
    pub(in crate::feed) fn postgres_pool<C: 'static>(db: &C) -> Option<PgPool> {
        let db = (db as &dyn Any).downcast_ref::<DatabaseConnection>()?;
        match &db.inner {
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                Some(db.get_postgres_connection_pool().clone())
            }
            _ => None,
        }
    }

    /// Wake-ups from notifications of the journal's schema. A task owns
    /// the listening connection and reads every notification as it
    /// arrives, folding them into one pending wake-up: however slowly the
    /// subscriber consumes, PostgreSQL's notification queue never waits
    /// for it.
    #[derive(Debug)]
    pub(in crate::feed) struct Wakeups {
        pending: mpsc::Receiver<()>,
        task: JoinHandle<()>,
    }

    impl Drop for Wakeups {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Wakeups {
        /// Listens on a connection of its own, opened with the options of
        /// `pool`, so it takes nothing from the application's pool.
        pub(in crate::feed) async fn start<C: ConnectionTrait>(
            db: &C,
            pool: &PgPool,
        ) -> Result<Self, Error> {
            let schema = journal_schema(db).await?;
            let own = PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_with((*pool.connect_options()).clone())
                .await
                .map_err(listen_error)?;
            let mut listener = PgListener::connect_with(&own).await.map_err(listen_error)?;
            listener
                .listen(NOTIFY_CHANNEL)
                .await
                .map_err(listen_error)?;
            let (wake, pending) = mpsc::channel(1);
            let task = tokio::spawn(relay(listener, schema, wake));
            Ok(Wakeups { pending, task })
        }

        /// Waits for a notification, at most `fallback`; `false` when the
        /// listener is gone (the subscription then polls).
        pub(in crate::feed) async fn wait(&mut self, fallback: Duration) -> bool {
            !matches!(
                tokio::time::timeout(fallback, self.pending.recv()).await,
                Ok(None)
            )
        }
    }

    async fn relay(mut listener: PgListener, schema: Option<String>, wake: mpsc::Sender<()>) {
        loop {
            let woken = match listener.try_recv().await {
                Ok(Some(n)) => schema.as_deref().is_none_or(|s| s == n.payload()),
                // the connection was lost and is back: what was sent
                // meanwhile is lost, so read anyway
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "revy feed: listening for notifications failed");
                    tokio::time::sleep(super::super::stream::MAX_WAIT).await;
                    true
                }
            };
            // a full channel already holds a wake-up: this one folds into it
            if woken && let Err(mpsc::error::TrySendError::Closed(())) = wake.try_send(()) {
                return;
            }
        }
    }

    /// The schema holding `revy_object_deltas` as `db` resolves it, which
    /// the trigger sends as payload (`None`: not found, any payload wakes).
    async fn journal_schema<C: ConnectionTrait>(db: &C) -> Result<Option<String>, Error> {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT n.nspname AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = to_regclass('revy_object_deltas')",
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("", "s")?),
            None => None,
        })
    }

    fn listen_error(e: sea_orm::sqlx::Error) -> Error {
        Error::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
            std::sync::Arc::new(e),
        )))
    }
}
