//! Reassembling past states of a row from the journal.
//!
//! The snapshot at an object delta is the row right after it (for a
//! `Delete`, the last state before the deletion): per column, the newest
//! value the object's deltas at or before it set. Each object delta
//! carries its changes inline, and every so many versions of an object one
//! also carries the object's whole state (a checkpoint), so a snapshot
//! reads the object's deltas from the newest checkpoint before it and folds
//! them (see `inline`): two statements, the deltas and their ranges, with
//! time flat in history length.

pub(crate) mod inline;

use std::marker::PhantomData;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, QueryFilter,
    QuerySelect, Select, TryIntoModel,
};

use std::collections::{HashMap, HashSet};

use crate::db::keys::{self, content_type};
use crate::db::{keyset, values};
use crate::error::Error;
use crate::history::HistoryError;
use crate::journal::object_delta;
use crate::policy::{self, Rules, TrackingPolicy, Treatment, is_redacted};

/// The state of a row of `E` right after an object delta, rebuilt from the
/// journal in one query.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::{history::ObjectSnapshot, entity::object_delta};
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
/// [`HistoryError::NotRecorded`].
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
/// use revy_seaorm::{history::SelectSnapshotExt, entity::object_delta};
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

impl<E> SnapshotSelect<E>
where
    E: TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    /// Every object delta of the query with its snapshot: two statements
    /// (the object deltas, then each object's deltas from its newest
    /// checkpoint up to them, one statement per 200 objects), and one more
    /// to read the live rows when the entity's [policy](crate::policy) keeps
    /// columns out of the journal.
    pub async fn all<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Vec<(object_delta::Model, Option<E::Model>)>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let rules = policy::rules::<E>()?;
        let deltas = self
            .select
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        snapshots_of::<E, _, _>(db, deltas, &rules).await
    }

    /// The first object delta of the query with its snapshot.
    pub async fn one<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Option<(object_delta::Model, Option<E::Model>)>, Error> {
        let mut this = self;
        this.select = this.select.limit(1);
        Ok(this.all(db).await?.into_iter().next())
    }
}

/// What a snapshot needs to know of the object delta it is of: which
/// delta, of which row. A whole [`object_delta::Model`] is one; a
/// time-travel page reads no more than that.
pub(crate) trait Picked {
    /// The object delta's id.
    fn id(&self) -> i64;
    /// Its table.
    fn content_type(&self) -> &str;
    /// Its row's key text.
    fn content_id(&self) -> &str;
}

impl Picked for object_delta::Model {
    fn id(&self) -> i64 {
        self.id
    }

    fn content_type(&self) -> &str {
        &self.content_type
    }

    fn content_id(&self) -> &str {
        &self.content_id
    }
}

/// The snapshots of object deltas already read (a time-travel page's):
/// one statement per 200 objects, and one more for live rows when the
/// entity's policy keeps columns out of the journal.
#[allow(clippy::type_complexity)]
pub(crate) async fn snapshots_of<E, C, D>(
    db: &C,
    deltas: Vec<D>,
    rules: &Rules<E>,
) -> Result<Vec<(D, Option<E::Model>)>, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    C: ConnectionTrait,
    D: Picked,
{
    let found = inline::found::<E, C, D>(db, deltas, rules).await?;
    assemble::<E, C, D>(db, found, rules).await
}

