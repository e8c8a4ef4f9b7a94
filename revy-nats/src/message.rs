//! The JSON body of a relayed revision.

use revy_core::Action;
use revy_seaorm::feed::{FeedDelta, FeedRevision};
use sea_orm::prelude::DateTimeUtc;
use serde::{Deserialize, Serialize};

/// One relayed revision (or part of one, see
/// [`FeedRevision::position`]): the message body, as JSON.
///
/// The attribute values are the [codec](revy_seaorm::codec)'s JSON, as in
/// the journal, so [`codec::decode`](revy_seaorm::codec::decode) turns them
/// back into sea-orm values.
///
/// ```
/// let body = br#"{"revision":{"id":7,"description":"","meta":null,
///   "created_at":"2026-01-01T00:00:00Z"},"position":12,"deltas":[]}"#;
/// let message = revy_nats::Message::from_json(body)?;
/// assert_eq!((message.revision.id, message.position), (7, 12));
/// # Ok::<(), revy_nats::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The revision.
    pub revision: MessageRevision,
    /// The feed position of this part: its newest object delta's id.
    pub position: i64,
    /// Its object deltas, in id order.
    pub deltas: Vec<MessageDelta>,
}

/// The revision of a [`Message`] (a row of `revy_revisions`).
///
/// ```
/// let r: revy_nats::MessageRevision = serde_json::from_str(
///     r#"{"id":1,"description":"Open","meta":{"ticket":3},"created_at":"2026-01-01T00:00:00Z"}"#,
/// )?;
/// assert_eq!(r.description, "Open");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRevision {
    /// The revision id.
    pub id: i64,
    /// Its description; `""` if none.
    pub description: String,
    /// Its metadata, if any.
    pub meta: Option<serde_json::Value>,
    /// When it was created (UTC).
    pub created_at: DateTimeUtc,
}

/// One object delta of a [`Message`], with its attribute deltas.
///
/// ```
/// let d: revy_nats::MessageDelta = serde_json::from_str(r#"{"id":3,"action":"Delete",
///   "content_type":"users","content_id":"1","actor_type":null,"actor_id":null,
///   "description":"","created_at":"2026-01-01T00:00:00Z","attributes":[]}"#)?;
/// assert_eq!(d.action, revy_core::Action::Delete);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDelta {
    /// The object delta id.
    pub id: i64,
    /// `Create`, `Update` or `Delete`.
    pub action: Action,
    /// The changed row's table.
    pub content_type: String,
    /// The changed row's primary key as text.
    pub content_id: String,
    /// The actor's kind; `None` for the system.
    pub actor_type: Option<String>,
    /// The actor's id; `None` for the system.
    pub actor_id: Option<String>,
    /// The object delta description; `""` if none.
    pub description: String,
    /// When the delta was written (UTC).
    pub created_at: DateTimeUtc,
    /// The object's version after the delta; absent in messages of revy
    /// releases before object versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The delta's hash-chain link and a checkpoint's seal, when the source
    /// journal has tamper evidence on (see `revy::tamper`): a replica that
    /// stores them can run `revy::tamper::verify` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// See [`hash`](Self::hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
    /// The salts of the delta's value digests (see `revy::tamper`), with
    /// [`hash`](Self::hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The column changes, in id order.
    pub attributes: Vec<MessageAttribute>,
}

/// One attribute delta of a [`MessageDelta`]: a column's change.
///
/// ```
/// let a: revy_nats::MessageAttribute = serde_json::from_str(
///     r#"{"field_name":"name","old_value":null,"new_value":"Ann","actor_type":null,"actor_id":null}"#,
/// )?;
/// assert_eq!(a.new_value, serde_json::json!("Ann"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// The column.
    pub field_name: String,
    /// The value before, in the codec's JSON.
    pub old_value: serde_json::Value,
    /// The value after, in the codec's JSON.
    pub new_value: serde_json::Value,
    /// Who set this column: the actor's kind.
    pub actor_type: Option<String>,
    /// Who set this column: the actor's id.
    pub actor_id: Option<String>,
    /// The attribute delta's description (`""`, and absent from older
    /// messages, when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Message {
    /// The message for a delivery of the feed.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
    /// use revy_seaorm::feed::Feed;
    ///
    /// for delivery in Feed::from_cursor(0).next_batch(db).await? {
    ///     let message = revy_nats::Message::from_feed(&delivery);
    ///     println!("{}", message.to_json()?.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn from_feed(delivery: &FeedRevision) -> Self {
        let r = &delivery.revision;
        Message {
            revision: MessageRevision {
                id: r.id,
                description: r.description.clone(),
                meta: r.meta.clone(),
                created_at: r.created_at,
            },
            position: delivery.position,
            deltas: delivery.deltas.iter().map(delta).collect(),
        }
    }

    /// The JSON body.
    ///
    /// ```
    /// let body = br#"{"revision":{"id":7,"description":"","meta":null,
    ///   "created_at":"2026-01-01T00:00:00Z"},"position":12,"deltas":[]}"#;
    /// let message = revy_nats::Message::from_json(body)?;
    /// assert_eq!(revy_nats::Message::from_json(&message.to_json()?)?, message);
    /// # Ok::<(), revy_nats::Error>(())
    /// ```
    pub fn to_json(&self) -> Result<Vec<u8>, crate::Error> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Reads a JSON body, as a consumer of the stream does.
    ///
    /// ```
    /// assert!(revy_nats::Message::from_json(b"{}").is_err());
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Self, crate::Error> {
        Ok(serde_json::from_slice(body)?)
    }

    /// The distinct content types (tables) of its deltas, in order of
    /// first appearance.
    ///
    /// ```
    /// let body = br#"{"revision":{"id":7,"description":"","meta":null,
    ///   "created_at":"2026-01-01T00:00:00Z"},"position":12,"deltas":[]}"#;
    /// assert!(revy_nats::Message::from_json(body)?.content_types().is_empty());
    /// # Ok::<(), revy_nats::Error>(())
    /// ```
    pub fn content_types(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for d in &self.deltas {
            if !out.contains(&d.content_type.as_str()) {
                out.push(&d.content_type);
            }
        }
        out
    }
}

fn delta(d: &FeedDelta) -> MessageDelta {
    let o = &d.object;
    MessageDelta {
        id: o.id,
        action: o.action,
        content_type: o.content_type.clone(),
        content_id: o.content_id.clone(),
        actor_type: o.actor_type.clone(),
        actor_id: o.actor_id.clone(),
        description: o.description.clone(),
        created_at: o.created_at,
        version: Some(o.version),
        hash: o.hash.clone(),
        seal: o.seal.clone(),
        salt: o.salt.clone(),
        attributes: d
            .attributes
            .iter()
            .map(|a| {
                let (actor_type, actor_id) = match a.actor() {
                    Some(actor) => (Some(actor.kind), Some(actor.id)),
                    None => (None, None),
                };
                MessageAttribute {
                    field_name: a.field_name.clone(),
                    old_value: a.old_value.clone(),
                    new_value: a.new_value.clone(),
                    actor_type,
                    actor_id,
                    description: a.description.clone(),
                }
            })
            .collect(),
    }
}
