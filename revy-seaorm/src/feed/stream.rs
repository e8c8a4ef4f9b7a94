//! Subscribing to the feed: an `async` stream that reads when woken, by a
//! PostgreSQL notification or by a timer that backs off.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use sea_orm::ConnectionTrait;

use super::{Feed, FeedRevision};
use crate::error::Error;

/// The first wait after an empty poll; it doubles up to [`MAX_WAIT`].
pub const MIN_WAIT: Duration = Duration::from_millis(10);
/// The longest wait between two polls.
pub const MAX_WAIT: Duration = Duration::from_secs(1);
/// With PostgreSQL notifications, the longest wait for one before the
/// stream reads anyway (a notification sent while the listener was
/// reconnecting is lost).
pub const NOTIFY_FALLBACK: Duration = Duration::from_secs(1);

/// The revisions `feed` delivers, as a stream that never ends:
/// [`Subscription::new`]`(db, feed).into_stream()`.
///
/// It reads with its own statements on `db` (a connection or pool, not a
/// transaction: a transaction's snapshot would never see later commits),
/// so a slow consumer only delays itself, never a writer. An error ends
/// nothing: it is yielded, and the next read tries again. When it reads is
/// the [`Subscription`]'s business: on PostgreSQL with the `feed-postgres`
/// feature, when a commit notifies; elsewhere by polling with backoff.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use futures_util::StreamExt;
/// use revy_core::Context;
/// use revy_seaorm::feed::{Feed, subscribe};
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let mut changes = Box::pin(subscribe(db.clone(), Feed::from_cursor(0).only(["users"])));
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let next = changes.next().await.unwrap()?;
/// assert_eq!(next.deltas[0].object.content_id, "1");
/// # Ok(()) }
/// ```
pub fn subscribe<C>(db: C, feed: Feed) -> impl Stream<Item = Result<FeedRevision, Error>>
where
    C: ConnectionTrait + Send + Sync + 'static,
{
    Subscription::new(db, feed).into_stream()
}

/// How a subscription to the feed waits between reads; build one, then
/// [`into_stream`](Self::into_stream). See the [module](super).
///
/// - **Polling** (SQLite, MySQL/MariaDB, and PostgreSQL without the
///   `feed-postgres` feature): an empty read waits [`MIN_WAIT`], then twice
///   as long each time up to [`MAX_WAIT`]; a read that finds something
///   starts again at the shortest wait.
/// - **Notified** (PostgreSQL, feature `feed-postgres`, `db` a
///   [`DatabaseConnection`](sea_orm::DatabaseConnection)): an empty read
///   waits for the journal's trigger to notify a commit, at most
///   [`NOTIFY_FALLBACK`]. While the feed waits at a gap in the ids, it
///   polls: a gap becomes final without anyone notifying.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use std::time::Duration;
/// use futures_util::StreamExt;
/// use revy_core::Context;
/// use revy_seaorm::feed::{Feed, Subscription};
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let mut changes = Box::pin(
///     Subscription::new(db.clone(), Feed::from_cursor(0))
///         .poll_backoff(Duration::from_millis(5), Duration::from_millis(200))
///         .into_stream(),
/// );
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// assert_eq!(changes.next().await.unwrap()?.deltas.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscription<C> {
    db: C,
    feed: Feed,
    min_wait: Duration,
    max_wait: Duration,
    fallback: Duration,
    #[cfg(feature = "feed-postgres")]
    listen: Option<sea_orm::sqlx::PgPool>,
}

