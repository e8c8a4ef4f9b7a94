//! Attribute deltas: one column of one change, as the public value
//! [`AttributeDelta`].
//!
//! Each object delta holds its attribute deltas inline (its `changes`
//! column, in the encoding [`encode`] describes);
//! [`Model::attribute_deltas`](super::object_delta::Model::attribute_deltas)
//! decodes them. They have no table of their own.

use revy_core::{Action, Actor};
use serde::Serialize;

/// One column of one change (an object delta): its name, the value before
/// and after in revy's JSON encoding (see [`codec`](crate::codec); JSON
/// `null` is SQL NULL, e.g. the old value on create), `Set` or `Unset`, and
/// who set it and why.
///
/// An entry's actor and description are its object delta's, except where a
/// [draft](crate::Tracked) recorded columns set by several actors in one
/// change: entries for one column by different actors stay separate and in
/// the order they happened.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Actor, Context};
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let ann = Context::via_actor(Some(Actor::new("users", 9)))
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let created = &revy_seaorm::history::<user::Entity>(ann.id).all(&db).await?[0];
/// let entries = created.attribute_deltas()?;
/// let name = entries.iter().find(|e| e.field_name == "name").unwrap();
/// assert_eq!((&name.old_value, &name.new_value), (&serde_json::json!(null), &serde_json::json!("Ann")));
/// assert_eq!(name.action, Action::Set);
/// assert_eq!(name.actor(), Some(Actor::new("users", 9)));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AttributeDelta {
    /// The column's name.
    pub field_name: String,
    /// The value before the change (JSON `null` for none, e.g. on create).
    pub old_value: serde_json::Value,
    /// The value after the change.
    pub new_value: serde_json::Value,
    /// `Set`, or `Unset` when the new value is NULL.
    pub action: Action,
    /// Who set the column: `None` is the system.
    pub actor: Option<Actor>,
    /// The context's attribute delta description at the time (`""` if none).
    pub description: String,
}

impl AttributeDelta {
    /// An entry: `column` from `old_value` to `new_value` (revy's JSON
    /// encoding), set by `actor` with `description`; the action follows
    /// from the new value. For code that writes journal rows itself, such
    /// as a replica, with [`encode`].
    pub fn new(
        column: impl Into<String>,
        old_value: serde_json::Value,
        new_value: serde_json::Value,
        actor: Option<Actor>,
        description: impl Into<String>,
    ) -> Self {
        AttributeDelta {
            field_name: column.into(),
            action: if new_value.is_null() {
                Action::Unset
            } else {
                Action::Set
            },
            old_value,
            new_value,
            actor,
            description: description.into(),
        }
    }

    /// Who set the column: `Some(actor)`, or `None` for the system.
    pub fn actor(&self) -> Option<Actor> {
        self.actor.clone()
    }
}

/// The `changes` column of an object delta by `actor` with `description`
/// that holds `entries`: what code that writes journal rows itself (a
/// replica of a relayed journal, say) stores, so that
/// [`object_delta::Model::attribute_deltas`](super::object_delta::Model::attribute_deltas)
/// reads them back.
///
/// The encoding is a JSON array with one element per entry, in order:
/// `[column, new]` when the old value is `null` (a create), `[column, old,
/// new]` otherwise, and a fourth element `{"a": actor, "d": description}`
/// (actor `[kind, id]` or `null`, only the keys that differ) for an entry
/// whose actor or description is not the object delta's. The action is
/// not stored: it is `Unset` exactly when the new value is `null`.
///
/// ```
/// use revy_core::Actor;
/// use revy_seaorm::AttributeDelta;
/// use revy_seaorm::entity::attribute_delta;
/// use serde_json::json;
///
/// let ann = Some(Actor::new("users", 1));
/// let entries = vec![AttributeDelta::new("name", json!("Ann"), json!("Annie"), ann.clone(), "")];
/// let text = attribute_delta::encode(&entries, &ann, "");
/// assert_eq!(text, r#"[["name","Ann","Annie"]]"#);
/// ```
pub fn encode(entries: &[AttributeDelta], actor: &Option<Actor>, description: &str) -> String {
    let changes: Vec<crate::record::rows::AttributeChange> = entries
        .iter()
        .map(|e| crate::record::rows::AttributeChange {
            field_name: e.field_name.clone(),
            old_value: e.old_value.clone(),
            new_value: e.new_value.clone(),
            actor: e.actor.clone(),
            description: e.description.clone(),
        })
        .collect();
    encode_entries(&changes, actor, description)
}

