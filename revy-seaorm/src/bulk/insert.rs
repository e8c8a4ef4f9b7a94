//! `insert_many`: a tracked multi-row `INSERT`.

use revy_core::{Action, Context};
use sea_orm::sea_query::FromValueTuple;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    InsertManyResult, IntoActiveModel, Iterable, ModelTrait, PrimaryKeyTrait, QueryFilter,
    QueryTrait, Statement, TransactionTrait,
};

use super::conflict::{self, Conflict};
use crate::bulk::BulkError;
use crate::db::keys::{self, content_type};
use crate::db::keyset;
use crate::db::returning;
use crate::db::values;
use crate::db::values::encode_row;
use crate::error::{Error, JournalError};
use crate::hooks::{create_changes, shows};
use crate::policy::{self, TrackingPolicy};
use crate::record::Seal;
use crate::record::batch::{self, RowDelta};
use crate::record::rows::ContextValues;
use crate::record::write;

/// A tracked multi-row `INSERT`: sea-orm's [`InsertMany`](sea_orm::InsertMany),
/// journaled. Made by [`insert_many`].
#[derive(Debug)]
pub struct InsertMany<E: EntityTrait> {
    models: Vec<E::ActiveModel>,
    chunk_size: u64,
    conflict: Option<Conflict<E>>,
}

/// Starts a tracked insert of `models`, then `exec`. Each row gets a
/// `Create` object delta with every column as the database stored it;
/// columns a model left `NotSet` (an auto-increment key, defaults) are
/// attributed to the system, the rest to the context's actor.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{EntityTrait, PaginatorTrait, Set};
///
/// let accounts = (1..=3).map(|i| account::ActiveModel { code: Set(format!("A-{i}")), ..Default::default() });
/// let result = Context::via_actor(Some(Actor::new("users", 7)))
///     .scope(revy_seaorm::bulk::insert_many::<account::Entity>(accounts).exec(&db))
///     .await?;
/// assert_eq!(result.last_insert_id, Some(3));
/// assert_eq!(object_delta::Entity::find().count(&db).await?, 3);
/// # Ok(()) }
/// ```
pub fn insert_many<E: TrackingPolicy>(
    models: impl IntoIterator<Item = impl IntoActiveModel<E::ActiveModel>>,
) -> InsertMany<E> {
    InsertMany {
        models: models
            .into_iter()
            .map(IntoActiveModel::into_active_model)
            .collect(),
        chunk_size: crate::deletion::DEFAULT_CHUNK_SIZE,
        conflict: None,
    }
}

/// Per column of one model: the value the caller gave, encoded, or `None`
/// when left `NotSet` for the database to fill.
pub(super) type Given = Vec<Option<serde_json::Value>>;

