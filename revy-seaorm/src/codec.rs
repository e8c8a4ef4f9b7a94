//! Journal values: sea-orm [`Value`] <-> JSON.
//!
//! The journal stores every column value as a JSON value. The shapes are a
//! storage format: once written they must decode to exactly the value that
//! was encoded.
//!
//! | sea-orm value | JSON |
//! |---|---|
//! | any SQL NULL (`X(None)`, `Enum(OptionEnum::None(_))`, `Array(_, None)`) | `null` |
//! | `Bool` | `true` / `false` |
//! | `TinyInt` … `BigInt`, `TinyUnsigned` … `BigUnsigned` | integer number |
//! | `Float`, `Double` | number when finite; `"NaN"`, `"Infinity"`, `"-Infinity"`, `"-0"` otherwise |
//! | `String`, `Char`, `Enum` | string (an enum stores its `value`) |
//! | `Bytes` | lowercase hex string without prefix, e.g. `"00abff"` |
//! | `Json(Some(v))` | the one-element array `[v]` (so JSON `null` is `[null]`) |
//! | `Decimal` | string from `to_string()`, keeping the scale: `"1.50"` |
//! | `ChronoDate` | `"YYYY-MM-DD"` |
//! | `ChronoTime` | `"HH:MM:SS"`, plus `.fff`, `.ffffff` or `.fffffffff` when needed |
//! | `ChronoDateTime` | `"YYYY-MM-DDTHH:MM:SS[.f]"` |
//! | `ChronoDateTimeUtc`, `…Local`, `…WithTimeZone` | RFC 3339 with the value's own offset as `+HH:MM` |
//! | `Uuid` | hyphenated lowercase string |
//! | `Array(ty, Some(items))` | array of the encoded items |
//!
//! Every other variant (those that sea-query only has with its `with-time`,
//! `with-jiff`, `with-bigdecimal`, `with-ipnetwork`, `with-mac_address`,
//! `postgres-vector` or `postgres-range` features) is refused with
//! [`CodecError::Unsupported`], NULL or not.
//!
//! Details worth knowing:
//!
//! * A leap second is written as second `60` (`"23:59:60.5"`), as chrono does.
//! * Years outside `0000..=9999` are written with a sign (`"+10000-01-01"`,
//!   `"-0001-01-01"`), as chrono does; such text is no longer RFC 3339 but it
//!   round-trips.
//! * An offset with seconds (old local mean times) is written `+HH:MM:SS`.
//! * `ChronoDateTimeLocal` keeps its instant; it comes back in the local
//!   zone of the process that decodes it.
//! * A NaN is stored as `"NaN"`, so its payload and sign are not kept. A
//!   negative zero is kept (as `"-0"`). A rust_decimal negative zero comes
//!   back as a positive zero of the same scale (rust_decimal prints no sign
//!   for zero, and it compares equal).
//! * `f64` values survive a trip through JSON *text* exactly only when
//!   serde_json parses floats exactly, that is with its `float_roundtrip`
//!   feature; without it serde_json's parser may be off by an ulp or two.
//!   `f32` values survive either way.
//!
//! ```
//! use revy_seaorm::codec::{decode, encode};
//! use sea_orm::sea_query::Value;
//! use serde_json::json;
//!
//! let value = Value::Bytes(Some(vec![0x00, 0xab, 0xff]));
//! let json = encode(&value)?;
//! assert_eq!(json, json!("00abff"));
//! assert_eq!(decode(&json, &Value::Bytes(None))?, value);
//! # Ok::<(), revy_seaorm::codec::CodecError>(())
//! ```

use std::mem::discriminant;

use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{ArrayType, ColumnType, Enum, OptionEnum, Value};
use serde_json::{Number, Value as Json};
use uuid::Uuid;

mod error;
mod text;

