//! Unit tests pinning the JSON shapes and the errors.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sea_orm::sea_query::{Alias, IntoIden, StringLen};
use serde_json::json;

use super::*;

fn round_trip(value: &Value) -> Value {
    let text = serde_json::to_string(&encode(value).unwrap()).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    decode(&json, &value.as_null()).unwrap()
}

fn text_of(value: &Value) -> String {
    serde_json::to_string(&encode(value).unwrap()).unwrap()
}

fn expect_mismatch(json: Json, like: &Value, expected: &'static str) {
    match decode(&json, like) {
        Err(err @ CodecError::Mismatch { expected: e, .. }) => {
            assert_eq!(e, expected, "for {json}");
            assert!(err.to_string().contains(expected), "{err}");
        }
        other => panic!("{json} into {like:?}: expected a mismatch, got {other:?}"),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn datetime(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> NaiveDateTime {
    date(y, mo, d).and_hms_nano_opt(h, mi, s, nanos).unwrap()
}

fn offset(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).unwrap()
}

#[test]
fn null_of_every_variant_is_json_null() {
    let nulls = [
        Value::Bool(None),
        Value::TinyInt(None),
        Value::BigUnsigned(None),
        Value::Double(None),
        Value::String(None),
        Value::Enum(OptionEnum::None("mood".into())),
        Value::Bytes(None),
        Value::Json(None),
        Value::Decimal(None),
        Value::ChronoDateTimeLocal(None),
        Value::Uuid(None),
        Value::Array(ArrayType::Int, None),
    ];
    for null in nulls {
        assert!(is_null(&null));
        assert_eq!(encode(&null).unwrap(), Json::Null);
        assert_eq!(decode(&Json::Null, &null).unwrap(), null);
    }
}

#[test]
fn json_null_stays_distinct_from_sql_null() {
    let json_null = Value::Json(Some(Box::new(json!(null))));
    assert_eq!(encode(&json_null).unwrap(), json!([null]));
    assert_eq!(encode(&Value::Json(None)).unwrap(), json!(null));
    assert_eq!(round_trip(&json_null), json_null);
    assert!(!is_null(&json_null));

    let nested = Value::Json(Some(Box::new(json!({"a": [1, null, "x"]}))));
    assert_eq!(encode(&nested).unwrap(), json!([{"a": [1, null, "x"]}]));
    assert_eq!(round_trip(&nested), nested);

    expect_mismatch(json!({"a": 1}), &Value::Json(None), "Json");
    expect_mismatch(json!([]), &Value::Json(None), "Json");
    expect_mismatch(json!([1, 2]), &Value::Json(None), "Json");
}

#[test]
fn integers_keep_their_extremes() {
    assert_eq!(
        text_of(&Value::BigUnsigned(Some(u64::MAX))),
        "18446744073709551615"
    );
    assert_eq!(
        text_of(&Value::BigInt(Some(i64::MIN))),
        "-9223372036854775808"
    );
    for value in [
        Value::BigUnsigned(Some(u64::MAX)),
        Value::BigInt(Some(i64::MIN)),
        Value::BigInt(Some(i64::MAX)),
        Value::TinyInt(Some(i8::MIN)),
        Value::TinyUnsigned(Some(u8::MAX)),
        Value::SmallInt(Some(i16::MIN)),
        Value::Unsigned(Some(u32::MAX)),
    ] {
        assert_eq!(round_trip(&value), value);
    }
    assert_eq!(text_of(&Value::Bool(Some(true))), "true");
}

#[test]
fn integers_refuse_what_does_not_fit() {
    expect_mismatch(json!("7"), &Value::Int(None), "Int");
    expect_mismatch(json!(300), &Value::TinyInt(None), "TinyInt");
    expect_mismatch(json!(-129), &Value::TinyInt(None), "TinyInt");
    expect_mismatch(json!(256), &Value::TinyUnsigned(None), "TinyUnsigned");
    expect_mismatch(json!(-1), &Value::Unsigned(None), "Unsigned");
    expect_mismatch(json!(1.5), &Value::Int(None), "Int");
    expect_mismatch(json!(5.0), &Value::BigInt(None), "BigInt");
    expect_mismatch(json!(u64::MAX), &Value::BigInt(None), "BigInt");
    expect_mismatch(json!(-1), &Value::BigUnsigned(None), "BigUnsigned");
    expect_mismatch(json!(1), &Value::Bool(None), "Bool");
    expect_mismatch(json!([1]), &Value::SmallInt(None), "SmallInt");
}

#[test]
fn non_finite_floats_are_strings() {
    assert_eq!(
        encode(&Value::Double(Some(f64::NAN))).unwrap(),
        json!("NaN")
    );
    assert_eq!(
        encode(&Value::Double(Some(f64::INFINITY))).unwrap(),
        json!("Infinity")
    );
    assert_eq!(
        encode(&Value::Double(Some(f64::NEG_INFINITY))).unwrap(),
        json!("-Infinity")
    );
    assert_eq!(encode(&Value::Float(Some(f32::NAN))).unwrap(), json!("NaN"));
    assert_eq!(
        encode(&Value::Float(Some(f32::NEG_INFINITY))).unwrap(),
        json!("-Infinity")
    );

    let Value::Double(Some(x)) = round_trip(&Value::Double(Some(f64::NAN))) else {
        panic!("not a double")
    };
    assert!(x.is_nan());
    let Value::Float(Some(x)) = round_trip(&Value::Float(Some(f32::INFINITY))) else {
        panic!("not a float")
    };
    assert_eq!(x, f32::INFINITY);
    expect_mismatch(json!("nan"), &Value::Double(None), "Double");
    expect_mismatch(json!(true), &Value::Float(None), "Float");
}

#[test]
fn negative_zero_keeps_its_sign() {
    // a string, since PostgreSQL's jsonb (which bound JSON passes through)
    // has no negative zero among its numbers
    assert_eq!(text_of(&Value::Double(Some(-0.0))), "\"-0\"");
    assert_eq!(text_of(&Value::Float(Some(-0.0))), "\"-0\"");
    let Value::Double(Some(x)) = round_trip(&Value::Double(Some(-0.0))) else {
        panic!("not a double")
    };
    assert_eq!(x.to_bits(), (-0.0f64).to_bits());
    let Value::Float(Some(x)) = round_trip(&Value::Float(Some(-0.0))) else {
        panic!("not a float")
    };
    assert_eq!(x.to_bits(), (-0.0f32).to_bits());
    let minus_zero: Json = serde_json::from_str("-0").unwrap();
    let Value::Double(Some(x)) = decode(&minus_zero, &Value::Double(None)).unwrap() else {
        panic!("not a double")
    };
    assert!(x == 0.0 && x.is_sign_negative());
}

#[test]
fn floats_go_through_f64() {
    // f32 goes through f64 exactly, so the JSON shows the f32's exact value.
    assert_eq!(text_of(&Value::Float(Some(0.1))), "0.10000000149011612");
    for x in [
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1e-45,
        0.1,
        16_777_217.0,
    ] {
        assert_eq!(round_trip(&Value::Float(Some(x))), Value::Float(Some(x)));
    }
    // Integers are accepted as floats.
    assert_eq!(
        decode(&json!(3), &Value::Double(None)).unwrap(),
        Value::Double(Some(3.0))
    );
    assert_eq!(
        decode(&json!(-3), &Value::Float(None)).unwrap(),
        Value::Float(Some(-3.0))
    );
    // Beyond the f32 range is refused, not stored as infinity.
    expect_mismatch(json!(1e300), &Value::Float(None), "Float");
}

#[test]
fn strings_chars_and_enums() {
    let text = "a\u{0}b ש 👨‍👩‍👧";
    assert_eq!(
        encode(&Value::String(Some(text.to_owned()))).unwrap(),
        json!(text)
    );
    assert_eq!(
        round_trip(&Value::String(Some(String::new()))),
        Value::String(Some(String::new()))
    );
    assert_eq!(encode(&Value::Char(Some('ß'))).unwrap(), json!("ß"));
    assert_eq!(
        round_trip(&Value::Char(Some('👍'))),
        Value::Char(Some('👍'))
    );
    expect_mismatch(json!("ab"), &Value::Char(None), "Char");
    expect_mismatch(json!(""), &Value::Char(None), "Char");
    expect_mismatch(json!(1), &Value::String(None), "String");

    let happy = Value::Enum(OptionEnum::Some(Box::new(Enum {
        type_name: "mood".into(),
        value: "happy".into(),
    })));
    assert_eq!(encode(&happy).unwrap(), json!("happy"));
    assert_eq!(round_trip(&happy), happy);
    // The payload of the template is ignored, its type name is kept.
    let other = Value::Enum(OptionEnum::Some(Box::new(Enum {
        type_name: "mood".into(),
        value: "sad".into(),
    })));
    assert_eq!(decode(&json!("happy"), &other).unwrap(), happy);
    expect_mismatch(json!(1), &happy, "Enum");
}

#[test]
fn bytes_are_lowercase_hex() {
    let bytes = Value::Bytes(Some(vec![0x00, 0x01, 0xab, 0xff]));
    assert_eq!(encode(&bytes).unwrap(), json!("0001abff"));
    assert_eq!(round_trip(&bytes), bytes);
    assert_eq!(
        decode(&json!("0001ABff"), &Value::Bytes(None)).unwrap(),
        bytes
    );
    assert_eq!(encode(&Value::Bytes(Some(vec![]))).unwrap(), json!(""));
    assert_eq!(
        round_trip(&Value::Bytes(Some(vec![]))),
        Value::Bytes(Some(vec![]))
    );
    expect_mismatch(json!("abc"), &Value::Bytes(None), "Bytes");
    expect_mismatch(json!("zz"), &Value::Bytes(None), "Bytes");
    expect_mismatch(json!("0x00"), &Value::Bytes(None), "Bytes");
    expect_mismatch(json!("é0"), &Value::Bytes(None), "Bytes");
    expect_mismatch(json!([0]), &Value::Bytes(None), "Bytes");
}

#[test]
fn decimals_keep_their_scale() {
    let d = |s: &str| Value::Decimal(Some(Decimal::from_str(s).unwrap()));
    assert_eq!(encode(&d("1.50")).unwrap(), json!("1.50"));
    for text in [
        "1.50",
        "0",
        "-0.0000000000000000000000000001",
        "79228162514264337593543950335",
        "-7922816251426433759354395033.5",
        "1234567890123456789012345678",
        "0.1234567890123456789012345678",
    ] {
        assert_eq!(encode(&d(text)).unwrap(), json!(text));
        let Value::Decimal(Some(back)) = round_trip(&d(text)) else {
            panic!("not a decimal")
        };
        assert_eq!(back.to_string(), text);
    }
    // Leniently, a JSON number is read from its text.
    assert_eq!(
        decode(&json!(1.5), &Value::Decimal(None)).unwrap(),
        d("1.5")
    );
    assert_eq!(decode(&json!(12), &Value::Decimal(None)).unwrap(), d("12"));
    assert_eq!(
        decode(&json!(1e20), &Value::Decimal(None)).unwrap(),
        d("100000000000000000000")
    );
    expect_mismatch(json!("abc"), &Value::Decimal(None), "Decimal");
    expect_mismatch(json!("1_000"), &Value::Decimal(None), "Decimal");
    expect_mismatch(json!("1e5"), &Value::Decimal(None), "Decimal");
    expect_mismatch(json!(""), &Value::Decimal(None), "Decimal");
    expect_mismatch(json!("."), &Value::Decimal(None), "Decimal");
    expect_mismatch(json!("1.2.3"), &Value::Decimal(None), "Decimal");
    // Too many digits would be rounded: refused instead.
    expect_mismatch(
        json!("0.12345678901234567890123456789"),
        &Value::Decimal(None),
        "Decimal",
    );
    expect_mismatch(
        json!("79228162514264337593543950336"),
        &Value::Decimal(None),
        "Decimal",
    );
    expect_mismatch(json!(true), &Value::Decimal(None), "Decimal");
}

#[test]
fn dates_and_times() {
    let cases = [
        (Value::ChronoDate(Some(date(2024, 2, 29))), "2024-02-29"),
        (Value::ChronoDate(Some(date(1, 1, 1))), "0001-01-01"),
        (Value::ChronoDate(Some(date(9999, 12, 31))), "9999-12-31"),
        (Value::ChronoDate(Some(date(10_000, 1, 1))), "+10000-01-01"),
        (Value::ChronoDate(Some(date(-1, 1, 1))), "-0001-01-01"),
        (
            Value::ChronoTime(Some(NaiveTime::from_hms_opt(1, 2, 3).unwrap())),
            "01:02:03",
        ),
        (
            Value::ChronoTime(Some(NaiveTime::from_hms_milli_opt(1, 2, 3, 500).unwrap())),
            "01:02:03.500",
        ),
        (
            Value::ChronoTime(Some(NaiveTime::from_hms_micro_opt(1, 2, 3, 7).unwrap())),
            "01:02:03.000007",
        ),
        (
            Value::ChronoTime(Some(NaiveTime::from_hms_nano_opt(1, 2, 3, 120).unwrap())),
            "01:02:03.000000120",
        ),
        (
            Value::ChronoTime(Some(
                NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap(),
            )),
            "23:59:60.500",
        ),
        (
            Value::ChronoDateTime(Some(datetime(2024, 1, 2, 3, 4, 5, 6))),
            "2024-01-02T03:04:05.000000006",
        ),
        (
            Value::ChronoDateTime(Some(datetime(9999, 12, 31, 23, 59, 59, 999_999_999))),
            "9999-12-31T23:59:59.999999999",
        ),
    ];
    for (value, text) in cases {
        assert_eq!(encode(&value).unwrap(), json!(text), "{value:?}");
        assert_eq!(round_trip(&value), value);
    }
}

#[test]
fn zoned_datetimes_keep_offset_and_nanoseconds() {
    let india = offset(5 * 3600 + 30 * 60)
        .from_local_datetime(&datetime(2024, 2, 29, 13, 14, 15, 123_456_789))
        .unwrap();
    let value = Value::ChronoDateTimeWithTimeZone(Some(india));
    assert_eq!(
        encode(&value).unwrap(),
        json!("2024-02-29T13:14:15.123456789+05:30")
    );
    let Value::ChronoDateTimeWithTimeZone(Some(back)) = round_trip(&value) else {
        panic!("not a zoned date-time")
    };
    assert_eq!(back, india);
    assert_eq!(back.offset(), india.offset());

    let far_west = offset(-(23 * 3600 + 59 * 60))
        .from_local_datetime(&datetime(9999, 12, 31, 23, 59, 59, 0))
        .unwrap();
    let value = Value::ChronoDateTimeWithTimeZone(Some(far_west));
    assert_eq!(encode(&value).unwrap(), json!("9999-12-31T23:59:59-23:59"));
    // The instant is past year 9999 in UTC; it still comes back.
    assert_eq!(round_trip(&value), value);

    let with_seconds = offset(-(17 * 60 + 30))
        .from_local_datetime(&datetime(1900, 1, 1, 0, 0, 0, 0))
        .unwrap();
    let value = Value::ChronoDateTimeWithTimeZone(Some(with_seconds));
    assert_eq!(
        encode(&value).unwrap(),
        json!("1900-01-01T00:00:00-00:17:30")
    );
    assert_eq!(round_trip(&value), value);

    let utc = Utc.from_utc_datetime(&datetime(2024, 6, 1, 12, 0, 0, 5_000_000));
    let value = Value::ChronoDateTimeUtc(Some(utc));
    assert_eq!(
        encode(&value).unwrap(),
        json!("2024-06-01T12:00:00.005+00:00")
    );
    assert_eq!(round_trip(&value), value);
    // Any offset (and `Z`) names the same instant.
    assert_eq!(
        decode(
            &json!("2024-06-01T14:00:00.005+02:00"),
            &Value::ChronoDateTimeUtc(None)
        )
        .unwrap(),
        value
    );
    assert_eq!(
        decode(
            &json!("2024-06-01T12:00:00.005Z"),
            &Value::ChronoDateTimeUtc(None)
        )
        .unwrap(),
        value
    );
}

#[test]
fn local_datetimes_keep_their_instant() {
    let instant = Utc.from_utc_datetime(&datetime(2021, 3, 28, 1, 30, 0, 42));
    let local = instant.with_timezone(&Local);
    let value = Value::ChronoDateTimeLocal(Some(local));
    let text = text_of(&value);
    assert!(text.starts_with('"') && text.len() > 30, "{text}");
    let Value::ChronoDateTimeLocal(Some(back)) = round_trip(&value) else {
        panic!("not a local date-time")
    };
    assert_eq!(back, local);
    assert_eq!(back.with_timezone(&Utc), instant);
    // Written elsewhere with another offset: the same instant comes back.
    let decoded = decode(
        &json!("2021-03-28T03:30:00.000000042+02:00"),
        &Value::ChronoDateTimeLocal(None),
    )
    .unwrap();
    assert_eq!(decoded, value);
}

#[test]
fn bad_date_text_is_a_mismatch() {
    let bad_dates = [
        "2024-2-29",
        "2023-02-29",
        "24-02-29",
        "2024-02-29T00:00:00",
        "+2024-13-01",
        "2024/02/29",
        "",
        "१२३४-01-01",
    ];
    for text in bad_dates {
        expect_mismatch(json!(text), &Value::ChronoDate(None), "ChronoDate");
    }
    let bad_times = [
        "1:02:03",
        "01:02",
        "24:00:00",
        "01:60:00",
        "01:02:03.",
        "01:02:03.1234567891",
        "01:02:03Z",
        "12:00:61",
    ];
    for text in bad_times {
        expect_mismatch(json!(text), &Value::ChronoTime(None), "ChronoTime");
    }
    expect_mismatch(
        json!("2024-01-01 00:00:00+00:00"),
        &Value::ChronoDateTime(None),
        "ChronoDateTime",
    );
    let bad_zoned = [
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+01",
        "+262143-12-31T23:59:59+00:00",
    ];
    for text in bad_zoned {
        expect_mismatch(
            json!(text),
            &Value::ChronoDateTimeWithTimeZone(None),
            "ChronoDateTimeWithTimeZone",
        );
    }
    expect_mismatch(json!(20240101), &Value::ChronoDate(None), "ChronoDate");
}

#[test]
fn extreme_datetimes_fail_without_panicking() {
    // The local time is beyond chrono's last year.
    let past_the_end = DateTime::<Utc>::MAX_UTC.with_timezone(&offset(3600));
    assert!(matches!(
        encode(&Value::ChronoDateTimeWithTimeZone(Some(past_the_end))),
        Err(CodecError::Unsupported(_))
    ));
    // Within range at either end, they round-trip.
    for dt in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
        let value = Value::ChronoDateTimeUtc(Some(dt));
        assert_eq!(round_trip(&value), value);
        let value = Value::ChronoDateTime(Some(dt.naive_utc()));
        assert_eq!(round_trip(&value), value);
    }
}

#[test]
fn uuids_are_hyphenated_lowercase() {
    let id = Uuid::from_u128(0x0123_4567_89AB_CDEF_0123_4567_89AB_CDEF);
    let value = Value::Uuid(Some(id));
    assert_eq!(
        encode(&value).unwrap(),
        json!("01234567-89ab-cdef-0123-456789abcdef")
    );
    assert_eq!(round_trip(&value), value);
    expect_mismatch(json!("not-a-uuid"), &Value::Uuid(None), "Uuid");
    expect_mismatch(json!(5), &Value::Uuid(None), "Uuid");
}

#[test]
fn arrays_keep_their_type_and_null_items() {
    let ints = Value::Array(
        ArrayType::Int,
        Some(Box::new(vec![
            Value::Int(Some(1)),
            Value::Int(None),
            Value::Int(Some(-3)),
        ])),
    );
    assert_eq!(encode(&ints).unwrap(), json!([1, null, -3]));
    assert_eq!(round_trip(&ints), ints);

    let empty = Value::Array(ArrayType::String, Some(Box::new(vec![])));
    assert_eq!(encode(&empty).unwrap(), json!([]));
    assert_eq!(round_trip(&empty), empty);
    assert_eq!(
        encode(&Value::Array(ArrayType::String, None)).unwrap(),
        json!(null)
    );

    let mood: EnumTypeName = "mood".into();
    let moods = Value::Array(
        ArrayType::Enum(Box::new(mood.clone())),
        Some(Box::new(vec![
            Value::Enum(OptionEnum::Some(Box::new(Enum {
                type_name: mood.clone(),
                value: "happy".into(),
            }))),
            Value::Enum(OptionEnum::None(mood)),
        ])),
    );
    assert_eq!(encode(&moods).unwrap(), json!(["happy", null]));
    assert_eq!(round_trip(&moods), moods);

    expect_mismatch(json!({}), &ints.as_null(), "Array");
    expect_mismatch(json!([1, "2"]), &ints.as_null(), "Int");
    expect_mismatch(json!([[1]]), &ints.as_null(), "Int");
}

type EnumTypeName = sea_orm::sea_query::EnumTypeName;

#[test]
fn arrays_refuse_items_of_another_type() {
    let mixed = Value::Array(
        ArrayType::Int,
        Some(Box::new(vec![Value::Int(Some(1)), Value::BigInt(Some(2))])),
    );
    let err = encode(&mixed).unwrap_err();
    assert_eq!(
        err,
        CodecError::Mismatch {
            expected: "Int",
            found: "BigInt(Some(2))".to_owned()
        }
    );
    let other_enum = Value::Array(
        ArrayType::Enum(Box::new("mood".into())),
        Some(Box::new(vec![Value::Enum(OptionEnum::None(
            "color".into(),
        ))])),
    );
    assert!(matches!(
        encode(&other_enum),
        Err(CodecError::Mismatch {
            expected: "Enum",
            ..
        })
    ));
}

#[test]
fn mismatch_text_is_cut_short() {
    let long = "x".repeat(10_000);
    let Err(CodecError::Mismatch { found, .. }) = decode(&json!(long), &Value::Int(None)) else {
        panic!("expected a mismatch")
    };
    assert_eq!(found.chars().count(), error::EXCERPT_CHARS + 1);
    assert!(found.starts_with("\"xxx") && found.ends_with('…'));

    let wide = "👍".repeat(500);
    let Err(CodecError::Mismatch { found, .. }) = decode(&json!([wide]), &Value::Int(None)) else {
        panic!("expected a mismatch")
    };
    assert_eq!(found.chars().count(), error::EXCERPT_CHARS + 1);
    assert!(!found.contains('\u{fffd}'));

    let Err(CodecError::Mismatch { found, .. }) = decode(&json!("short"), &Value::Int(None)) else {
        panic!("expected a mismatch")
    };
    assert_eq!(found, "\"short\"");
}

#[test]
fn feature_only_variants_are_named() {
    // Variants such as `Vector` do not exist in this build; their Debug text
    // is all that the wildcard arms see.
    struct Fake(&'static str);
    impl std::fmt::Debug for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    assert_eq!(
        unsupported(&Fake("Vector(Some(Vector([1.0])))")),
        CodecError::Unsupported("Vector")
    );
    assert_eq!(
        unsupported(&Fake("IpNetwork(None)")),
        CodecError::Unsupported("IpNetwork")
    );
    assert_eq!(
        unsupported(&Fake("Range")),
        CodecError::Unsupported("Range")
    );
    assert_eq!(
        unsupported(&Fake("TimeDateTimeWithTimeZone(None)")),
        CodecError::Unsupported("TimeDateTimeWithTimeZone")
    );
    assert_eq!(
        unsupported(&Fake("Something(1)")),
        CodecError::Unsupported("an unknown variant")
    );
    assert_eq!(
        CodecError::Unsupported("Vector").to_string(),
        "revy cannot journal values of type Vector"
    );
}

#[test]
fn templates_per_column_type() {
    use ColumnType as C;
    let cases: Vec<(ColumnType, Vec<Value>)> = vec![
        (C::Integer, vec![Value::Int(None), Value::Unsigned(None)]),
        (
            C::BigInteger,
            vec![Value::BigInt(None), Value::BigUnsigned(None)],
        ),
        (
            C::SmallInteger,
            vec![Value::SmallInt(None), Value::SmallUnsigned(None)],
        ),
        (
            C::TinyInteger,
            vec![Value::TinyInt(None), Value::TinyUnsigned(None)],
        ),
        (C::Unsigned, vec![Value::Unsigned(None), Value::Int(None)]),
        (
            C::BigUnsigned,
            vec![Value::BigUnsigned(None), Value::BigInt(None)],
        ),
        (
            C::SmallUnsigned,
            vec![Value::SmallUnsigned(None), Value::SmallInt(None)],
        ),
        (
            C::TinyUnsigned,
            vec![Value::TinyUnsigned(None), Value::TinyInt(None)],
        ),
        (C::Float, vec![Value::Float(None)]),
        (C::Double, vec![Value::Double(None)]),
        (C::Decimal(Some((10, 2))), vec![Value::Decimal(None)]),
        (C::Money(None), vec![Value::Decimal(None)]),
        (
            C::Char(Some(1)),
            vec![Value::String(None), Value::Char(None)],
        ),
        (
            C::String(StringLen::N(20)),
            vec![Value::String(None), Value::Char(None)],
        ),
        (C::Text, vec![Value::String(None), Value::Char(None)]),
        (
            C::Custom(Alias::new("citext").into_iden()),
            vec![Value::String(None), Value::Char(None)],
        ),
        (C::Boolean, vec![Value::Bool(None)]),
        (C::Date, vec![Value::ChronoDate(None)]),
        (C::Time, vec![Value::ChronoTime(None)]),
        (
            C::DateTime,
            vec![Value::ChronoDateTime(None), Value::ChronoDateTimeUtc(None)],
        ),
        (
            C::Timestamp,
            vec![Value::ChronoDateTime(None), Value::ChronoDateTimeUtc(None)],
        ),
        (
            C::TimestampWithTimeZone,
            vec![
                Value::ChronoDateTimeWithTimeZone(None),
                Value::ChronoDateTimeUtc(None),
                Value::ChronoDateTimeLocal(None),
            ],
        ),
        (C::Binary(16), vec![Value::Bytes(None)]),
        (C::VarBinary(StringLen::Max), vec![Value::Bytes(None)]),
        (C::Blob, vec![Value::Bytes(None)]),
        (C::Bit(None), vec![Value::Bytes(None)]),
        (C::VarBit(8), vec![Value::Bytes(None)]),
        (C::Json, vec![Value::Json(None)]),
        (C::JsonBinary, vec![Value::Json(None)]),
        (C::Uuid, vec![Value::Uuid(None), Value::String(None)]),
        (
            C::Enum {
                name: Alias::new("mood").into_iden(),
                variants: vec![Alias::new("happy").into_iden()],
            },
            vec![
                Value::Enum(OptionEnum::None("mood".into())),
                Value::String(None),
            ],
        ),
        (
            C::Array(Arc::new(C::Integer)),
            vec![
                Value::Array(ArrayType::Int, None),
                Value::Array(ArrayType::Unsigned, None),
            ],
        ),
        (
            C::Array(Arc::new(C::Enum {
                name: Alias::new("mood").into_iden(),
                variants: vec![],
            })),
            vec![
                Value::Array(ArrayType::Enum(Box::new("mood".into())), None),
                Value::Array(ArrayType::String, None),
            ],
        ),
        (C::Array(Arc::new(C::Array(Arc::new(C::Integer)))), vec![]),
        (C::Year, vec![]),
        (C::Interval(None, None), vec![]),
        (C::Vector(None), vec![]),
        (C::Cidr, vec![]),
        (C::Inet, vec![]),
        (C::MacAddr, vec![]),
        (C::LTree, vec![]),
    ];
    for (column_type, expected) in cases {
        let templates = templates(&column_type);
        assert_eq!(templates, expected, "{column_type:?}");
        for template in &templates {
            assert!(is_null(template));
            // Every template decodes its NULL.
            assert_eq!(&decode(&Json::Null, template).unwrap(), template);
        }
    }
}

#[test]
fn array_item_templates_invert_array_types() {
    let types = [
        ArrayType::Bool,
        ArrayType::TinyInt,
        ArrayType::SmallInt,
        ArrayType::Int,
        ArrayType::BigInt,
        ArrayType::TinyUnsigned,
        ArrayType::SmallUnsigned,
        ArrayType::Unsigned,
        ArrayType::BigUnsigned,
        ArrayType::Float,
        ArrayType::Double,
        ArrayType::String,
        ArrayType::Enum(Box::new("mood".into())),
        ArrayType::Char,
        ArrayType::Bytes,
        ArrayType::Json,
        ArrayType::ChronoDate,
        ArrayType::ChronoTime,
        ArrayType::ChronoDateTime,
        ArrayType::ChronoDateTimeUtc,
        ArrayType::ChronoDateTimeLocal,
        ArrayType::ChronoDateTimeWithTimeZone,
        ArrayType::Uuid,
        ArrayType::Decimal,
    ];
    for ty in types {
        let item = array_item_template(&ty).unwrap();
        assert!(is_null(&item));
        assert_eq!(array_type_of(&item), Some(ty.clone()));
        // sea-query agrees on which array type holds such items.
        assert_eq!(item.array_type(), ty);
    }
    assert_eq!(array_type_of(&Value::Array(ArrayType::Int, None)), None);
}
