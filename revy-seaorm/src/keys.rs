//! How a row is named in the journal: its table (`content_type`) and its
//! primary key as text (`content_id`), and how column values are typed back.

use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyToColumn,
};

use crate::Error;

/// Key columns of an active model's entity with their values.
pub(crate) type KeyValues<A> = Vec<(
    <<A as ActiveModelTrait>::Entity as EntityTrait>::Column,
    Value,
)>;
use crate::codec;
use crate::journal::CONTENT_ID_LEN;

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
        return Err(Error::NoPrimaryKey {
            table: content_type::<E>(),
        });
    }
    Ok(cols)
}

/// Encodes one column's value, naming the column on failure.
pub(crate) fn encode<E: EntityTrait>(
    col: E::Column,
    value: &Value,
) -> Result<serde_json::Value, Error> {
    codec::encode(value).map_err(|source| Error::Codec {
        table: content_type::<E>(),
        column: col.as_str().to_owned(),
        source,
    })
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
        return Err(Error::KeyTooLong {
            table: content_type::<E>(),
            key: text,
            len,
            max: CONTENT_ID_LEN,
        });
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

/// NULL values of the variants a column may take, the surest first: the
/// variant of the model field itself when sea-orm can tell it, then those
/// the column's SQL type allows.
pub(crate) fn templates_of<A: ActiveModelTrait>(
    defaults: &A,
    col: <A::Entity as EntityTrait>::Column,
) -> Vec<Value> {
    let mut out = Vec::new();
    if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = defaults.get(col) {
        out.push(v.as_null());
    }
    for t in codec::templates(col.def().get_column_type()) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Decodes a journal value into the column of `am`, trying each template
/// until the model accepts one.
pub(crate) fn decode_into<A: ActiveModelTrait>(
    am: &mut A,
    defaults: &A,
    col: <A::Entity as EntityTrait>::Column,
    json: &serde_json::Value,
) -> Result<(), Error> {
    let mut last = None;
    for template in templates_of(defaults, col) {
        match codec::decode(json, &template) {
            Ok(value) => match am.try_set(col, value) {
                Ok(()) => return Ok(()),
                Err(_) => continue,
            },
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Codec {
        table: content_type::<A::Entity>(),
        column: col.as_str().to_owned(),
        source: last.unwrap_or(codec::CodecError::Unsupported("column type")),
    })
}

/// The key values named by a journal key text, typed for the entity's key columns.
pub(crate) fn key_values_from_id<A: ActiveModelTrait>(
    content_id: &str,
) -> Result<KeyValues<A>, Error> {
    let cols = key_columns::<A::Entity>()?;
    let defaults = A::default_values();
    let bad = |reason: String| Error::BadKey {
        table: content_type::<A::Entity>(),
        key: content_id.to_owned(),
        reason,
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

/// Whether two journal values are the same value: JSON equality, except
/// that `0.0` and `-0.0` differ (serde_json counts them equal).
pub(crate) fn identical(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            x == y && x.as_f64().map(f64::is_sign_negative) == y.as_f64().map(f64::is_sign_negative)
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| identical(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| identical(v, w)))
        }
        _ => a == b,
    }
}

/// Whether two values of one column would encode identically, decided
/// without encoding them; `false` means "encode and compare". Only types
/// whose equality is exact are trusted: floats are compared by their bits
/// (`-0.0 == 0.0` is not an unchanged value), decimals (`1.0 == 1.00`),
/// offsets (`DateTime<FixedOffset>` compares instants), JSON and arrays
/// (which may hold floats) always take the encoded route.
pub(crate) fn surely_identical(a: &Value, b: &Value) -> bool {
    use Value as V;
    match (a, b) {
        (V::Float(x), V::Float(y)) => x.map(f32::to_bits) == y.map(f32::to_bits),
        (V::Double(x), V::Double(y)) => x.map(f64::to_bits) == y.map(f64::to_bits),
        (V::Bool(_), V::Bool(_))
        | (V::TinyInt(_), V::TinyInt(_))
        | (V::SmallInt(_), V::SmallInt(_))
        | (V::Int(_), V::Int(_))
        | (V::BigInt(_), V::BigInt(_))
        | (V::TinyUnsigned(_), V::TinyUnsigned(_))
        | (V::SmallUnsigned(_), V::SmallUnsigned(_))
        | (V::Unsigned(_), V::Unsigned(_))
        | (V::BigUnsigned(_), V::BigUnsigned(_))
        | (V::String(_), V::String(_))
        | (V::Char(_), V::Char(_))
        | (V::Bytes(_), V::Bytes(_))
        | (V::Uuid(_), V::Uuid(_))
        | (V::ChronoDate(_), V::ChronoDate(_))
        | (V::ChronoTime(_), V::ChronoTime(_))
        | (V::ChronoDateTime(_), V::ChronoDateTime(_))
        | (V::ChronoDateTimeUtc(_), V::ChronoDateTimeUtc(_)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::identical;
    use serde_json::json;

    #[test]
    fn negative_zero_differs_from_zero() {
        assert!(!identical(&json!(-0.0), &json!(0.0)));
        assert!(!identical(&json!([{"a": -0.0}]), &json!([{"a": 0.0}])));
        assert!(identical(
            &json!([{"a": 1.5, "b": [1, "x"]}]),
            &json!([{"b": [1, "x"], "a": 1.5}])
        ));
        assert!(!identical(&json!(1), &json!("1")));
    }
}

#[cfg(test)]
mod surely_identical_tests {
    use super::surely_identical;
    use chrono::{FixedOffset, TimeZone, Utc};
    use rust_decimal::Decimal;
    use sea_orm::sea_query::Value;

    #[test]
    fn equal_plain_values_are_identical() {
        assert!(surely_identical(&Value::Int(Some(3)), &Value::Int(Some(3))));
        assert!(surely_identical(&Value::String(None), &Value::String(None)));
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert!(surely_identical(&t.into(), &t.into()));
        assert!(surely_identical(
            &Value::Double(Some(f64::NAN)),
            &Value::Double(Some(f64::NAN))
        ));
    }

    #[test]
    fn values_equal_but_encoded_differently_are_left_to_the_codec() {
        // -0.0 == 0.0, yet the journal keeps the sign
        assert!(!surely_identical(
            &Value::Double(Some(0.0)),
            &Value::Double(Some(-0.0))
        ));
        assert!(!surely_identical(
            &Value::Float(Some(0.0)),
            &Value::Float(Some(-0.0))
        ));
        // 1.0 == 1.00, yet the journal keeps the scale
        let (a, b) = (Decimal::new(10, 1), Decimal::new(100, 2));
        assert_eq!(a, b);
        assert!(!surely_identical(&a.into(), &b.into()));
        // the same instant at two offsets
        let utc = FixedOffset::east_opt(0).unwrap();
        let plus1 = FixedOffset::east_opt(3600).unwrap();
        let (x, y) = (
            utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            plus1.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
        );
        assert_eq!(x, y);
        assert!(!surely_identical(&x.into(), &y.into()));
        // JSON may hold floats
        let j = serde_json::json!([0.0]);
        assert!(!surely_identical(&j.clone().into(), &j.into()));
    }

    #[test]
    fn different_values_or_types_are_not_identical() {
        assert!(!surely_identical(
            &Value::Int(Some(3)),
            &Value::Int(Some(4))
        ));
        assert!(!surely_identical(&Value::Int(None), &Value::Int(Some(0))));
        assert!(!surely_identical(
            &Value::Int(Some(3)),
            &Value::BigInt(Some(3))
        ));
    }
}
