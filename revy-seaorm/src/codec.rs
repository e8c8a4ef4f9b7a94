//! Journal values: sea-orm `Value` <-> JSON. (Temporary stand-in; replaced by the codec branch.)
#![allow(missing_docs, clippy::all)]
use sea_orm::sea_query::{ColumnType, Value};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("unsupported {0}")]
    Unsupported(&'static str),
    #[error("mismatch {expected} {found}")]
    Mismatch {
        expected: &'static str,
        found: String,
    },
}

pub fn encode(value: &Value) -> Result<serde_json::Value, CodecError> {
    Ok(match value {
        Value::Bool(v) => serde_json::json!(v),
        Value::Int(v) => serde_json::json!(v),
        Value::BigInt(v) => serde_json::json!(v),
        Value::String(v) => serde_json::json!(v),
        Value::Double(v) => serde_json::json!(v),
        Value::Decimal(v) => serde_json::json!(v.map(|d| d.to_string())),
        Value::ChronoDateTimeUtc(v) => serde_json::json!(v.map(|d| d.to_rfc3339())),
        _ => return Err(CodecError::Unsupported("x")),
    })
}

pub fn decode(json: &serde_json::Value, like: &Value) -> Result<Value, CodecError> {
    let m = || CodecError::Mismatch {
        expected: "x",
        found: json.to_string(),
    };
    if json.is_null() {
        return Ok(like.as_null());
    }
    Ok(match like {
        Value::Bool(_) => Value::Bool(json.as_bool()),
        Value::Int(_) => Value::Int(Some(json.as_i64().ok_or_else(m)? as i32)),
        Value::BigInt(_) => Value::BigInt(json.as_i64()),
        Value::String(_) => Value::String(Some(json.as_str().ok_or_else(m)?.to_owned())),
        Value::Double(_) => Value::Double(json.as_f64()),
        _ => return Err(m()),
    })
}

pub fn templates(column_type: &ColumnType) -> Vec<Value> {
    match column_type {
        ColumnType::Integer => vec![Value::Int(None)],
        ColumnType::BigInteger => vec![Value::BigInt(None)],
        _ => vec![Value::String(None)],
    }
}

pub fn is_null(value: &Value) -> bool {
    *value == value.as_null()
}