/// Snapshots from what the fold found of each column.
#[allow(clippy::type_complexity)]
async fn assemble<E, C, D>(
    db: &C,
    found: Vec<(D, Vec<Found>, Vec<Option<i64>>)>,
    rules: &Rules<E>,
) -> Result<Vec<(D, Option<E::Model>)>, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    C: ConnectionTrait,
    D: Picked,
{
    let mut setters = Vec::with_capacity(found.len());
    let read: Vec<_> = found
        .into_iter()
        .map(|(delta, columns, set_by)| {
            setters.push(set_by);
            (delta, resolve(columns))
        })
        .collect();
    let live = live_rows::<E, C, D>(db, &read).await?;
    read.into_iter()
        .zip(setters)
        .map(|((delta, values), setters)| {
            let model = match values {
                Some(values) => {
                    let live = live.get(delta.content_id());
                    let row = Row {
                        values,
                        setters: &setters,
                        content_id: delta.content_id(),
                        live,
                    };
                    Some(build_model::<E>(row, rules)?)
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
    /// The newest value was erased (see [`erase`](crate::lifecycle::erase())).
    Erased,
}

/// A snapshot column as the fold finds it, before [`resolve`].
#[derive(Debug, Clone)]
enum Found {
    /// The newest value.
    Value(serde_json::Value),
    /// No delta of this column at or before that point.
    Missing,
    /// The policy keeps the column out of the journal.
    Withheld,
}

/// The snapshot columns of one object delta; `None` when the journal holds
/// no value of the row at all (no snapshot).
fn resolve(found: Vec<Found>) -> Option<Vec<Column>> {
    let mut any = false;
    let mut columns = Vec::with_capacity(found.len());
    for f in found {
        let value = match f {
            Found::Value(v) => v,
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
        } else if crate::policy::is_erased(&value) {
            Column::Erased
        } else {
            Column::Value(value)
        });
    }
    any.then_some(columns)
}

/// The live rows of the snapshots that need a value the journal does not
/// hold, by key text: one query for all of them.
async fn live_rows<E, C, D>(
    db: &C,
    read: &[(D, Option<Vec<Column>>)],
) -> Result<HashMap<String, E::Model>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
    D: Picked,
{
    let ids: HashSet<&str> = read
        .iter()
        .filter(|(_, values)| {
            values.as_ref().is_some_and(|v| {
                v.iter()
                    .any(|c| matches!(c, Column::Withheld | Column::Erased))
            })
        })
        .map(|(delta, _)| delta.content_id())
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

/// What [`build_model`] builds a snapshot from.
pub(crate) struct Row<'a, M> {
    /// The snapshot's columns, in column order.
    pub(crate) values: Vec<Column>,
    /// Per column, the id of the object delta that set its value.
    pub(crate) setters: &'a [Option<i64>],
    /// The row's key text.
    pub(crate) content_id: &'a str,
    /// The live row, when the snapshot needs it and it exists.
    pub(crate) live: Option<&'a M>,
}

/// Builds a model from its snapshot columns. A journal value goes through
/// the policy's conversion of its column, if any, and must decode as the
/// column's type ([`HistoryError::Undecodable`] names the delta that recorded
/// it). A column the journal holds no value of takes the live row's value,
/// else its declared default, else NULL when nullable; else the build
/// fails naming it.
pub(crate) fn build_model<E>(row: Row<'_, E::Model>, rules: &Rules<E>) -> Result<E::Model, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    let defaults = <E::ActiveModel as ActiveModelTrait>::default_values();
    let mut am = <E::ActiveModel as ActiveModelTrait>::default();
    for ((col, value), setter) in E::Column::iter()
        .zip(row.values)
        .zip(row.setters.iter().copied().chain(std::iter::repeat(None)))
    {
        let json = match (value, setter) {
            (Column::Value(json), Some(setter)) => {
                let json = rules.schema.converted(col, json, setter)?;
                values::decode_recorded_into(&mut am, &defaults, col, &json, setter)?;
                continue;
            }
            (Column::Value(json), None) => json,
            (Column::Missing, _) if rules.treatment(col) == Treatment::Record => {
                missing_column_value::<E>(col)?
            }
            (unrecorded, _) => match (unrecorded, row.live) {
                (_, Some(live)) => values::encode::<E>(col, &sea_orm::ModelTrait::get(live, col))?,
                (Column::Erased, None) => {
                    default_or_null::<E>(col)?.ok_or_else(|| HistoryError::ErasedValue {
                        table: content_type::<E>(),
                        column: col.as_str().to_owned(),
                        key: row.content_id.to_owned(),
                    })?
                }
                (_, None) => withheld_column_value::<E>(col, rules, row.content_id)?,
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
    default_or_null::<E>(col)?.ok_or_else(|| {
        HistoryError::MissingColumn {
            table: content_type::<E>(),
            column: col.as_str().to_owned(),
        }
        .into()
    })
}

/// The value of a column the policy keeps out of the journal, for a row
/// that is not live.
fn withheld_column_value<E: EntityTrait>(
    col: E::Column,
    rules: &Rules<E>,
    content_id: &str,
) -> Result<serde_json::Value, Error> {
    default_or_null::<E>(col)?.ok_or_else(|| {
        HistoryError::NotRecorded {
            table: content_type::<E>(),
            column: col.as_str().to_owned(),
            treatment: match rules.treatment(col) {
                Treatment::Record | Treatment::Redact => Treatment::Redact.as_str(),
                Treatment::Ignore => Treatment::Ignore.as_str(),
            },
            key: content_id.to_owned(),
        }
        .into()
    })
}

fn default_or_null<E: EntityTrait>(col: E::Column) -> Result<Option<serde_json::Value>, Error> {
    let def = col.def();
    if let Some(Expr::Value(default)) = def.get_column_default() {
        return values::encode::<E>(col, default).map(Some);
    }
    Ok(def.is_null().then_some(serde_json::Value::Null))
}
