//! One chunk of a prune: what to do with each object's old history, then
//! doing it.

use std::io::Write;

use chrono::{DateTime, Utc};
use revy_core::Action;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::PruneReport;
use crate::error::Error;
use crate::history::snapshot::inline::range_start;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::state::State;
use crate::journal::{object_delta, revision, tag};
use crate::lifecycle::export;
use crate::record::batch::baseline_changes;
use crate::record::write::{self};
use crate::tamper::{DeltaFields, Encoder, Salts};

/// The description of the revisions that hold checkpoints, for a person to
/// read. A program tells them by their kind,
/// [`RevisionKind::Checkpoint`](crate::entity::revision::RevisionKind::Checkpoint):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// # revy_seaorm::install(&db).await?;
/// use revy_seaorm::{entity::revision::RevisionKind, entity::revision};
/// use sea_orm::EntityTrait;
///
/// let checkpoints: Vec<revision::Model> = revision::Entity::find()
///     .all(&db)
///     .await?
///     .into_iter()
///     .filter(|r| r.kind() == RevisionKind::Checkpoint)
///     .collect();
/// assert!(checkpoints.is_empty());
/// # Ok(()) }
/// ```
pub const CHECKPOINT_DESCRIPTION: &str =
    "revy checkpoint: the row's state when its older history was pruned";

/// Which object deltas a prune removes.
pub(crate) struct Cut {
    pub older_than: Option<DateTime<Utc>>,
    pub keep_last: Option<u64>,
    /// The oldest object delta of a tagged revision: nothing from it on is
    /// folded, so every tag reads the journal as it was.
    pub first_tagged: Option<i64>,
}

/// What becomes of an object's old history.
enum Plan {
    /// It folds into one checkpoint with this action.
    Fold(Action),
    /// It goes, with nothing in its place.
    Remove,
}

/// One object's old history: its object deltas up to and including `last`.
struct Target {
    last: object_delta::Model,
    count: u64,
    plan: Plan,
}

/// Prunes the objects of one chunk in `txn`: exports what goes (to `out`
/// when there is one), folds or removes each object's old history, removes
/// revisions left empty.
pub(super) async fn prune_chunk<C: ConnectionTrait>(
    txn: &C,
    cut: &Cut,
    objects: &[(String, String)],
    out: Option<&mut (dyn Write + Send)>,
) -> Result<PruneReport, Error> {
    let mut targets = Vec::new();
    for (content_type, content_id) in objects {
        if let Some(target) = plan(txn, cut, content_type, content_id).await? {
            targets.push(target);
        }
    }
    let mut report = PruneReport::default();
    if targets.is_empty() {
        return Ok(report);
    }
    let removed = targets.iter().fold(Condition::any(), |any, t| {
        any.add(export::up_to(
            &t.last.content_type,
            &t.last.content_id,
            t.last.id,
        ))
    });
    let revisions = export::walk(txn, removed, out).await?;
    let mut checkpoint_revision = None;
    for target in targets {
        apply(txn, target, &mut checkpoint_revision, &mut report).await?;
    }
    report.revisions_removed = remove_empty_revisions(txn, &revisions).await?;
    Ok(report)
}

fn of_object(content_type: &str, content_id: &str) -> sea_orm::Select<object_delta::Entity> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(content_type))
        .filter(object_delta::Column::ContentId.eq(content_id))
}

