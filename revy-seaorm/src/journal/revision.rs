//! `revy_revisions`: one row per group of changes.

use sea_orm::entity::prelude::*;

/// A revision: a group of object deltas made together (one request, one
/// job), with a description and optional metadata.
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// use revy_seaorm::entity::revision;
/// use sea_orm::{EntityTrait, QueryOrder};
///
/// let newest = revision::Entity::find()
///     .order_by_desc(revision::Column::Id)
///     .one(db)
///     .await?;
/// # Ok(()) }
/// ```
///
/// The model serializes with serde (its fields under their own names).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "revy_revisions")]
pub struct Model {
    /// The revision's id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The context's revision description when the revision was created; `""` if none.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The context's metadata when the revision was created.
    pub meta: Option<Json>,
    /// When the revision was created (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
}

/// Relations of a revision.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The object deltas of the revision.
    #[sea_orm(has_many = "super::object_delta::Entity")]
    ObjectDelta,
}

impl Related<super::object_delta::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ObjectDelta.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
