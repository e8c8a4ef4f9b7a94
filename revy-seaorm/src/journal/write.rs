//! Writing revisions, object deltas and attribute deltas.

use chrono::{DateTime, SubsecRound, Utc};
use revy_core::{Action, Actor, Context, LazyRevision};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set};

use super::{attribute_delta, object_delta, revision};
use crate::Error;

/// What the context said when an operation began.
#[derive(Debug, Clone)]
pub(crate) struct ContextValues {
    pub actor: Option<Actor>,
    pub object_delta_description: String,
    pub attribute_delta_description: String,
    pub revision: Option<LazyRevision>,
    pub revision_description: String,
    pub meta: serde_json::Value,
}

impl ContextValues {
    pub(crate) fn current() -> Self {
        ContextValues {
            actor: Context::actor(),
            object_delta_description: Context::object_delta_description(),
            attribute_delta_description: Context::attribute_delta_description(),
            revision: Context::revision(),
            revision_description: Context::revision_description(),
            meta: Context::meta(),
        }
    }
}

/// One column's change, ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct AttributeChange {
    pub field_name: String,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    pub actor: Option<Actor>,
    pub description: String,
}

/// The journal's timestamp: now, at the microsecond precision every backend keeps.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Inserts a revision row and returns its id.
pub(crate) async fn insert_revision<C: ConnectionTrait>(
    db: &C,
    description: String,
    meta: serde_json::Value,
) -> Result<i64, Error> {
    let row = revision::ActiveModel {
        id: NotSet,
        description: Set(description),
        meta: Set((!meta.is_null()).then_some(meta)),
        created_at: Set(now()),
    };
    revision::Entity::insert(row)
        .exec(db)
        .await
        .map(|r| r.last_insert_id)
        .map_err(|e| Error::from_journal("revy_revisions", e))
}

/// The revision an operation writes into: the context's (created on first
/// use when lazy) or a new one of its own.
pub(crate) async fn revision_for<C: ConnectionTrait>(
    db: &C,
    ctx: &ContextValues,
) -> Result<i64, Error> {
    let create = || insert_revision(db, ctx.revision_description.clone(), ctx.meta.clone());
    match &ctx.revision {
        Some(lazy) => lazy.get_or_try_create(create).await,
        None => create().await,
    }
}

fn actor_columns(actor: &Option<Actor>) -> (Option<String>, Option<String>) {
    match actor {
        Some(a) => (Some(a.kind.clone()), Some(a.id.clone())),
        None => (None, None),
    }
}

/// The attribute delta action for a new value: `Unset` iff it is NULL.
pub(crate) fn attribute_action(new_value: &serde_json::Value) -> Action {
    if new_value.is_null() {
        Action::Unset
    } else {
        Action::Set
    }
}

/// An object delta about to be written.
pub(crate) struct NewObjectDelta<'a> {
    pub revision_id: i64,
    pub action: Action,
    pub actor: &'a Option<Actor>,
    pub description: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
}

// Rows per INSERT of attribute deltas: 13 parameters a row stays well under
// every backend's limit on bound parameters (SQLite's 32766 is the lowest).
const ATTRIBUTE_ROWS_PER_STATEMENT: usize = 1000;

/// Writes one object delta and its attribute deltas (one multi-row insert);
/// returns the object delta's id.
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    delta: NewObjectDelta<'_>,
    changes: Vec<AttributeChange>,
) -> Result<i64, Error> {
    let created_at = now();
    let (actor_type, actor_id) = actor_columns(delta.actor);
    let row = object_delta::ActiveModel {
        id: NotSet,
        revision_id: Set(delta.revision_id),
        actor_type: Set(actor_type),
        actor_id: Set(actor_id),
        action: Set(delta.action.as_str().to_owned()),
        description: Set(delta.description.to_owned()),
        content_type: Set(delta.content_type.to_owned()),
        content_id: Set(delta.content_id.to_owned()),
        created_at: Set(created_at),
    };
    let object_delta_id = object_delta::Entity::insert(row)
        .exec(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?
        .last_insert_id;

    let mut rows = changes.into_iter().map(|c| {
        let (actor_type, actor_id) = actor_columns(&c.actor);
        attribute_delta::ActiveModel {
            id: NotSet,
            object_delta_id: Set(object_delta_id),
            revision_id: Set(delta.revision_id),
            actor_type: Set(actor_type),
            actor_id: Set(actor_id),
            action: Set(attribute_action(&c.new_value).as_str().to_owned()),
            description: Set(c.description),
            content_type: Set(delta.content_type.to_owned()),
            content_id: Set(delta.content_id.to_owned()),
            field_name: Set(c.field_name),
            old_value: Set(c.old_value),
            new_value: Set(c.new_value),
            created_at: Set(created_at),
        }
    });
    loop {
        let chunk: Vec<_> = rows.by_ref().take(ATTRIBUTE_ROWS_PER_STATEMENT).collect();
        if chunk.is_empty() {
            break;
        }
        attribute_delta::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
    }
    Ok(object_delta_id)
}

/// Object deltas of one action by one actor, for many rows of one table.
pub(crate) struct NewObjectDeltas<'a> {
    pub revision_id: i64,
    pub action: Action,
    pub actor: &'a Option<Actor>,
    pub description: &'a str,
    pub content_type: &'a str,
}