pub use error::CodecError;
use error::{debug_excerpt, mismatch, type_name, unsupported};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Encodes a sea-orm value as the JSON stored in the journal.
///
/// Fails with [`CodecError::Unsupported`] for variants revy does not
/// journal, and with [`CodecError::Mismatch`] for an array holding an item
/// that does not match its [`ArrayType`].
///
/// ```
/// use revy_seaorm::codec::encode;
/// use sea_orm::sea_query::Value;
/// use serde_json::json;
///
/// assert_eq!(encode(&Value::Int(Some(7)))?, json!(7));
/// assert_eq!(encode(&Value::Int(None))?, json!(null));
/// assert_eq!(encode(&Value::Double(Some(f64::NAN)))?, json!("NaN"));
/// // JSON `null` in a JSON column is not SQL NULL.
/// assert_eq!(encode(&Value::Json(Some(Box::new(json!(null)))))?, json!([null]));
/// # Ok::<(), revy_seaorm::codec::CodecError>(())
/// ```
pub fn encode(value: &Value) -> Result<Json, CodecError> {
    #[allow(unreachable_patterns)]
    let json = match value {
        Value::Bool(v) => or_null(v, |b| Json::Bool(*b)),
        Value::TinyInt(v) => or_null(v, |n| Json::from(*n)),
        Value::SmallInt(v) => or_null(v, |n| Json::from(*n)),
        Value::Int(v) => or_null(v, |n| Json::from(*n)),
        Value::BigInt(v) => or_null(v, |n| Json::from(*n)),
        Value::TinyUnsigned(v) => or_null(v, |n| Json::from(*n)),
        Value::SmallUnsigned(v) => or_null(v, |n| Json::from(*n)),
        Value::Unsigned(v) => or_null(v, |n| Json::from(*n)),
        Value::BigUnsigned(v) => or_null(v, |n| Json::from(*n)),
        Value::Float(v) => or_null(v, |x| float_to_json(f64::from(*x))),
        Value::Double(v) => or_null(v, |x| float_to_json(*x)),
        Value::String(v) => or_null(v, |s| Json::String(s.clone())),
        Value::Char(v) => or_null(v, |c| Json::String(c.to_string())),
        Value::Enum(OptionEnum::Some(e)) => Json::String(e.value.to_string()),
        Value::Enum(OptionEnum::None(_)) => Json::Null,
        Value::Bytes(v) => or_null(v, |b| Json::String(hex_encode(b))),
        Value::Json(v) => or_null(v, |j| Json::Array(vec![(**j).clone()])),
        Value::Decimal(v) => or_null(v, |d| Json::String(d.to_string())),
        Value::Uuid(v) => or_null(v, |u| Json::String(u.hyphenated().to_string())),
        Value::ChronoDate(v) => or_null(v, |d| Json::String(text::format_date(d))),
        Value::ChronoTime(v) => or_null(v, |t| Json::String(text::format_time(t))),
        Value::ChronoDateTime(v) => or_null(v, |dt| Json::String(text::format_datetime(dt))),
        Value::ChronoDateTimeUtc(v) => return encode_zoned(v.as_ref(), OUT_OF_RANGE_UTC),
        Value::ChronoDateTimeLocal(v) => return encode_zoned(v.as_ref(), OUT_OF_RANGE_LOCAL),
        Value::ChronoDateTimeWithTimeZone(v) => {
            return encode_zoned(v.as_ref(), OUT_OF_RANGE_FIXED);
        }
        Value::Array(ty, items) => return encode_array(ty, items.as_deref()),
        other => return Err(unsupported(other)),
    };
    Ok(json)
}

