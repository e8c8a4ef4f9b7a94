//! The relay: the change feed into a JetStream stream, one message per
//! delivered revision, the cursor stored after the acknowledgments.

use std::convert::Infallible;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use revy_seaorm::entity::object_delta;
use revy_seaorm::feed::{Feed, FeedRevision};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::{Error, Message, cursor};

/// The subject prefix unless [`Relay::subject_prefix`] says otherwise.
/// ```
/// assert_eq!(revy_nats::Relay::new().subject("users"), format!("{}.users", revy_nats::DEFAULT_PREFIX));
/// ```
pub const DEFAULT_PREFIX: &str = "revy";
/// The stream name unless [`Relay::stream`] says otherwise.
/// ```
/// assert_eq!(revy_nats::DEFAULT_STREAM, "REVY");
/// ```
pub const DEFAULT_STREAM: &str = "REVY";
/// The cursor name unless [`Relay::name`] says otherwise.
/// ```
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), revy_nats::Error> {
/// let position = revy_nats::load_cursor(db, revy_nats::DEFAULT_NAME).await?;
/// # Ok(()) }
/// ```
pub const DEFAULT_NAME: &str = "revy-nats";
/// The duplicate window of a stream the relay creates, unless
/// [`Relay::duplicate_window`] says otherwise: JetStream drops a message
/// whose `Nats-Msg-Id` it saw this recently.
/// ```
/// assert_eq!(revy_nats::DEFAULT_DUPLICATE_WINDOW.as_secs(), 120);
/// ```
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Messages published before their acknowledgments are awaited.
const PIPELINE: usize = 256;
/// The longest wait between two polls of the feed when it is idle.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// The first wait after an idle poll; it doubles up to [`MAX_WAIT`].
const MIN_WAIT: Duration = Duration::from_millis(10);

/// The longest wait of [`Relay::drain`] for ids whose fate is not known.
const DRAIN_MAX_WAIT: Duration = Duration::from_millis(100);

/// Header: the revision id.
/// ```
/// # fn f(m: &async_nats::jetstream::Message) {
/// let revision = m.headers.as_ref().and_then(|h| h.get(revy_nats::HEADER_REVISION));
/// # }
/// ```
pub const HEADER_REVISION: &str = "Revy-Revision";
/// Header: the feed position of the part (its newest object delta id).
/// ```
/// # fn f(m: &async_nats::jetstream::Message) {
/// let position = m.headers.as_ref().and_then(|h| h.get(revy_nats::HEADER_POSITION));
/// # }
/// ```
pub const HEADER_POSITION: &str = "Revy-Position";
/// Header: every content type (table) of the message, comma-separated, in
/// order of first appearance.
/// ```
/// # fn f(m: &async_nats::jetstream::Message) -> bool {
/// // a consumer of one table, on a stream of several
/// m.headers
///     .as_ref()
///     .and_then(|h| h.get(revy_nats::HEADER_CONTENT_TYPES))
///     .is_some_and(|v| v.as_str().split(',').any(|t| t == "invoices"))
/// # }
/// ```
pub const HEADER_CONTENT_TYPES: &str = "Revy-Content-Types";

/// Relays the change feed to a NATS JetStream stream. See the
/// [crate](crate) docs for the delivery guarantees.
///
/// As a library task, forever:
///
/// ```no_run
/// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("127.0.0.1:4222").await?;
/// let relay = revy_nats::Relay::new().subject_prefix("shop").stream("SHOP").name("shop-relay");
/// tokio::spawn(async move { relay.run(&db, client).await });
/// # Ok(()) }
/// ```
///
/// Once, until the feed has nothing more ready (a batch job, a test):
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("127.0.0.1:4222").await?;
/// let published = revy_nats::Relay::new().drain(db, client).await?;
/// println!("{published} messages");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Relay {
    prefix: String,
    stream: String,
    name: String,
    duplicate_window: Duration,
    gap_grace: Option<Duration>,
    batch: u64,
}

impl Default for Relay {
    fn default() -> Self {
        Relay::new()
    }
}

impl Relay {
    /// A relay with the defaults: subjects `revy.<content_type>`, stream
    /// `REVY`, cursor `revy-nats`.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new();
    /// # let _ = relay;
    /// ```
    pub fn new() -> Self {
        Relay {
            prefix: DEFAULT_PREFIX.into(),
            stream: DEFAULT_STREAM.into(),
            name: DEFAULT_NAME.into(),
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            gap_grace: None,
            batch: revy_seaorm::feed::DEFAULT_BATCH,
        }
    }

    /// The subject prefix: messages go to `<prefix>.<content_type>`, and a
    /// stream the relay creates listens on `<prefix>.>`.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().subject_prefix("shop.history");
    /// # let _ = relay;
    /// ```
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The JetStream stream's name; the relay creates it when it is missing.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().stream("SHOP_HISTORY");
    /// # let _ = relay;
    /// ```
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The cursor's name in `revy_feed_cursors`: one per relay (two relays
    /// of one journal to two streams need two names).
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().name("search-relay");
    /// # let _ = relay;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The duplicate window of a stream the relay creates (an existing
    /// stream keeps its own); a relay restarted within it never duplicates
    /// a message.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().duplicate_window(std::time::Duration::from_secs(600));
    /// # let _ = relay;
    /// ```
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// The feed's [gap grace](Feed::gap_grace).
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().gap_grace(std::time::Duration::from_millis(500));
    /// # let _ = relay;
    /// ```
    pub fn gap_grace(mut self, grace: Duration) -> Self {
        self.gap_grace = Some(grace);
        self
    }

