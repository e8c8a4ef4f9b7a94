//! How a row is named in the journal: its table (`content_type`) and its
//! primary key as text (`content_id`).

use sea_orm::sea_query::{Expr, SimpleExpr, Value};
use sea_orm::{
    ActiveModelTrait, ActiveValue, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyToColumn,
};

use crate::db::values::{decode_into, encode};
use crate::error::{Error, JournalError};

/// Longest primary key text the journal stores.
pub const CONTENT_ID_LEN: u32 = 255;

/// `text` as a MySQL/MariaDB value in the journal's own collation
/// (`utf8mb4_bin`), whatever the connection's. sqlx connects with `SET
/// NAMES utf8mb4`, whose collation is the server's default for the
/// character set (`utf8mb4_general_ci` on MariaDB 10.11). Compared in that
/// one, the table name was no constant to MariaDB's optimizer: it grouped
/// the whole table's journal in a temporary table and sorted it to find a
/// time-travel page's keys (72 ms a page at 100,000 deltas, against 1.6 ms
/// skipping from key to key).
pub(crate) fn mysql_text(text: &str) -> SimpleExpr {
    Expr::cust_with_values("CONVERT(? USING utf8mb4) COLLATE utf8mb4_bin", [text])
}

/// Key columns of an active model's entity with their values.
pub(crate) type KeyValues<A> = Vec<(
    <<A as ActiveModelTrait>::Entity as EntityTrait>::Column,
    Value,
)>;

/// The journal's name of an entity's table: `schema.table` or `table`.
pub fn content_type<E: EntityTrait>() -> String {
    let entity = E::default();
    match entity.schema_name() {
        Some(schema) => format!("{schema}.{}", entity.table_name()),
        None => entity.table_name().to_owned(),
    }
}

/// The entity's primary key columns, or an error for an entity without one.
pub(crate) fn key_columns<E: EntityTrait>() -> Result<Vec<E::Column>, Error> {
    let cols: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    if cols.is_empty() {
        return Err(JournalError::NoPrimaryKey {
            table: content_type::<E>(),
        }
        .into());
    }
    Ok(cols)
}

/// The key text of a row from its key values: a single key as plain text
/// (`7`, `alice`), a composite key as a JSON array (`[7,"alice"]`).
pub(crate) fn content_id_of<E: EntityTrait>(
    values: &[(E::Column, Value)],
) -> Result<String, Error> {
    let text = match values {
        [(col, value)] => match encode::<E>(*col, value)? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        },
        many => {
            let items = many
                .iter()
                .map(|(c, v)| encode::<E>(*c, v))
                .collect::<Result<Vec<_>, _>>()?;
            serde_json::Value::Array(items).to_string()
        }
    };
    let len = text.chars().count();
    if len > CONTENT_ID_LEN as usize {
        return Err(JournalError::KeyTooLong {
            table: content_type::<E>(),
            key: text,
            len,
            max: CONTENT_ID_LEN,
        }
        .into());
    }
    Ok(text)
}

/// The key text of a model.
pub(crate) fn content_id_of_model<M: ModelTrait>(model: &M) -> Result<String, Error> {
    let values = key_columns::<M::Entity>()?
        .into_iter()
        .map(|c| (c, model.get(c)))
        .collect::<Vec<_>>();
    content_id_of::<M::Entity>(&values)
}

/// The key text of the row an active model names; an error when a key
/// column is not set.
pub(crate) fn content_id_of_active<A: ActiveModelTrait>(am: &A) -> Result<String, Error> {
    let Some(key) = key_values_of_active(am)? else {
        return Err(JournalError::KeyNotSet {
            table: content_type::<A::Entity>(),
        }
        .into());
    };
    content_id_of::<A::Entity>(&key)
}

/// The key values of an active model, if every key column is set.
pub(crate) fn key_values_of_active<A: ActiveModelTrait>(
    am: &A,
) -> Result<Option<KeyValues<A>>, Error> {
    let mut out = Vec::new();
    for col in key_columns::<A::Entity>()? {
        match am.get(col) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => out.push((col, v)),
            ActiveValue::NotSet => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The key values named by a journal key text, typed for the entity's key columns.
pub(crate) fn key_values_from_id<A: ActiveModelTrait>(
    content_id: &str,
) -> Result<KeyValues<A>, Error> {
    let cols = key_columns::<A::Entity>()?;
    let defaults = A::default_values();
    let bad = |reason: String| {
        Error::from(JournalError::BadKey {
            table: content_type::<A::Entity>(),
            key: content_id.to_owned(),
            reason,
        })
    };
    let items: Vec<serde_json::Value> = if cols.len() == 1 {
        // A single key is its plain text: try it as a string first (text,
        // uuid), then as JSON (numbers).
        let as_json = serde_json::from_str(content_id).ok();
        let mut candidates = vec![serde_json::Value::String(content_id.to_owned())];
        candidates.extend(as_json);
        let [col] = cols.as_slice() else {
            return Err(bad("the entity has no single key column".into()));
        };
        let col = *col;
        for candidate in candidates {
            let mut probe = A::default();
            if decode_into(&mut probe, &defaults, col, &candidate).is_ok()
                && let ActiveValue::Set(v) = probe.get(col)
            {
                return Ok(vec![(col, v)]);
            }
        }
        return Err(bad(format!("not a value of column {}", col.as_str())));
    } else {
        match serde_json::from_str(content_id) {
            Ok(serde_json::Value::Array(items)) if items.len() == cols.len() => items,
            _ => {
                return Err(bad(format!(
                    "expected a JSON array of {} values",
                    cols.len()
                )));
            }
        }
    };
    let mut out = Vec::new();
    for (col, item) in cols.into_iter().zip(items) {
        let mut probe = A::default();
        decode_into(&mut probe, &defaults, col, &item)?;
        match probe.get(col) {
            ActiveValue::Set(v) => out.push((col, v)),
            _ => return Err(bad(format!("column {} could not be set", col.as_str()))),
        }
    }
    Ok(out)
}
