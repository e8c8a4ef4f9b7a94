//! Property tests: every supported value survives encode -> JSON text ->
//! decode exactly, and decoding arbitrary JSON never panics.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

use super::*;

/// Whether serde_json reads every float it writes back to the same bits.
/// Its default parser does not (it may be an ulp or two off); with its
/// `float_roundtrip` feature it does.
static EXACT_FLOAT_PARSING: LazyLock<bool> = LazyLock::new(|| {
    // Numbers that the default parser reads wrongly.
    [
        1.071_566_039_146_582_6e-75_f64,
        -1.819_967_304_027_17e-179,
        -1.603_964_615_428_183e143,
        -9.643_915_712_060_552e-234,
    ]
    .iter()
    .all(|&x| {
        let text = serde_json::to_string(&x).unwrap();
        serde_json::from_str::<f64>(&text).unwrap().to_bits() == x.to_bits()
    })
});

fn f64_same(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        // A NaN is journaled as "NaN": its payload is not kept.
        return a.is_nan() && b.is_nan();
    }
    if a.to_bits() == b.to_bits() {
        return true;
    }
    // Without exact parsing, allow serde_json's parser its error.
    !*EXACT_FLOAT_PARSING
        && a.is_finite()
        && a.is_sign_negative() == b.is_sign_negative()
        && a.to_bits().abs_diff(b.to_bits()) <= 2
}

fn f32_same(a: f32, b: f32) -> bool {
    // f32 values are exact whatever the parser: its error is far below
    // f32 precision.
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn json_same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            if x.is_u64() || y.is_u64() {
                x.as_u64() == y.as_u64()
            } else if x.is_i64() || y.is_i64() {
                x.as_i64() == y.as_i64()
            } else {
                matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if f64_same(x, y))
            }
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && json_same(va, vb))
        }
        _ => a == b,
    }
}

fn both<T>(a: &Option<T>, b: &Option<T>, same: impl Fn(&T, &T) -> bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Stricter than sea-orm's `==` (which, with its `hashable-value` feature,
/// treats -0.0 as 0.0, ignores decimal scale and date-time offsets).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => both(x, y, |x, y| f32_same(*x, *y)),
        (Value::Double(x), Value::Double(y)) => both(x, y, |x, y| f64_same(*x, *y)),
        (Value::Decimal(x), Value::Decimal(y)) => {
            both(x, y, |x, y| x == y && x.scale() == y.scale())
        }
        (Value::ChronoDateTimeWithTimeZone(x), Value::ChronoDateTimeWithTimeZone(y)) => {
            both(x, y, |x, y| x == y && x.offset() == y.offset())
        }
        (Value::Json(x), Value::Json(y)) => both(x, y, |x, y| json_same(x, y)),
        (Value::Array(tx, x), Value::Array(ty, y)) => {
            tx == ty
                && both(x, y, |x, y| {
                    x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
                })
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// Strategies

fn opt<S: Strategy>(inner: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::weighted(0.85, inner)
}

macro_rules! int_with_edges {
    ($t:ty) => {
        prop_oneof![
            4 => any::<$t>(),
            1 => select(vec![<$t>::MIN, <$t>::MAX, 0, 1]),
        ]
    };
}

fn f64s() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>(),
        1 => select(vec![
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            5e-324,
            -5e-324,
            0.1,
            9_007_199_254_740_993.0,
        ]),
    ]
}

fn f32s() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => any::<f32>(),
        1 => select(vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::EPSILON,
            1e-45,
            -1e-45,
            0.1,
            16_777_217.0,
        ]),
    ]
}

fn finite_f64s() -> impl Strategy<Value = f64> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn texts() -> BoxedStrategy<String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..24).prop_map(String::from_iter),
        1 => any::<String>(),
        1 => select(vec![
            "",
            "\0",
            "a\0b",
            "שלום עולם",
            "مرحبا بالعالم",
            "\u{202e}txet desrever",
            "👨‍👩‍👧‍👦🏳️‍🌈",
            "\"quoted\" \\ back/slash\n\t\u{7f}",
        ])
        .prop_map(str::to_owned),
        1 => (any::<char>(), 1_000usize..5_000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
    .boxed()
}

