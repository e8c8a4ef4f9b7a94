//! Undoing a whole revision. A revision names its rows by table, so each
//! registered entity ([`crate::registry::register`]) leaves here how to roll
//! its rows back.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{LazyLock, RwLock};

use revy_core::{Context, LazyRevision};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::db::keys::content_type;
use crate::error::{Error, JournalError};
use crate::guard::sealed::Sealed;
use crate::guard::{GuardedTransaction, RevyTransaction};
use crate::journal::object_delta;
use crate::journal::revision::{self, RevisionKind};
use crate::record::write;
use crate::registry::{Parts, TrackedEntity};
use crate::rollback::RollbackError;
use crate::rollback::restore::roll_back_object;

pub(crate) type RollBack =
    for<'a> fn(
        &'a GuardedTransaction,
        &'a str,
        i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

static ROLL_BACKS: LazyLock<RwLock<HashMap<String, RollBack>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

fn roll_back<'a, E: TrackedEntity>(
    txn: &'a GuardedTransaction,
    content_id: &'a str,
    first_delta_id: i64,
) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
    Box::pin(roll_back_object::<E, GuardedTransaction>(
        txn,
        content_id,
        first_delta_id,
    ))
}

/// Registered with the entity ([`crate::registry::register`]): how to roll
/// its rows back, and how to make a child policy on it.
impl<E: TrackedEntity> Parts for E {
    fn register_parts() {
        if let Ok(mut map) = ROLL_BACKS.write() {
            map.insert(content_type::<E>(), roll_back::<E>);
        }
        crate::deletion::cascade::register_entity::<E>();
    }
}

pub(crate) fn lookup(table: &str) -> Option<RollBack> {
    ROLL_BACKS.read().ok().and_then(|m| m.get(table).copied())
}

/// One row a revision touched.
struct Touched {
    content_type: String,
    content_id: String,
    first_delta_id: i64,
    last_delta_id: i64,
}

/// Reverses every object delta of a revision, newest first, in one
/// transaction and one new revision, whose id it returns (`None` when the
/// revision holds no deltas).
///
/// Each row goes back to its state before the revision: rows it created are
/// deleted, rows it updated are reverted, rows it deleted are restored with
/// their keys. If any row changed after the revision, nothing is changed and
/// the error names the row and the later delta.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Context, LazyRevision};
/// use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
///
/// let revision = LazyRevision::new();
/// Context::via_revision(revision.clone())
///     .scope(async {
///         for name in ["Ann", "Bob"] {
///             user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db).await?;
///         }
///         Ok::<_, sea_orm::DbErr>(())
///     })
///     .await?;
/// assert_eq!(user::Entity::find().count(&db).await?, 2);
///
/// let undo = revy_seaorm::rollback::undo_revision(revision.id().unwrap()).exec(&db).await?;
/// assert!(undo.is_some()); // the undo is a revision too, so it can be undone
/// assert_eq!(user::Entity::find().count(&db).await?, 0);
/// # Ok(()) }
/// ```
pub fn undo_revision(revision_id: i64) -> UndoRevision {
    UndoRevision { revision_id }
}

/// What [`undo_revision`] makes: nothing happens until
/// [`.exec(db)`](UndoRevision::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct UndoRevision {
    revision_id: i64,
}

impl UndoRevision {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<Option<i64>, Error>
    where
        C: ConnectionTrait + TransactionTrait<Transaction: RevyTransaction>,
    {
        let Self { revision_id } = self;
        let exists = revision::Entity::find_by_id(revision_id)
            .one(db)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))?;
        let Some(revision) = exists else {
            return Err(Error::from(JournalError::NoRevision { revision_id }));
        };
        // a baseline or checkpoint records rows as they already were: undoing
        // it would delete rows that no tracked operation created
        let not_undoable = |what| {
            Err(Error::from(RollbackError::NotUndoable {
                revision_id,
                what,
            }))
        };
        match revision.kind() {
            RevisionKind::Change => {}
            // an erasure removed values the journal no longer holds
            RevisionKind::Erasure => {
                return Err(Error::from(RollbackError::ErasureIsFinal { revision_id }));
            }
            RevisionKind::Baseline => return not_undoable("a baseline"),
            RevisionKind::Checkpoint => return not_undoable("a prune checkpoint"),
        }
        let deltas = object_delta::Entity::find()
            .filter(object_delta::Column::RevisionId.eq(revision_id))
            .order_by_asc(object_delta::Column::Id)
            .all(db)
            .await?;
        let mut touched: Vec<Touched> = Vec::new();
        for d in deltas {
            match touched
                .iter_mut()
                .find(|t| t.content_type == d.content_type && t.content_id == d.content_id)
            {
                Some(t) => t.last_delta_id = d.id,
                None => touched.push(Touched {
                    content_type: d.content_type,
                    content_id: d.content_id,
                    first_delta_id: d.id,
                    last_delta_id: d.id,
                }),
            }
        }
        if touched.is_empty() {
            return Ok(None);
        }
        // the row changed last in the revision is put back first
        touched.sort_by_key(|t| std::cmp::Reverse(t.last_delta_id));

        let txn = db.begin().await?.into_guarded();
        let result = undo_in(&txn, revision_id, touched).await;
        write::finish(txn, result).await
    }
}

async fn undo_in(
    txn: &GuardedTransaction,
    revision_id: i64,
    touched: Vec<Touched>,
) -> Result<Option<i64>, Error> {
    let mut steps = Vec::with_capacity(touched.len());
    for t in &touched {
        let later = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq(t.content_type.as_str()))
            .filter(object_delta::Column::ContentId.eq(t.content_id.as_str()))
            .filter(object_delta::Column::Id.gt(t.last_delta_id))
            .order_by_asc(object_delta::Column::Id)
            .one(txn)
            .await?;
        if let Some(later) = later {
            return Err(RollbackError::Conflict {
                revision_id,
                table: t.content_type.clone(),
                key: t.content_id.clone(),
                later_delta_id: later.id,
            }
            .into());
        }
        let step = lookup(&t.content_type).ok_or_else(|| RollbackError::UnknownEntity {
            table: t.content_type.clone(),
        })?;
        steps.push(step);
    }

    let lazy = LazyRevision::new();
    let mut frame = Context::new().revision(lazy.clone());
    if Context::revision_description().is_empty() {
        frame = frame.revision_description(format!("Undo revision {revision_id}"));
    }
    frame
        .scope(async {
            for (t, step) in touched.iter().zip(steps) {
                step(txn, &t.content_id, t.first_delta_id).await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    Ok(lazy.id())
}
