//! `insert_many(..).on_conflict_*`: a tracked get-or-create and upsert.
//!
//! sea-orm's `ON CONFLICT` tells nobody which rows it inserted, which it
//! updated and what they held before, so revy does not hand the decision
//! to the statement alone. Each chunk:
//!
//! 1. reads, locked (`FOR UPDATE`), the rows that hold the chunk's target
//!    values;
//! 2. inserts the models that match none of them: with `ON CONFLICT DO
//!    NOTHING RETURNING` on PostgreSQL and SQLite, so a row another
//!    transaction inserted meanwhile is skipped, not failed, and is seen by
//!    the next round; a plain insert on MySQL/MariaDB, whose locking read
//!    holds the index gap so no other transaction can insert those values;
//! 3. updates, row by row and by key, the rows that were there (for
//!    `on_conflict_update`), reading each back as stored.
//!
//! Inserted rows get a `Create`, updated rows an `Update` of the columns
//! that changed (a baseline first for a row the journal never saw), rows
//! left alone nothing: the journal names exactly the rows the call wrote.

use std::collections::HashMap;

use revy_core::Action;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, EntityTrait, IntoActiveModel, Iterable,
    QueryFilter, QuerySelect, QueryTrait,
};

use super::insert::{Given, insert_chunk};
use crate::bulk::BulkError;
use crate::db::keys::{self, content_type};
use crate::db::keyset::{self, RowKey};
use crate::db::returning;
use crate::db::values::{self, encode_row};
use crate::error::Error;
use crate::hooks::{create_changes, row_values, update_changes};
use crate::policy::Rules;
use crate::record::Seal;
use crate::record::batch::{self, RowDelta};
use crate::record::rows::ContextValues;

/// What `insert_many` does with a model whose target values a row holds
/// already.
#[derive(Debug, Clone)]
pub(crate) struct Conflict<E: EntityTrait> {
    /// The columns of the unique key (or primary key) that decide a conflict.
    pub target: Vec<E::Column>,
    /// Columns set from the model on a conflicting row; empty: do nothing.
    pub update: Vec<E::Column>,
}

/// How many times a chunk's models are sorted into "new" and "there"
/// again when other transactions insert or delete the same values between
/// the read and the write.
const ROUNDS: usize = 8;

impl<E: EntityTrait> Conflict<E> {
    /// sea-query's clause, for the untracked path.
    pub(crate) fn clause(&self, backend: sea_orm::DbBackend) -> Result<OnConflict, Error> {
        let mut clause = OnConflict::columns(self.target.iter().copied());
        if self.update.is_empty() {
            if backend == sea_orm::DbBackend::MySql {
                // MySQL's ON DUPLICATE KEY UPDATE needs a column to set
                clause.do_nothing_on(keys::key_columns::<E>()?);
            } else {
                clause.do_nothing();
            }
        } else {
            clause.update_columns(self.update.iter().copied());
        }
        Ok(clause)
    }

    /// The model's values of the target columns; every one must be set.
    fn key_of_model(&self, model: &E::ActiveModel) -> Result<RowKey<E>, Error> {
        self.target
            .iter()
            .map(|c| match model.get(*c) {
                ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Ok((*c, v)),
                ActiveValue::NotSet => Err(BulkError::ConflictTargetNotSet {
                    table: content_type::<E>(),
                    column: sea_orm::IdenStatic::as_str(c).to_owned(),
                }
                .into()),
            })
            .collect()
    }