impl<C> Subscription<C>
where
    C: ConnectionTrait + Send + Sync + 'static,
{
    /// A subscription to `feed` read on `db`, notified on PostgreSQL when
    /// the `feed-postgres` feature is on and `db` is a
    /// [`DatabaseConnection`](sea_orm::DatabaseConnection), polling
    /// otherwise.
    pub fn new(db: C, feed: Feed) -> Self {
        Subscription {
            #[cfg(feature = "feed-postgres")]
            listen: super::notify::postgres_pool(&db),
            db,
            feed,
            min_wait: MIN_WAIT,
            max_wait: MAX_WAIT,
            fallback: NOTIFY_FALLBACK,
        }
    }

    /// The shortest and longest wait between two polls (defaults
    /// [`MIN_WAIT`], [`MAX_WAIT`]).
    pub fn poll_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_wait = min;
        self.max_wait = max.max(min);
        self
    }

    /// With notifications, the longest wait for one before reading anyway
    /// (default [`NOTIFY_FALLBACK`]).
    pub fn notify_fallback(mut self, wait: Duration) -> Self {
        self.fallback = wait;
        self
    }

    /// Polls even where notifications are available.
    #[cfg_attr(not(feature = "feed-postgres"), allow(unused_mut))]
    pub fn polling(mut self) -> Self {
        #[cfg(feature = "feed-postgres")]
        {
            self.listen = None;
        }
        self
    }

    /// Listens for notifications on a connection opened with the options
    /// of `pool` (a PostgreSQL pool of the database `db` reads), for a
    /// `db` that is not a [`DatabaseConnection`](sea_orm::DatabaseConnection).
    #[cfg(feature = "feed-postgres")]
    pub fn listen_with(mut self, pool: sea_orm::sqlx::PgPool) -> Self {
        self.listen = Some(pool);
        self
    }

    /// Whether the stream will wait for PostgreSQL notifications.
    pub fn is_notified(&self) -> bool {
        #[cfg(feature = "feed-postgres")]
        {
            self.listen.is_some()
        }
        #[cfg(not(feature = "feed-postgres"))]
        {
            false
        }
    }

    /// The revisions the feed delivers, as a stream that never ends.
    pub fn into_stream(self) -> impl Stream<Item = Result<FeedRevision, Error>> {
        let wait = self.min_wait;
        let state = State {
            sub: self,
            buffer: VecDeque::new(),
            wait,
            #[cfg(feature = "feed-postgres")]
            wakeups: None,
        };
        futures_util::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(next) = s.buffer.pop_front() {
                    return Some((Ok(next), s));
                }
                // listening starts before the read, so no commit falls
                // between the two
                #[cfg(feature = "feed-postgres")]
                if s.wakeups.is_none()
                    && let Some(pool) = &s.sub.listen
                {
                    match super::notify::Wakeups::start(&s.sub.db, pool).await {
                        Ok(w) => s.wakeups = Some(w),
                        Err(e) => {
                            tokio::time::sleep(s.sub.max_wait).await;
                            return Some((Err(e), s));
                        }
                    }
                }
                match s.sub.feed.next_batch(&s.sub.db).await {
                    Ok(batch) if !batch.is_empty() => {
                        s.buffer.extend(batch);
                        s.wait = s.sub.min_wait;
                    }
                    Ok(_) => s.idle().await,
                    Err(e) => {
                        s.wait = s.sub.max_wait;
                        return Some((Err(e), s));
                    }
                }
            }
        })
    }
}

struct State<C> {
    sub: Subscription<C>,
    buffer: VecDeque<FeedRevision>,
    /// The next poll's wait.
    wait: Duration,
    #[cfg(feature = "feed-postgres")]
    wakeups: Option<super::notify::Wakeups>,
}

impl<C> State<C> {
    /// Waits after a read that found nothing.
    async fn idle(&mut self) {
        #[cfg(feature = "feed-postgres")]
        if !self.sub.feed.waits_at_gap()
            && let Some(w) = &mut self.wakeups
        {
            if !w.wait(self.sub.fallback).await {
                self.wakeups = None; // gone: started again before the next read
            }
            return;
        }
        tokio::time::sleep(self.wait).await;
        self.wait = (self.wait * 2).min(self.sub.max_wait);
    }
}
