//! The hash of one object delta: its own fields, its attribute deltas and
//! the link of the delta before it, SHA-256 over a length-prefixed
//! encoding (no two different deltas encode alike), in lowercase hex.
//!
//! Values enter the hash as salted digests, not as themselves (see
//! [`Salts`]): so [`erase`](crate::lifecycle::erase()) can remove a value, and its
//! salt, and keep the digest, and the chain still verifies; without the
//! salt the digest does not give a low-entropy value (an email, a name)
//! away to anyone who tries candidates.
//!
//! The table is not hashed: a chain is one object's already, and
//! [`rename_table`](crate::lifecycle::rename_table) moves a table's history under its
//! new name without breaking it.
//!
//! Writers hash what they are about to write; [`verify`](super::verify())
//! hashes what it reads back. Every value is encoded in a form that
//! survives each backend's round trip: times at the microsecond every
//! backend keeps, JSON values re-serialized with sorted keys.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::journal::attribute_delta::AttributeChange;
use crate::journal::attribute_delta::AttributeDelta;
use crate::journal::object_delta;
use crate::journal::{actor_columns, attribute_action};

/// What a chain link's hash covers of the object delta itself.
pub(crate) struct DeltaFields<'a> {
    pub revision_id: i64,
    pub actor_type: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub description: &'a str,
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
            content_id: &model.content_id,
            created_at: model.created_at,
            version: model.version,
        }
    }
}

/// Domain tags: a chain link and a checkpoint's seal never hash alike,
/// nor a value's salt and its digest.
const LINK: &[u8] = b"revy chain link v2";
const SEAL: &[u8] = b"revy checkpoint seal v2";
const SALT: &[u8] = b"revy value salt v1";
const VALUE: &[u8] = b"revy value digest v1";

/// Bytes of a seed and of a value's salt.
const SALT_BYTES: usize = 16;

/// What a sealed delta's values are salted with (its `salt` column).
///
/// A writer draws a random seed per delta; the value at position `p` (an
/// entry's old value at `2k`, its new value at `2k + 1`, entries in their
/// stored order) is salted with `SHA-256(tag, seed, p)` cut to 16 bytes and
/// enters the hash as `SHA-256(tag, salt, value)`. NULL is not salted: it
/// says nothing to erase. An erasure replaces the seed with every kept
/// value's own salt and every erased value's digest, so what is left
/// verifies and nothing derives the erased value's salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Salts {
    /// No salt column: values are hashed as themselves (a delta written
    /// with tamper evidence off, or before salts existed).
    Plain,
    /// A seed each value's salt derives from.
    Seed([u8; SALT_BYTES]),
    /// After an erasure: per position, the value's salt, or an erased
    /// value's digest.
    Kept(std::collections::BTreeMap<usize, Kept>),
}

/// One position of [`Salts::Kept`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    Salt([u8; SALT_BYTES]),
    Digest([u8; 32]),
}

impl Salts {
    /// A fresh random seed.
    pub(crate) fn fresh() -> Result<Salts, crate::error::Error> {
        let mut seed = [0u8; SALT_BYTES];
        getrandom::fill(&mut seed).map_err(|e| crate::error::JournalError::RandomSource {
            reason: e.to_string(),
        })?;
        Ok(Salts::Seed(seed))
    }

    /// The salts a `salt` column holds; `Err` when it is not one revy wrote.
    pub(crate) fn parse(text: Option<&str>) -> Result<Salts, ()> {
        let Some(text) = text else {
            return Ok(Salts::Plain);
        };
        if !text.starts_with('{') {
            return Ok(Salts::Seed(unhex(text).ok_or(())?));
        }
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_str(text).map_err(|_| ())?;
        let mut kept = std::collections::BTreeMap::new();
        for (position, hex) in map {
            let position: usize = position.parse().map_err(|_| ())?;
            let entry = match hex.len() {
                32 => Kept::Salt(unhex(&hex).ok_or(())?),
                64 => Kept::Digest(unhex(&hex).ok_or(())?),
                _ => return Err(()),
            };
            kept.insert(position, entry);
        }
        Ok(Salts::Kept(kept))
    }

