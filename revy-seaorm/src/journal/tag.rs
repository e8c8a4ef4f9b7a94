//! `revy_tags`: names for revisions (`"release-2026-11"`).

use revy_core::Actor;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;

use crate::error::{Error, TagError};

/// A tag: a unique name for a revision, made by [`tag`](crate::tags::all).
///
/// ```no_run
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// use revy_seaorm::entity::tag;
/// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
///
/// let releases = tag::Entity::find()
///     .filter(tag::Column::Name.starts_with("release-"))
///     .all(db)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revy_tags")]
pub struct Model {
    /// The tag's id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tag's name, unique.
    pub name: String,
    /// The revision it names.
    pub revision_id: i64,
    /// The context's actor's kind when the tag was made; `None` for the system.
    pub actor_type: Option<String>,
    /// The context's actor's id when the tag was made; `None` for the system.
    pub actor_id: Option<String>,
    /// The context's revision description when the tag was made; `""` if none.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// When the tag was made (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
}

/// Relations of a tag.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The revision the tag names.
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
    /// Who made the tag: `Some(actor)`, or `None` for the system.
    ///
    /// ```
    /// # use revy_seaorm::entity::tag::Model;
    /// # fn check(tag: &Model) {
    /// if let Some(actor) = tag.actor() {
    ///     println!("tagged by {}:{}", actor.kind, actor.id);
    /// }
    /// # }
    /// ```
    pub fn actor(&self) -> Option<Actor> {
        super::actor_from_columns(self.actor_type.clone(), self.actor_id.clone())
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The tag named `name`, or [`TagError::NoTag`].
pub(crate) async fn find_or_error<C: ConnectionTrait>(db: &C, name: &str) -> Result<Model, Error> {
    Entity::find()
        .filter(Column::Name.eq(name))
        .one(db)
        .await
        .map_err(|e| Error::from_journal("revy_tags", e))?
        .ok_or_else(|| {
            Error::from(TagError::NoTag {
                name: name.to_owned(),
            })
        })
}

/// The newest object delta at the tag: the last of its revision.
pub(crate) async fn bound<C: ConnectionTrait>(db: &C, tag: &Model) -> Result<i64, Error> {
    let newest: Option<Option<i64>> = super::object_delta::Entity::find()
        .select_only()
        .column_as(super::object_delta::Column::Id.max(), "newest")
        .filter(super::object_delta::Column::RevisionId.eq(tag.revision_id))
        .into_tuple()
        .one(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(newest.flatten().unwrap_or(0))
}