/// Decodes journal JSON into a value of the same variant as `like` (same
/// [`ArrayType`] for arrays, same enum type name for enums).
///
/// `like` is typically a NULL of the target type, e.g. `Value::Int(None)`;
/// its payload is ignored. JSON `null` decodes to the NULL of that variant.
///
/// Decoding is strict about types and ranges (a fraction or `300` is no
/// `TinyInt`) and lenient about spelling where nothing is lost: hex digits
/// in either case, any RFC 3339 offset (also `Z`) for the zoned date-times,
/// UUIDs in any form the uuid crate parses, and for `Float`, `Double` and
/// `Decimal` a JSON number of any kind. A `Float` rounds to the nearest
/// `f32` but a finite number beyond the `f32` range is a mismatch.
///
/// ```
/// use revy_seaorm::codec::decode;
/// use sea_orm::sea_query::{ArrayType, Value};
/// use serde_json::json;
///
/// assert_eq!(decode(&json!(7), &Value::Int(None))?, Value::Int(Some(7)));
/// assert_eq!(decode(&json!(null), &Value::Int(None))?, Value::Int(None));
/// assert_eq!(
///     decode(&json!([1, null]), &Value::Array(ArrayType::BigInt, None))?,
///     Value::Array(
///         ArrayType::BigInt,
///         Some(Box::new(vec![Value::BigInt(Some(1)), Value::BigInt(None)])),
///     ),
/// );
/// assert!(decode(&json!("7"), &Value::Int(None)).is_err());
/// # Ok::<(), revy_seaorm::codec::CodecError>(())
/// ```
pub fn decode(json: &Json, like: &Value) -> Result<Value, CodecError> {
    #[allow(unreachable_patterns)]
    let value = match like {
        Value::Bool(_) => Value::Bool(nullable(json, |j| j.as_bool().ok_or(()), "Bool")?),
        Value::TinyInt(_) => Value::TinyInt(nullable(json, integer, "TinyInt")?),
        Value::SmallInt(_) => Value::SmallInt(nullable(json, integer, "SmallInt")?),
        Value::Int(_) => Value::Int(nullable(json, integer, "Int")?),
        Value::BigInt(_) => Value::BigInt(nullable(json, integer, "BigInt")?),
        Value::TinyUnsigned(_) => Value::TinyUnsigned(nullable(json, integer, "TinyUnsigned")?),
        Value::SmallUnsigned(_) => Value::SmallUnsigned(nullable(json, integer, "SmallUnsigned")?),
        Value::Unsigned(_) => Value::Unsigned(nullable(json, integer, "Unsigned")?),
        Value::BigUnsigned(_) => Value::BigUnsigned(nullable(json, integer, "BigUnsigned")?),
        Value::Float(_) => Value::Float(nullable(json, f32_from_json, "Float")?),
        Value::Double(_) => Value::Double(nullable(json, f64_from_json, "Double")?),
        Value::String(_) => {
            Value::String(nullable(json, |j| string(j).map(str::to_owned), "String")?)
        }
        Value::Char(_) => Value::Char(nullable(json, single_char, "Char")?),
        Value::Enum(like) => {
            let type_name = match like {
                OptionEnum::Some(e) => e.type_name.clone(),
                OptionEnum::None(name) => name.clone(),
            };
            match nullable(json, |j| string(j).map(str::to_owned), "Enum")? {
                Some(value) => Value::Enum(OptionEnum::Some(Box::new(Enum {
                    type_name,
                    value: value.into(),
                }))),
                None => Value::Enum(OptionEnum::None(type_name)),
            }
        }
        Value::Bytes(_) => Value::Bytes(nullable(json, |j| hex_decode(string(j)?), "Bytes")?),
        Value::Json(_) => Value::Json(nullable(json, unwrap_json, "Json")?),
        Value::Decimal(_) => Value::Decimal(nullable(json, decimal_from_json, "Decimal")?),
        Value::Uuid(_) => Value::Uuid(nullable(
            json,
            |j| Uuid::parse_str(string(j)?).map_err(drop),
            "Uuid",
        )?),
        Value::ChronoDate(_) => Value::ChronoDate(nullable(
            json,
            |j| text::parse_date(string(j)?).ok_or(()),
            "ChronoDate",
        )?),
        Value::ChronoTime(_) => Value::ChronoTime(nullable(
            json,
            |j| text::parse_time(string(j)?).ok_or(()),
            "ChronoTime",
        )?),
        Value::ChronoDateTime(_) => Value::ChronoDateTime(nullable(
            json,
            |j| text::parse_datetime(string(j)?).ok_or(()),
            "ChronoDateTime",
        )?),
        Value::ChronoDateTimeUtc(_) => Value::ChronoDateTimeUtc(nullable(
            json,
            |j| zoned_from_json(j).map(|dt| dt.with_timezone(&Utc)),
            "ChronoDateTimeUtc",
        )?),
        Value::ChronoDateTimeLocal(_) => Value::ChronoDateTimeLocal(nullable(
            json,
            |j| zoned_from_json(j).map(|dt| dt.with_timezone(&Local)),
            "ChronoDateTimeLocal",
        )?),
        Value::ChronoDateTimeWithTimeZone(_) => Value::ChronoDateTimeWithTimeZone(nullable(
            json,
            zoned_from_json,
            "ChronoDateTimeWithTimeZone",
        )?),
        Value::Array(ty, _) => decode_array(json, ty)?,
        other => return Err(unsupported(other)),
    };
    Ok(value)
}