impl<E> InsertMany<E>
where
    E: TrackingPolicy,
    E::Model: IntoActiveModel<E::ActiveModel>,
{
    /// Rows inserted and journaled per statement (default
    /// [`DEFAULT_CHUNK_SIZE`](crate::deletion::DEFAULT_CHUNK_SIZE)).
    pub fn chunk_size(mut self, rows: u64) -> Self {
        self.chunk_size = rows.max(1);
        self
    }

    /// A get-or-create: a model whose `target` values (a unique key or the
    /// primary key) a row holds already is left out, as sea-orm's
    /// `.on_conflict(OnConflict::columns(target).do_nothing().to_owned())`
    /// does. Only the rows inserted are journaled (a `Create` each) and
    /// returned by [`exec_with_returning`](Self::exec_with_returning);
    /// [`exec`](Self::exec) gives the key of the last row inserted, `None`
    /// when every model conflicted (sea-orm's `exec` fails then).
    ///
    /// Safe under concurrency: callers racing to create the same values
    /// each get the row, one of them creates it. Every model must set the
    /// target's columns ([`BulkError::ConflictTargetNotSet`]). On MySQL/MariaDB
    /// the rows are found with a locking read, and racing callers can meet
    /// a deadlock, which the database reports as an error: retry the
    /// transaction, as any MySQL application must.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use revy_seaorm::entity::object_delta;
    /// use sea_orm::{EntityTrait, PaginatorTrait, Set};
    ///
    /// let accounts = |ids: &[i32]| {
    ///     ids.iter()
    ///         .map(|&id| account::ActiveModel { id: Set(id), code: Set(format!("A-{id}")) })
    ///         .collect::<Vec<_>>()
    /// };
    /// Context::new().scope(async {
    ///     revy_seaorm::bulk::insert_many::<account::Entity>(accounts(&[1, 2])).exec(&db).await?;
    ///     // 2 is there: only 3 is inserted and journaled (the target may be
    ///     // the primary key or any unique key)
    ///     let inserted = revy_seaorm::bulk::insert_many::<account::Entity>(accounts(&[2, 3]))
    ///         .on_conflict_do_nothing([account::Column::Id])
    ///         .exec_with_returning(&db)
    ///         .await?;
    ///     assert_eq!(inserted.iter().map(|a| a.id).collect::<Vec<_>>(), [3]);
    ///     Ok::<_, revy_seaorm::Error>(())
    /// })
    /// .await?;
    /// assert_eq!(object_delta::Entity::find().count(&db).await?, 3);
    /// # Ok(()) }
    /// ```
    pub fn on_conflict_do_nothing(mut self, target: impl IntoIterator<Item = E::Column>) -> Self {
        self.conflict = Some(Conflict {
            target: target.into_iter().collect(),
            update: Vec::new(),
        });
        self
    }

    /// An upsert: a model whose `target` values a row holds already sets
    /// that row's `update` columns instead, as sea-orm's
    /// `.on_conflict(OnConflict::columns(target).update_columns(update).to_owned())`.
    /// Inserted rows get a `Create`, updated rows an `Update` of the
    /// columns whose values changed (old values as they were), like a
    /// per-row save; both are returned by
    /// [`exec_with_returning`](Self::exec_with_returning). What
    /// [`on_conflict_do_nothing`](Self::on_conflict_do_nothing) says of
    /// targets and concurrency holds here too.
    pub fn on_conflict_update(
        mut self,
        target: impl IntoIterator<Item = E::Column>,
        update: impl IntoIterator<Item = E::Column>,
    ) -> Self {
        self.conflict = Some(Conflict {
            target: target.into_iter().collect(),
            update: update.into_iter().collect(),
        });
        self
    }

    /// sea-orm's statement for the untracked path.
    fn plain(
        models: Vec<E::ActiveModel>,
        conflict: &Option<Conflict<E>>,
        backend: DbBackend,
    ) -> Result<sea_orm::InsertMany<E::ActiveModel>, Error> {
        let insert = E::insert_many(models);
        Ok(match conflict {
            Some(conflict) => insert.on_conflict(conflict.clause(backend)?),
            None => insert,
        })
    }

    /// Inserts the rows and returns the key of the last one, as sea-orm's
    /// `InsertMany::exec` does (`None` when there were no rows). Inside an
    /// enabled context every row is journaled, in one transaction with the
    /// insert; otherwise it is the plain statement.
    pub async fn exec<C>(self, db: &C) -> Result<InsertManyResult<E::ActiveModel>, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if Context::is_disabled() {
            let conflicting = self.conflict.is_some();
            let insert = Self::plain(self.models, &self.conflict, db.get_database_backend())?;
            return match insert.exec(db).await {
                // every model conflicted: the same answer as the tracked path
                Err(sea_orm::DbErr::RecordNotInserted) if conflicting => {
                    Ok(E::insert_many(Vec::<E::ActiveModel>::new())
                        .exec(db)
                        .await?)
                }
                done => Ok(done?),
            };
        }
        let last = self.run(db, false).await?.0;
        // sea-orm's result cannot be made outside sea-orm: an empty insert
        // makes one without a statement
        let mut result = E::insert_many(Vec::<E::ActiveModel>::new())
            .exec(db)
            .await?;
        result.last_insert_id = last.map(|m| {
            <<E::PrimaryKey as PrimaryKeyTrait>::ValueType as FromValueTuple>::from_value_tuple(
                m.get_primary_key_value(),
            )
        });
        Ok(result)
    }

    /// Inserts the rows and returns them as the database stored them, as
    /// sea-orm's `InsertMany::exec_with_returning` does (all of them in
    /// memory at once: for very many rows, prefer [`exec`](Self::exec)).
    pub async fn exec_with_returning<C>(self, db: &C) -> Result<Vec<E::Model>, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if Context::is_disabled() {
            let conflicting = self.conflict.is_some();
            let insert = Self::plain(self.models, &self.conflict, db.get_database_backend())?;
            return match insert.exec_with_returning(db).await {
                Err(sea_orm::DbErr::RecordNotInserted) if conflicting => Ok(Vec::new()),
                done => Ok(done?),
            };
        }
        Ok(self.run(db, true).await?.1)
    }

    async fn run<C>(self, db: &C, keep: bool) -> Result<(Option<E::Model>, Vec<E::Model>), Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if self.models.is_empty() {
            return Ok((None, Vec::new()));
        }
        let txn = super::begin(db).await?;
        let result = super::as_one_call::<E, _>(self.tracked(&txn, keep)).await;
        write::finish(txn, result).await
    }

    async fn tracked<C: ConnectionTrait>(
        self,
        db: &C,
        keep: bool,
    ) -> Result<(Option<E::Model>, Vec<E::Model>), Error> {
        let ctx = ContextValues::current()?;
        let rules = policy::rules::<E>()?;
        let mut lock_mode = None;
        let mut kept = Vec::new();
        let mut last = None;
        let mut models = self.models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<E::ActiveModel> =
                models.by_ref().take(self.chunk_size as usize).collect();
            let given = chunk.iter().map(given_of).collect::<Result<Vec<_>, _>>()?;
            if let Some(conflict) = &self.conflict {
                let written = conflict::upsert_chunk(
                    db,
                    conflict,
                    chunk,
                    given,
                    &mut lock_mode,
                    &ctx,
                    &rules,
                )
                .await?;
                if written.last_inserted.is_some() {
                    last = written.last_inserted;
                }
                if keep {
                    kept.extend(written.rows);
                }
                continue;
            }
            let (rows, given) = insert_chunk::<E, C>(db, chunk, given, &mut lock_mode).await?;
            let mut deltas: Vec<RowDelta<E::Model>> = Vec::with_capacity(rows.len());
            for (row, given) in rows.iter().zip(given) {
                deltas.push(RowDelta {
                    content_id: keys::content_id_of_model(row)?,
                    before: None,
                    after: Some(row),
                    changes: create_changes::<E>(encode_row(row)?, &given, &ctx),
                });
            }
            batch::record_rows(db, &ctx, Action::Create, &rules, deltas, Seal::current()).await?;
            if keep {
                kept.extend(rows);
            } else {
                last = rows.into_iter().last();
            }
        }
        if keep && self.conflict.is_none() {
            last = kept.last().cloned();
        }
        Ok((last, kept))
    }
}

