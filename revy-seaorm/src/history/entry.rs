//! History a UI can show: each save of a row with its actor, time,
//! revision description and meta, and the columns it changed with their
//! old and new values decoded, read in two queries for a whole page.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::{ActiveModelTrait, ConnectionTrait};
use serde::Serialize;

use crate::error::Error;
use crate::history::History;
use crate::history::field_value::{self, FieldValue};
use crate::journal::revision;
use crate::policy::{self, TrackingPolicy};

/// One save of a row (an object delta), ready to show: see
/// [`History::entries`].
///
/// # As JSON
///
/// An entry serializes (with serde, e.g. axum's `Json(entries)`, or
/// [`to_json`](Self::to_json)) to an object with its fields under their
/// own names: `actor` is `{"kind": .., "id": ..}` or `null` for the
/// system, `action` its name (`"Create"`, `"Update"`, `"Delete"`), `at`
/// RFC 3339 in UTC, and each change's `old` and `new` a [`FieldValue`] in
/// revy's JSON encoding (SQL NULL is `null`, a JSON column's `null` is
/// `[null]`, a decimal a string at full precision, a redacted value the
/// marker `{"revy": "redacted"}`).
///
/// ```json
/// {
///   "object_delta_id": 2, "revision_id": 2, "version": 2, "action": "Update",
///   "actor": {"kind": "users", "id": "9"}, "at": "2026-11-02T10:15:00.123456Z",
///   "description": "", "revision_description": "Nickname", "meta": {"ticket": 12},
///   "changes": [{"column": "name", "old": "Ann", "new": "Annie",
///                "actor": {"kind": "users", "id": "9"}, "action": "Set", "description": ""}]
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The object delta.
    pub object_delta_id: i64,
    /// Its revision.
    pub revision_id: i64,
    /// The object's version after this delta (see [`version_of`](crate::versions::version_of)).
    pub version: i64,
    /// `Create`, `Update` or `Delete`.
    pub action: Action,
    /// Who saved: `None` is the system.
    pub actor: Option<Actor>,
    /// When.
    pub at: DateTime<Utc>,
    /// The object delta's description (`""` when none).
    pub description: String,
    /// The revision's description (`""` when none).
    pub revision_description: String,
    /// The revision's metadata.
    pub meta: Option<serde_json::Value>,
    /// The columns the save changed, in the order they were recorded
    /// (none for a `Delete`).
    pub changes: Vec<FieldChange>,
}

/// One column a save changed: an attribute delta, decoded. Serializes as
/// an element of [`HistoryEntry`]'s `changes` (see [As JSON](HistoryEntry#as-json)).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The column's name.
    pub column: String,
    /// The value before (`Value::X(None)` on create).
    pub old: FieldValue,
    /// The value after.
    pub new: FieldValue,
    /// Who set it (a draft records one actor per column).
    pub actor: Option<Actor>,
    /// `Set`, or `Unset` when the new value is NULL.
    pub action: Action,
    /// The attribute delta's description (`""` when none).
    pub description: String,
}