/// NULL values of the variants that a column of this type may use in a
/// model, the most usual first.
///
/// Used when the caller has no exact template; the caller tries each in
/// turn with [`decode`]. Column types revy cannot journal (e.g. `Year`,
/// `Interval`, `Vector`, `Cidr`, `Inet`, `MacAddr`, `LTree`) give an empty
/// list.
///
/// ```
/// use revy_seaorm::codec::templates;
/// use sea_orm::sea_query::{ArrayType, ColumnType, Value};
/// use std::sync::Arc;
///
/// assert_eq!(
///     templates(&ColumnType::Integer),
///     vec![Value::Int(None), Value::Unsigned(None)],
/// );
/// assert_eq!(
///     templates(&ColumnType::Array(Arc::new(ColumnType::Text))),
///     vec![
///         Value::Array(ArrayType::String, None),
///         Value::Array(ArrayType::Char, None),
///     ],
/// );
/// assert!(templates(&ColumnType::Year).is_empty());
/// ```
pub fn templates(column_type: &ColumnType) -> Vec<Value> {
    match column_type {
        ColumnType::TinyInteger => vec![Value::TinyInt(None), Value::TinyUnsigned(None)],
        ColumnType::SmallInteger => vec![Value::SmallInt(None), Value::SmallUnsigned(None)],
        ColumnType::Integer => vec![Value::Int(None), Value::Unsigned(None)],
        ColumnType::BigInteger => vec![Value::BigInt(None), Value::BigUnsigned(None)],
        ColumnType::TinyUnsigned => vec![Value::TinyUnsigned(None), Value::TinyInt(None)],
        ColumnType::SmallUnsigned => vec![Value::SmallUnsigned(None), Value::SmallInt(None)],
        ColumnType::Unsigned => vec![Value::Unsigned(None), Value::Int(None)],
        ColumnType::BigUnsigned => vec![Value::BigUnsigned(None), Value::BigInt(None)],
        ColumnType::Float => vec![Value::Float(None)],
        ColumnType::Double => vec![Value::Double(None)],
        ColumnType::Decimal(_) | ColumnType::Money(_) => vec![Value::Decimal(None)],
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text | ColumnType::Custom(_) => {
            vec![Value::String(None), Value::Char(None)]
        }
        ColumnType::Boolean => vec![Value::Bool(None)],
        ColumnType::Date => vec![Value::ChronoDate(None)],
        ColumnType::Time => vec![Value::ChronoTime(None)],
        ColumnType::DateTime | ColumnType::Timestamp => {
            vec![Value::ChronoDateTime(None), Value::ChronoDateTimeUtc(None)]
        }
        ColumnType::TimestampWithTimeZone => vec![
            Value::ChronoDateTimeWithTimeZone(None),
            Value::ChronoDateTimeUtc(None),
            Value::ChronoDateTimeLocal(None),
        ],
        ColumnType::Binary(_)
        | ColumnType::VarBinary(_)
        | ColumnType::Blob
        | ColumnType::Bit(_)
        | ColumnType::VarBit(_) => vec![Value::Bytes(None)],
        ColumnType::Json | ColumnType::JsonBinary => vec![Value::Json(None)],
        ColumnType::Uuid => vec![Value::Uuid(None), Value::String(None)],
        ColumnType::Enum { name, .. } => vec![
            Value::Enum(OptionEnum::None(name.to_string().into())),
            Value::String(None),
        ],
        ColumnType::Array(inner) => templates(inner)
            .iter()
            .filter_map(array_type_of)
            .map(|ty| Value::Array(ty, None))
            .collect(),
        _ => Vec::new(),
    }
}

