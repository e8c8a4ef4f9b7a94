//! Subscribing to the feed: an `async` stream that polls with backoff.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use sea_orm::ConnectionTrait;

use super::{Feed, FeedRevision};
use crate::Error;

/// The first wait after an empty poll; it doubles up to [`MAX_WAIT`].
pub const MIN_WAIT: Duration = Duration::from_millis(10);
/// The longest wait between two polls.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// The revisions `feed` delivers, as a stream that never ends: an empty
/// poll waits 10 ms, then twice as long each time up to 1 s, and a poll
/// that finds something starts again at 10 ms. It reads with its own
/// statements on `db` (a connection or pool, not a transaction: a
/// transaction's snapshot would never see later commits), so a slow
/// consumer only delays itself, never a writer. An error ends nothing:
/// it is yielded, and the next poll tries again.
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
    let state = (db, feed, VecDeque::new(), MIN_WAIT);
    futures_util::stream::unfold(state, |(db, mut feed, mut buffer, mut wait)| async move {
        loop {
            if let Some(next) = buffer.pop_front() {
                return Some((Ok(next), (db, feed, buffer, wait)));
            }
            match feed.next_batch(&db).await {
                Ok(batch) if !batch.is_empty() => {
                    buffer.extend(batch);
                    wait = MIN_WAIT;
                }
                Ok(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_WAIT);
                }
                Err(e) => {
                    let state = (db, feed, buffer, MAX_WAIT);
                    return Some((Err(e), state));
                }
            }
        }
    })
}
