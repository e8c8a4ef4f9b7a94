//! Reassembling past states of a row from the journal.
//!
//! The snapshot at an object delta is the row right after it (for a
//! `Delete`, the last state before the deletion): per column, the newest
//! attribute delta of the same object whose object delta is at or before it.
//! Each column is one scalar subquery that the journal's snapshot index
//! answers with a single seek, so a snapshot costs the same with ten deltas
//! of history or a hundred thousand, and a whole batch of object deltas is
//! one statement.
//!
//! MariaDB/MySQL cannot seek a range bounded by the outer row (`<=` the
//! object delta's id): it reads the (table, key, column) range of the index
//! backwards and fetches each entry's journal row to test the bound. There
//! the subqueries pick the attribute delta's id, which the index alone
//! answers, and a second statement reads the values of the picked deltas by
//! primary key. A page of one object's deltas is not asked column by column
//! and delta by delta there: its state at the object's oldest delta on the
//! page is, and the attribute deltas after it are read in one range and
//! replayed (see `replay`).

mod replay;

use std::marker::PhantomData;

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, QueryFilter,
    QueryResult, QuerySelect, QueryTrait, Select, TryIntoModel,
};

use std::collections::{HashMap, HashSet};

use crate::journal::{attribute_delta, object_delta};
use crate::keys::{self, content_type};
use crate::policy::{self, Rules, TrackingPolicy, Treatment, is_redacted};
use crate::{Error, keyset, values};

/// The state of a row of `E` right after an object delta, rebuilt from the
/// journal in one query.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::{ObjectSnapshot, entity::object_delta};
/// use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder, Set};
///
/// let alice = Context::new()
///     .scope(user::ActiveModel { name: Set("Alice".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let mut renamed = alice.clone().into_active_model();
/// renamed.name = Set("Alicia".into());
/// Context::new().scope(renamed.update(&db)).await?;
///
/// let first = object_delta::Entity::find().order_by_asc(object_delta::Column::Id).one(&db).await?.unwrap();
/// let then: Option<user::Model> = ObjectSnapshot::<user::Entity>::at(first.id).one(&db).await?;
/// assert_eq!(then, Some(alice));
/// assert_eq!(ObjectSnapshot::<user::Entity>::at(999).one(&db).await?, None);
/// # Ok(()) }
/// ```
///
/// An id that names no object delta, or a delta of another table, gives
/// `Ok(None)`, as sea-orm's `find_by_id(..).one(..)` does.
///
/// Columns the entity's [tracking policy](crate::policy) keeps out of the
/// journal (ignored, redacted, left out by `only`) take the live row's
/// value, else their default, else NULL, else the snapshot fails with
/// [`Error::NotRecorded`].
pub struct ObjectSnapshot<E> {
    object_delta_id: i64,
    entity: PhantomData<E>,
}

impl<E> ObjectSnapshot<E>
where
    E: TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    /// The snapshot at the object delta `object_delta_id`.
    pub fn at(object_delta_id: i64) -> Self {
        ObjectSnapshot {
            object_delta_id,
            entity: PhantomData,
        }
    }

    /// Runs the query.
    pub async fn one<C: ConnectionTrait>(self, db: &C) -> Result<Option<E::Model>, Error> {
        let row = object_delta::Entity::find_by_id(self.object_delta_id)
            .with_snapshot::<E>()
            .one(db)
            .await?;
        Ok(row.and_then(|(_, model)| model))
    }
}