fn decimals() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        // Full 96-bit mantissas: up to 29 significant digits.
        3 => (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(lo, mid, hi, negative, scale)),
        2 => (any::<i64>(), 0u32..=28).prop_map(|(n, scale)| Decimal::new(n, scale)),
        1 => select(vec![
            Decimal::MAX,
            Decimal::MIN,
            Decimal::ZERO,
            Decimal::new(150, 2),
            Decimal::from_parts(0, 0, 0, true, 3),
            Decimal::from_parts(1, 0, 0, false, 28),
        ]),
    ]
}

fn dates() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        4 => (1i32..=9999, 1u32..=366)
            .prop_filter_map("no such day", |(year, day)| NaiveDate::from_yo_opt(year, day)),
        1 => select(vec![
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
        ]),
    ]
}

fn times() -> impl Strategy<Value = NaiveTime> {
    let nanos = prop_oneof![
        Just(0u32),
        (0u32..1_000).prop_map(|ms| ms * 1_000_000),
        (0u32..1_000_000).prop_map(|us| us * 1_000),
        0u32..1_000_000_000,
    ];
    prop_oneof![
        8 => (0u32..86_400, nanos).prop_map(|(secs, nanos)| {
            NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).unwrap()
        }),
        // leap seconds
        1 => (0u32..24, 0u32..60, 1_000_000_000u32..2_000_000_000)
            .prop_map(|(h, m, nanos)| NaiveTime::from_hms_nano_opt(h, m, 59, nanos).unwrap()),
    ]
}

fn datetimes() -> impl Strategy<Value = NaiveDateTime> {
    (dates(), times()).prop_map(|(date, time)| date.and_time(time))
}

fn offsets() -> impl Strategy<Value = FixedOffset> {
    prop_oneof![
        4 => (-1439i32..=1439).prop_map(|minutes| FixedOffset::east_opt(minutes * 60).unwrap()),
        1 => (-86_399i32..=86_399).prop_map(|seconds| FixedOffset::east_opt(seconds).unwrap()),
    ]
}

fn jsons() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        int_with_edges!(i64).prop_map(Json::from),
        int_with_edges!(u64).prop_map(Json::from),
        finite_f64s().prop_map(Json::from),
        texts().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Json::Array),
            btree_map(texts(), inner, 0..5).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn enums(type_name: &'static str) -> impl Strategy<Value = Value> {
    opt(texts()).prop_map(move |value| match value {
        Some(value) => Value::Enum(OptionEnum::Some(Box::new(Enum {
            type_name: type_name.into(),
            value: value.into(),
        }))),
        None => Value::Enum(OptionEnum::None(type_name.into())),
    })
}

