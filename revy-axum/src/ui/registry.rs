//! The entities the browser knows: each registered entity becomes a
//! [`Browse`] object that reads its rows' history through revy's typed
//! API, so values are decoded to the entity's own column types.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use revy_seaorm::codec;
use revy_seaorm::{
    history::ColumnBlame, history::HistoryEntry, history::Moment, history::ObjectSnapshot,
    policy::unrecorded_columns, registry::TrackedEntity, registry::content_type,
    rollback::RollbackError,
};
use sea_orm::sea_query::{IntoValueTuple, ValueTuple};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseConnection, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, PrimaryKeyTrait, QueryFilter, Value,
};

use super::UiError;

/// A boxed future: the registry is a map of trait objects, one per entity.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A row's values in column order, by column name.
pub(crate) type Row = Vec<(String, Value)>;

/// One page of a table as of a moment: each row with its key text.
pub(crate) struct TablePage {
    pub rows: Vec<(String, Row)>,
    pub next: Option<String>,
}

/// What the pages need of one entity, without its type.
pub(crate) trait Browse: Send + Sync {
    /// The journal's name of its table.
    fn table(&self) -> String;
    /// Its column names, in order.
    fn columns(&self) -> Vec<String>;
    /// The columns the journal holds no value for, with why.
    fn unrecorded(&self) -> Result<Vec<(String, &'static str)>, UiError>;
    /// A page of the row's history entries, newest first.
    fn entries<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
        before: Option<i64>,
        limit: u64,
    ) -> BoxFut<'a, Result<Vec<HistoryEntry>, UiError>>;
    /// Blame of the row's columns.
    fn blame<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Vec<ColumnBlame>, UiError>>;
    /// The row as it is now, if live.
    fn live<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>>;
    /// The row's version now (its newest delta's).
    fn version<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Option<i64>, UiError>>;
    /// The row right after the object delta `delta_id`.
    fn snapshot<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>>;
    /// The row as it was at `at`.
    fn as_of<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>>;
    /// A page of the table as of a moment.
    fn table_page<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        moment: Moment,
        after: Option<String>,
        size: u64,
    ) -> BoxFut<'a, Result<TablePage, UiError>>;
    /// Inserts the snapshot at a `Delete` delta again (in the caller's context).
    fn restore<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
    ) -> BoxFut<'a, Result<(), revy_seaorm::Error>>;
    /// Updates the row to its snapshot at `delta_id` if it is still at
    /// version `expected` (in the caller's context).
    fn revert<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
        expected: i64,
    ) -> BoxFut<'a, Result<(), revy_seaorm::Error>>;
}

/// The [`Browse`] of the entity `E`.
pub(crate) struct Typed<E>(PhantomData<fn() -> E>);

impl<E> Typed<E> {
    pub(crate) fn new() -> Self {
        Typed(PhantomData)
    }
}

fn row_of<M: ModelTrait>(model: &M) -> Row {
    <M::Entity as EntityTrait>::Column::iter()
        .map(|c| (c.as_str().to_owned(), model.get(c)))
        .collect()
}

fn key_cols<E: EntityTrait>() -> Vec<E::Column> {
    E::PrimaryKey::iter().map(|k| k.into_column()).collect()
}

/// The key values of `E` from the journal's key text (`7`, `alice`, or a
/// JSON array for a composite key), each checked by setting it on an
/// active model, so that it has the exact type the model's key field takes.
fn key_values<E>(text: &str) -> Result<Vec<(E::Column, Value)>, UiError>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let cols = key_cols::<E>();
    let bad = |why: String| {
        UiError::BadRequest(format!(
            "row key {text:?} of {}: {why}",
            content_type::<E>()
        ))
    };
    let items: Vec<Vec<serde_json::Value>> = match cols.as_slice() {
        [] => return Err(bad("the entity has no primary key".into())),
        // the journal writes a text key as plain text and any other as JSON
        [_] => {
            let mut candidates = vec![serde_json::Value::String(text.to_owned())];
            if let Ok(json) = serde_json::from_str(text) {
                candidates.push(json);
            }
            vec![candidates]
        }
        many => match serde_json::from_str(text) {
            Ok(serde_json::Value::Array(items)) if items.len() == many.len() => {
                items.into_iter().map(|i| vec![i]).collect()
            }
            _ => {
                return Err(bad(format!(
                    "expected a JSON array of {} values",
                    many.len()
                )));
            }
        },
    };
    let defaults = <E::ActiveModel as ActiveModelTrait>::default_values();
    let mut out = Vec::new();
    for (col, candidates) in cols.into_iter().zip(items) {
        let mut templates = Vec::new();
        if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = defaults.get(col) {
            templates.push(v.as_null());
        }
        templates.extend(codec::templates(col.def().get_column_type()));
        let found = candidates.iter().find_map(|json| {
            templates.iter().find_map(|t| {
                let value = codec::decode(json, t).ok()?;
                let mut probe = <E::ActiveModel as ActiveModelTrait>::default_values();
                probe.try_set(col, value).ok()?;
                match probe.get(col) {
                    ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some(v),
                    ActiveValue::NotSet => None,
                }
            })
        });
        match found {
            Some(v) => out.push((col, v)),
            None => return Err(bad(format!("not a value of column {}", col.as_str()))),
        }
    }
    Ok(out)
}