fn given_of<A: ActiveModelTrait>(model: &A) -> Result<Given, Error> {
    <A::Entity as EntityTrait>::Column::iter()
        .map(|col| match model.get(col) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => {
                values::encode::<A::Entity>(col, &v).map(Some)
            }
            ActiveValue::NotSet => Ok(None),
        })
        .collect()
}

/// Puts each model's given values beside the row the database returned for
/// it. Returned rows normally come in the order sent; a row that does not
/// show the values of the model at its place is matched to the first
/// unmatched model whose values it shows.
fn pair<M: ModelTrait>(rows: &[M], mut given: Vec<Given>) -> Result<Vec<Given>, Error> {
    let same_columns = given.windows(2).all(|w| {
        w[0].iter()
            .zip(&w[1])
            .all(|(a, b)| a.is_some() == b.is_some())
    });
    if same_columns || rows.len() != given.len() {
        // the same attribution whichever row is whose; or a count the
        // caller reports as an error
        return Ok(given);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let encoded = encode_row(row)?;
        let at = (i..given.len())
            .find(|&j| shows(&encoded, &given[j]))
            .unwrap_or(i);
        given.swap(i, at);
        out.push(std::mem::take(&mut given[i]));
    }
    Ok(out)
}

/// Inserts one chunk and reads its rows back as stored, each with the
/// given values of the model it came from.
pub(super) async fn insert_chunk<E, C>(
    db: &C,
    chunk: Vec<E::ActiveModel>,
    given: Vec<Given>,
    lock_mode: &mut Option<i64>,
) -> Result<(Vec<E::Model>, Vec<Given>), Error>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let expected = chunk.len();
    if returning::speaks(db).await? {
        let rows = returning::insert::<E, _>(db, E::insert_many(chunk).into_query()).await?;
        let given = pair(&rows, given)?;
        return check_count::<E>(rows, given, expected);
    }
    // MySQL/MariaDB: no RETURNING. Rows whose key the caller gave are read
    // back by key; rows whose auto-increment key the database assigns, by
    // the statement's first id and count.
    let key_cols = keys::key_columns::<E>()?;
    let (keyed, unkeyed): (Vec<_>, Vec<_>) = chunk.into_iter().zip(given).partition(|(am, _)| {
        key_cols
            .iter()
            .all(|c| am.get(*c).is_set() || am.get(*c).is_unchanged())
    });
    let mut rows = Vec::with_capacity(expected);
    let mut givens = Vec::with_capacity(expected);
    if !keyed.is_empty() {
        let keys: Vec<_> = keyed
            .iter()
            .map(|(am, _)| {
                key_cols
                    .iter()
                    .map(|c| {
                        (
                            *c,
                            am.get(*c).into_value().unwrap_or(sea_orm::Value::Int(None)),
                        )
                    })
                    .collect::<keyset::RowKey<E>>()
            })
            .collect();
        let (models, given): (Vec<_>, Vec<_>) = keyed.into_iter().unzip();
        E::insert_many(models).exec_without_returning(db).await?;
        let mut back = E::find().filter(keyset::key_in::<E>(&keys)).all(db).await?;
        // back in the order sent
        let ids = keys
            .iter()
            .map(|k| keys::content_id_of::<E>(k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ordered = Vec::with_capacity(back.len());
        for id in ids {
            let at = back
                .iter()
                .map(keys::content_id_of_model)
                .position(|k| k.as_ref().is_ok_and(|k| *k == id));
            match at {
                Some(at) => ordered.push(back.swap_remove(at)),
                None => {
                    return Err(BulkError::NotReadBack {
                        table: content_type::<E>(),
                        key: id,
                        hint: String::new(),
                    }
                    .into());
                }
            }
        }
        rows.extend(ordered);
        givens.extend(given);
    }
    if !unkeyed.is_empty() {
        let [key] = key_cols.as_slice() else {
            return Err(JournalError::KeyNotSet {
                table: content_type::<E>(),
            }
            .into());
        };
        if !<E::PrimaryKey as PrimaryKeyTrait>::auto_increment() {
            return Err(JournalError::KeyNotSet {
                table: content_type::<E>(),
            }
            .into());
        }
        let (models, given): (Vec<_>, Vec<_>) = unkeyed.into_iter().unzip();
        let mode = match lock_mode {
            Some(mode) => *mode,
            None => *lock_mode.insert(autoinc_lock_mode(db).await?),
        };
        let ids: Vec<u64> = if mode <= 1 {
            // one statement: its ids are consecutive from the first
            let n = models.len() as u64;
            let result = db
                .execute_raw(E::insert_many(models).build(DbBackend::MySql))
                .await?;
            let first = result.last_insert_id();
            (first..first + n).collect()
        } else {
            // interleaved ids: each row on its own
            let mut ids = Vec::with_capacity(models.len());
            for model in models {
                let result = db
                    .execute_raw(E::insert(model).build(DbBackend::MySql))
                    .await?;
                ids.push(result.last_insert_id());
            }
            ids
        };
        let mut back = E::find()
            .filter(key.is_in(ids.iter().copied()))
            .all(db)
            .await?;
        back.sort_by_key(|m| {
            keys::content_id_of_model(m)
                .ok()
                .and_then(|k| k.parse::<u64>().ok())
        });
        if back.len() != ids.len() {
            return Err(BulkError::NotReadBack {
                table: content_type::<E>(),
                key: format!("{:?}", ids.first()),
                hint: " (auto-increment ids of one statement were not consecutive)".into(),
            }
            .into());
        }
        rows.extend(back);
        givens.extend(given);
    }
    check_count::<E>(rows, givens, expected)
}

fn check_count<E: EntityTrait>(
    rows: Vec<E::Model>,
    given: Vec<Given>,
    expected: usize,
) -> Result<(Vec<E::Model>, Vec<Given>), Error> {
    if rows.len() != expected {
        return Err(BulkError::NotReadBack {
            table: content_type::<E>(),
            key: format!("{} of {expected} rows", rows.len()),
            hint: String::new(),
        }
        .into());
    }
    Ok((rows, given))
}

/// InnoDB's `innodb_autoinc_lock_mode`: 0 or 1 give one multi-row INSERT
/// consecutive ids; 2 may interleave them with other transactions'.
async fn autoinc_lock_mode<C: ConnectionTrait>(db: &C) -> Result<i64, Error> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT @@innodb_autoinc_lock_mode AS mode",
        ))
        .await?;
    Ok(match row {
        Some(row) => row
            .try_get::<i64>("", "mode")
            .or_else(|_| row.try_get::<u64>("", "mode").map(|m| m as i64))
            .or_else(|_| row.try_get::<i32>("", "mode").map(i64::from))
            .unwrap_or(2),
        None => 2,
    })
}