    /// The `salt` column's text; `None` for [`Salts::Plain`].
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Salts::Plain => None,
            Salts::Seed(seed) => Some(hex_of(seed)),
            Salts::Kept(kept) => {
                let map: std::collections::BTreeMap<String, String> = kept
                    .iter()
                    .map(|(p, k)| {
                        let hex = match k {
                            Kept::Salt(s) => hex_of(s),
                            Kept::Digest(d) => hex_of(d),
                        };
                        (p.to_string(), hex)
                    })
                    .collect();
                serde_json::to_string(&map).ok()
            }
        }
    }

    /// The salt of the value at `position`, if it has one.
    fn salt(&self, position: usize) -> Option<[u8; SALT_BYTES]> {
        match self {
            Salts::Plain => None,
            Salts::Seed(seed) => Some(derive_salt(seed, position)),
            Salts::Kept(kept) => match kept.get(&position) {
                Some(Kept::Salt(s)) => Some(*s),
                _ => None,
            },
        }
    }

    /// What the value at `position` enters the hash as: its salted digest,
    /// an erased value's kept digest, or (unsalted) its JSON.
    fn hashed(&self, position: usize, value: &serde_json::Value, out: &mut Vec<u8>) {
        if value.is_null() {
            field(out, Some(b"null"));
            return;
        }
        if let Salts::Kept(kept) = self
            && let Some(Kept::Digest(d)) = kept.get(&position)
            && crate::policy::is_erased(value)
        {
            field(out, Some(d));
            return;
        }
        let mut json = String::new();
        canonical_json(&mut json, value);
        match self.salt(position) {
            Some(salt) => field(out, Some(&value_digest(&salt, &json))),
            None => field(out, Some(json.as_bytes())),
        }
    }

    /// These salts after the values at `erased` positions (each with the
    /// value it held) are erased: every other value's salt is kept as
    /// itself, the erased ones' digests instead of their salts. `values`
    /// is every position's value. `Plain` stays `Plain`.
    pub(crate) fn erase(
        &self,
        values: &[&serde_json::Value],
        erased: &std::collections::BTreeSet<usize>,
    ) -> Salts {
        if *self == Salts::Plain {
            return Salts::Plain;
        }
        let mut kept = match self {
            Salts::Kept(kept) => kept.clone(),
            _ => std::collections::BTreeMap::new(),
        };
        for (position, value) in values.iter().enumerate() {
            if value.is_null() {
                continue;
            }
            let salt = self.salt(position);
            if erased.contains(&position) {
                if let Some(salt) = salt {
                    let mut json = String::new();
                    canonical_json(&mut json, value);
                    kept.insert(position, Kept::Digest(value_digest(&salt, &json)));
                }
            } else if let Some(salt) = salt {
                kept.insert(position, Kept::Salt(salt));
            }
        }
        Salts::Kept(kept)
    }
}

fn derive_salt(seed: &[u8; SALT_BYTES], position: usize) -> [u8; SALT_BYTES] {
    let mut hasher = Sha256::new();
    let mut input = Vec::with_capacity(64);
    field(&mut input, Some(SALT));
    field(&mut input, Some(seed));
    field(&mut input, Some(&(position as u64).to_be_bytes()));
    hasher.update(&input);
    let full = hasher.finalize();
    let mut salt = [0u8; SALT_BYTES];
    salt.copy_from_slice(&full[..SALT_BYTES]);
    salt
}

fn value_digest(salt: &[u8; SALT_BYTES], json: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(48);
    field(&mut head, Some(VALUE));
    field(&mut head, Some(salt));
    hasher.update(&head);
    hasher.update((json.len() as u64).to_be_bytes());
    hasher.update(json.as_bytes());
    hasher.finalize().into()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// The encoding of one delta with its attribute deltas, each attribute
/// delta encoded on its own and the encodings sorted, so the order the
/// database returns them in does not matter.
pub(crate) struct Encoder<'s> {
    delta: Vec<u8>,
    attributes: Vec<Vec<u8>>,
    salts: &'s Salts,
    /// Entries encoded so far: the next one's values are at `2 * entries`
    /// and `2 * entries + 1`.
    entries: usize,
}

