//! `revy_erasures`: one row per object whose values an
//! [`erase`](crate::lifecycle::erase()) removed from the journal.

use revy_core::Actor;
use sea_orm::entity::prelude::*;

/// An erasure: which columns of which row were erased, by whom, when, and
/// in which revision (whose description says why). It holds no value.
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// use revy_seaorm::entity::erasure;
/// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
///
/// // every erasure of row 7 of `users`
/// let done = erasure::Entity::find()
///     .filter(erasure::Column::ContentType.eq("users"))
///     .filter(erasure::Column::ContentId.eq("7"))
///     .all(db)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "revy_erasures")]
pub struct Model {
    /// The erasure's id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The revision that records it; its description says why.
    pub revision_id: i64,
    /// The erasing actor's kind; `None` (with `actor_id`) for the system.
    pub actor_type: Option<String>,
    /// The erasing actor's id; `None` for the system.
    pub actor_id: Option<String>,
    /// The erased row's table.
    pub content_type: String,
    /// The erased row's primary key as text.
    pub content_id: String,
    /// The erased columns, a JSON array of names.
    #[sea_orm(column_type = "Text")]
    pub columns: String,
    /// How many object deltas held a value that was erased.
    pub deltas: i64,
    /// When the erasure was made (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
}

/// Relations of an erasure.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The revision that records it.
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
    /// Who erased: `Some(actor)`, or `None` for the system.
    pub fn actor(&self) -> Option<Actor> {
        super::actor_from_columns(self.actor_type.clone(), self.actor_id.clone())
    }

    /// The erased columns' names.
    pub fn column_names(&self) -> Vec<String> {
        serde_json::from_str(&self.columns).unwrap_or_default()
    }
}

impl ActiveModelBehavior for ActiveModel {}