    /// Object deltas the feed reads per batch; the cursor is stored once
    /// per batch.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new().batch_size(200);
    /// # let _ = relay;
    /// ```
    pub fn batch_size(mut self, n: u64) -> Self {
        self.batch = n.max(1);
        self
    }

    /// The subject of a message: `<prefix>.<content type of its first
    /// delta>`, each character of the content type that NATS does not allow
    /// in a subject token (anything but letters, digits, `-` and `_`, so
    /// also the `.` of a schema-qualified table) replaced by `_`.
    ///
    /// ```
    /// let relay = revy_nats::Relay::new();
    /// assert_eq!(relay.subject("users"), "revy.users");
    /// assert_eq!(relay.subject("billing.invoices"), "revy.billing_invoices");
    /// ```
    pub fn subject(&self, content_type: &str) -> String {
        let token: String = content_type
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}.{}", self.prefix, token)
    }

    /// The `Nats-Msg-Id` of a delivery: `<revision id>:<position>`.
    ///
    /// It holds the position too because whether a revision arrives in parts
    /// is not known when its first part is published (a context's revision
    /// can be used again by a later transaction), and a relay restarted from
    /// a cursor below a published part may deliver that part and the next
    /// together: that message must not be dropped as a duplicate of the
    /// first. A revision written by one transaction always has the same
    /// position, so its id is the same on every re-publish.
    ///
    /// ```
    /// assert_eq!(revy_nats::Relay::msg_id(41, 57), "41:57");
    /// ```
    pub fn msg_id(revision: i64, position: i64) -> String {
        format!("{revision}:{position}")
    }

    /// Relays forever: from the stored cursor, each delivery of the feed is
    /// published, the acknowledgments awaited, then the cursor stored; when
    /// the feed is idle it polls again after 10 ms, doubling up to 1 s.
    ///
    /// It returns only with an error (the database or NATS failed): the
    /// caller decides whether to restart it, which is always safe. Dropping
    /// the future at any point is safe too: what was published but not yet
    /// stored as the cursor is published again by the next run, and
    /// JetStream drops it within the duplicate window.
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = async_nats::connect("127.0.0.1:4222").await?;
    /// let task = tokio::spawn(async move { revy_nats::Relay::new().run(&db, client).await });
    /// // ... on shutdown:
    /// task.abort();
    /// # Ok(()) }
    /// ```
    pub async fn run<C: ConnectionTrait>(
        &self,
        db: &C,
        client: async_nats::Client,
    ) -> Result<Infallible, Error> {
        let (js, mut feed, mut stored) = self.start(db, client).await?;
        let mut wait = MIN_WAIT;
        loop {
            if self.step(db, &js, &mut feed, &mut stored).await? > 0 {
                wait = MIN_WAIT;
            } else {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
        }
    }

    /// Relays every revision committed before the call, batch after batch,
    /// and returns the number of messages published (re-publishes JetStream
    /// dropped as duplicates included). Ids above the cursor whose fate is
    /// not known yet (taken by a transaction still running, or a gap within
    /// the grace period) are waited for, polling every 10 to 100 ms, so a
    /// long transaction delays the return, and writers that never pause
    /// keep it going; use [`run`](Relay::run) for a relay that never stops.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = async_nats::connect("127.0.0.1:4222").await?;
    /// revy_nats::Relay::new().stream("NIGHTLY").drain(db, client).await?;
    /// # Ok(()) }
    /// ```
    pub async fn drain<C: ConnectionTrait>(
        &self,
        db: &C,
        client: async_nats::Client,
    ) -> Result<u64, Error> {
        let (js, mut feed, mut stored) = self.start(db, client).await?;
        let mut total = 0;
        let mut wait = MIN_WAIT;
        loop {
            let n = self.step(db, &js, &mut feed, &mut stored).await?;
            if n > 0 {
                total += n;
                wait = MIN_WAIT;
            } else if pending(db, feed.cursor()).await? {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(DRAIN_MAX_WAIT);
            } else {
                return Ok(total);
            }
        }
    }

    /// The stream made sure of, the cursor table created, the feed at the
    /// stored cursor.
    async fn start<C: ConnectionTrait>(
        &self,
        db: &C,
        client: async_nats::Client,
    ) -> Result<(jetstream::Context, Feed, i64), Error> {
        if !valid_prefix(&self.prefix) {
            return Err(Error::Subject {
                subject: self.prefix.clone(),
            });
        }
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.prefix)],
            duplicate_window: self.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(|source| Error::Stream {
            stream: self.stream.clone(),
            source,
        })?;
        cursor::install_cursors(db).await?;
        let stored = cursor::load_cursor(db, &self.name).await?;
        let mut feed = Feed::from_cursor(stored).batch_size(self.batch);
        if let Some(grace) = self.gap_grace {
            feed = feed.gap_grace(grace);
        }
        Ok((js, feed, stored))
    }

    /// One batch of the feed: published, acknowledged, the cursor stored.
    async fn step<C: ConnectionTrait>(
        &self,
        db: &C,
        js: &jetstream::Context,
        feed: &mut Feed,
        stored: &mut i64,
    ) -> Result<u64, Error> {
        let batch = feed.next_batch(db).await?;
        for window in batch.chunks(PIPELINE) {
            let mut acks = Vec::with_capacity(window.len());
            for delivery in window {
                let (subject, headers, body) = self.message(delivery)?;
                let ack = js
                    .publish_with_headers(subject, headers, body.into())
                    .await
                    .map_err(|source| publish_error(delivery, source))?;
                acks.push((delivery, ack));
            }
            for (delivery, ack) in acks {
                ack.await
                    .map_err(|source| publish_error(delivery, source))?;
            }
        }
        if feed.cursor() != *stored {
            cursor::store_cursor(db, &self.name, feed.cursor()).await?;
            *stored = feed.cursor();
        }
        Ok(batch.len() as u64)
    }

    fn message(&self, delivery: &FeedRevision) -> Result<(String, HeaderMap, Vec<u8>), Error> {
        let message = Message::from_feed(delivery);
        let types = message.content_types();
        let subject = self.subject(types.first().copied().unwrap_or("_"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            Relay::msg_id(delivery.revision.id, delivery.position).as_str(),
        );
        headers.insert(HEADER_REVISION, delivery.revision.id.to_string().as_str());
        headers.insert(HEADER_POSITION, delivery.position.to_string().as_str());
        headers.insert(HEADER_CONTENT_TYPES, types.join(",").as_str());
        Ok((subject, headers, message.to_json()?))
    }
}