/// Adds snapshots to a query of object deltas: `.with_snapshot::<E>()`.
/// Comes with `use revy::prelude::*`.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::{SelectSnapshotExt, entity::object_delta};
/// use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
///
/// for name in ["Ann", "Bob"] {
///     Context::new()
///         .scope(user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db))
///         .await?;
/// }
/// let rows: Vec<(object_delta::Model, Option<user::Model>)> = object_delta::Entity::find()
///     .filter(object_delta::Column::ContentType.eq("users"))
///     .with_snapshot::<user::Entity>()
///     .all(&db)
///     .await?;
/// let names: Vec<String> = rows.into_iter().filter_map(|(_, u)| u).map(|u| u.name).collect();
/// assert_eq!(names, ["Ann", "Bob"]);
/// # Ok(()) }
/// ```
pub trait SelectSnapshotExt {
    /// Each object delta with the snapshot of its row at that delta (`None`
    /// for deltas of other tables).
    fn with_snapshot<E>(self) -> SnapshotSelect<E>
    where
        E: TrackingPolicy,
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>;
}

impl SelectSnapshotExt for Select<object_delta::Entity> {
    fn with_snapshot<E>(self) -> SnapshotSelect<E>
    where
        E: TrackingPolicy,
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    {
        SnapshotSelect {
            select: self,
            entity: PhantomData,
        }
    }
}

/// A query of object deltas with the snapshot of each; made by
/// [`SelectSnapshotExt::with_snapshot`].
pub struct SnapshotSelect<E> {
    select: Select<object_delta::Entity>,
    entity: PhantomData<E>,
}

fn alias(i: usize) -> String {
    format!("revy_snapshot_{i}")
}

/// What each snapshot column of the query holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The newest attribute delta's value (one statement).
    Value,
    /// The newest attribute delta's id; its value is read by primary key
    /// in a second statement. MariaDB's plan for the correlated subquery
    /// walks the index backwards from the object's newest delta and reads
    /// each journal row it passes; picking the id keeps that walk inside the
    /// index, which made `with_snapshot` several times faster there (see
    /// BENCHMARKS.md).
    Id,
}

impl Pick {
    pub(crate) fn for_backend(backend: sea_orm::DbBackend) -> Pick {
        match backend {
            sea_orm::DbBackend::MySql => Pick::Id,
            _ => Pick::Value,
        }
    }
}

impl<E> SnapshotSelect<E>
where
    E: TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    fn statement(self, backend: sea_orm::DbBackend, rules: &Rules<E>) -> sea_orm::Statement {
        backend.build(&self.into_query(rules, Pick::for_backend(backend)))
    }

    /// The query with its snapshot columns, for callers that wrap it (in a
    /// WITH clause, say); turn its rows into models with [`models_of`].
    pub(crate) fn into_query(
        self,
        rules: &Rules<E>,
        pick: Pick,
    ) -> sea_orm::sea_query::SelectStatement {
        let table = content_type::<E>();
        let picked = match pick {
            Pick::Value => attribute_delta::Column::NewValue,
            Pick::Id => attribute_delta::Column::Id,
        };
        let mut select = self.select;
        for (i, col) in E::Column::iter().enumerate() {
            if rules.treatment(col) != Treatment::Record {
                // the journal holds no value of it that a snapshot may show
                continue;
            }
            let newest = Query::select()
                .column((attribute_delta::Entity, picked))
                .from(attribute_delta::Entity)
                .and_where(
                    Expr::col((
                        attribute_delta::Entity,
                        attribute_delta::Column::ContentType,
                    ))
                    .eq(table.as_str()),
                )
                .and_where(
                    Expr::col((object_delta::Entity, object_delta::Column::ContentType))
                        .eq(table.as_str()),
                )
                .and_where(
                    Expr::col((attribute_delta::Entity, attribute_delta::Column::ContentId))
                        .equals((object_delta::Entity, object_delta::Column::ContentId)),
                )
                .and_where(
                    Expr::col((attribute_delta::Entity, attribute_delta::Column::FieldName))
                        .eq(col.as_str()),
                )
                .and_where(
                    Expr::col((
                        attribute_delta::Entity,
                        attribute_delta::Column::ObjectDeltaId,
                    ))
                    .lte(Expr::col((object_delta::Entity, object_delta::Column::Id))),
                )
                .order_by(
                    (
                        attribute_delta::Entity,
                        attribute_delta::Column::ObjectDeltaId,
                    ),
                    Order::Desc,
                )
                .order_by(
                    (attribute_delta::Entity, attribute_delta::Column::Id),
                    Order::Desc,
                )
                .limit(1)
                .to_owned();
            select = select.expr_as(Expr::SubQuery(None, Box::new(newest.into())), alias(i));
        }
        select.into_query()
    }

    /// Every object delta of the query with its snapshot, in one statement
    /// (four on MariaDB/MySQL: the object deltas, each object's state at
    /// its oldest delta among them, the attribute deltas after it, their
    /// values; and one more to read the live rows when the entity's
    /// [policy](crate::policy) keeps columns out of the journal).
    pub async fn all<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Vec<(object_delta::Model, Option<E::Model>)>, Error> {
        let rules = policy::rules::<E>()?;
        if Pick::for_backend(db.get_database_backend()) == Pick::Id {
            let found = replay::found::<E, C>(db, self.select, &rules).await?;
            return assemble::<E, C>(db, found, &rules).await;
        }
        self.correlated(db, &rules).await
    }

    /// [`all`](Self::all) in the correlated form: one statement (two on
    /// MariaDB/MySQL), whatever the backend.
    async fn correlated<C: ConnectionTrait>(
        self,
        db: &C,
        rules: &Rules<E>,
    ) -> Result<Vec<(object_delta::Model, Option<E::Model>)>, Error> {
        let statement = self.statement(db.get_database_backend(), rules);
        let rows = db
            .query_all_raw(statement)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
        models_of::<E, C>(db, &rows, rules).await
    }

    /// The first object delta of the query with its snapshot (one
    /// delta: nothing to replay, the correlated form).
    pub async fn one<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Option<(object_delta::Model, Option<E::Model>)>, Error> {
        let mut this = self;
        this.select = this.select.limit(1);
        let rules = policy::rules::<E>()?;
        Ok(this.correlated(db, &rules).await?.into_iter().next())
    }
}

