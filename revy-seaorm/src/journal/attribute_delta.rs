//! Attribute deltas: one column of one change, as the public value
//! [`AttributeDelta`].
//!
//! Each object delta holds its attribute deltas inline (its `changes`
//! column, in the encoding [`encode`] describes);
//! [`Model::attribute_deltas`](super::object_delta::Model::attribute_deltas)
//! decodes them. They have no table of their own.

use revy_core::{Action, Actor};
use serde::Serialize;

/// One column's change, ready to be written (inline in its object delta).
#[derive(Debug, Clone)]
pub(crate) struct AttributeChange {
    pub field_name: String,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    pub actor: Option<Actor>,
    pub description: String,
}

/// One column of one change (an object delta): its name, the value before
/// and after in revy's JSON encoding (see [`codec`](crate::codec); JSON
/// `null` is SQL NULL, e.g. the old value on create), `Set` or `Unset`, and
/// who set it and why.
///
/// An entry's actor and description are its object delta's, except where a
/// [draft](crate::hooks::draft::Tracked) recorded columns set by several actors in one
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
/// let created = &revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?[0];
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
/// use revy_seaorm::history::AttributeDelta;
/// use revy_seaorm::entity::attribute_delta;
/// use serde_json::json;
///
/// let ann = Some(Actor::new("users", 1));
/// let entries = vec![AttributeDelta::new("name", json!("Ann"), json!("Annie"), ann.clone(), "")];
/// let text = attribute_delta::encode(&entries, &ann, "");
/// assert_eq!(text, r#"[["name","Ann","Annie"]]"#);
/// ```
pub fn encode(entries: &[AttributeDelta], actor: &Option<Actor>, description: &str) -> String {
    let changes: Vec<AttributeChange> = entries
        .iter()
        .map(|e| AttributeChange {
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
    changes: &[AttributeChange],
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

/// What a fold needs of a `changes` column: each entry's column and new
/// value, in order, passed to `set`. Accepts exactly what
/// [`decode_entries`] accepts and gives the same columns and values, but
/// builds no [`AttributeDelta`] (no old value kept, no actor or
/// description copied) and no JSON tree of the whole column: the entries
/// are read straight off the text. Where the quick reading refuses the
/// text, [`decode_entries`] reads it again, for its entries or for its
/// error, so the reasons of a malformed column are its reasons.
pub(crate) fn decode_new_values(
    text: &str,
    mut set: impl FnMut(std::borrow::Cow<'_, str>, serde_json::Value),
) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let quick = serde::de::DeserializeSeed::deserialize(fold::Entries(&mut set), &mut de)
        .and_then(|()| de.end());
    if quick.is_ok() {
        return Ok(());
    }
    // refused: the full decoding says why (or, in a case the quick one is
    // stricter than it, reads the entries); entries `set` saw already are
    // set again, in the same order, to the same values
    for entry in decode_entries(text, &None, "")? {
        set(std::borrow::Cow::Owned(entry.field_name), entry.new_value);
    }
    Ok(())
}

/// The quick reading of [`decode_new_values`]: serde visitors over the
/// encoding [`encode_entries`] writes.
mod fold {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
    use serde_json::Value;

    /// The whole column: an array of entries.
    pub(super) struct Entries<'f, F>(pub(super) &'f mut F);

    impl<'de, F> DeserializeSeed<'de> for Entries<'_, F>
    where
        F: FnMut(Cow<'_, str>, Value),
    {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, F> Visitor<'de> for Entries<'_, F>
    where
        F: FnMut(Cow<'_, str>, Value),
    {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of entries")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some((field, new)) = seq.next_element_seed(Entry)? {
                (self.0)(field, new);
            }
            Ok(())
        }
    }

    /// One entry: `[field, new]`, `[field, old, new]` or `[field, old, new,
    /// {"a": actor, "d": description}]`; gives the field and the new value.
    struct Entry;

    impl<'de> DeserializeSeed<'de> for Entry {
        type Value = (Cow<'de, str>, Value);

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Entry {
        type Value = (Cow<'de, str>, Value);

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an entry")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let short = || de::Error::custom("an entry of fewer than 2 elements");
            let Field(field) = seq.next_element()?.ok_or_else(short)?;
            let first: Value = seq.next_element()?.ok_or_else(short)?;
            let Some(second) = seq.next_element::<Value>()? else {
                return Ok((field, first));
            };
            let Some(overrides) = seq.next_element::<Value>()? else {
                return Ok((field, second));
            };
            if seq.next_element::<IgnoredAny>()?.is_some() || !overrides_are_valid(&overrides) {
                return Err(de::Error::custom("not an entry"));
            }
            Ok((field, second))
        }
    }

    /// Whether the fourth element of an entry is what [`super::decode_entries`]
    /// takes: an object whose `a` (if any) is `null` or `[kind, id]`
    /// strings and whose `d` (if any) is a string.
    fn overrides_are_valid(overrides: &Value) -> bool {
        let Value::Object(o) = overrides else {
            return false;
        };
        let actor = match o.get("a") {
            None | Some(Value::Null) => true,
            Some(Value::Array(pair)) => {
                matches!(pair.as_slice(), [Value::String(_), Value::String(_)])
            }
            Some(_) => false,
        };
        actor && matches!(o.get("d"), None | Some(Value::String(_)))
    }

    /// An entry's column name, borrowed from the text when it holds no
    /// escapes.
    struct Field<'de>(Cow<'de, str>);

    impl<'de> de::Deserialize<'de> for Field<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Field<'de>;

                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a column name")
                }

                fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                    Ok(Field(Cow::Borrowed(s)))
                }

                fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                    Ok(Field(Cow::Owned(s.to_owned())))
                }

                fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                    Ok(Field(Cow::Owned(s)))
                }
            }
            d.deserialize_str(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`decode_new_values`] gives: the columns and new values, or
    /// the error.
    fn quick(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
        let mut got = Vec::new();
        decode_new_values(text, |field, value| got.push((field.into_owned(), value)))?;
        Ok(got)
    }

    /// The same of [`decode_entries`].
    fn full(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
        Ok(decode_entries(text, &None, "")?
            .into_iter()
            .map(|e| (e.field_name, e.new_value))
            .collect())
    }

    /// The fold's reading of `changes` takes what the full one takes, gives
    /// the same columns and values, and fails where it fails, for the same
    /// reason.
    #[test]
    fn the_folds_reading_agrees_with_the_full_one() {
        for text in [
            "",
            "[]",
            r#"[["name","Ann"]]"#,
            r#"[["name","Ann","Annie"],["n",1,null]]"#,
            r#"[["id",null,7,{"a":null}],["x",{"a":1},[1,2]]]"#,
            r#"[["x",1,2,{"a":["users","1"],"d":"why"}]]"#,
            r#"[["x",1,2,{"d":"why","other":5}]]"#,
            r#"[["x",1,2,{"a":["users","1"],"a":null}]]"#,
            r#"[["x",1,{"a":[1]}]]"#,
            r#"[["n\"q\u00e9",1]]"#,
            " [ [\"x\" , 1 ] ] ",
            // malformed
            "[",
            "{}",
            "null",
            r#"[["x"]]"#,
            r#"[[]]"#,
            r#"["x"]"#,
            r#"[[1,2]]"#,
            r#"[["x",1,2,3]]"#,
            r#"[["x",1,2,{"a":1}]]"#,
            r#"[["x",1,2,{"a":["users",1]}]]"#,
            r#"[["x",1,2,{"d":5}]]"#,
            r#"[["x",1,2,{},5]]"#,
            r#"[["x",1e400]]"#,
            r#"[["x",1,1e400]]"#,
            r#"[["x",1]] x"#,
            r#"[["x",1],]"#,
            r#"[["x",[1,]]]"#,
        ] {
            assert_eq!(quick(text), full(text), "{text}");
        }
    }
}