/// One strategy per supported scalar variant, with the array type of
/// arrays of it.
fn kinds() -> Vec<(ArrayType, BoxedStrategy<Value>)> {
    vec![
        (
            ArrayType::Bool,
            opt(any::<bool>()).prop_map(Value::Bool).boxed(),
        ),
        (
            ArrayType::TinyInt,
            opt(int_with_edges!(i8)).prop_map(Value::TinyInt).boxed(),
        ),
        (
            ArrayType::SmallInt,
            opt(int_with_edges!(i16)).prop_map(Value::SmallInt).boxed(),
        ),
        (
            ArrayType::Int,
            opt(int_with_edges!(i32)).prop_map(Value::Int).boxed(),
        ),
        (
            ArrayType::BigInt,
            opt(int_with_edges!(i64)).prop_map(Value::BigInt).boxed(),
        ),
        (
            ArrayType::TinyUnsigned,
            opt(int_with_edges!(u8))
                .prop_map(Value::TinyUnsigned)
                .boxed(),
        ),
        (
            ArrayType::SmallUnsigned,
            opt(int_with_edges!(u16))
                .prop_map(Value::SmallUnsigned)
                .boxed(),
        ),
        (
            ArrayType::Unsigned,
            opt(int_with_edges!(u32)).prop_map(Value::Unsigned).boxed(),
        ),
        (
            ArrayType::BigUnsigned,
            opt(int_with_edges!(u64))
                .prop_map(Value::BigUnsigned)
                .boxed(),
        ),
        (ArrayType::Float, opt(f32s()).prop_map(Value::Float).boxed()),
        (
            ArrayType::Double,
            opt(f64s()).prop_map(Value::Double).boxed(),
        ),
        (
            ArrayType::String,
            opt(texts()).prop_map(Value::String).boxed(),
        ),
        (
            ArrayType::Enum(Box::new("mood".into())),
            enums("mood").boxed(),
        ),
        (
            ArrayType::Char,
            opt(any::<char>()).prop_map(Value::Char).boxed(),
        ),
        (
            ArrayType::Bytes,
            opt(vec(any::<u8>(), 0..48)).prop_map(Value::Bytes).boxed(),
        ),
        (
            ArrayType::Json,
            opt(jsons())
                .prop_map(|j| Value::Json(j.map(Box::new)))
                .boxed(),
        ),
        (
            ArrayType::Decimal,
            opt(decimals()).prop_map(Value::Decimal).boxed(),
        ),
        (
            ArrayType::ChronoDate,
            opt(dates()).prop_map(Value::ChronoDate).boxed(),
        ),
        (
            ArrayType::ChronoTime,
            opt(times()).prop_map(Value::ChronoTime).boxed(),
        ),
        (
            ArrayType::ChronoDateTime,
            opt(datetimes()).prop_map(Value::ChronoDateTime).boxed(),
        ),
        (
            ArrayType::ChronoDateTimeUtc,
            opt(datetimes())
                .prop_map(|dt| Value::ChronoDateTimeUtc(dt.map(|dt| Utc.from_utc_datetime(&dt))))
                .boxed(),
        ),
        (
            ArrayType::ChronoDateTimeLocal,
            opt(datetimes())
                .prop_map(|dt| {
                    Value::ChronoDateTimeLocal(dt.map(|dt| Local.from_utc_datetime(&dt)))
                })
                .boxed(),
        ),
        (
            ArrayType::ChronoDateTimeWithTimeZone,
            opt((datetimes(), offsets()))
                .prop_map(|dt| {
                    Value::ChronoDateTimeWithTimeZone(
                        dt.map(|(local, offset)| offset.from_local_datetime(&local).unwrap()),
                    )
                })
                .boxed(),
        ),
        (
            ArrayType::Uuid,
            opt(any::<u128>())
                .prop_map(|u| Value::Uuid(u.map(Uuid::from_u128)))
                .boxed(),
        ),
    ]
}

fn values() -> BoxedStrategy<Value> {
    let kinds = kinds();
    let scalars = Union::new(kinds.iter().map(|(_, strategy)| strategy.clone()));
    let arrays = Union::new(kinds.into_iter().map(|(ty, item)| {
        opt(vec(item, 0..6))
            .prop_map(move |items| Value::Array(ty.clone(), items.map(Box::new)))
            .boxed()
    }));
    prop_oneof![3 => scalars, 1 => arrays].boxed()
}

proptest! {
    #[test]
    fn every_supported_value_round_trips(value in values()) {
        let json = encode(&value).unwrap();
        prop_assert_eq!(json.is_null(), is_null(&value));
        let text = serde_json::to_string(&json).unwrap();
        let read: Json = serde_json::from_str(&text).unwrap();
        let back = decode(&read, &value.as_null()).unwrap();
        prop_assert!(same(&back, &value), "{:?} came back as {:?} via {}", value, back, text);
    }

    #[test]
    fn decoding_any_json_never_panics(json in jsons(), like in values()) {
        if let Ok(value) = decode(&json, &like.as_null()) {
            // What decodes also encodes.
            prop_assert!(encode(&value).is_ok());
        }
    }

    #[test]
    fn decoding_another_types_json_never_panics(value in values(), like in values()) {
        let json = encode(&value).unwrap();
        if let Ok(decoded) = decode(&json, &like.as_null()) {
            prop_assert!(encode(&decoded).is_ok());
        }
    }
}