    /// Target values in revy's encoding: equal texts, equal values.
    fn text(key: &RowKey<E>) -> Result<String, Error> {
        let encoded = key
            .iter()
            .map(|(c, v)| values::encode::<E>(*c, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(serde_json::Value::Array(encoded).to_string())
    }

    fn text_of_row(&self, row: &E::Model) -> Result<String, Error> {
        Self::text(&keyset::key_of::<E>(row, &self.target))
    }
}

/// One pending model: the model, what it gave, its target values and
/// their text.
type Pending<E> = (<E as EntityTrait>::ActiveModel, Given, RowKey<E>, String);

/// What a chunk wrote: rows inserted, then rows updated, in the order
/// written; and the last row inserted.
pub(crate) struct Written<M> {
    pub rows: Vec<M>,
    pub last_inserted: Option<M>,
}

/// Inserts or updates one chunk of models under `conflict`, journaling
/// what it wrote (see the module documentation).
pub(crate) async fn upsert_chunk<E, C>(
    db: &C,
    conflict: &Conflict<E>,
    chunk: Vec<E::ActiveModel>,
    given: Vec<Given>,
    lock_mode: &mut Option<i64>,
    ctx: &ContextValues,
    rules: &Rules<E>,
) -> Result<Written<E::Model>, Error>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let mut pending: Vec<Pending<E>> = Vec::with_capacity(chunk.len());
    for (model, given) in chunk.into_iter().zip(given) {
        let key = conflict.key_of_model(&model)?;
        let text = Conflict::<E>::text(&key)?;
        pending.push((model, given, key, text));
    }
    let mut written = Written {
        rows: Vec::new(),
        last_inserted: None,
    };
    let speaks = returning::speaks(db).await?;
    for _ in 0..ROUNDS {
        if pending.is_empty() {
            return Ok(written);
        }
        // 1. the rows there now, locked
        let keys: Vec<RowKey<E>> = pending.iter().map(|p| p.2.clone()).collect();
        let mut there: HashMap<String, E::Model> = HashMap::new();
        for row in E::find()
            .filter(keyset::key_in::<E>(&keys))
            .lock_exclusive()
            .all(db)
            .await?
        {
            there.insert(conflict.text_of_row(&row)?, row);
        }
        // sort: models over a row that is there, models to insert (the
        // first of equal targets; the others meet it next round)
        let mut over: Vec<(E::ActiveModel, E::Model)> = Vec::new();
        let mut fresh: Vec<Pending<E>> = Vec::new();
        let mut later: Vec<Pending<E>> = Vec::new();
        for p in pending {
            if let Some(row) = there.get(&p.3) {
                over.push((p.0, row.clone()));
            } else if fresh.iter().any(|f| f.3 == p.3) {
                later.push(p);
            } else {
                fresh.push(p);
            }
        }
        // 2. insert the new ones
        if !fresh.is_empty() {
            let (inserted, skipped) = insert_fresh(db, conflict, fresh, speaks, lock_mode).await?;
            later.extend(skipped);
            let deltas = inserted
                .iter()
                .map(|(row, given)| {
                    Ok(RowDelta {
                        content_id: keys::content_id_of_model(row)?,
                        before: None,
                        after: Some(row),
                        changes: create_changes::<E>(encode_row(row)?, given, ctx),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            batch::record_rows(db, ctx, Action::Create, rules, deltas, Seal::current()).await?;
            for (row, _) in inserted {
                written.last_inserted = Some(row.clone());
                written.rows.push(row);
            }
        }
        // 3. update the ones that were there
        if !conflict.update.is_empty() && !over.is_empty() {
            let updated = update_over(db, conflict, over, speaks).await?;
            let mut changed = Vec::with_capacity(updated.len());
            for (old, new) in &updated {
                let changes = update_changes(
                    &row_values(old),
                    new,
                    &ctx.actor,
                    &ctx.attribute_delta_description,
                )?;
                if !changes.is_empty() {
                    changed.push(RowDelta {
                        content_id: keys::content_id_of_model(new)?,
                        before: Some(old),
                        after: Some(new),
                        changes,
                    });
                }
            }
            batch::record_rows(db, ctx, Action::Update, rules, changed, Seal::current()).await?;
            written.rows.extend(updated.into_iter().map(|(_, new)| new));
        }
        pending = later;
    }
    if pending.is_empty() {
        return Ok(written);
    }
    Err(BulkError::NotReadBack {
        table: content_type::<E>(),
        key: pending.first().map(|p| p.3.clone()).unwrap_or_default(),
        hint: " (under on_conflict, other transactions kept inserting and deleting rows with \
               these values; retry the call)"
            .into(),
    }
    .into())
}

/// Inserts `fresh`; gives the rows inserted, each with what its model
/// gave, and the models skipped because a row with their values appeared
/// since the read.
async fn insert_fresh<E, C>(
    db: &C,
    conflict: &Conflict<E>,
    fresh: Vec<Pending<E>>,
    speaks: bool,
    lock_mode: &mut Option<i64>,
) -> Result<(Vec<(E::Model, Given)>, Vec<Pending<E>>), Error>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    if !speaks {
        // MySQL/MariaDB: the locking read holds the gap, so a plain insert
        // (a duplicate key would be an error, never a silent skip)
        let (models, given): (Vec<_>, Vec<_>) = fresh.into_iter().map(|p| (p.0, p.1)).unzip();
        let (rows, given) = insert_chunk::<E, C>(db, models, given, lock_mode).await?;
        return Ok((rows.into_iter().zip(given).collect(), Vec::new()));
    }
    let models: Vec<E::ActiveModel> = fresh.iter().map(|p| p.0.clone()).collect();
    let mut clause = OnConflict::columns(conflict.target.iter().copied());
    clause.do_nothing();
    let insert = E::insert_many(models).on_conflict(clause).into_query();
    let rows = returning::insert::<E, _>(db, insert).await?;
    let mut by_text: HashMap<String, E::Model> = HashMap::with_capacity(rows.len());
    for row in rows {
        by_text.insert(conflict.text_of_row(&row)?, row);
    }
    let mut inserted = Vec::with_capacity(by_text.len());
    let mut skipped = Vec::new();
    for p in fresh {
        match by_text.remove(&p.3) {
            Some(row) => inserted.push((row, p.1)),
            None => skipped.push(p),
        }
    }
    if let Some(text) = by_text.keys().next() {
        // a returned row whose target values no model gave: the values were
        // changed on the way in (a trigger, a collation), so the models
        // cannot be told apart
        return Err(BulkError::NotReadBack {
            table: content_type::<E>(),
            key: text.clone(),
            hint: " (the inserted row's conflict-target values differ from the model's)".into(),
        }
        .into());
    }
    Ok((inserted, skipped))
}

/// Sets each conflicting row's update columns from its model, by key,
/// and reads it back: (before, after) per row.
async fn update_over<E, C>(
    db: &C,
    conflict: &Conflict<E>,
    over: Vec<(E::ActiveModel, E::Model)>,
    speaks: bool,
) -> Result<Vec<(E::Model, E::Model)>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let key_cols = keys::key_columns::<E>()?;
    let mut out = Vec::with_capacity(over.len());
    for (model, old) in over {
        let mut update = E::update_many();
        let mut any = false;
        for col in E::Column::iter() {
            if !conflict.update.iter().any(|u| u.as_str_eq(&col)) {
                continue;
            }
            if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = model.get(col) {
                update = update.col_expr(col, sea_orm::ColumnTrait::save_as(&col, Expr::val(v)));
                any = true;
            }
        }
        if !any {
            // nothing of this model to set: the row stays as it is
            out.push((old.clone(), old));
            continue;
        }
        let key = keyset::key_of::<E>(&old, &key_cols);
        let update = update.filter(keyset::key_in::<E>(std::slice::from_ref(&key)));
        let new = if speaks {
            returning::update::<E, _>(db, update.into_query())
                .await?
                .into_iter()
                .next()
        } else {
            update.exec(db).await?;
            E::find()
                .filter(keyset::key_in::<E>(std::slice::from_ref(&key)))
                .one(db)
                .await?
        };
        let Some(new) = new else {
            return Err(BulkError::NotReadBack {
                table: content_type::<E>(),
                key: keys::content_id_of_model(&old)?,
                hint: " (the conflicting row vanished while locked)".into(),
            }
            .into());
        };
        out.push((old, new));
    }
    Ok(out)
}

/// Column equality by name: sea-orm's columns are enums without `PartialEq`
/// in their bounds.
trait SameColumn {
    fn as_str_eq(&self, other: &Self) -> bool;
}

impl<T: sea_orm::IdenStatic> SameColumn for T {
    fn as_str_eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
