//! Reading the journal: who took part in a revision.

use revy_core::Actor;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::Error;
use crate::journal::{attribute_delta, object_delta};

/// The distinct actors of a revision, object deltas' and attribute deltas'
/// together, in the order they first appear; `None` is the system.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// assert!(revy_seaorm::revision_actors(&db, 1).await?.is_empty());
/// # Ok(()) }
/// ```
pub async fn revision_actors<C: ConnectionTrait>(
    db: &C,
    revision_id: i64,
) -> Result<Vec<Option<Actor>>, Error> {
    let objects: Vec<(Option<String>, Option<String>)> = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::ActorType)
        .column(object_delta::Column::ActorId)
        .filter(object_delta::Column::RevisionId.eq(revision_id))
        .order_by_asc(object_delta::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let attributes: Vec<(Option<String>, Option<String>)> = attribute_delta::Entity::find()
        .select_only()
        .column(attribute_delta::Column::ActorType)
        .column(attribute_delta::Column::ActorId)
        .filter(attribute_delta::Column::RevisionId.eq(revision_id))
        .order_by_asc(attribute_delta::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
    let mut out: Vec<Option<Actor>> = Vec::new();
    for (kind, id) in objects.into_iter().chain(attributes) {
        let actor = match (kind, id) {
            (Some(kind), Some(id)) => Some(Actor { kind, id }),
            _ => None,
        };
        if !out.contains(&actor) {
            out.push(actor);
        }
    }
    Ok(out)
}