impl HistoryEntry {
    /// The entry as JSON, in the shape of [As JSON](#as-json): what a web
    /// handler returns, or a log line carries.
    ///
    /// Fails only when a change holds a value of a type the codec does not
    /// encode, which no value read from the journal is.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::{Actor, Context};
    /// use sea_orm::{ActiveModelTrait, Set};
    /// use serde_json::json;
    ///
    /// let ann = Context::via_actor(Some(Actor::new("users", 9)))
    ///     .revision_description("Sign up")
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    ///
    /// let entries = revy_seaorm::history::of::<user::Entity>(ann.id).entries(&db).await?;
    /// let json = entries[0].to_json()?;
    /// assert_eq!(json["action"], "Create");
    /// assert_eq!(json["actor"], json!({"kind": "users", "id": "9"}));
    /// assert_eq!(json["revision_description"], "Sign up");
    /// let changes = json["changes"].as_array().unwrap();
    /// let name = changes.iter().find(|c| c["column"] == "name").unwrap();
    /// assert_eq!((&name["old"], &name["new"]), (&json!(null), &json!("Ann")));
    /// // a page of entries is a JSON array, e.g. an axum handler's `Json(entries)`
    /// assert!(serde_json::to_value(&entries)?.is_array());
    /// # Ok(()) }
    /// ```
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

impl<E> History<E>
where
    E: TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    /// Runs the query like [`all`](Self::all), with each object delta's
    /// revision and decoded changes: two statements for the whole page
    /// (the deltas with their revisions, then their attribute deltas).
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::{Action, Actor, Context};
    /// use revy_seaorm::history::FieldValue;
    /// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set, Value};
    ///
    /// let ann = Context::new()
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// let mut am = ann.into_active_model();
    /// am.name = Set("Annie".into());
    /// let ann = Context::via_actor(Some(Actor::new("users", 9)))
    ///     .revision_description("Nickname")
    ///     .meta(serde_json::json!({"ticket": 12}))
    ///     .scope(am.update(&db))
    ///     .await?;
    ///
    /// let entries = revy_seaorm::history::of::<user::Entity>(ann.id).limit(10).entries(&db).await?;
    /// let newest = &entries[0];
    /// assert_eq!(newest.action, Action::Update);
    /// assert_eq!(newest.actor, Some(Actor::new("users", 9)));
    /// assert_eq!(newest.revision_description, "Nickname");
    /// assert_eq!(newest.meta, Some(serde_json::json!({"ticket": 12})));
    /// assert_eq!(newest.changes.len(), 1);
    /// assert_eq!(newest.changes[0].column, "name");
    /// assert_eq!(newest.changes[0].old, FieldValue::Value(Value::String(Some("Ann".into()))));
    /// assert_eq!(newest.changes[0].new, FieldValue::Value(Value::String(Some("Annie".into()))));
    /// assert_eq!(entries[1].action, Action::Create);
    /// # Ok(()) }
    /// ```
    ///
    /// Each change names its column as it was at the time. Its values are
    /// decoded as the column that name counts as now (itself, or the column
    /// the policy says was [renamed](crate::policy::Policy::renamed) from it),
    /// through the policy's [conversion](crate::policy::Policy::convert); a value of
    /// a column the entity no longer has is [`FieldValue::Raw`], as the
    /// journal stores it.
    pub async fn entries<C: ConnectionTrait>(self, db: &C) -> Result<Vec<HistoryEntry>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let rules = policy::rules::<E>()?;
        let deltas = self
            .select(db.get_database_backend())?
            .find_also_related(revision::Entity)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let mut changes: HashMap<i64, Vec<FieldChange>> = HashMap::new();
        for (d, _) in &deltas {
            let decoded = d
                .attribute_deltas()?
                .into_iter()
                .map(|a| {
                    Ok(FieldChange {
                        old: field_value::decode_recorded(
                            &rules,
                            &a.field_name,
                            &a.old_value,
                            d.id,
                        )?,
                        new: field_value::decode_recorded(
                            &rules,
                            &a.field_name,
                            &a.new_value,
                            d.id,
                        )?,
                        actor: a.actor,
                        column: a.field_name,
                        action: a.action,
                        description: a.description,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            changes.insert(d.id, decoded);
        }
        Ok(deltas
            .into_iter()
            .map(|(d, r)| {
                let actor = d.actor();
                let (revision_description, meta) = match r {
                    Some(r) => (r.description, r.meta),
                    None => (String::new(), None),
                };
                HistoryEntry {
                    changes: changes.remove(&d.id).unwrap_or_default(),
                    object_delta_id: d.id,
                    revision_id: d.revision_id,
                    version: d.version,
                    action: d.action,
                    actor,
                    at: d.created_at,
                    description: d.description,
                    revision_description,
                    meta,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{FieldChange, HistoryEntry};
    use crate::history::FieldValue;
    use chrono::TimeZone;
    use revy_core::{Action, Actor};
    use sea_orm::Value;
    use serde_json::json;

    fn change(column: &str, old: FieldValue, new: FieldValue) -> FieldChange {
        FieldChange {
            column: column.into(),
            old,
            new,
            actor: None,
            action: Action::Set,
            description: String::new(),
        }
    }

    #[test]
    fn an_entry_serializes_in_the_journal_encoding() {
        let entry = HistoryEntry {
            object_delta_id: 7,
            revision_id: 3,
            version: 2,
            action: Action::Update,
            actor: Some(Actor::new("users", 9)),
            at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 2, 10, 15, 0)
                .unwrap()
                .checked_add_signed(chrono::TimeDelta::microseconds(123_456))
                .unwrap(),
            description: "why".into(),
            revision_description: "Nickname".into(),
            meta: Some(json!({"ticket": 12})),
            changes: vec![
                change(
                    "note",
                    FieldValue::Value(Value::Json(None)),
                    FieldValue::Value(Value::Json(Some(Box::new(json!(null))))),
                ),
                change(
                    "amount",
                    FieldValue::Value(Value::Decimal(Some(
                        "123456789012345678.1234567890".parse().unwrap(),
                    ))),
                    FieldValue::Value(Value::Decimal(Some("0.10".parse().unwrap()))),
                ),
                change("password", FieldValue::Withheld, FieldValue::Withheld),
                change(
                    "gone",
                    FieldValue::Raw(json!(5)),
                    FieldValue::Raw(json!(null)),
                ),
            ],
        };
        assert_eq!(
            entry.to_json().unwrap(),
            json!({
                "object_delta_id": 7,
                "revision_id": 3,
                "version": 2,
                "action": "Update",
                "actor": {"kind": "users", "id": "9"},
                "at": "2026-11-02T10:15:00.123456Z",
                "description": "why",
                "revision_description": "Nickname",
                "meta": {"ticket": 12},
                "changes": [
                    {"column": "note", "old": null, "new": [null], "actor": null, "action": "Set", "description": ""},
                    {"column": "amount", "old": "123456789012345678.1234567890", "new": "0.10", "actor": null, "action": "Set", "description": ""},
                    {"column": "password", "old": {"revy": "redacted"}, "new": {"revy": "redacted"}, "actor": null, "action": "Set", "description": ""},
                    {"column": "gone", "old": 5, "new": null, "actor": null, "action": "Set", "description": ""},
                ],
            })
        );
        // serde's own path (what axum's `Json` writes) gives the same JSON
        let text = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            entry.to_json().unwrap()
        );
    }

    #[test]
    fn a_value_the_codec_cannot_encode_fails_the_serialization() {
        let bad = FieldValue::Value(Value::Array(
            sea_orm::sea_query::ArrayType::Int,
            Some(Box::new(vec![Value::String(Some("x".into()))])),
        ));
        let err = serde_json::to_value(&bad).unwrap_err();
        assert!(!err.to_string().is_empty());
        assert!(bad.to_json().is_err());
    }
}
