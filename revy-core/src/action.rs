//! What a delta did.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// The action a delta records.
///
/// Object deltas are `Create`, `Update` or `Delete`; attribute deltas are
/// `Set` (the column got a value) or `Unset` (the column became NULL). The
/// journal stores them as these exact words.
///
/// ```
/// use revy_core::Action;
///
/// assert_eq!(Action::Create.as_str(), "Create");
/// assert_eq!("Unset".parse::<Action>().unwrap(), Action::Unset);
/// assert!(Action::Delete.is_object_action());
/// assert!(!Action::Set.is_object_action());
/// assert!("create".parse::<Action>().is_err()); // exact spelling only
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// A row was inserted.
    Create,
    /// A row was updated.
    Update,
    /// A row was deleted.
    Delete,
    /// A column received a non-NULL value.
    Set,
    /// A column became NULL.
    Unset,
}

impl Action {
    /// Every action, object actions first.
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Set,
        Action::Unset,
    ];

    /// The word stored in the journal.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Delete => "Delete",
            Action::Set => "Set",
            Action::Unset => "Unset",
        }
    }

    /// True for the actions of object deltas (`Create`, `Update`, `Delete`).
    pub const fn is_object_action(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ParseError::Action(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_text_and_serde() {
        for a in Action::ALL {
            assert_eq!(a.to_string().parse::<Action>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
        }
    }

    #[test]
    fn unknown_action_names_the_input() {
        let err = "Destroy".parse::<Action>().unwrap_err().to_string();
        assert!(err.contains("Destroy"), "{err}");
    }
}