/// The primary key value `E`'s typed API takes, from the journal's key text.
fn key_of<E>(text: &str) -> Result<<E::PrimaryKey as PrimaryKeyTrait>::ValueType, UiError>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    use sea_orm::sea_query::FromValueTuple;
    let mut values: Vec<Value> = key_values::<E>(text)?.into_iter().map(|(_, v)| v).collect();
    let tuple = match values.len() {
        1 => ValueTuple::One(values.remove(0)),
        2 => {
            let b = values.remove(1);
            ValueTuple::Two(values.remove(0), b)
        }
        3 => {
            let c = values.remove(2);
            let b = values.remove(1);
            ValueTuple::Three(values.remove(0), b, c)
        }
        _ => ValueTuple::Many(values),
    };
    // each value was accepted by the model's own key field above, so the
    // conversion meets the variant it expects
    Ok(<E::PrimaryKey as PrimaryKeyTrait>::ValueType::from_value_tuple(tuple.into_value_tuple()))
}

/// The journal's key text of a model: the inverse of [`key_values`].
fn key_text_of<M: ModelTrait>(model: &M) -> Result<String, UiError> {
    let mut items = Vec::new();
    for col in key_cols::<M::Entity>() {
        items.push(codec::encode(&model.get(col)).map_err(|e| UiError::Other(e.to_string()))?);
    }
    Ok(match items.as_slice() {
        [serde_json::Value::String(s)] => s.clone(),
        [one] => one.to_string(),
        _ => serde_json::Value::Array(items).to_string(),
    })
}

impl<E> Browse for Typed<E>
where
    E: TrackedEntity,
{
    fn table(&self) -> String {
        content_type::<E>()
    }

    fn columns(&self) -> Vec<String> {
        E::Column::iter().map(|c| c.as_str().to_owned()).collect()
    }

    fn unrecorded(&self) -> Result<Vec<(String, &'static str)>, UiError> {
        Ok(unrecorded_columns::<E>()?)
    }

    fn entries<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
        before: Option<i64>,
        limit: u64,
    ) -> BoxFut<'a, Result<Vec<HistoryEntry>, UiError>> {
        Box::pin(async move {
            let mut q = revy_seaorm::history::of::<E>(key_of::<E>(key)?).limit(limit);
            if let Some(before) = before {
                q = q.before(before);
            }
            Ok(q.entries(db).await?)
        })
    }

    fn blame<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Vec<ColumnBlame>, UiError>> {
        Box::pin(async move {
            Ok(revy_seaorm::history::blame::<E>(key_of::<E>(key)?)
                .all(db)
                .await?)
        })
    }

    fn live<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>> {
        Box::pin(async move {
            let mut q = E::find();
            for (col, value) in key_values::<E>(key)? {
                q = q.filter(col.eq(value));
            }
            let found = q.one(db).await.map_err(revy_seaorm::Error::Db)?;
            Ok(found.as_ref().map(row_of))
        })
    }

    fn version<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
    ) -> BoxFut<'a, Result<Option<i64>, UiError>> {
        Box::pin(async move {
            Ok(revy_seaorm::versions::version_of::<E>(key_of::<E>(key)?)
                .one(db)
                .await?)
        })
    }

    fn snapshot<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>> {
        Box::pin(async move {
            let model = ObjectSnapshot::<E>::at(delta_id).one(db).await?;
            Ok(model.as_ref().map(row_of))
        })
    }

    fn as_of<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        key: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFut<'a, Result<Option<Row>, UiError>> {
        Box::pin(async move {
            let model = revy_seaorm::history::as_of::<E>(key_of::<E>(key)?, at)
                .one(db)
                .await?;
            Ok(model.as_ref().map(row_of))
        })
    }

    fn table_page<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        moment: Moment,
        after: Option<String>,
        size: u64,
    ) -> BoxFut<'a, Result<TablePage, UiError>> {
        Box::pin(async move {
            let mut q = revy_seaorm::history::table_as_of::<E>(moment).page_size(size);
            if let Some(after) = after {
                q = q.after(after);
            }
            let page = q.page(db).await?;
            let mut rows = Vec::new();
            for model in &page.rows {
                rows.push((key_text_of(model)?, row_of(model)));
            }
            Ok(TablePage {
                rows,
                next: page.next,
            })
        })
    }

    fn restore<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
    ) -> BoxFut<'a, Result<(), revy_seaorm::Error>> {
        Box::pin(async move {
            revy_seaorm::rollback::restore::<E>(delta_id)
                .exec(db)
                .await
                .map(drop)
        })
    }

    fn revert<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        delta_id: i64,
        expected: i64,
    ) -> BoxFut<'a, Result<(), revy_seaorm::Error>> {
        Box::pin(async move {
            let Some(target) = ObjectSnapshot::<E>::at(delta_id).one(db).await? else {
                return Err(RollbackError::NoSnapshot {
                    table: content_type::<E>(),
                    object_delta_id: delta_id,
                }
                .into());
            };
            let keys: Vec<&str> = key_cols::<E>().iter().map(|c| c.as_str()).collect();
            let unrecorded = unrecorded_columns::<E>()?;
            let mut am: E::ActiveModel = target.clone().into_active_model();
            // only what the journal recorded goes back: a snapshot fills the
            // other columns from the live row, which must stay as it is
            for col in E::Column::iter() {
                let name = col.as_str();
                if keys.contains(&name) || unrecorded.iter().any(|(c, _)| c == name) {
                    continue;
                }
                am.set(col, target.get(col));
            }
            revy_seaorm::versions::update_at_version(am, expected)
                .exec(db)
                .await
                .map(drop)
        })
    }
}
