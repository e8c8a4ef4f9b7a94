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
///
/// With the `sea-orm` feature (which revy-seaorm turns on), `Action` is a
/// string-backed sea-orm `ActiveEnum`: it is the type of the journal's
/// `action` columns, so `delta.action == Action::Create` and
/// `object_delta::Column::Action.eq(Action::Delete)` work as written. The
/// column holds the words above, at most 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(
        rs_type = "String",
        db_type = "String(sea_orm::sea_query::StringLen::N(16))",
        enum_name = "revy_action"
    )
)]
pub enum Action {
    /// A row was inserted.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "Create"))]
    Create,
    /// A row was updated.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "Update"))]
    Update,
    /// A row was deleted.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "Delete"))]
    Delete,
    /// A column received a non-NULL value.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "Set"))]
    Set,
    /// A column became NULL.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "Unset"))]
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

    /// The words sea-orm stores are the ones `as_str` names, so journals
    /// written before `Action` became the column type read back unchanged.
    #[cfg(feature = "sea-orm")]
    #[test]
    fn sea_orm_stores_the_same_words() {
        use sea_orm::{ActiveEnum, Iterable};
        assert_eq!(Action::iter().collect::<Vec<_>>(), Action::ALL);
        for a in Action::ALL {
            assert_eq!(a.to_value(), a.as_str());
            assert_eq!(Action::try_from_value(&a.as_str().to_owned()).unwrap(), a);
        }
        assert!(Action::try_from_value(&"create".to_owned()).is_err());
    }

    #[test]
    fn unknown_action_names_the_input() {
        let err = "Destroy".parse::<Action>().unwrap_err().to_string();
        assert!(err.contains("Destroy"), "{err}");
    }
}