/// True when the value is SQL NULL (any variant's `None`,
/// `Enum(OptionEnum::None(_))`, `Array(_, None)`).
///
/// ```
/// use revy_seaorm::codec::is_null;
/// use sea_orm::sea_query::{ArrayType, Value};
///
/// assert!(is_null(&Value::Int(None)));
/// assert!(is_null(&Value::Array(ArrayType::Int, None)));
/// assert!(!is_null(&Value::Array(ArrayType::Int, Some(Box::new(vec![])))));
/// assert!(!is_null(&Value::Json(Some(Box::new(serde_json::Value::Null)))));
/// ```
pub fn is_null(value: &Value) -> bool {
    // sea-query's own `is_some` covers every variant, feature-gated ones too.
    !value.is_some()
}

// ---------------------------------------------------------------------------
// Encoding helpers

fn or_null<T>(value: &Option<T>, f: impl FnOnce(&T) -> Json) -> Json {
    value.as_ref().map_or(Json::Null, f)
}

/// A finite float as a JSON number, the others as the strings
/// JavaScript's `Number` prints for them. Negative zero is the string
/// `"-0"`: PostgreSQL passes bound JSON through `jsonb`, whose numbers have
/// no negative zero, so a `-0.0` number would come back as `0.0`.
fn float_to_json(x: f64) -> Json {
    if x == 0.0 && x.is_sign_negative() {
        return Json::String("-0".to_owned());
    }
    match Number::from_f64(x) {
        Some(n) => Json::Number(n),
        None if x.is_nan() => Json::String("NaN".to_owned()),
        None if x > 0.0 => Json::String("Infinity".to_owned()),
        None => Json::String("-Infinity".to_owned()),
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    fn digit(nibble: u8) -> char {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + (nibble - 10)
        })
    }
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
    out
}

const OUT_OF_RANGE_UTC: &str = "ChronoDateTimeUtc outside chrono's range";
const OUT_OF_RANGE_LOCAL: &str = "ChronoDateTimeLocal whose local time is outside chrono's range";
const OUT_OF_RANGE_FIXED: &str =
    "ChronoDateTimeWithTimeZone whose local time is outside chrono's range";

/// A zoned date-time as RFC 3339 text with its own offset; `out_of_range`
/// is the error when its local time is beyond what chrono can represent.
fn encode_zoned<Tz: TimeZone>(
    value: Option<&DateTime<Tz>>,
    out_of_range: &'static str,
) -> Result<Json, CodecError> {
    let Some(dt) = value else {
        return Ok(Json::Null);
    };
    text::format_zoned(&dt.naive_utc(), dt.offset().fix())
        .map(Json::String)
        .ok_or(CodecError::Unsupported(out_of_range))
}

