//! `revy_object_deltas`: one row per tracked create, update or delete.

use revy_core::{Action, Actor};
use sea_orm::entity::prelude::*;

/// An object delta: one create, update or delete of one row.
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
///
/// // every change of row 7 of `users`, newest first
/// let deltas = object_delta::Entity::find()
///     .filter(object_delta::Column::ContentType.eq("users"))
///     .filter(object_delta::Column::ContentId.eq("7"))
///     .order_by_desc(object_delta::Column::Id)
///     .all(db)
///     .await?;
/// # Ok(()) }
/// ```
///
/// The model serializes with serde (its fields under their own names), so
/// a row's versions as [`history`](crate::history::of()) lists them can be
/// answered as JSON as they are.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "revy_object_deltas")]
pub struct Model {
    /// The delta's id; ids grow in the order deltas were written.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The revision the delta belongs to.
    pub revision_id: i64,
    /// The actor's kind; `None` (with `actor_id`) for the system.
    pub actor_type: Option<String>,
    /// The actor's id; `None` for the system.
    pub actor_id: Option<String>,
    /// `Create`, `Update` or `Delete`.
    pub action: Action,
    /// The context's object delta description at the time; `""` if none.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The changed row's table (schema-qualified when the entity has a schema).
    pub content_type: String,
    /// The changed row's primary key as text (a JSON array for a composite key).
    pub content_id: String,
    /// When the delta was written (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
    /// The object's version after this delta: 1 at its first delta, one
    /// more at each later one, continuing after a delete and a restore.
    pub version: i64,
    /// The link of the object's hash chain this delta ends (tamper
    /// evidence, see [`tamper`](crate::tamper)); `None` when it was
    /// written with tamper evidence off.
    pub hash: Option<String>,
    /// On a checkpoint written by [`prune`](crate::lifecycle::prune()), the hash of its
    /// own fields, attribute deltas and [`hash`](Self::hash): a checkpoint
    /// keeps the chain link of the delta it replaced, so that the deltas
    /// after it still verify.
    pub seal: Option<String>,
    /// With tamper evidence on, what the hash of each value is salted
    /// with: a random seed per delta, or, once [`erase`](crate::lifecycle::erase())
    /// has removed some of its values, each kept value's salt and each
    /// erased value's salted digest (see [`tamper`](crate::tamper)).
    /// `None` on a delta written with tamper evidence off.
    #[sea_orm(column_type = "Text", nullable)]
    #[serde(skip)]
    pub salt: Option<String>,
    /// The change's attribute deltas, inline, in revy's compact encoding:
    /// read them with [`attribute_deltas`](Self::attribute_deltas).
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    /// On a checkpoint, the object's whole recorded state after this delta
    /// (each column's value and the delta that set it), so that a reader
    /// folds at most a few deltas after it; `None` on every other delta.
    /// revy writes one every 16 versions of an object; it repeats what the
    /// deltas up to it say.
    #[sea_orm(column_type = "Text", nullable)]
    #[serde(skip)]
    pub state: Option<String>,
}

/// Relations of an object delta.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The revision holding the delta.
    #[sea_orm(
        belongs_to = "super::revision::Entity",
        from = "Column::RevisionId",
        to = "super::revision::Column::Id"
    )]
    Revision,
}

impl Related<super::revision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Revision.def()
    }
}

impl Model {
    /// Who made the change: `Some(actor)`, or `None` for the system.
    ///
    /// ```
    /// # use revy_seaorm::entity::object_delta::Model;
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

    /// The change's own attribute deltas, in the order they were recorded
    /// (none for a delete): each column with its old and new value, and
    /// who set it and why (the delta's actor and description unless the
    /// entry says otherwise, as a [draft](crate::hooks::draft::Tracked)'s may).
    ///
    /// Decoded from the row itself: no query.
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
    /// assert_eq!(name.new_value, serde_json::json!("Ann"));
    /// assert_eq!(name.action, Action::Set);
    /// assert_eq!(name.actor(), Some(Actor::new("users", 9)));
    /// // the key, filled by the database, is the system's
    /// let id = entries.iter().find(|e| e.field_name == "id").unwrap();
    /// assert_eq!(id.actor(), None);
    /// # Ok(()) }
    /// ```
    pub fn attribute_deltas(
        &self,
    ) -> Result<Vec<super::attribute_delta::AttributeDelta>, crate::error::Error> {
        super::attribute_delta::decode_entries(&self.changes, &self.actor(), &self.description)
            .map_err(|reason| {
                crate::error::JournalError::BadEntries {
                    object_delta_id: self.id,
                    reason,
                }
                .into()
            })
    }
}

impl ActiveModelBehavior for ActiveModel {}
