//! The active-model hooks that record tracked saves and deletes.
//!
//! [`track!`](crate::track) puts these four functions into an entity's
//! `ActiveModelBehavior`. Call them yourself when you write your own hooks:
//!
//! ```
//! mod note {
//!     use sea_orm::entity::prelude::*;
//!     use sea_orm::{ConnectionTrait, Set};
//!
//!     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "notes")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         pub body: String,
//!         pub updated_at: DateTimeUtc,
//!     }
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     #[async_trait::async_trait]
//!     impl ActiveModelBehavior for ActiveModel {
//!         async fn before_save<C: ConnectionTrait>(mut self, db: &C, insert: bool) -> Result<Self, DbErr> {
//!             self.updated_at = Set(chrono::Utc::now());
//!             revy_seaorm::hooks::before_save(self, db, insert).await
//!         }
//!         async fn after_save<C: ConnectionTrait>(model: Model, db: &C, insert: bool) -> Result<Model, DbErr> {
//!             revy_seaorm::hooks::after_save(model, db, insert).await
//!         }
//!         async fn before_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
//!             revy_seaorm::hooks::before_delete(self, db).await
//!         }
//!         async fn after_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
//!             revy_seaorm::hooks::after_delete(self, db).await
//!         }
//!     }
//!     impl revy_seaorm::TrackingPolicy for Entity {}
//! }
//! # fn main() {}
//! ```
//!
//! `before_*` read the context and the row as it is in the database; the
//! matching `after_*` write the journal on the same connection, so inside a
//! transaction the change and its history commit or roll back together. What
//! `before_save` learned travels to `after_save` in the context's stash
//! ([`Context::stash`]), since sea-orm hands `after_save` only the model.
//! `before_*` also leave a permit there for the one statement sea-orm sends
//! next, so a [`Guarded`](crate::guard::Guarded) connection knows that statement
//! is revy's own; `after_*` take back a permit no guard used. These side
//! channels are revy's `handoff` module (the facade's `revy::handoff` page).

pub(crate) mod actor;
pub(crate) mod draft;
mod track;

use std::sync::atomic::{AtomicBool, Ordering};

use revy_core::{Action, Context};
use sea_orm::sea_query::{Expr, Order, Query, Value};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, Iterable, ModelTrait, QueryFilter, QuerySelect, QueryTrait,
};

use crate::db::keys::{self, content_type};
use crate::db::values::{self, encode_row};
use crate::error::{Error, JournalError};
use crate::handoff;
use crate::hooks::draft::{Edits, apply_edits};
use crate::journal::object_delta;
use crate::policy::{self, Rules, TrackingPolicy, Vetted};
use crate::record::batch;
use crate::record::rows::{AttributeChange, ContextValues, Head, NewObjectDelta};
use crate::record::{Seal, checkpoint, write};
use crate::{queued, versions};

/// What a `before_*` hook leaves for its `after_*` twin, as a
/// [`handoff::OldRow`].
struct Pending {
    ctx: ContextValues,
    op: Op,
}

enum Op {
    /// Per column: the caller's value (encoded), or `None` when left `NotSet`.
    Insert {
        given: Vec<Option<serde_json::Value>>,
    },
    /// An update or a delete of an existing row.
    Change { action: Action, row: Existing },
}

/// A row as it was before an update or delete.
struct Existing {
    content_id: String,
    /// Every column's value, as read.
    old: Vec<Value>,
    /// Whether the journal had seen the row.
    has_history: bool,
    /// The version of the journal's newest delta of it, as read.
    version: Option<i64>,
    /// That delta's chain link, read when tamper evidence is on.
    hash: Option<String>,
    /// The version a save of it requires (optimistic concurrency).
    expected: Option<i64>,
    /// Whether the entity's policy tracked the row as it was.
    tracked: bool,
}

