//! Column values as the journal stores them: encoding a model's value
//! with the codec (naming the column on failure), decoding a journal value
//! back into an active model, and telling whether two values are the same.

use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, IdenStatic, Iterable, ModelTrait,
};

use crate::codec;
use crate::db::keys::content_type;
use crate::error::{Error, JournalError};
use crate::history::HistoryError;

/// Encodes one column's value, naming the column on failure.
pub(crate) fn encode<E: EntityTrait>(
    col: E::Column,
    value: &Value,
) -> Result<serde_json::Value, Error> {
    codec::encode(value).map_err(|source| {
        JournalError::Codec {
            table: content_type::<E>(),
            column: col.as_str().to_owned(),
            source,
        }
        .into()
    })
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
    Err(JournalError::Codec {
        table: content_type::<A::Entity>(),
        column: col.as_str().to_owned(),
        source: last.unwrap_or(codec::CodecError::Unsupported("column type")),
    }
    .into())
}

/// [`decode_into`] for a value the journal recorded at the object delta
/// `setter`: one that does not decode as the column's type (its type
/// changed since, say) is [`HistoryError::Undecodable`], naming the table,
/// column, delta and the value's JSON type.
pub(crate) fn decode_recorded_into<A: ActiveModelTrait>(
    am: &mut A,
    defaults: &A,
    col: <A::Entity as EntityTrait>::Column,
    json: &serde_json::Value,
    setter: i64,
) -> Result<(), Error> {
    decode_into(am, defaults, col, json).map_err(|e| undecodable(e, json, setter))
}

/// A [`JournalError::Codec`] of decoding the journal value `json`, recorded at
/// the object delta `setter`, as [`HistoryError::Undecodable`].
pub(crate) fn undecodable(e: Error, json: &serde_json::Value, setter: i64) -> Error {
    match e {
        Error::Journal(e) => match *e {
            JournalError::Codec {
                table,
                column,
                source,
            } => HistoryError::Undecodable {
                table,
                column,
                object_delta_id: setter,
                json_type: json_type(json),
                // the codec's message quotes the value, which may be personal
                // data: the expected type says enough
                reason: match source {
                    codec::CodecError::Mismatch { expected, .. } => format!("expected {expected}"),
                    other => other.to_string(),
                },
            }
            .into(),
            other => other.into(),
        },
        other => other,
    }
}

/// The JSON type of a value, as error messages name it.
pub(crate) fn json_type(json: &serde_json::Value) -> &'static str {
    use serde_json::Value as J;
    match json {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
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

/// Every column of a model, encoded, in column order.
pub(crate) fn encode_row<M: ModelTrait>(model: &M) -> Result<Vec<serde_json::Value>, Error> {
    <M::Entity as EntityTrait>::Column::iter()
        .map(|col| encode::<M::Entity>(col, &model.get(col)))
        .collect()
}

/// Every column of a model with its name, encoded, in column order.
pub(crate) fn encode_named_row<M: ModelTrait>(
    model: &M,
) -> Result<Vec<(String, serde_json::Value)>, Error> {
    Ok(<M::Entity as EntityTrait>::Column::iter()
        .map(|c| c.as_str().to_owned())
        .zip(encode_row(model)?)
        .collect())
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
