//! `revy_attribute_deltas`: one row per column a tracked operation changed.

use revy_core::{Action, Actor};
use sea_orm::entity::prelude::*;

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
