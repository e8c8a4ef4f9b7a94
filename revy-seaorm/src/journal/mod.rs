//! The journal: revisions, object deltas, attribute deltas and tags, as
//! SeaORM entities, and the schema that holds them.

pub mod attribute_delta;
pub mod erasure;
#[cfg(feature = "migration")]
pub mod migration;
pub mod object_delta;
pub mod revision;
pub(crate) mod schema;
pub(crate) mod state;
pub mod tag;
pub(crate) mod trigger;

pub use schema::{CONTENT_ID_LEN, CONTENT_TYPE_LEN, FIELD_NAME_LEN, TAG_NAME_LEN, install};

/// The actor that a row's `actor_type` and `actor_id` columns name: both
/// NULL (or either, in a row written by hand) is the system.
pub(crate) fn actor_from_columns(
    kind: Option<String>,
    id: Option<String>,
) -> Option<revy_core::Actor> {
    match (kind, id) {
        (Some(kind), Some(id)) => Some(revy_core::Actor { kind, id }),
        _ => None,
    }
}

/// The `actor_type` and `actor_id` columns of an actor (both NULL: the
/// system).
pub(crate) fn actor_columns(actor: &Option<revy_core::Actor>) -> (Option<String>, Option<String>) {
    match actor {
        Some(a) => (Some(a.kind.clone()), Some(a.id.clone())),
        None => (None, None),
    }
}

/// The attribute delta action for a new value: `Unset` iff it is NULL.
pub(crate) fn attribute_action(new_value: &serde_json::Value) -> revy_core::Action {
    if new_value.is_null() {
        revy_core::Action::Unset
    } else {
        revy_core::Action::Set
    }
}