/// Call before an insert (`insert = true`) or update is sent. Reads the
/// context and, for an update, the row as the database has it now.
pub async fn before_save<A, C>(am: A, db: &C, insert: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + Send,
    A::Entity: TrackingPolicy + 'static,
    C: ConnectionTrait,
{
    if Context::is_disabled() {
        return Ok(am);
    }
    // a bad policy fails here, before anything is written
    let rules = policy::rules::<A::Entity>()?;
    let op = if insert {
        let mut given = Vec::new();
        for col in <A::Entity as EntityTrait>::Column::iter() {
            given.push(match am.get(col) {
                ActiveValue::Set(v) | ActiveValue::Unchanged(v) => {
                    Some(values::encode::<A::Entity>(col, &v)?)
                }
                ActiveValue::NotSet => None,
            });
        }
        Some(Op::Insert { given })
    } else if rules.update_is_unrecorded(&am) && !handoff::RequiredVersion::peek::<A::Entity>() {
        // it sends only ignored columns: nothing to read, nothing to record
        None
    } else {
        current_row::<A, C>(&am, db, &rules)
            .await?
            .map(|row| Op::Change {
                action: Action::Update,
                row,
            })
    };
    if let Some(op) = op {
        stash::<A::Entity>(op)?;
    }
    handoff::Permit::leave::<A::Entity>(content_type::<A::Entity>());
    Ok(am)
}

/// Call after an insert or update, with the model the database returned.
/// Writes the object delta and the attribute deltas.
pub async fn after_save<M, C>(model: M, db: &C, insert: bool) -> Result<M, DbErr>
where
    M: ModelTrait + Send + Sync,
    M::Entity: TrackingPolicy<Model = M> + 'static,
    C: ConnectionTrait,
{
    if !Context::is_active() {
        return Ok(model);
    }
    handoff::Permit::withdraw::<M::Entity>();
    record_save(&model, db, insert).await?;
    Ok(model)
}

/// Call before a delete is sent. Reads the row as the database has it now.
pub async fn before_delete<A, C>(am: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + Send,
    A::Entity: TrackingPolicy + 'static,
    C: ConnectionTrait,
{
    if Context::is_disabled() {
        return Ok(am);
    }
    // a bad policy fails here, before anything is written
    let rules = policy::rules::<A::Entity>()?;
    if let Some(row) = current_row::<A, C>(&am, db, &rules).await? {
        stash::<A::Entity>(Op::Change {
            action: Action::Delete,
            row,
        })?;
    }
    handoff::Permit::leave::<A::Entity>(content_type::<A::Entity>());
    Ok(am)
}

/// Call after a delete. Writes the `Delete` object delta.
pub async fn after_delete<A, C>(am: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + Send,
    A::Entity: TrackingPolicy + 'static,
    C: ConnectionTrait,
{
    if !Context::is_active() {
        return Ok(am);
    }
    handoff::Permit::withdraw::<A::Entity>();
    record_delete(&am, db).await?;
    Ok(am)
}

fn stash<E: EntityTrait + 'static>(op: Op) -> Result<(), Error> {
    handoff::OldRow::leave::<E>(Pending {
        ctx: ContextValues::current()?,
        op,
    })?;
    Ok(())
}

/// The key text, the encoded row and whether the journal has seen it, for
/// the row an active model names; `None` when no such row exists (sea-orm
/// then reports the missing row itself). The row is locked for the rest of
/// the transaction where the backend can (`FOR UPDATE`), so concurrent
/// updates of one row chain their old and new values correctly.
async fn current_row<A, C>(
    am: &A,
    db: &C,
    rules: &Rules<A::Entity>,
) -> Result<Option<Existing>, Error>
where
    A: ActiveModelTrait,
    A::Entity: TrackingPolicy,
    C: ConnectionTrait,
{
    let Some(key) = keys::key_values_of_active(am)? else {
        return Err(JournalError::KeyNotSet {
            table: content_type::<A::Entity>(),
        }
        .into());
    };
    let content_type = content_type::<A::Entity>();
    let content_id = keys::content_id_of::<A::Entity>(&key)?;
    let expected = handoff::RequiredVersion::take::<A::Entity>(&content_id);
    let newest = Query::select()
        .column(object_delta::Column::Version)
        .from(object_delta::Entity)
        .and_where(object_delta::Column::ContentType.eq(content_type.as_str()))
        .and_where(object_delta::Column::ContentId.eq(content_id.as_str()))
        .order_by(object_delta::Column::Id, Order::Desc)
        .limit(1)
        .to_owned();
    let sealed = Seal::current().is_on();
    let link = sealed.then(|| {
        let mut link = newest.clone();
        link.clear_selects().column(object_delta::Column::Hash);
        link
    });
    let mut select = <A::Entity as EntityTrait>::find();
    for (col, value) in key {
        select = select.filter(col.eq(value));
    }
    select = select.expr_as(Expr::SubQuery(None, Box::new(newest.into())), LAST_DELTA);
    if let Some(link) = link {
        select = select.expr_as(Expr::SubQuery(None, Box::new(link.into())), LAST_LINK);
    }
    let statement = select.lock_exclusive().build(db.get_database_backend());
    let queue = handoff::QueueProbe::ask::<queued::Queue>(db);
    if queue.is_some() && expected.is_none() {
        // this read leaves a queued transaction's queue alone: what it
        // holds of the row is asked below (a read whose version a save
        // requires flushes it, to see the row's newest version)
        handoff::exempt_next_statement();
    }
    let row = db
        .query_one_raw(statement)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let Some(row) = row else {
        return match expected {
            Some(e) => Err(versions::conflict(&content_type, &content_id, e, None)),
            None => Ok(None),
        };
    };
    let model =
        <<A::Entity as EntityTrait>::Model as FromQueryResult>::from_query_result(&row, "")?;
    let last: Option<i64> = row.try_get("", LAST_DELTA)?;
    let hash: Option<String> = match sealed {
        true => row.try_get("", LAST_LINK)?,
        false => None,
    };
    if let Some(e) = expected.filter(|e| *e != last.unwrap_or(0)) {
        return Err(versions::conflict(
            &content_type,
            &content_id,
            e,
            Some(last.unwrap_or(0)),
        ));
    }
    // The subquery read the journal as of the statement's snapshot, which
    // may predate a first journal entry committed while this statement
    // waited for the row's lock: ask again, now that the lock is held (only
    // for rows that look untracked, so a baseline is never written twice).
    let known = last.is_some()
        || queue.is_some_and(|q| q.knows(&content_type, &content_id))
        || !batch::known_ids(db, &content_type, vec![content_id.clone()])
            .await?
            .is_empty();
    Ok(Some(Existing {
        content_id,
        old: row_values(&model),
        has_history: known,
        version: last,
        hash,
        expected,
        tracked: rules.tracks(&model),
    }))
}

const LAST_DELTA: &str = "revy_last_object_delta";
const LAST_LINK: &str = "revy_last_object_link";

/// The attribute deltas of an update from `old` (every column's value
/// before, in column order) to `new`: one per column whose value changed,
/// by `actor`. Only the columns whose values differ are encoded: a value
/// equal to the old one in a way that encodes identically is skipped
/// unencoded.
pub(crate) fn update_changes<M: ModelTrait>(
    old: &[Value],
    new: &M,
    actor: &Option<revy_core::Actor>,
    description: &str,
) -> Result<Vec<AttributeChange>, Error> {
    let mut changes = Vec::new();
    for ((col, old_value), field_name) in <M::Entity as EntityTrait>::Column::iter()
        .zip(old)
        .zip(column_names::<M::Entity>())
    {
        let new_value = new.get(col);
        if values::surely_identical(old_value, &new_value) {
            continue;
        }
        let old_value = values::encode::<M::Entity>(col, old_value)?;
        let new_value = values::encode::<M::Entity>(col, &new_value)?;
        if values::identical(&old_value, &new_value) {
            continue;
        }
        changes.push(AttributeChange {
            field_name,
            old_value,
            new_value,
            actor: actor.clone(),
            description: description.to_owned(),
        });
    }
    Ok(changes)
}

/// Whether a row as stored (`row`, encoded in column order) shows every
/// value the caller gave (`given`, `None` where it left the column unset).
pub(crate) fn shows(row: &[serde_json::Value], given: &[Option<serde_json::Value>]) -> bool {
    row.iter()
        .zip(given)
        .all(|(r, g)| g.as_ref().is_none_or(|g| values::identical(g, r)))
}

/// A `Create`'s attribute deltas: every column as stored (`new`, encoded,
/// in column order), the columns the caller gave (`given`) by the
/// context's actor, those the database filled by the system.
pub(crate) fn create_changes<E: EntityTrait>(
    new: Vec<serde_json::Value>,
    given: &[Option<serde_json::Value>],
    ctx: &ContextValues,
) -> Vec<AttributeChange> {
    column_names::<E>()
        .zip(new)
        .zip(given)
        .map(|((field_name, new_value), given)| AttributeChange {
            field_name,
            old_value: serde_json::Value::Null,
            new_value,
            actor: given.as_ref().and(ctx.actor.clone()),
            description: ctx.attribute_delta_description.clone(),
        })
        .collect()
}

/// Every column's value of a model, in column order.
pub(crate) fn row_values<M: ModelTrait>(model: &M) -> Vec<Value> {
    <M::Entity as EntityTrait>::Column::iter()
        .map(|col| model.get(col))
        .collect()
}

fn column_names<E: EntityTrait>() -> impl Iterator<Item = String> {
    E::Column::iter().map(|c| sea_orm::IdenStatic::as_str(&c).to_owned())
}

async fn record_save<M, C>(model: &M, db: &C, insert: bool) -> Result<(), Error>
where
    M: ModelTrait,
    M::Entity: TrackingPolicy<Model = M> + 'static,
    C: ConnectionTrait,
{
    if insert {
        record_insert(model, db).await
    } else {
        record_update(model, db).await
    }
}

async fn record_insert<M, C>(model: &M, db: &C) -> Result<(), Error>
where
    M: ModelTrait,
    M::Entity: TrackingPolicy<Model = M> + 'static,
    C: ConnectionTrait,
{
    let content_id = keys::content_id_of_model(model)?;
    let content_type = content_type::<M::Entity>();
    let new = encode_row(model)?;
    // The newest pending insert whose given values the row shows;
    // failing that (the database changed a value), the newest insert.
    let pending = handoff::OldRow::take::<M::Entity>(
        |p: &Pending| matches!(&p.op, Op::Insert { given } if shows(&new, given)),
    )
    .or_else(|| {
        handoff::OldRow::take::<M::Entity>(|p: &Pending| matches!(p.op, Op::Insert { .. }))
    });
    let Some(Pending {
        ctx,
        op: Op::Insert { given },
        ..
    }) = pending
    else {
        return Ok(());
    };
    let draft = handoff::DraftEdits::take::<M::Entity>();
    let rules = policy::rules::<M::Entity>()?;
    if !rules.tracks(model) {
        return Ok(());
    }
    let changes = rules.vet(with_draft(
        create_changes::<M::Entity>(new, &given, &ctx),
        draft,
    ));
    write_delta(
        db,
        &ctx,
        Action::Create,
        &content_type,
        &content_id,
        changes,
        Numbering::default(),
    )
    .await
}

async fn record_update<M, C>(model: &M, db: &C) -> Result<(), Error>
where
    M: ModelTrait,
    M::Entity: TrackingPolicy<Model = M> + 'static,
    C: ConnectionTrait,
{
    let content_id = keys::content_id_of_model(model)?;
    let Some((ctx, row)) = take_change::<M::Entity>(Action::Update, &content_id) else {
        return Ok(());
    };
    // taken now, so a draft whose save changed nothing is not left behind
    let draft = handoff::DraftEdits::take::<M::Entity>();
    let rules = policy::rules::<M::Entity>()?;
    if !rules.tracks(model) {
        return confirm_version::<M::Entity, C>(db, &row).await;
    }
    let changes = update_changes(
        &row.old,
        model,
        &ctx.actor,
        &ctx.attribute_delta_description,
    )?;
    let changes = rules.vet(with_draft(changes, draft));
    if changes.is_empty() {
        return confirm_version::<M::Entity, C>(db, &row).await;
    }
    record_change::<M::Entity, C>(db, &ctx, Action::Update, row, changes, &rules).await
}

async fn record_delete<A, C>(am: &A, db: &C) -> Result<(), Error>
where
    A: ActiveModelTrait,
    A::Entity: TrackingPolicy + 'static,
    C: ConnectionTrait,
{
    let Some(key) = keys::key_values_of_active(am)? else {
        return Ok(());
    };
    let content_id = keys::content_id_of::<A::Entity>(&key)?;
    let Some((ctx, row)) = take_change::<A::Entity>(Action::Delete, &content_id) else {
        return Ok(());
    };
    if !row.tracked && !row.has_history {
        // the policy never tracked the row: its deletion is not news
        return Ok(());
    }
    let rules = policy::rules::<A::Entity>()?;
    record_change::<A::Entity, C>(db, &ctx, Action::Delete, row, Vetted::default(), &rules).await
}

/// The changes as a [`Tracked`](crate::hooks::draft::Tracked) draft's edits attribute
/// them, when the save came from one.
fn with_draft(changes: Vec<AttributeChange>, draft: Option<Edits>) -> Vec<AttributeChange> {
    match draft {
        Some(edits) => apply_edits(changes, edits),
        None => changes,
    }
}

/// Takes what `before_save`/`before_delete` read for this update or delete
/// of this row.
fn take_change<E: 'static>(action: Action, content_id: &str) -> Option<(ContextValues, Existing)> {
    let pending = handoff::OldRow::take::<E>(|p: &Pending| match &p.op {
        Op::Change { action: a, row } => *a == action && row.content_id == content_id,
        Op::Insert { .. } => false,
    })?;
    match pending.op {
        Op::Change { row, .. } => Some((pending.ctx, row)),
        Op::Insert { .. } => None,
    }
}

/// Journals an update or delete of an existing row: its baseline first if
/// the journal has never seen it or the policy did not track it as it was
/// (the journal's last state of it may be stale), then the object delta.
async fn record_change<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    ctx: &ContextValues,
    action: Action,
    row: Existing,
    changes: Vetted,
    rules: &Rules<E>,
) -> Result<(), Error> {
    let content_type = content_type::<E>();
    let baseline = !row.has_history || !row.tracked;
    // a save that requires a version is journaled at once, even in a
    // queued transaction: its journal statement is where a writer that
    // committed while the locked read waited is seen
    let at_once = row.expected.is_some();
    if baseline {
        write_baseline::<E, C>(
            db,
            rules,
            &content_type,
            &row.content_id,
            &row.old,
            Some(row.version.unwrap_or(0)),
            at_once,
        )
        .await?;
    }
    // known: what the locked read saw (no delta is version 0); only a
    // create, which reads nothing, leaves it unknown
    let known_version = Some(row.version.unwrap_or(0) + i64::from(baseline));
    let check = row.expected.map(|expected| VersionCheck {
        expected,
        after: expected + i64::from(baseline),
    });
    write_delta(
        db,
        ctx,
        action,
        &content_type,
        &row.content_id,
        changes,
        Numbering {
            known: known_version,
            // what the locked read saw, unless a baseline came after it
            head: (!baseline).then(|| Head {
                version: row.version.unwrap_or(0),
                hash: row.hash.clone(),
            }),
            check,
        },
    )
    .await
}

