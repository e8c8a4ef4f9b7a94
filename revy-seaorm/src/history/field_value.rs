//! A column's value as the journal's readers show it: decoded to the
//! column's sea-orm type, or withheld when the journal kept only the fact
//! that it changed (a redacted column).

use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, EntityTrait, IdenStatic, Iterable};
use serde::{Serialize, Serializer};

use crate::codec;
use crate::db::keys::content_type;
use crate::db::values;
use crate::error::{Error, JournalError};
use crate::policy::Rules;

/// One column's value from the journal, as [`blame`](crate::history::blame) and
/// [`History::entries`](crate::history::History::entries) report it.
///
/// ```
/// use revy_seaorm::history::FieldValue;
/// use sea_orm::Value;
///
/// let shown = FieldValue::Value(Value::String(Some("Ann".into())));
/// assert_eq!(shown.value(), Some(&Value::String(Some("Ann".into()))));
/// assert_eq!(FieldValue::Withheld.value(), None);
/// ```
///
/// # As JSON
///
/// A `FieldValue` serializes (with serde, or [`to_json`](Self::to_json)) to
/// revy's JSON encoding of the value, the one the journal stores (see
/// [`codec`]): SQL NULL is `null`, a JSON column's value is wrapped in a
/// one-element array (so a JSON `null` is `[null]`, never confused with
/// SQL NULL), a decimal is a string at its full precision, a time is RFC
/// 3339 text. A withheld value is the redaction marker
/// `{"revy": "redacted"}` (tell it with [`is_redacted`](crate::policy::is_redacted));
/// no encoded value is a JSON object, so the marker cannot be mistaken for
/// one.
///
/// ```
/// use revy_seaorm::history::FieldValue;
/// use sea_orm::Value;
/// use serde_json::json;
///
/// let total = FieldValue::Value(Value::Decimal(Some("12.3450".parse()?)));
/// assert_eq!(serde_json::to_value(&total)?, json!("12.3450"));
/// assert_eq!(FieldValue::Value(Value::String(None)).to_json()?, json!(null));
/// let json_null = FieldValue::Value(Value::Json(Some(Box::new(json!(null)))));
/// assert_eq!(json_null.to_json()?, json!([null]));
/// assert_eq!(FieldValue::Withheld.to_json()?, json!({"revy": "redacted"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// The value, decoded to the column's type (SQL NULL is the variant's
    /// `None`, e.g. `Value::String(None)`).
    Value(Value),
    /// The column is redacted: the journal records that it changed, by
    /// whom and when, but not its value.
    Withheld,
    /// The value was erased (see [`erase`](crate::lifecycle::erase())): the journal
    /// records that the column changed, by whom and when, and no longer
    /// its value. As JSON, the marker `{"revy": "erased"}`.
    Erased,
    /// The column is no longer in the entity, so its type is unknown: the
    /// value as the journal stores it (see [`codec`]).
    Raw(serde_json::Value),
}

impl FieldValue {
    /// The decoded value; `None` when it is withheld or undecoded.
    pub fn value(&self) -> Option<&Value> {
        match self {
            FieldValue::Value(v) => Some(v),
            FieldValue::Withheld | FieldValue::Erased | FieldValue::Raw(_) => None,
        }
    }

    /// The value in revy's JSON encoding (see [As JSON](#as-json)); a
    /// withheld value is the redaction marker, an undecoded one is given
    /// as the journal stores it.
    ///
    /// Fails only for a value of a type the codec does not encode, which
    /// no value read from the journal is.
    pub fn to_json(&self) -> Result<serde_json::Value, codec::CodecError> {
        match self {
            FieldValue::Value(v) => codec::encode(v),
            FieldValue::Withheld => Ok(crate::policy::redacted()),
            FieldValue::Erased => Ok(crate::policy::erased()),
            FieldValue::Raw(json) => Ok(json.clone()),
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // no copy of what is already JSON
            FieldValue::Raw(json) => json.serialize(serializer),
            other => other
                .to_json()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

/// Whether a journal value is the marker a redacted column leaves:
/// `{"revy": "redacted"}`.
pub(crate) fn is_withheld(json: &serde_json::Value) -> bool {
    crate::policy::is_redacted(json)
}

/// The column of `E` named `name`, if the entity has one.
pub(crate) fn column_named<E: EntityTrait>(name: &str) -> Option<E::Column> {
    E::Column::iter().find(|c| c.as_str() == name)
}

/// Decodes the journal value of the column named `field` of `E`.
pub(crate) fn decode<E>(field: &str, json: &serde_json::Value) -> Result<FieldValue, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    if is_withheld(json) {
        return Ok(FieldValue::Withheld);
    }
    if crate::policy::is_erased(json) {
        return Ok(FieldValue::Erased);
    }
    let Some(col) = column_named::<E>(field) else {
        return Ok(FieldValue::Raw(json.clone()));
    };
    let defaults = <E::ActiveModel as ActiveModelTrait>::default_values();
    let mut last = None;
    for template in values::templates_of(&defaults, col) {
        match codec::decode(json, &template) {
            Ok(value) => return Ok(FieldValue::Value(value)),
            Err(e) => last = Some(e),
        }
    }
    Err(JournalError::Codec {
        table: content_type::<E>(),
        column: field.to_owned(),
        source: last.unwrap_or(codec::CodecError::Unsupported("column type")),
    }
    .into())
}

/// Decodes the journal value of the field named `field`, recorded by the
/// object delta `setter`, as the column of `E` it counts as (the column of
/// that name, or the one the policy says was renamed from it), through the
/// policy's conversion of that column: [`FieldValue::Raw`] when no column
/// counts it (it was dropped), [`HistoryError::Undecodable`](crate::history::HistoryError::Undecodable) or
/// [`HistoryError::ConversionFailed`](crate::history::HistoryError::ConversionFailed) when it does not decode.
pub(crate) fn decode_recorded<E>(
    rules: &Rules<E>,
    field: &str,
    json: &serde_json::Value,
    setter: i64,
) -> Result<FieldValue, Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    if is_withheld(json) {
        return Ok(FieldValue::Withheld);
    }
    let Some(col) = rules.schema.column_of(field) else {
        return Ok(FieldValue::Raw(json.clone()));
    };
    let json = rules.schema.converted(col, json.clone(), setter)?;
    decode::<E>(col.as_str(), &json).map_err(|e| values::undecodable(e, &json, setter))
}

#[cfg(test)]
mod tests {
    use super::is_withheld;
    use serde_json::json;

    #[test]
    fn only_the_marker_is_withheld() {
        assert!(is_withheld(&json!({"revy": "redacted"})));
        assert!(!is_withheld(&json!({"revy": "redacted", "x": 1})));
        assert!(!is_withheld(&json!("redacted")));
        assert!(!is_withheld(&json!(null)));
    }
}