/// A change's attribute deltas as its object delta's `changes` column
/// holds them: a JSON array with one element per entry, in order.
///
/// - `[field, new]`: the old value is `null` (a create, a baseline);
/// - `[field, old, new]`;
/// - `[field, old, new, {"a": actor, "d": description}]`: an entry whose
///   actor (`[kind, id]`, or `null` for the system) or description differs
///   from its object delta's says so, with only the key that differs.
///
/// The action is not stored: it is `Unset` exactly when the new value is
/// `null`.
pub(crate) fn encode_entries(
    changes: &[crate::record::rows::AttributeChange],
    actor: &Option<Actor>,
    description: &str,
) -> String {
    use serde_json::Value;
    let entries: Vec<Value> = changes
        .iter()
        .map(|c| {
            let mut entry = vec![Value::String(c.field_name.clone())];
            let mut overrides = serde_json::Map::new();
            if c.actor != *actor {
                overrides.insert(
                    "a".into(),
                    match &c.actor {
                        Some(a) => serde_json::json!([a.kind, a.id]),
                        None => Value::Null,
                    },
                );
            }
            if c.description != description {
                overrides.insert("d".into(), Value::String(c.description.clone()));
            }
            if !c.old_value.is_null() || !overrides.is_empty() {
                entry.push(c.old_value.clone());
            }
            entry.push(c.new_value.clone());
            if !overrides.is_empty() {
                entry.push(Value::Object(overrides));
            }
            Value::Array(entry)
        })
        .collect();
    Value::Array(entries).to_string()
}

/// The entries [`encode_entries`] wrote, with the object delta's own actor
/// and description where an entry does not say otherwise.
pub(crate) fn decode_entries(
    text: &str,
    actor: &Option<Actor>,
    description: &str,
) -> Result<Vec<AttributeDelta>, String> {
    use serde_json::Value;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Value::Array(entries) =
        serde_json::from_str::<Value>(text).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("not a JSON array".into());
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let Value::Array(mut parts) = entry else {
                return Err(format!("entry {i} is not an array"));
            };
            let overrides = match parts.last() {
                Some(Value::Object(_)) if parts.len() == 4 => match parts.pop() {
                    Some(Value::Object(o)) => Some(o),
                    _ => None,
                },
                _ => None,
            };
            let (field, old, new) = match parts.len() {
                2 => {
                    let new = parts.pop().unwrap_or_default();
                    (parts.pop(), Value::Null, new)
                }
                3 => {
                    let new = parts.pop().unwrap_or_default();
                    let old = parts.pop().unwrap_or_default();
                    (parts.pop(), old, new)
                }
                n => return Err(format!("entry {i} has {n} elements")),
            };
            let Some(Value::String(field_name)) = field else {
                return Err(format!("entry {i} does not start with a column name"));
            };
            let mut entry_actor = actor.clone();
            let mut entry_description = description.to_owned();
            if let Some(o) = overrides {
                if let Some(a) = o.get("a") {
                    entry_actor = match a {
                        Value::Null => None,
                        Value::Array(pair) => match pair.as_slice() {
                            [Value::String(kind), Value::String(id)] => Some(Actor {
                                kind: kind.clone(),
                                id: id.clone(),
                            }),
                            _ => return Err(format!("entry {i} names a malformed actor")),
                        },
                        _ => return Err(format!("entry {i} names a malformed actor")),
                    };
                }
                if let Some(d) = o.get("d") {
                    let Value::String(d) = d else {
                        return Err(format!("entry {i} has a malformed description"));
                    };
                    entry_description = d.clone();
                }
            }
            Ok(AttributeDelta {
                action: if new.is_null() {
                    Action::Unset
                } else {
                    Action::Set
                },
                field_name,
                old_value: old,
                new_value: new,
                actor: entry_actor,
                description: entry_description,
            })
        })
        .collect()
}