async fn write_delta<C: ConnectionTrait>(
    db: &C,
    ctx: &ContextValues,
    action: Action,
    content_type: &str,
    content_id: &str,
    changes: Vetted,
    numbering: Numbering,
) -> Result<(), Error> {
    let Numbering {
        known: known_version,
        head: known_head,
        check,
    } = numbering;
    if let Some(queue) = handoff::QueueProbe::ask::<queued::Queue>(db).filter(|_| check.is_none()) {
        queue.push(
            ctx,
            action,
            content_type,
            content_id,
            changes.into_inner(),
            known_version,
        );
        return Ok(());
    }
    let atomic = queued::is_transaction(db);
    warn_if_not_atomic::<C>(atomic);
    let seal = Seal::current();
    let outcome = write::record_in_revision(
        db,
        ctx,
        |revision_id| NewObjectDelta {
            revision_id,
            action,
            actor: &ctx.actor,
            description: &ctx.object_delta_description,
            content_type,
            content_id,
            after_version: check.map(|c| c.after),
            known_version,
            known_head: known_head.clone(),
        },
        changes,
        seal,
    )
    .await?;
    // every so many versions, the delta also carries the object's whole
    // state; only under the transaction's row lock (see `checkpoint`)
    let version = known_version.map(|v| v + 1);
    if outcome == write::Outcome::Written
        && atomic
        && action != Action::Create
        && version.is_some_and(checkpoint::due)
    {
        checkpoint::write(db, &[(content_type, content_id)]).await?;
    }
    match (outcome, check) {
        (write::Outcome::VersionMoved, Some(check)) => {
            let current = versions::newest(db, content_type, content_id).await?;
            Err(versions::conflict(
                content_type,
                content_id,
                check.expected,
                current,
            ))
        }
        _ => Ok(()),
    }
}

