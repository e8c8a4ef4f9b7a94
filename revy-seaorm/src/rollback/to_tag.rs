//! Bringing every row changed after a tag back to its state at the tag.

use revy_core::{Context, LazyRevision};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::error::Error;
use crate::guard::sealed::Sealed;
use crate::guard::{GuardedTransaction, RevyTransaction};
use crate::journal::tag::{bound, find_or_error};
use crate::journal::{object_delta, tag};
use crate::record::write;
use crate::rollback::RollbackError;
use crate::rollback::undo::{RollBack, lookup};
use crate::tags::TagError;

/// One row changed after the tag.
struct Changed {
    content_type: String,
    content_id: String,
    first_delta_id: i64,
    last_delta_id: i64,
}

/// Brings every row changed after the tag `name` back to its state at the
/// tag, newest change first, in one transaction and one new revision, whose
/// id it returns (`None` when nothing changed since the tag). Rows created
/// since are deleted, rows deleted since are restored, the others reverted:
/// the effect of undoing every later revision, newest first, with
/// [`undo_revision`](crate::rollback::undo_revision), but in one step, so rows that
/// several later revisions changed do not stand in each other's way.
///
/// Fails, changing nothing, with [`TagError::TagConflict`](crate::tags::TagError::TagConflict) when a revision at
/// or before the tag's wrote to a row after a later revision did (undoing
/// the later one would discard it too), and with [`RollbackError::UnknownEntity`](crate::rollback::RollbackError::UnknownEntity)
/// for a table no entity is [registered](crate::registry::register) for.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let created = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?[0].revision_id;
/// revy_seaorm::tags::tag("before-the-import", created).exec(&db).await?;
/// for name in ["Annie", "Anna"] {
///     let mut am = user::Entity::find_by_id(ann.id).one(&db).await?.unwrap().into_active_model();
///     am.name = Set(name.into());
///     Context::new().scope(am.update(&db)).await?;
/// }
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Bob".into()), ..Default::default() }.insert(&db))
///     .await?;
///
/// revy_seaorm::rollback::undo_to_tag("before-the-import").exec(&db).await?;
/// assert_eq!(user::Entity::find_by_id(ann.id).one(&db).await?, Some(ann));
/// assert_eq!(user::Entity::find().count(&db).await?, 1); // Bob is gone
/// # Ok(()) }
/// ```
pub fn undo_to_tag(name: impl Into<String>) -> UndoToTag {
    UndoToTag { name: name.into() }
}

/// What [`undo_to_tag`] makes: nothing happens until
/// [`.exec(db)`](UndoToTag::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct UndoToTag {
    name: String,
}

impl UndoToTag {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<Option<i64>, Error>
    where
        C: ConnectionTrait + TransactionTrait<Transaction: RevyTransaction>,
    {
        let Self { name } = self;
        let name = name.as_str();
        let tag = find_or_error(db, name).await?;
        let txn = db.begin().await?.into_guarded();
        let result = undo_to_tag_in(&txn, &tag).await;
        write::finish(txn, result).await
    }
}

async fn undo_to_tag_in(txn: &GuardedTransaction, tag: &tag::Model) -> Result<Option<i64>, Error> {
    let bound = bound(txn, tag).await?;
    let later = object_delta::Entity::find()
        .filter(object_delta::Column::Id.gt(bound))
        .order_by_asc(object_delta::Column::Id)
        .all(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let mut changed: Vec<Changed> = Vec::new();
    for d in later {
        if d.revision_id <= tag.revision_id {
            return Err(Error::from(TagError::TagConflict {
                tag: tag.name.clone(),
                table: d.content_type,
                key: d.content_id,
                revision_id: d.revision_id,
                object_delta_id: d.id,
            }));
        }
        match changed
            .iter_mut()
            .find(|c| c.content_type == d.content_type && c.content_id == d.content_id)
        {
            Some(c) => c.last_delta_id = d.id,
            None => changed.push(Changed {
                content_type: d.content_type,
                content_id: d.content_id,
                first_delta_id: d.id,
                last_delta_id: d.id,
            }),
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }
    // the row changed last is put back first, as undoing newest first would
    changed.sort_by_key(|c| std::cmp::Reverse(c.last_delta_id));
    let steps: Vec<RollBack> = changed
        .iter()
        .map(|c| {
            lookup(&c.content_type).ok_or_else(|| {
                Error::from(RollbackError::UnknownEntity {
                    table: c.content_type.clone(),
                })
            })
        })
        .collect::<Result<_, _>>()?;

    let lazy = LazyRevision::new();
    let mut frame = Context::new().revision(lazy.clone());
    if Context::revision_description().is_empty() {
        frame = frame.revision_description(format!("Undo back to tag {}", tag.name));
    }
    frame
        .scope(async {
            for (c, step) in changed.iter().zip(steps) {
                step(txn, &c.content_id, c.first_delta_id).await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    Ok(lazy.id())
}
