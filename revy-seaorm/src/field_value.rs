//! A column's value as the journal's readers show it: decoded to the
//! column's sea-orm type, or withheld when the journal kept only the fact
//! that it changed (a redacted column).

use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, EntityTrait, IdenStatic, Iterable};

use crate::Error;
use crate::codec;
use crate::keys::content_type;
use crate::values;

/// One column's value from the journal, as [`blame`](crate::blame) and
/// [`History::entries`](crate::History::entries) report it.
///
/// ```
/// use revy_seaorm::FieldValue;
/// use sea_orm::Value;
///
/// let shown = FieldValue::Value(Value::String(Some("Ann".into())));
/// assert_eq!(shown.value(), Some(&Value::String(Some("Ann".into()))));
/// assert_eq!(FieldValue::Withheld.value(), None);
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
    /// The column is no longer in the entity, so its type is unknown: the
    /// value as the journal stores it (see [`codec`]).
    Raw(serde_json::Value),
}

impl FieldValue {
    /// The decoded value; `None` when it is withheld or undecoded.
    pub fn value(&self) -> Option<&Value> {
        match self {
            FieldValue::Value(v) => Some(v),
            FieldValue::Withheld | FieldValue::Raw(_) => None,
        }
    }
}

/// Whether a journal value is the marker a redacted column leaves:
/// `{"revy": "redacted"}`.
pub(crate) fn is_withheld(json: &serde_json::Value) -> bool {
    json.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("revy").and_then(|v| v.as_str()) == Some("redacted"))
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
    Err(Error::Codec {
        table: content_type::<E>(),
        column: field.to_owned(),
        source: last.unwrap_or(codec::CodecError::Unsupported("column type")),
    })
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