/// Whether an object delta above `cursor` is visible: something the feed
/// has not delivered whole yet.
async fn pending<C: ConnectionTrait>(db: &C, cursor: i64) -> Result<bool, Error> {
    let next: Option<i64> = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::Id)
        .filter(object_delta::Column::Id.gt(cursor))
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .map_err(revy_seaorm::Error::Db)?;
    Ok(next.is_some())
}

/// Tokens of letters, digits, `-` and `_`, joined by `.`: no wildcard, no
/// empty token.
fn valid_prefix(prefix: &str) -> bool {
    prefix.split('.').all(|t| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

fn publish_error(
    delivery: &FeedRevision,
    source: async_nats::jetstream::context::PublishError,
) -> Error {
    Error::Publish {
        revision: delivery.revision.id,
        position: delivery.position,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revy_core::Action;
    use revy_seaorm::entity::{object_delta, revision};
    use revy_seaorm::feed::FeedDelta;

    fn delta(id: i64, content_type: &str) -> FeedDelta {
        FeedDelta {
            object: object_delta::Model {
                id,
                revision_id: 41,
                actor_type: None,
                actor_id: None,
                action: Action::Create,
                description: String::new(),
                content_type: content_type.into(),
                content_id: "1".into(),
                created_at: Default::default(),
                version: 1,
                hash: None,
                seal: None,
                salt: None,
                changes: "[]".into(),
                state: None,
            },
            attributes: Vec::new(),
        }
    }

    /// A revision of several tables: one message, on its first table's
    /// subject, every table in the header, the position in the id.
    #[test]
    fn a_multi_table_revision_is_one_message_listing_its_tables() {
        let delivery = FeedRevision {
            revision: revision::Model {
                id: 41,
                description: "Invoice".into(),
                meta: None,
                created_at: Default::default(),
            },
            deltas: vec![
                delta(55, "accounts"),
                delta(56, "billing.invoices"),
                delta(57, "accounts"),
            ],
            position: 57,
        };
        let (subject, headers, body) = Relay::new().message(&delivery).unwrap();
        assert_eq!(subject, "revy.accounts");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| AsRef::<str>::as_ref(*k) == name)
                .and_then(|(_, v)| v.first())
                .map(|v| v.to_string())
        };
        assert_eq!(header("Nats-Msg-Id").as_deref(), Some("41:57"));
        assert_eq!(
            header(HEADER_CONTENT_TYPES).as_deref(),
            Some("accounts,billing.invoices")
        );
        assert_eq!(header(HEADER_REVISION).as_deref(), Some("41"));
        assert_eq!(header(HEADER_POSITION).as_deref(), Some("57"));
        let message = Message::from_json(&body).unwrap();
        assert_eq!(message.deltas.len(), 3);
        assert_eq!(message.position, 57);
    }

    #[test]
    fn prefixes_with_wildcards_or_empty_tokens_are_refused() {
        assert!(valid_prefix("revy"));
        assert!(valid_prefix("shop.history-v2"));
        for bad in ["", "revy.>", "revy.*", "a..b", "a b", "revy."] {
            assert!(!valid_prefix(bad), "{bad:?}");
        }
    }
}