/// For an update that writes no object delta but requires a version: the
/// locked read may have read the journal from a snapshot older than the
/// row's lock (see [`version`]), and no journal statement will read it
/// afresh, so one read does.
async fn confirm_version<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    row: &Existing,
) -> Result<(), Error> {
    let Some(expected) = row.expected else {
        return Ok(());
    };
    let content_type = content_type::<E>();
    let current = versions::newest(db, &content_type, &row.content_id).await?;
    if current.unwrap_or(0) == expected {
        return Ok(());
    }
    Err(versions::conflict(
        &content_type,
        &row.content_id,
        expected,
        current,
    ))
}

/// What a journal write knows of the object's version.
#[derive(Clone, Default)]
struct Numbering {
    /// The newest version the locked read saw (see `NewObjectDelta`).
    known: Option<i64>,
    /// The newest delta the locked read saw (see `NewObjectDelta`).
    head: Option<Head>,
    /// The version the save requires, if any.
    check: Option<VersionCheck>,
}

/// The version a save requires: what its caller read, and what the
/// object's newest delta must have when this save's delta is written (one
/// more when a baseline was written first).
#[derive(Clone, Copy)]
struct VersionCheck {
    expected: i64,
    after: i64,
}

pub use crate::record::batch::BASELINE_DESCRIPTION;

