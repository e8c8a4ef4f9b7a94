//! Who performs a change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// Identifies whoever performs a change: a user, an organisation, a job.
///
/// An actor is a pair of strings: its `kind` (for a database model, the table
/// name) and its `id` (the primary key as text). The system itself, a change
/// nobody in particular made, is written `None` wherever an `Option<Actor>`
/// is expected.
///
/// ```
/// use revy_core::Actor;
///
/// let alice = Actor::new("users", 7);
/// assert_eq!(alice.kind, "users");
/// assert_eq!(alice.id, "7");
///
/// // Display and FromStr use `kind:id`, splitting at the first colon.
/// assert_eq!(alice.to_string(), "users:7");
/// assert_eq!("users:7".parse::<Actor>().unwrap(), alice);
/// ```
///
/// The journal stores an actor as two columns (`actor_type`, `actor_id`),
/// both NULL for the system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of actor this is; for a database row, its table name.
    pub kind: String,
    /// The actor's identifier within its kind, as text.
    pub id: String,
}

impl Actor {
    /// Makes an actor from a kind and any identifier that can be written as text.
    ///
    /// ```
    /// use revy_core::Actor;
    /// let job = Actor::new("jobs", "nightly-import");
    /// assert_eq!(job.id, "nightly-import");
    /// ```
    pub fn new(kind: impl Into<String>, id: impl ToString) -> Self {
        Actor {
            kind: kind.into(),
            id: id.to_string(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

impl FromStr for Actor {
    type Err = ParseError;

    /// Parses `kind:id`. The kind may not be empty nor contain a colon; the id
    /// is everything after the first colon and may contain colons itself.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((kind, id)) if !kind.is_empty() => Ok(Actor::new(kind, id)),
            _ => Err(ParseError::Actor(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_with_colons() {
        let a: Actor = "urn:isbn:123".parse().unwrap();
        assert_eq!(a, Actor::new("urn", "isbn:123"));
        assert_eq!(a.to_string().parse::<Actor>().unwrap(), a);
    }

    #[test]
    fn rejects_text_without_kind() {
        assert!("nocolon".parse::<Actor>().is_err());
        assert!(":7".parse::<Actor>().is_err());
        let err = "nocolon".parse::<Actor>().unwrap_err().to_string();
        assert!(err.contains("nocolon"), "{err}");
    }

    #[test]
    fn serde_round_trip() {
        let a = Actor::new("users", 1);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"kind":"users","id":"1"}"#);
        assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), a);
    }
}