/// The object deltas and snapshots of rows read with
/// [`SnapshotSelect::into_query`]'s columns: one more statement reads the
/// live rows when the entity's policy keeps columns out of the journal.
#[allow(clippy::type_complexity)]
pub(crate) async fn models_of<E, C>(
    db: &C,
    rows: &[QueryResult],
    rules: &Rules<E>,
) -> Result<Vec<(object_delta::Model, Option<E::Model>)>, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    C: ConnectionTrait,
{
    let pick = Pick::for_backend(db.get_database_backend());
    let found = rows
        .iter()
        .map(|row| read_row::<E>(row, rules, pick))
        .collect::<Result<Vec<_>, Error>>()?;
    assemble::<E, C>(db, found, rules).await
}

/// Snapshots from what the query found of each column (values, or the ids
/// of the attribute deltas that hold them).
#[allow(clippy::type_complexity)]
async fn assemble<E, C>(
    db: &C,
    found: Vec<(object_delta::Model, Vec<Found>)>,
    rules: &Rules<E>,
) -> Result<Vec<(object_delta::Model, Option<E::Model>)>, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    C: ConnectionTrait,
{
    let values = values_of_picked(db, &found).await?;
    let read = found
        .into_iter()
        .map(|(delta, columns)| Ok((delta, resolve(columns, &values)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let live = live_rows::<E, C>(db, &read).await?;
    read.into_iter()
        .map(|(delta, values)| {
            let model = match values {
                Some(values) => {
                    let live = live.get(&delta.content_id);
                    Some(build_model::<E>(values, rules, &delta.content_id, live)?)
                }
                None => None,
            };
            Ok((delta, model))
        })
        .collect()
}

/// One column of a snapshot as the journal gives it.
#[derive(Debug)]
pub(crate) enum Column {
    /// The newest value at that point.
    Value(serde_json::Value),
    /// No delta of this column at or before that point.
    Missing,
    /// The policy keeps the value out of the journal, or the newest value
    /// is the redaction marker.
    Withheld,
}

/// A snapshot column as the query returns it, before [`resolve`].
#[derive(Debug, Clone)]
enum Found {
    /// The newest value ([`Pick::Value`]).
    Value(serde_json::Value),
    /// The id of the newest attribute delta ([`Pick::Id`]).
    Delta(i64),
    /// No delta of this column at or before that point.
    Missing,
    /// The policy keeps the column out of the journal.
    Withheld,
}

/// Reads one object delta and its snapshot columns.
fn read_row<E>(
    row: &QueryResult,
    rules: &Rules<E>,
    pick: Pick,
) -> Result<(object_delta::Model, Vec<Found>), Error>
where
    E: EntityTrait,
{
    use sea_orm::FromQueryResult;
    let delta = object_delta::Model::from_query_result(row, "")?;
    let mut columns = Vec::new();
    for (i, col) in E::Column::iter().enumerate() {
        let found = match (rules.treatment(col), pick) {
            (Treatment::Record, Pick::Value) => match read_json(row, &alias(i))? {
                Some(v) => Found::Value(v),
                None => Found::Missing,
            },
            (Treatment::Record, Pick::Id) => match row.try_get::<Option<i64>>("", &alias(i))? {
                Some(id) => Found::Delta(id),
                None => Found::Missing,
            },
            _ => Found::Withheld,
        };
        columns.push(found);
    }
    Ok((delta, columns))
}

/// The values of the attribute deltas the rows picked by id, by id: one
/// query per thousand ids, none when the rows hold values.
async fn values_of_picked<C: ConnectionTrait>(
    db: &C,
    found: &[(object_delta::Model, Vec<Found>)],
) -> Result<HashMap<i64, serde_json::Value>, Error> {
    let ids: Vec<i64> = found
        .iter()
        .flat_map(|(_, columns)| columns)
        .filter_map(|c| match c {
            Found::Delta(id) => Some(*id),
            _ => None,
        })
        .collect::<HashSet<i64>>()
        .into_iter()
        .collect();
    let mut values = HashMap::with_capacity(ids.len());
    for page in ids.chunks(KEYS_PER_LIVE_QUERY) {
        let rows: Vec<(i64, serde_json::Value)> = attribute_delta::Entity::find()
            .select_only()
            .column(attribute_delta::Column::Id)
            .column(attribute_delta::Column::NewValue)
            .filter(attribute_delta::Column::Id.is_in(page.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
        values.extend(rows);
    }
    Ok(values)
}

/// The snapshot columns of one object delta; `None` when the journal holds
/// no value of the row at all (no snapshot).
fn resolve(
    found: Vec<Found>,
    values: &HashMap<i64, serde_json::Value>,
) -> Result<Option<Vec<Column>>, Error> {
    let mut any = false;
    let mut columns = Vec::with_capacity(found.len());
    for f in found {
        let value = match f {
            Found::Value(v) => v,
            Found::Delta(id) => values.get(&id).cloned().ok_or_else(|| {
                Error::Db(sea_orm::DbErr::RecordNotFound(format!(
                    "attribute delta {id} of revy_attribute_deltas was removed while its snapshot \
                     was read (a concurrent prune?); read the snapshot again"
                )))
            })?,
            Found::Missing => {
                columns.push(Column::Missing);
                continue;
            }
            Found::Withheld => {
                columns.push(Column::Withheld);
                continue;
            }
        };
        any = true;
        columns.push(if is_redacted(&value) {
            Column::Withheld
        } else {
            Column::Value(value)
        });
    }
    Ok(any.then_some(columns))
}

/// The live rows of the snapshots that need a value the journal does not
/// hold, by key text: one query for all of them.
async fn live_rows<E, C>(
    db: &C,
    read: &[(object_delta::Model, Option<Vec<Column>>)],
) -> Result<HashMap<String, E::Model>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let ids: HashSet<&str> = read
        .iter()
        .filter(|(_, values)| {
            values
                .as_ref()
                .is_some_and(|v| v.iter().any(|c| matches!(c, Column::Withheld)))
        })
        .map(|(delta, _)| delta.content_id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = ids
        .into_iter()
        .map(keys::key_values_from_id::<E::ActiveModel>)
        .collect::<Result<Vec<_>, Error>>()?;
    let mut live = HashMap::new();
    for page in keys.chunks(KEYS_PER_LIVE_QUERY) {
        for row in E::find().filter(keyset::key_in::<E>(page)).all(db).await? {
            live.insert(keys::content_id_of_model(&row)?, row);
        }
    }
    Ok(live)
}

/// Keys per query of live rows, well under every backend's parameter limit.
const KEYS_PER_LIVE_QUERY: usize = 1000;

/// A journal JSON value from a query result; SQL NULL (no delta) is `None`.
/// Scalar subqueries lose the column's declared type on some backends, so
/// the value may arrive as JSON or as its text.
fn read_json(row: &QueryResult, name: &str) -> Result<Option<serde_json::Value>, Error> {
    if let Ok(v) = row.try_get::<Option<serde_json::Value>>("", name) {
        return Ok(v);
    }
    let text: Option<String> = row.try_get("", name)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            Error::Db(sea_orm::DbErr::Type(format!(
                "journal value in {name} is not JSON: {e}"
            )))
        })
    })
    .transpose()
}

/// Builds a model from its snapshot columns. A column the journal holds
/// no value of takes the live row's value (`live`), else its declared
/// default, else NULL when nullable; else the build fails naming it.
pub(crate) fn build_model<E>(
    values: Vec<Column>,
    rules: &Rules<E>,
    content_id: &str,
    live: Option<&E::Model>,
) -> Result<E::Model, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    let defaults = <E::ActiveModel as ActiveModelTrait>::default_values();
    let mut am = <E::ActiveModel as ActiveModelTrait>::default();
    for (col, value) in E::Column::iter().zip(values) {
        let json = match value {
            Column::Value(json) => json,
            Column::Missing if rules.treatment(col) == Treatment::Record => {
                missing_column_value::<E>(col)?
            }
            Column::Missing | Column::Withheld => match live {
                Some(live) => values::encode::<E>(col, &sea_orm::ModelTrait::get(live, col))?,
                None => withheld_column_value::<E>(col, rules, content_id)?,
            },
        };
        values::decode_into(&mut am, &defaults, col, &json)?;
    }
    Ok(am.try_into_model()?)
}