/// Records the full row of an object the journal has never seen (see
/// [`batch::write_baselines`]).
async fn write_baseline<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    rules: &Rules<E>,
    content_type: &str,
    content_id: &str,
    row: &[Value],
    known_version: Option<i64>,
    at_once: bool,
) -> Result<(), Error> {
    let values = E::Column::iter()
        .zip(row)
        .map(|(col, value)| {
            Ok((
                sea_orm::IdenStatic::as_str(&col).to_owned(),
                values::encode::<E>(col, value)?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let changes = rules.vet(batch::baseline_changes(values));
    if let Some(queue) = handoff::QueueProbe::ask::<queued::Queue>(db).filter(|_| !at_once) {
        queue.push_baseline(
            content_type,
            content_id,
            changes.into_inner(),
            known_version,
        );
        return Ok(());
    }
    batch::write_baselines(
        db,
        content_type,
        vec![(content_id.to_owned(), changes)],
        Seal::current(),
    )
    .await
}

static WARNED_NOT_ATOMIC: AtomicBool = AtomicBool::new(false);

/// The first tracked write made outside a transaction says, once per
/// process, that the change and its journal rows are separate statements.
fn warn_if_not_atomic<C>(atomic: bool) {
    if atomic {
        return;
    }
    if !WARNED_NOT_ATOMIC.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            connection = std::any::type_name::<C>(),
            "revy: a tracked write ran outside a transaction, so the change and its journal rows \
             are not atomic; wrap the work in db.transaction(..) to make them commit together"
        );
    }
}
