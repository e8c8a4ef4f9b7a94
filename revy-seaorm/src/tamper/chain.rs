//! The hash of one object delta: its own fields, its attribute deltas and
//! the link of the delta before it, SHA-256 over a length-prefixed
//! encoding (no two different deltas encode alike), in lowercase hex.
//!
//! Writers hash what they are about to write; [`verify`](super::verify())
//! hashes what it reads back. Every value is encoded in a form that
//! survives each backend's round trip: times at the microsecond every
//! backend keeps, JSON values re-serialized with sorted keys.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::journal::attribute_delta::AttributeDelta;
use crate::journal::object_delta;
use crate::record::rows::{AttributeChange, actor_columns, attribute_action};

/// What a chain link's hash covers of the object delta itself.
pub(crate) struct DeltaFields<'a> {
    pub revision_id: i64,
    pub actor_type: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub description: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl<'a> DeltaFields<'a> {
    pub(crate) fn of(model: &'a object_delta::Model) -> Self {
        DeltaFields {
            revision_id: model.revision_id,
            actor_type: model.actor_type.as_deref(),
            actor_id: model.actor_id.as_deref(),
            action: model.action.as_str(),
            description: &model.description,
            content_type: &model.content_type,
            content_id: &model.content_id,
            created_at: model.created_at,
            version: model.version,
        }
    }
}

/// Domain tags: a chain link and a checkpoint's seal never hash alike.
const LINK: &[u8] = b"revy chain link v1";
const SEAL: &[u8] = b"revy checkpoint seal v1";

/// The encoding of one delta with its attribute deltas, each attribute
/// delta encoded on its own and the encodings sorted, so the order the
/// database returns them in does not matter.
pub(crate) struct Encoder {
    delta: Vec<u8>,
    attributes: Vec<Vec<u8>>,
}

impl Encoder {
    pub(crate) fn new(delta: &DeltaFields<'_>) -> Self {
        let mut out = Vec::with_capacity(256);
        field(&mut out, Some(delta.revision_id.to_string().as_bytes()));
        field(&mut out, delta.actor_type.map(str::as_bytes));
        field(&mut out, delta.actor_id.map(str::as_bytes));
        field(&mut out, Some(delta.action.as_bytes()));
        field(&mut out, Some(delta.description.as_bytes()));
        field(&mut out, Some(delta.content_type.as_bytes()));
        field(&mut out, Some(delta.content_id.as_bytes()));
        field(&mut out, Some(time(delta.created_at).as_bytes()));
        field(&mut out, Some(delta.version.to_string().as_bytes()));
        Encoder {
            delta: out,
            attributes: Vec::new(),
        }
    }

    /// An attribute delta as a writer is about to write it: its own
    /// values, and the ones it shares with `delta`.
    pub(crate) fn change(&mut self, delta: &DeltaFields<'_>, change: &AttributeChange) {
        let (actor_type, actor_id) = actor_columns(&change.actor);
        self.attribute(Attribute {
            revision_id: delta.revision_id,
            actor_type: actor_type.as_deref(),
            actor_id: actor_id.as_deref(),
            action: attribute_action(&change.new_value).as_str(),
            description: &change.description,
            content_type: delta.content_type,
            content_id: delta.content_id,
            field_name: &change.field_name,
            old_value: &change.old_value,
            new_value: &change.new_value,
            created_at: delta.created_at,
        });
    }

    /// An entry as read back from its object delta's inline entries: the
    /// same encoding as [`change`](Self::change) gave it when written.
    pub(crate) fn entry(&mut self, delta: &DeltaFields<'_>, entry: &AttributeDelta) {
        let (actor_type, actor_id) = actor_columns(&entry.actor);
        self.attribute(Attribute {
            revision_id: delta.revision_id,
            actor_type: actor_type.as_deref(),
            actor_id: actor_id.as_deref(),
            action: entry.action.as_str(),
            description: &entry.description,
            content_type: delta.content_type,
            content_id: delta.content_id,
            field_name: &entry.field_name,
            old_value: &entry.old_value,
            new_value: &entry.new_value,
            created_at: delta.created_at,
        });
    }

    fn attribute(&mut self, a: Attribute<'_>) {
        let mut out = Vec::with_capacity(128);
        field(&mut out, Some(a.revision_id.to_string().as_bytes()));
        field(&mut out, a.actor_type.map(str::as_bytes));
        field(&mut out, a.actor_id.map(str::as_bytes));
        field(&mut out, Some(a.action.as_bytes()));
        field(&mut out, Some(a.description.as_bytes()));
        field(&mut out, Some(a.content_type.as_bytes()));
        field(&mut out, Some(a.content_id.as_bytes()));
        field(&mut out, Some(a.field_name.as_bytes()));
        let mut json = String::new();
        canonical_json(&mut json, a.old_value);
        field(&mut out, Some(json.as_bytes()));
        json.clear();
        canonical_json(&mut json, a.new_value);
        field(&mut out, Some(json.as_bytes()));
        field(&mut out, Some(time(a.created_at).as_bytes()));
        self.attributes.push(out);
    }

