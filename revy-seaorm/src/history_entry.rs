//! History a UI can show: each save of a row with its actor, time,
//! revision description and meta, and the columns it changed with their
//! old and new values decoded, read in two queries for a whole page.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::Error;
use crate::field_value::{self, FieldValue};
use crate::history::History;
use crate::journal::{attribute_delta, revision};

/// One save of a row (an object delta), ready to show: see
/// [`History::entries`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The object delta.
    pub object_delta_id: i64,
    /// Its revision.
    pub revision_id: i64,
    /// The object's version after this delta (see [`version_of`](crate::version_of)).
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

/// One column a save changed: an attribute delta, decoded.
#[derive(Clone, Debug, PartialEq)]
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

impl<E> History<E>
where
    E: EntityTrait,
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
    /// use revy_seaorm::FieldValue;
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
    /// let entries = revy_seaorm::history::<user::Entity>(ann.id).limit(10).entries(&db).await?;
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
    pub async fn entries<C: ConnectionTrait>(self, db: &C) -> Result<Vec<HistoryEntry>, Error> {
        let deltas = self
            .select()?
            .find_also_related(revision::Entity)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let ids: Vec<i64> = deltas.iter().map(|(d, _)| d.id).collect();
        let mut changes: HashMap<i64, Vec<FieldChange>> = HashMap::new();
        if !ids.is_empty() {
            let attributes = attribute_delta::Entity::find()
                .filter(attribute_delta::Column::ObjectDeltaId.is_in(ids))
                .order_by_asc(attribute_delta::Column::Id)
                .all(db)
                .await
                .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
            for a in attributes {
                let change = FieldChange {
                    old: field_value::decode::<E>(&a.field_name, &a.old_value)?,
                    new: field_value::decode::<E>(&a.field_name, &a.new_value)?,
                    actor: a.actor(),
                    column: a.field_name,
                    action: a.action,
                    description: a.description,
                };
                changes.entry(a.object_delta_id).or_default().push(change);
            }
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