fn encode_array(ty: &ArrayType, items: Option<&Vec<Value>>) -> Result<Json, CodecError> {
    let template = array_item_template(ty).ok_or_else(|| unsupported(ty))?;
    let Some(items) = items else {
        return Ok(Json::Null);
    };
    items
        .iter()
        .map(|item| {
            if !same_variant(item, &template) {
                return Err(CodecError::Mismatch {
                    expected: type_name(&template),
                    found: debug_excerpt(item),
                });
            }
            encode(item)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Array)
}

/// Same variant, and for enums the same type name.
fn same_variant(a: &Value, b: &Value) -> bool {
    fn enum_name(e: &OptionEnum) -> &str {
        match e {
            OptionEnum::Some(e) => &e.type_name,
            OptionEnum::None(name) => name,
        }
    }
    match (a, b) {
        (Value::Enum(a), Value::Enum(b)) => enum_name(a) == enum_name(b),
        _ => discriminant(a) == discriminant(b),
    }
}

// ---------------------------------------------------------------------------
// Decoding helpers

/// `None` for JSON `null`, else `parse(json)`; a failed parse becomes a
/// [`CodecError::Mismatch`] naming `expected`.
fn nullable<T>(
    json: &Json,
    parse: impl FnOnce(&Json) -> Result<T, ()>,
    expected: &'static str,
) -> Result<Option<T>, CodecError> {
    if json.is_null() {
        return Ok(None);
    }
    parse(json).map(Some).map_err(|()| mismatch(expected, json))
}

fn string(json: &Json) -> Result<&str, ()> {
    json.as_str().ok_or(())
}

/// A JSON integer that fits `T` exactly; floats (even `5.0`) are refused.
fn integer<T: TryFrom<u64> + TryFrom<i64>>(json: &Json) -> Result<T, ()> {
    let Json::Number(n) = json else {
        return Err(());
    };
    if let Some(u) = n.as_u64() {
        T::try_from(u).map_err(drop)
    } else if let Some(i) = n.as_i64() {
        T::try_from(i).map_err(drop)
    } else {
        Err(())
    }
}

fn f64_from_json(json: &Json) -> Result<f64, ()> {
    match json {
        Json::Number(n) => n.as_f64().ok_or(()),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            "-0" => Ok(-0.0),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

fn f32_from_json(json: &Json) -> Result<f32, ()> {
    let wide = f64_from_json(json)?;
    // Rounds to nearest; an f64 that came from an f32 converts back exactly.
    #[allow(clippy::cast_possible_truncation)]
    let narrow = wide as f32;
    if narrow.is_infinite() && wide.is_finite() {
        return Err(()); // beyond f32::MAX: refuse rather than store infinity
    }
    Ok(narrow)
}

fn single_char(json: &Json) -> Result<char, ()> {
    let mut chars = string(json)?.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(()),
    }
}

fn hex_decode(text: &str) -> Result<Vec<u8>, ()> {
    fn nibble(digit: u8) -> Result<u8, ()> {
        match digit {
            b'0'..=b'9' => Ok(digit - b'0'),
            b'a'..=b'f' => Ok(digit - b'a' + 10),
            b'A'..=b'F' => Ok(digit - b'A' + 10),
            _ => Err(()),
        }
    }
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(());
    }
    pairs
        .map(|pair| match *pair {
            [high, low] => Ok(nibble(high)? << 4 | nibble(low)?),
            _ => Err(()),
        })
        .collect()
}

fn unwrap_json(json: &Json) -> Result<Box<Json>, ()> {
    match json.as_array().map(Vec::as_slice) {
        Some([inner]) => Ok(Box::new(inner.clone())),
        _ => Err(()),
    }
}

fn decimal_from_json(json: &Json) -> Result<Decimal, ()> {
    match json {
        Json::String(s) => {
            // Plain decimal notation only: an optional sign, digits, at most
            // one point, at least one digit. `from_str_exact` refuses text
            // that would lose digits instead of rounding it.
            let body = s.strip_prefix(['-', '+']).unwrap_or(s);
            let digits = body.bytes().filter(u8::is_ascii_digit).count();
            let points = body.bytes().filter(|&b| b == b'.').count();
            if digits == 0 || points > 1 || digits + points != body.len() {
                return Err(());
            }
            Decimal::from_str_exact(s).map_err(drop)
        }
        Json::Number(n) => {
            let text = n.to_string();
            if text.contains(['e', 'E']) {
                Decimal::from_scientific(&text).map_err(drop)
            } else {
                Decimal::from_str_exact(&text).map_err(drop)
            }
        }
        _ => Err(()),
    }
}

fn zoned_from_json(json: &Json) -> Result<DateTime<FixedOffset>, ()> {
    text::parse_zoned(string(json)?).ok_or(())
}

fn decode_array(json: &Json, ty: &ArrayType) -> Result<Value, CodecError> {
    let template = array_item_template(ty).ok_or_else(|| unsupported(ty))?;
    match json {
        Json::Null => Ok(Value::Array(ty.clone(), None)),
        Json::Array(items) => {
            let values = items
                .iter()
                .map(|item| decode(item, &template))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Array(ty.clone(), Some(Box::new(values))))
        }
        _ => Err(mismatch("Array", json)),
    }
}