/// Writes an object delta for each row, with its attribute deltas, in three
/// statements whatever the number of rows (at most one chunk's worth): the
/// object deltas, a read-back of their ids, the attribute deltas.
pub(crate) async fn record_many<C: ConnectionTrait>(
    db: &C,
    deltas: NewObjectDeltas<'_>,
    rows: Vec<(String, Vec<AttributeChange>)>,
) -> Result<(), Error> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    if rows.is_empty() {
        return Ok(());
    }
    let created_at = now();
    let (actor_type, actor_id) = actor_columns(deltas.actor);
    let objects = rows
        .iter()
        .map(|(content_id, _)| object_delta::ActiveModel {
            id: NotSet,
            revision_id: Set(deltas.revision_id),
            actor_type: Set(actor_type.clone()),
            actor_id: Set(actor_id.clone()),
            action: Set(deltas.action.as_str().to_owned()),
            description: Set(deltas.description.to_owned()),
            content_type: Set(deltas.content_type.to_owned()),
            content_id: Set(content_id.clone()),
            created_at: Set(created_at),
        });
    object_delta::Entity::insert_many(objects)
        .exec_without_returning(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    if rows.iter().all(|(_, changes)| changes.is_empty()) {
        return Ok(());
    }
    // The newest delta of each row in this revision is the one just written:
    // the rows are locked by the statement that changed them.
    let ids: Vec<(i64, String)> = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::Id)
        .column(object_delta::Column::ContentId)
        .filter(object_delta::Column::RevisionId.eq(deltas.revision_id))
        .filter(object_delta::Column::ContentType.eq(deltas.content_type))
        .filter(object_delta::Column::Action.eq(deltas.action.as_str()))
        .filter(object_delta::Column::ContentId.is_in(rows.iter().map(|(c, _)| c.clone())))
        .into_tuple()
        .all(db)
        .await?;
    let mut newest: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (id, content_id) in ids {
        let slot = newest.entry(content_id).or_insert(id);
        *slot = (*slot).max(id);
    }
    let mut attributes = Vec::new();
    for (content_id, changes) in rows {
        let Some(&object_delta_id) = newest.get(&content_id) else {
            continue;
        };
        for c in changes {
            let (actor_type, actor_id) = actor_columns(&c.actor);
            attributes.push(attribute_delta::ActiveModel {
                id: NotSet,
                object_delta_id: Set(object_delta_id),
                revision_id: Set(deltas.revision_id),
                actor_type: Set(actor_type),
                actor_id: Set(actor_id),
                action: Set(attribute_action(&c.new_value).as_str().to_owned()),
                description: Set(c.description),
                content_type: Set(deltas.content_type.to_owned()),
                content_id: Set(content_id.clone()),
                field_name: Set(c.field_name),
                old_value: Set(c.old_value),
                new_value: Set(c.new_value),
                created_at: Set(created_at),
            });
        }
    }
    let mut attributes = attributes.into_iter();
    loop {
        let chunk: Vec<_> = attributes
            .by_ref()
            .take(ATTRIBUTE_ROWS_PER_STATEMENT)
            .collect();
        if chunk.is_empty() {
            break;
        }
        attribute_delta::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
    }
    Ok(())
}

/// Commits `txn` when `result` is a success; otherwise rolls it back before
/// returning the error, so its locks are gone when the caller sees the
/// failure (dropping a transaction only schedules the rollback).
pub(crate) async fn finish<T>(
    txn: sea_orm::DatabaseTransaction,
    result: Result<T, Error>,
) -> Result<T, Error> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // the operation's error says what went wrong; a failed rollback
            // (the connection is gone) ends the transaction just the same
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}