/// Finds the object's old history and locks its newest delta, so a second
/// prune of the object waits and then finds it folded; `None` when there
/// is nothing to do (no old history, or already one checkpoint).
async fn plan<C: ConnectionTrait>(
    txn: &C,
    cut: &Cut,
    content_type: &str,
    content_id: &str,
) -> Result<Option<Target>, Error> {
    let journal = |e| Error::from_journal("revy_object_deltas", e);
    let base = || of_object(content_type, content_id);
    // the old history is the longest prefix (in id order) of deltas that
    // are all before the cut: ids and times may disagree by a little
    // between concurrent writers, and nothing at or after the cut may go
    let mut below: Option<i64> = None;
    if let Some(at) = cut.older_than {
        below = base()
            .filter(object_delta::Column::CreatedAt.gte(at))
            .select_only()
            .column(object_delta::Column::Id)
            .order_by_asc(object_delta::Column::Id)
            .into_tuple::<i64>()
            .one(txn)
            .await
            .map_err(journal)?;
    }
    if let Some(n) = cut.keep_last.filter(|n| *n > 0) {
        let oldest_kept = base()
            .select_only()
            .column(object_delta::Column::Id)
            .order_by_desc(object_delta::Column::Id)
            .offset(n - 1)
            .into_tuple::<i64>()
            .one(txn)
            .await
            .map_err(journal)?;
        let Some(kept) = oldest_kept else {
            return Ok(None);
        };
        below = Some(below.map_or(kept, |b| std::cmp::min(b, kept)));
    }
    if let Some(tagged) = cut.first_tagged {
        below = Some(below.map_or(tagged, |b| std::cmp::min(b, tagged)));
    }
    let mut newest_old = base();
    if let Some(below) = below {
        newest_old = newest_old.filter(object_delta::Column::Id.lt(below));
    }
    let Some(last) = newest_old
        .order_by_desc(object_delta::Column::Id)
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(journal)?
    else {
        return Ok(None);
    };
    let count = base()
        .filter(object_delta::Column::Id.lte(last.id))
        .count(txn)
        .await
        .map_err(journal)?;
    let plan = if last.action == Action::Delete {
        let next = base()
            .filter(object_delta::Column::Id.gt(last.id))
            .order_by_asc(object_delta::Column::Id)
            .one(txn)
            .await
            .map_err(journal)?;
        match next.map(|d| d.action) {
            // a Create holds every column: nothing before it is needed
            None | Some(Action::Create) => Plan::Remove,
            Some(_) if count == 1 => return Ok(None),
            Some(_) => Plan::Fold(Action::Delete),
        }
    } else if count == 1 && last.action == Action::Create {
        return Ok(None);
    } else {
        Plan::Fold(Action::Create)
    };
    Ok(Some(Target { last, count, plan }))
}

