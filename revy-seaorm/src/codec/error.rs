//! [`CodecError`] and the names and excerpts its messages use.

use std::fmt::Debug;
use std::io;

use sea_orm::sea_query::Value;
use serde_json::Value as Json;

/// Why a value could not be encoded or decoded. Messages say what was
/// expected and what was found.
///
/// ```
/// use revy_seaorm::codec::{decode, CodecError};
/// use sea_orm::sea_query::Value;
/// use serde_json::json;
///
/// let err = decode(&json!(300), &Value::TinyInt(None)).unwrap_err();
/// assert_eq!(
///     err,
///     CodecError::Mismatch { expected: "TinyInt", found: "300".to_owned() }
/// );
/// assert_eq!(err.to_string(), "expected TinyInt, found 300");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The value's type is not supported by revy. The payload names the
    /// variant, e.g. `"Vector"`, `"IpNetwork"` or `"Range"`; for a value
    /// chrono cannot write as text it says so.
    #[error("revy cannot journal values of type {0}")]
    Unsupported(&'static str),
    /// The data does not fit the target type.
    #[error("expected {expected}, found {found}")]
    Mismatch {
        /// The type that was expected, e.g. `"TinyInt"` or `"ChronoDate"`.
        expected: &'static str,
        /// What was found: the JSON text when decoding (the offending array
        /// item's debug text when encoding), cut to about 80 characters.
        found: String,
    },
}

/// The variant name of a supported value, for error messages.
pub(super) fn type_name(value: &Value) -> &'static str {
    #[allow(unreachable_patterns)]
    match value {
        Value::Bool(_) => "Bool",
        Value::TinyInt(_) => "TinyInt",
        Value::SmallInt(_) => "SmallInt",
        Value::Int(_) => "Int",
        Value::BigInt(_) => "BigInt",
        Value::TinyUnsigned(_) => "TinyUnsigned",
        Value::SmallUnsigned(_) => "SmallUnsigned",
        Value::Unsigned(_) => "Unsigned",
        Value::BigUnsigned(_) => "BigUnsigned",
        Value::Float(_) => "Float",
        Value::Double(_) => "Double",
        Value::String(_) => "String",
        Value::Enum(_) => "Enum",
        Value::Char(_) => "Char",
        Value::Bytes(_) => "Bytes",
        Value::Json(_) => "Json",
        Value::ChronoDate(_) => "ChronoDate",
        Value::ChronoTime(_) => "ChronoTime",
        Value::ChronoDateTime(_) => "ChronoDateTime",
        Value::ChronoDateTimeUtc(_) => "ChronoDateTimeUtc",
        Value::ChronoDateTimeLocal(_) => "ChronoDateTimeLocal",
        Value::ChronoDateTimeWithTimeZone(_) => "ChronoDateTimeWithTimeZone",
        Value::Uuid(_) => "Uuid",
        Value::Decimal(_) => "Decimal",
        Value::Array(..) => "Array",
        other => feature_variant_name(other),
    }
}

/// Variants that sea-query only has under features revy does not enable.
/// They cannot be named in a `match` here, so they are recognised by the
/// start of their `Debug` text (derived, so it starts with the variant name).
const FEATURE_VARIANTS: &[&str] = &[
    "TimeDate",
    "TimeTime",
    "TimeDateTime",
    "TimeDateTimeWithTimeZone",
    "JiffDate",
    "JiffTime",
    "JiffDateTime",
    "JiffTimestamp",
    "BigDecimal",
    "Vector",
    "IpNetwork",
    "MacAddress",
    "Range",
];

fn feature_variant_name(value: &dyn Debug) -> &'static str {
    let text = debug_excerpt(value);
    let ident = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    FEATURE_VARIANTS
        .iter()
        .copied()
        .find(|name| *name == ident)
        .unwrap_or("an unknown variant")
}

pub(super) fn unsupported(value: &dyn Debug) -> CodecError {
    CodecError::Unsupported(feature_variant_name(value))
}

/// The start of `value`'s debug text, as in [`excerpt`].
pub(super) fn debug_excerpt(value: &dyn Debug) -> String {
    excerpt(|w| io::Write::write_fmt(w, format_args!("{value:?}")))
}

pub(super) fn mismatch(expected: &'static str, found: &Json) -> CodecError {
    CodecError::Mismatch {
        expected,
        found: excerpt(|w| serde_json::to_writer(w, found).map_err(io::Error::other)),
    }
}

/// Characters kept in [`CodecError::Mismatch::found`].
pub(super) const EXCERPT_CHARS: usize = 80;

/// The first [`EXCERPT_CHARS`] characters that `write` produces, with `…`
/// appended when there were more. Writing stops early, so a huge value is
/// never rendered in full.
fn excerpt(write: impl FnOnce(&mut Capped) -> io::Result<()>) -> String {
    // Room for EXCERPT_CHARS four-byte characters and one more, so that a
    // character cut at the byte limit always lies beyond the kept ones.
    let mut capped = Capped {
        bytes: Vec::new(),
        limit: 4 * (EXCERPT_CHARS + 1),
        cut: false,
    };
    // An error here only means that the limit was hit (or the value failed
    // to render); what was written so far is the excerpt either way.
    let _ = write(&mut capped);
    let text = String::from_utf8_lossy(&capped.bytes);
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if capped.cut || chars.next().is_some() {
        out.push('…');
    }
    out
}

/// An [`io::Write`] that keeps at most `limit` bytes and then fails.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
    cut: bool,
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.bytes.len());
        self.bytes.extend(data.iter().take(room));
        if data.len() > room {
            self.cut = true;
            return Err(io::Error::other("excerpt is full"));
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