    /// The delta's chain link: its hash over everything encoded and the
    /// link of the object's delta before it (`None`: none, or one written
    /// with tamper evidence off).
    pub(crate) fn link(self, previous: Option<&str>) -> String {
        self.finish(LINK, previous)
    }

    /// A checkpoint's seal, over everything encoded and the chain link it
    /// keeps.
    pub(crate) fn seal(self, link: Option<&str>) -> String {
        self.finish(SEAL, link)
    }

    fn finish(mut self, tag: &[u8], chained: Option<&str>) -> String {
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(64);
        field(&mut head, Some(tag));
        hasher.update(&head);
        hasher.update(&self.delta);
        self.attributes.sort_unstable();
        let mut count = Vec::new();
        field(
            &mut count,
            Some(self.attributes.len().to_string().as_bytes()),
        );
        hasher.update(&count);
        for a in &self.attributes {
            let mut len = Vec::new();
            field(&mut len, Some(a.len().to_string().as_bytes()));
            hasher.update(&len);
            hasher.update(a);
        }
        let mut tail = Vec::with_capacity(72);
        field(&mut tail, chained.map(str::as_bytes));
        hasher.update(&tail);
        hex_of(&hasher.finalize())
    }
}

struct Attribute<'a> {
    revision_id: i64,
    actor_type: Option<&'a str>,
    actor_id: Option<&'a str>,
    action: &'a str,
    description: &'a str,
    content_type: &'a str,
    content_id: &'a str,
    field_name: &'a str,
    old_value: &'a serde_json::Value,
    new_value: &'a serde_json::Value,
    created_at: DateTime<Utc>,
}

/// A field: its length (4 bytes, big-endian) and bytes; `None` is a length
/// no field has.
fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            let len = u32::try_from(b.len()).unwrap_or(u32::MAX - 1);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// JSON with object keys sorted, whatever order the value holds them in
/// (PostgreSQL's and MySQL's JSON types do not keep it).
fn canonical_json(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    canonical_json(out, v);
                }
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Bytes in lowercase hex.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(version: i64) -> DeltaFields<'static> {
        DeltaFields {
            revision_id: 7,
            actor_type: Some("user"),
            actor_id: Some("42"),
            action: "update",
            description: "",
            content_type: "users",
            content_id: "1",
            created_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
            version,
        }
    }

    fn change(name: &str, new: serde_json::Value) -> AttributeChange {
        AttributeChange {
            field_name: name.into(),
            old_value: serde_json::Value::Null,
            new_value: new,
            actor: None,
            description: String::new(),
        }
    }

    fn link(version: i64, changes: &[AttributeChange], previous: Option<&str>) -> String {
        let d = delta(version);
        let mut e = Encoder::new(&d);
        for c in changes {
            e.change(&d, c);
        }
        e.link(previous)
    }

    #[test]
    fn a_link_depends_on_every_part() {
        let a = [change("name", "Ann".into()), change("age", 3.into())];
        let base = link(2, &a, Some("p"));
        assert_eq!(base.len(), 64);
        assert_eq!(base, link(2, &a, Some("p")));
        // attribute order does not matter; anything else does
        let swapped = [a[1].clone(), a[0].clone()];
        assert_eq!(base, link(2, &swapped, Some("p")));
        assert_ne!(base, link(3, &a, Some("p")));
        assert_ne!(base, link(2, &a, Some("q")));
        assert_ne!(base, link(2, &a, None));
        assert_ne!(base, link(2, &a[..1], Some("p")));
        let changed = [change("name", "Anne".into()), change("age", 3.into())];
        assert_ne!(base, link(2, &changed, Some("p")));
        // a seal is not a link
        let d = delta(2);
        let mut e = Encoder::new(&d);
        for c in &a {
            e.change(&d, c);
        }
        assert_ne!(base, e.seal(Some("p")));
    }

    #[test]
    fn json_keys_are_sorted_and_null_is_not_an_empty_field() {
        let mut out = String::new();
        canonical_json(
            &mut out,
            &serde_json::json!({"b": [1, {"d": 2.5, "c": null}], "a": "x"}),
        );
        assert_eq!(out, r#"{"a":"x","b":[1,{"c":null,"d":2.5}]}"#);
        let mut none = Vec::new();
        field(&mut none, None);
        let mut empty = Vec::new();
        field(&mut empty, Some(b""));
        assert_ne!(none, empty);
    }
}
