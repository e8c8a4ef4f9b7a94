//! What can fail while relaying.

/// An error of the relay, naming the step that failed.
///
/// ```
/// use revy_nats::Error;
///
/// let e = Error::Subject { subject: "revy.a b".into() };
/// assert!(e.to_string().contains("revy.a b"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the change feed from the journal failed.
    #[error("reading the change feed failed: {0}")]
    Feed(#[from] revy_seaorm::Error),
    /// Creating, reading or writing the cursor table failed.
    #[error("cursor table revy_feed_cursors, cursor {name:?}: {source}")]
    Cursor {
        /// The cursor's name.
        name: String,
        /// What the database said.
        source: sea_orm::DbErr,
    },
    /// The JetStream stream could not be found or created.
    #[error(
        "JetStream stream {stream:?} could not be found or created (is the server started with JetStream, `-js`?): {source}"
    )]
    Stream {
        /// The stream's name.
        stream: String,
        /// What the server said.
        source: async_nats::jetstream::context::CreateStreamError,
    },
    /// Publishing a revision, or waiting for JetStream's acknowledgment of
    /// it, failed; the cursor was not moved past it.
    #[error("publishing revision {revision} (position {position}) to JetStream failed: {source}")]
    Publish {
        /// The revision id.
        revision: i64,
        /// The feed position of the part.
        position: i64,
        /// What the client or server said.
        source: async_nats::jetstream::context::PublishError,
    },
    /// A message body could not be encoded or decoded as JSON.
    #[error("the JSON body of a revy message: {0}")]
    Json(#[from] serde_json::Error),
    /// A subject prefix that NATS would not accept.
    #[error(
        "{subject:?} is not a valid NATS subject: use tokens of letters, digits, `-` and `_` joined by `.`"
    )]
    Subject {
        /// The offending subject.
        subject: String,
    },
}
