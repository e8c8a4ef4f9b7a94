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
///
/// What made a revision, an ordinary change or one of revy's own (a
/// baseline, a prune checkpoint, an erasure), is its [`kind`](Model::kind),
/// read from the key `"revy"` of its [`meta`](Model::meta): that key is
/// reserved for revy, and a context whose meta sets it cannot write
/// ([`JournalError::ReservedMeta`](crate::error::JournalError::ReservedMeta)).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "revy_revisions")]
pub struct Model {
    /// The revision's id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The context's revision description when the revision was created; `""` if none.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The context's metadata when the revision was created; for a
    /// revision revy wrote itself, its kind's marker (see [`Model::kind`]).
    pub meta: Option<Json>,
    /// When the revision was created (UTC, microsecond precision).
    pub created_at: DateTimeUtc,
}

impl Model {
    /// What made the revision: see [`RevisionKind`].
    pub fn kind(&self) -> RevisionKind {
        RevisionKind::of_meta(self.meta.as_ref())
    }
}

/// What made a revision: tracked writes, or one of revy's own operations.
///
/// revy marks each revision it writes itself with `{"revy": kind}` in the
/// revision's meta, and [`Model::kind`] reads it back; the description of
/// such a revision is for a human and decides nothing. The key `"revy"` of
/// a revision's meta is reserved for this: a context whose meta is an
/// object with that key makes tracked writes fail with
/// [`JournalError::ReservedMeta`](crate::error::JournalError::ReservedMeta), so no revision of
/// tracked writes can pass for one of revy's.
///
/// A row written while tracking was off gets a baseline before its first
/// tracked update:
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::{entity::revision::RevisionKind, entity::revision};
/// use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder, Set};
///
/// // outside any context: not tracked
/// let ann = user::ActiveModel { name: Set("Ann".into()), ..Default::default() }
///     .insert(&db)
///     .await?;
/// let mut renamed = ann.into_active_model();
/// renamed.name = Set("Anna".into());
/// Context::new().scope(renamed.update(&db)).await?;
///
/// let kinds: Vec<RevisionKind> = revision::Entity::find()
///     .order_by_asc(revision::Column::Id)
///     .all(&db)
///     .await?
///     .iter()
///     .map(revision::Model::kind)
///     .collect();
/// assert_eq!(kinds, [RevisionKind::Baseline, RevisionKind::Change]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevisionKind {
    /// Tracked writes under a context: inserts, updates, deletes, and
    /// what `undo_revision`, `restore` and `revert` write.
    Change,
    /// Rows as they were before tracking began, recorded before the first
    /// tracked update or delete of each (description
    /// [`BASELINE_DESCRIPTION`](crate::hooks::BASELINE_DESCRIPTION)).
    Baseline,
    /// The states a [`prune`](crate::lifecycle::prune()) folded older history into
    /// (description [`CHECKPOINT_DESCRIPTION`](crate::lifecycle::CHECKPOINT_DESCRIPTION)).
    Checkpoint,
    /// An [`erase`](crate::lifecycle::erase()): its description is the reason given.
    Erasure,
}

/// The key of a revision's meta that holds the kind of a revision revy
/// wrote itself.
pub(crate) const KIND_KEY: &str = "revy";

impl RevisionKind {
    /// The word under [`KIND_KEY`] in the meta of a revision of this kind.
    fn marker(self) -> Option<&'static str> {
        match self {
            RevisionKind::Change => None,
            RevisionKind::Baseline => Some("baseline"),
            RevisionKind::Checkpoint => Some("checkpoint"),
            RevisionKind::Erasure => Some("erasure"),
        }
    }

    /// The meta every writer of a revision of this kind stores: the kind's
    /// marker, or JSON `null` for [`Change`](RevisionKind::Change), whose
    /// meta is the context's.
    pub(crate) fn meta(self) -> serde_json::Value {
        match self.marker() {
            Some(word) => serde_json::json!({ KIND_KEY: word }),
            None => serde_json::Value::Null,
        }
    }

    /// The kind a revision's meta names: a word revy does not know (a
    /// later revy's kind) reads as [`Change`](RevisionKind::Change).
    pub(crate) fn of_meta(meta: Option<&serde_json::Value>) -> RevisionKind {
        let word = meta
            .and_then(|m| m.get(KIND_KEY))
            .and_then(serde_json::Value::as_str);
        [
            RevisionKind::Baseline,
            RevisionKind::Checkpoint,
            RevisionKind::Erasure,
        ]
        .into_iter()
        .find(|kind| kind.marker() == word)
        .unwrap_or(RevisionKind::Change)
    }

    /// Whether a context's meta uses the reserved key (it is an object
    /// holding [`KIND_KEY`]).
    pub(crate) fn is_reserved(meta: &serde_json::Value) -> bool {
        meta.get(KIND_KEY).is_some()
    }
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
