//! Attribute deltas: one column of one change, as the public value
//! [`AttributeDelta`], and the `revy_attribute_deltas` table that holds
//! them today (one row per column a tracked operation changed).
//!
//! Every reader of the journal takes a change's columns through
//! [`attribute_deltas_of`], never from the table directly, so that where
//! the journal keeps them is this module's business alone.

use std::collections::HashMap;

use revy_core::{Action, Actor};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};
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
/// let feed = revy_seaorm::history::<user::Entity>(ann.id).all(&db).await?;
/// let entries = revy_seaorm::attribute_deltas(&db, &feed[0]).await?;
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
    /// Who set the column: `Some(actor)`, or `None` for the system.
    pub fn actor(&self) -> Option<Actor> {
        self.actor.clone()
    }
}

impl From<Model> for AttributeDelta {
    fn from(row: Model) -> Self {
        AttributeDelta {
            actor: super::actor_from_columns(row.actor_type, row.actor_id),
            field_name: row.field_name,
            old_value: row.old_value,
            new_value: row.new_value,
            action: row.action,
            description: row.description,
        }
    }
}

/// Object delta ids per query when many changes' columns are read at once.
const IDS_PER_QUERY: usize = 1000;

/// The columns of each of the object deltas `ids`, in the order they were
/// recorded, keyed by object delta id (a delta without columns, such as a
/// delete, is absent). One query per 1,000 ids.
pub(crate) async fn attribute_deltas_of<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Vec<AttributeDelta>>, crate::Error> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let mut out: HashMap<i64, Vec<AttributeDelta>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = Entity::find()
            .filter(Column::ObjectDeltaId.is_in(chunk.iter().copied()))
            .order_by_asc(Column::Id)
            .all(db)
            .await
            .map_err(|e| crate::Error::from_journal("revy_attribute_deltas", e))?;
        for row in rows {
            out.entry(row.object_delta_id).or_default().push(row.into());
        }
    }
    Ok(out)
}

/// The columns of one change, in the order they were recorded (none for a
/// delete): the [`AttributeDelta`]s of `delta`.
///
/// One query. For many changes at once, [`history entries`](crate::History::entries)
/// and the [feed](crate::feed) read them together.
pub async fn attribute_deltas<C: ConnectionTrait>(
    db: &C,
    delta: &super::object_delta::Model,
) -> Result<Vec<AttributeDelta>, crate::Error> {
    Ok(attribute_deltas_of(db, [delta.id])
        .await?
        .remove(&delta.id)
        .unwrap_or_default())
}

/// An attribute delta: one column of one row changing from `old_value` to
/// `new_value`, by one actor.
///
/// Values are stored as JSON in revy's value encoding (see
/// [`codec`](crate::codec)); JSON `null` means SQL NULL.
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection, delta_id: i64) -> Result<(), sea_orm::DbErr> {
/// use revy_seaorm::entity::attribute_delta;
/// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
///
/// let columns = attribute_delta::Entity::find()
///     .filter(attribute_delta::Column::ObjectDeltaId.eq(delta_id))
///     .all(db)
///     .await?;
/// for c in columns {
///     println!("{}: {} -> {}", c.field_name, c.old_value, c.new_value);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revy_attribute_deltas")]
pub struct Model {
    /// The delta's id; ids grow in the order deltas were written.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The object delta this change is part of.
    pub object_delta_id: i64,
    /// The revision (the object delta's).
    pub revision_id: i64,
    /// The kind of actor who set the column; `None` for the system.
    pub actor_type: Option<String>,
    /// The id of the actor who set the column; `None` for the system.
    pub actor_id: Option<String>,
    /// `Set` or `Unset` (the new value is NULL).
    pub action: Action,
    /// The context's attribute delta description at the time; `""` if none.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The row's table, as in the object delta.
    pub content_type: String,
    /// The row's primary key as text, as in the object delta.
    pub content_id: String,
    /// The column's name.
    pub field_name: String,
    /// The value before the change (JSON `null` for none, e.g. on create).
    pub old_value: Json,
    /// The value after the change.
    pub new_value: Json,
    /// When the delta was written (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
}

/// Relations of an attribute delta.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The object delta this change belongs to.
    #[sea_orm(
        belongs_to = "super::object_delta::Entity",
        from = "Column::ObjectDeltaId",
        to = "super::object_delta::Column::Id"
    )]
    ObjectDelta,
}

impl Related<super::object_delta::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ObjectDelta.def()
    }
}

impl Model {
    /// Who made the change: `Some(actor)`, or `None` for the system.
    ///
    /// ```
    /// # use revy_seaorm::entity::attribute_delta::Model;
    /// # fn check(delta: &Model) {
    /// match delta.actor() {
    ///     Some(actor) => println!("{}:{}", actor.kind, actor.id),
    ///     None => println!("the system"),
    /// }
    /// # }
    /// ```
    pub fn actor(&self) -> Option<Actor> {
        super::actor_from_columns(self.actor_type.clone(), self.actor_id.clone())
    }
}

impl ActiveModelBehavior for ActiveModel {}