// ---------------------------------------------------------------------------
// Array types

/// The NULL item of an array of `ty`, or `None` when revy does not journal
/// such items.
fn array_item_template(ty: &ArrayType) -> Option<Value> {
    #[allow(unreachable_patterns)]
    let item = match ty {
        ArrayType::Bool => Value::Bool(None),
        ArrayType::TinyInt => Value::TinyInt(None),
        ArrayType::SmallInt => Value::SmallInt(None),
        ArrayType::Int => Value::Int(None),
        ArrayType::BigInt => Value::BigInt(None),
        ArrayType::TinyUnsigned => Value::TinyUnsigned(None),
        ArrayType::SmallUnsigned => Value::SmallUnsigned(None),
        ArrayType::Unsigned => Value::Unsigned(None),
        ArrayType::BigUnsigned => Value::BigUnsigned(None),
        ArrayType::Float => Value::Float(None),
        ArrayType::Double => Value::Double(None),
        ArrayType::String => Value::String(None),
        ArrayType::Enum(name) => Value::Enum(OptionEnum::None((**name).clone())),
        ArrayType::Char => Value::Char(None),
        ArrayType::Bytes => Value::Bytes(None),
        ArrayType::Json => Value::Json(None),
        ArrayType::ChronoDate => Value::ChronoDate(None),
        ArrayType::ChronoTime => Value::ChronoTime(None),
        ArrayType::ChronoDateTime => Value::ChronoDateTime(None),
        ArrayType::ChronoDateTimeUtc => Value::ChronoDateTimeUtc(None),
        ArrayType::ChronoDateTimeLocal => Value::ChronoDateTimeLocal(None),
        ArrayType::ChronoDateTimeWithTimeZone => Value::ChronoDateTimeWithTimeZone(None),
        ArrayType::Uuid => Value::Uuid(None),
        ArrayType::Decimal => Value::Decimal(None),
        _ => return None,
    };
    Some(item)
}

/// The array type whose items look like `item`; the inverse of
/// [`array_item_template`]. `None` for arrays and unsupported variants.
fn array_type_of(item: &Value) -> Option<ArrayType> {
    #[allow(unreachable_patterns)]
    let ty = match item {
        Value::Bool(_) => ArrayType::Bool,
        Value::TinyInt(_) => ArrayType::TinyInt,
        Value::SmallInt(_) => ArrayType::SmallInt,
        Value::Int(_) => ArrayType::Int,
        Value::BigInt(_) => ArrayType::BigInt,
        Value::TinyUnsigned(_) => ArrayType::TinyUnsigned,
        Value::SmallUnsigned(_) => ArrayType::SmallUnsigned,
        Value::Unsigned(_) => ArrayType::Unsigned,
        Value::BigUnsigned(_) => ArrayType::BigUnsigned,
        Value::Float(_) => ArrayType::Float,
        Value::Double(_) => ArrayType::Double,
        Value::String(_) => ArrayType::String,
        Value::Enum(OptionEnum::Some(e)) => ArrayType::Enum(Box::new(e.type_name.clone())),
        Value::Enum(OptionEnum::None(name)) => ArrayType::Enum(Box::new(name.clone())),
        Value::Char(_) => ArrayType::Char,
        Value::Bytes(_) => ArrayType::Bytes,
        Value::Json(_) => ArrayType::Json,
        Value::ChronoDate(_) => ArrayType::ChronoDate,
        Value::ChronoTime(_) => ArrayType::ChronoTime,
        Value::ChronoDateTime(_) => ArrayType::ChronoDateTime,
        Value::ChronoDateTimeUtc(_) => ArrayType::ChronoDateTimeUtc,
        Value::ChronoDateTimeLocal(_) => ArrayType::ChronoDateTimeLocal,
        Value::ChronoDateTimeWithTimeZone(_) => ArrayType::ChronoDateTimeWithTimeZone,
        Value::Uuid(_) => ArrayType::Uuid,
        Value::Decimal(_) => ArrayType::Decimal,
        _ => return None,
    };
    Some(ty)
}