/// The value of a column the journal has no delta for (it was added to the
/// entity after the history was written): its declared default, else NULL
/// when nullable, else an error naming it.
fn missing_column_value<E: EntityTrait>(col: E::Column) -> Result<serde_json::Value, Error> {
    default_or_null::<E>(col)?.ok_or_else(|| Error::MissingColumn {
        table: content_type::<E>(),
        column: col.as_str().to_owned(),
    })
}

/// The value of a column the policy keeps out of the journal, for a row
/// that is not live.
fn withheld_column_value<E: EntityTrait>(
    col: E::Column,
    rules: &Rules<E>,
    content_id: &str,
) -> Result<serde_json::Value, Error> {
    default_or_null::<E>(col)?.ok_or_else(|| Error::NotRecorded {
        table: content_type::<E>(),
        column: col.as_str().to_owned(),
        treatment: match rules.treatment(col) {
            Treatment::Record | Treatment::Redact => Treatment::Redact.as_str(),
            Treatment::Ignore => Treatment::Ignore.as_str(),
        },
        key: content_id.to_owned(),
    })
}

fn default_or_null<E: EntityTrait>(col: E::Column) -> Result<Option<serde_json::Value>, Error> {
    let def = col.def();
    if let Some(Expr::Value(default)) = def.get_column_default() {
        return values::encode::<E>(col, default).map(Some);
    }
    Ok(def.is_null().then_some(serde_json::Value::Null))
}