/// Folds or removes one object's old history.
async fn apply<C: ConnectionTrait>(
    txn: &C,
    target: Target,
    checkpoint_revision: &mut Option<i64>,
    report: &mut PruneReport,
) -> Result<(), Error> {
    let Target { last, count, plan } = target;
    let (content_type, content_id) = (last.content_type.as_str(), last.content_id.as_str());
    let state = match plan {
        Plan::Fold(_) => fold(txn, content_type, content_id, last.id).await?,
        Plan::Remove => Vec::new(),
    };
    report.object_deltas_pruned += count;
    let mut objects = object_delta::Entity::delete_many()
        .filter(object_delta::Column::ContentType.eq(content_type))
        .filter(object_delta::Column::ContentId.eq(content_id));
    let action = match plan {
        Plan::Remove => {
            objects = objects.filter(object_delta::Column::Id.lte(last.id));
            None
        }
        Plan::Fold(action) => {
            objects = objects.filter(object_delta::Column::Id.lt(last.id));
            Some(action)
        }
    };
    objects
        .exec(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let Some(action) = action else {
        report.objects_removed += 1;
        return Ok(());
    };
    let revision_id = match *checkpoint_revision {
        Some(id) => id,
        None => {
            let id = write::insert_revision(
                txn,
                CHECKPOINT_DESCRIPTION.to_owned(),
                revision::RevisionKind::Checkpoint.meta(),
            )
            .await?;
            *checkpoint_revision = Some(id);
            id
        }
    };
    // the newest old delta becomes the checkpoint: its id and time place
    // it after nothing that remains and before everything kept; it keeps
    // the delta's version and chain link, so the deltas after it still
    // verify, and its own contents are sealed (see `tamper`)
    let changes = baseline_changes(state);
    let fields = DeltaFields {
        revision_id,
        actor_type: None,
        actor_id: None,
        action: action.as_str(),
        description: "",
        content_id,
        created_at: last.created_at,
        version: last.version,
    };
    let salts = Salts::fresh()?;
    let mut seal = Encoder::new(&fields, &salts);
    for change in &changes {
        seal.change(&fields, change);
    }
    object_delta::Entity::update_many()
        .set(object_delta::ActiveModel {
            revision_id: Set(revision_id),
            actor_type: Set(None),
            actor_id: Set(None),
            action: Set(action),
            description: Set(String::new()),
            seal: Set(Some(seal.seal(last.hash.as_deref()))),
            salt: Set(salts.text()),
            changes: Set(encode_entries(&changes, &None, "")),
            ..Default::default()
        })
        .filter(object_delta::Column::Id.eq(last.id))
        .exec(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    // the checkpoints after it name deltas that are gone as the setters of
    // columns the checkpoint now sets: they go, and the journal folds from
    // the checkpoint until the object's next one
    object_delta::Entity::update_many()
        .col_expr(
            object_delta::Column::State,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(object_delta::Column::ContentType.eq(content_type))
        .filter(object_delta::Column::ContentId.eq(content_id))
        .filter(object_delta::Column::Id.gte(last.id))
        .filter(object_delta::Column::State.is_not_null())
        .exec(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    report.checkpoints += 1;
    Ok(())
}

/// The object's state at object delta `last` as its snapshot gives it: per
/// column, the newest value its deltas at or before it set, in the order
/// they were set (by setter, then column). One query, the object's deltas
/// from its newest checkpoint (or create) at or before `last`.
pub(crate) async fn fold<C: ConnectionTrait>(
    txn: &C,
    content_type: &str,
    content_id: &str,
    last: i64,
) -> Result<Vec<(String, serde_json::Value)>, Error> {
    use object_delta::Column as D;
    let range = object_delta::Entity::find()
        .filter(D::ContentType.eq(content_type))
        .filter(D::ContentId.eq(content_id))
        .filter(Expr::col(D::Id).gte(range_start(content_type, content_id, last)))
        .filter(D::Id.lte(last))
        .order_by_asc(D::Id)
        .all(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let mut state = State::default();
    for (i, delta) in range.iter().enumerate() {
        state.step(delta, i == 0)?;
    }
    let mut columns: Vec<(i64, String, serde_json::Value)> = state
        .into_columns()
        .into_iter()
        .map(|(column, (value, setter))| (setter, column, value))
        .collect();
    columns.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(columns.into_iter().map(|(_, c, v)| (c, v)).collect())
}

/// Removes those of `revisions` that no object delta belongs to any more.
pub(crate) async fn remove_empty_revisions<C: ConnectionTrait>(
    txn: &C,
    revisions: &[i64],
) -> Result<u64, Error> {
    let mut removed = 0;
    for batch in revisions.chunks(500) {
        let used = Query::select()
            .expr(Expr::val(1))
            .from(object_delta::Entity)
            .and_where(
                Expr::col((object_delta::Entity, object_delta::Column::RevisionId))
                    .equals((revision::Entity, revision::Column::Id)),
            )
            .to_owned();
        let tagged = Query::select()
            .expr(Expr::val(1))
            .from(tag::Entity)
            .and_where(
                Expr::col((tag::Entity, tag::Column::RevisionId))
                    .equals((revision::Entity, revision::Column::Id)),
            )
            .to_owned();
        let result = revision::Entity::delete_many()
            .filter(revision::Column::Id.is_in(batch.iter().copied()))
            .filter(Expr::exists(used).not())
            .filter(Expr::exists(tagged).not())
            .exec(txn)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))?;
        removed += result.rows_affected;
    }
    Ok(removed)
}