impl<'s> Encoder<'s> {
    pub(crate) fn new(delta: &DeltaFields<'_>, salts: &'s Salts) -> Self {
        let mut out = Vec::with_capacity(256);
        field(&mut out, Some(delta.revision_id.to_string().as_bytes()));
        field(&mut out, delta.actor_type.map(str::as_bytes));
        field(&mut out, delta.actor_id.map(str::as_bytes));
        field(&mut out, Some(delta.action.as_bytes()));
        field(&mut out, Some(delta.description.as_bytes()));
        field(&mut out, Some(delta.content_id.as_bytes()));
        field(&mut out, Some(time(delta.created_at).as_bytes()));
        field(&mut out, Some(delta.version.to_string().as_bytes()));
        Encoder {
            delta: out,
            attributes: Vec::new(),
            salts,
            entries: 0,
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
        field(&mut out, Some(a.content_id.as_bytes()));
        field(&mut out, Some(a.field_name.as_bytes()));
        let at = 2 * self.entries;
        self.salts.hashed(at, a.old_value, &mut out);
        self.salts.hashed(at + 1, a.new_value, &mut out);
        self.entries += 1;
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

    const SEED: Salts = Salts::Seed([7; SALT_BYTES]);

    fn link(version: i64, changes: &[AttributeChange], previous: Option<&str>) -> String {
        let d = delta(version);
        let mut e = Encoder::new(&d, &SEED);
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
        // each value is salted by its position, so the order of the
        // entries counts too
        let swapped = [a[1].clone(), a[0].clone()];
        assert_ne!(base, link(2, &swapped, Some("p")));
        assert_ne!(base, link(3, &a, Some("p")));
        assert_ne!(base, link(2, &a, Some("q")));
        assert_ne!(base, link(2, &a, None));
        assert_ne!(base, link(2, &a[..1], Some("p")));
        let changed = [change("name", "Anne".into()), change("age", 3.into())];
        assert_ne!(base, link(2, &changed, Some("p")));
        // a seal is not a link
        let d = delta(2);
        let mut e = Encoder::new(&d, &SEED);
        for c in &a {
            e.change(&d, c);
        }
        assert_ne!(base, e.seal(Some("p")));
    }

    fn link_with(salts: &Salts, changes: &[AttributeChange]) -> String {
        let d = delta(2);
        let mut e = Encoder::new(&d, salts);
        for c in changes {
            e.change(&d, c);
        }
        e.link(Some("p"))
    }

    #[test]
    fn an_erased_value_keeps_the_link_and_nothing_else_does() {
        let a = [
            change("email", "ann@example.org".into()),
            change("visits", 3.into()),
        ];
        let base = link_with(&SEED, &a);
        // another seed, another link: the salts are part of it
        assert_ne!(base, link_with(&Salts::Seed([8; SALT_BYTES]), &a));
        // positions: email's old value is 0 (NULL), its new value 1
        let values: Vec<serde_json::Value> = a
            .iter()
            .flat_map(|c| [c.old_value.clone(), c.new_value.clone()])
            .collect();
        let refs: Vec<&serde_json::Value> = values.iter().collect();
        let kept = SEED.erase(&refs, &[1].into());
        let Salts::Kept(map) = &kept else {
            panic!("{kept:?}")
        };
        assert!(matches!(map.get(&1), Some(Kept::Digest(_))));
        assert!(matches!(map.get(&3), Some(Kept::Salt(_))));
        assert!(!map.contains_key(&0), "NULL is not salted");
        // the value gone, its digest kept: the same link
        let mut erased = a.clone();
        erased[0].new_value = crate::policy::erased();
        assert_eq!(base, link_with(&kept, &erased));
        // the text survives its column
        let text = kept.text().unwrap();
        assert_eq!(Salts::parse(Some(&text)), Ok(kept.clone()));
        assert_eq!(Salts::parse(SEED.text().as_deref()), Ok(SEED));
        assert_eq!(Salts::parse(None), Ok(Salts::Plain));
        assert!(Salts::parse(Some("xyz")).is_err());
        // a kept value changed, or a marker without its digest, breaks it
        let mut changed = erased.clone();
        changed[1].new_value = 4.into();
        assert_ne!(base, link_with(&kept, &changed));
        let mut marked = erased.clone();
        marked[1].new_value = crate::policy::erased();
        assert_ne!(base, link_with(&kept, &marked));
        // no salt of the erased value is left to test guesses with
        assert!(!text.contains(&hex_of(&derive_salt(&[7; SALT_BYTES], 1))));
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
