//! Bad and extreme input: every column type at its edges, hostile text in
//! values and identifiers, JSON null against SQL NULL, journals of another
//! schema version. Each case either round-trips exactly through the journal
//! or fails with an error that leaves nothing behind; none panics.

use std::str::FromStr;

use crate::common::TestDb;
use crate::common::entities::{Status, everything, odd};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use revy::entity::{object_delta, revision};
use revy::{Context, history::ObjectSnapshot};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryOrder, Set, TransactionTrait,
};
use serde_json::json;

fn base() -> everything::ActiveModel {
    let utc = Utc
        .with_ymd_and_hms(2020, 5, 17, 12, 30, 45)
        .single()
        .unwrap();
    everything::ActiveModel {
        small: Set(1),
        int: Set(2),
        big: Set(3),
        float: Set(1.5),
        double: Set(2.25),
        flag: Set(true),
        text: Set("t".into()),
        maybe_text: Set(None),
        bytes: Set(vec![1, 2]),
        decimal: Set(Decimal::new(12345, 2)),
        maybe_decimal: Set(None),
        date: Set(NaiveDate::from_ymd_opt(2020, 5, 17).unwrap()),
        time: Set(NaiveTime::from_hms_opt(12, 30, 45).unwrap()),
        naive: Set(utc.naive_utc()),
        utc: Set(utc),
        zoned: Set(utc.fixed_offset()),
        uuid: Set(uuid::Uuid::from_u128(7)),
        json: Set(json!({"a": 1})),
        maybe_json: Set(None),
        status: Set(Status::Draft),
        maybe_status: Set(None),
        ..Default::default()
    }
}

type Edit = fn(&mut everything::ActiveModel);

fn cases() -> Vec<(&'static str, Edit)> {
    vec![
        ("i64::MIN", |m| m.big = Set(i64::MIN)),
        ("i64::MAX", |m| m.big = Set(i64::MAX)),
        ("i32::MIN", |m| m.int = Set(i32::MIN)),
        ("i16::MAX", |m| m.small = Set(i16::MAX)),
        ("NaN", |m| m.double = Set(f64::NAN)),
        ("+inf", |m| m.double = Set(f64::INFINITY)),
        ("-inf", |m| m.double = Set(f64::NEG_INFINITY)),
        ("-0.0", |m| m.double = Set(-0.0)),
        ("f64::MAX", |m| m.double = Set(f64::MAX)),
        ("smallest subnormal", |m| m.double = Set(5e-324)),
        ("f32::MAX", |m| m.float = Set(f32::MAX)),
        ("f32 NaN", |m| m.float = Set(f32::NAN)),
        ("28-digit decimal", |m| {
            m.decimal = Set(Decimal::from_str("99999999999999999999.99999999").unwrap())
        }),
        ("negative decimal with scale", |m| {
            m.maybe_decimal = Set(Some(Decimal::from_str("-0.0000000001").unwrap()))
        }),
        ("empty text", |m| m.text = Set(String::new())),
        ("1 MiB text", |m| m.text = Set("x".repeat(1 << 20))),
        ("emoji and RTL", |m| {
            m.text = Set("שלום 👋🏽 مرحبا \u{202e}reversed\u{202c}".into())
        }),
        ("SQL in a value", |m| {
            m.text = Set("'; DROP TABLE everything; -- \" ` $$ \\".into())
        }),
        ("NUL in text", |m| m.text = Set("a\0b".into())),
        ("NUL bytes", |m| m.bytes = Set(vec![0, 0, 255, 0])),
        ("empty bytes", |m| m.bytes = Set(vec![])),
        ("the epoch", |m| m.utc = Set(DateTime::<Utc>::UNIX_EPOCH)),
        ("year 9999 with nanoseconds", |m| {
            m.utc = Set(Utc
                .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .single()
                .unwrap()
                + chrono::Duration::nanoseconds(999_999_999))
        }),
        ("+14:00 offset with nanoseconds", |m| {
            let off = FixedOffset::east_opt(14 * 3600).unwrap();
            m.zoned = Set(off.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap()
                + chrono::Duration::nanoseconds(123_456_789))
        }),
        ("naive 9999", |m| {
            m.naive = Set(NaiveDateTime::parse_from_str(
                "9999-12-31 23:59:59.999999",
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .unwrap())
        }),
        ("date 0001-01-01", |m| {
            m.date = Set(NaiveDate::from_ymd_opt(1, 1, 1).unwrap())
        }),
        ("time 23:59:59.999999999", |m| {
            m.time = Set(NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap())
        }),
        ("deeply nested JSON", |m| {
            let mut v = json!("bottom");
            for i in 0..40 {
                v = json!({ format!("k{i}"): [v] });
            }
            m.json = Set(v)
        }),
        ("JSON null in a JSON column", |m| {
            m.maybe_json = Set(Some(serde_json::Value::Null))
        }),
        ("JSON extremes", |m| {
            m.json = Set(
                json!({"max": u64::MAX, "min": i64::MIN, "big": 1e308, "tiny": 5e-324, "s": "\"\\\u{1}"}),
            )
        }),
        ("uuid max", |m| m.uuid = Set(uuid::Uuid::max())),
        ("enum NULL and value", |m| {
            m.maybe_status = Set(Some(Status::Gone))
        }),
    ]
}

async fn journal_counts(db: &DatabaseConnection) -> (u64, u64, u64) {
    (
        revision::Entity::find().count(db).await.unwrap(),
        object_delta::Entity::find().count(db).await.unwrap(),
        crate::common::attribute_rows(db).await.len() as u64,
    )
}

async fn every_type_at_its_edges(t: TestDb) {
    t.create_table(everything::Entity).await;
    let db = &t.db;
    let (mut exact, mut refused) = (Vec::new(), Vec::new());
    for (name, edit) in cases() {
        let mut am = base();
        edit(&mut am);
        let before = (
            everything::Entity::find().count(db).await.unwrap(),
            journal_counts(db).await,
        );
        let txn = db.begin().await.unwrap();
        let result = Context::new().scope(am.insert(&txn)).await;
        match result {
            Ok(saved) => {
                txn.commit().await.unwrap();
                let delta = object_delta::Entity::find()
                    .order_by_desc(object_delta::Column::Id)
                    .one(db)
                    .await
                    .unwrap()
                    .unwrap();
                let snapshot = ObjectSnapshot::<everything::Entity>::at(delta.id)
                    .one(db)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: snapshot failed: {e}"))
                    .unwrap();
                assert_eq!(format!("{snapshot:?}"), format!("{saved:?}"), "{name}");
                // and back to the base values through a tracked update
                let mut back = saved.clone().into_active_model();
                let b = base();
                back.text = b.text;
                back.double = b.double;
                let updated = Context::new().scope(back.update(db)).await.unwrap();
                let last = object_delta::Entity::find()
                    .order_by_desc(object_delta::Column::Id)
                    .one(db)
                    .await
                    .unwrap()
                    .unwrap();
                let snapshot = ObjectSnapshot::<everything::Entity>::at(last.id)
                    .one(db)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    format!("{snapshot:?}"),
                    format!("{updated:?}"),
                    "{name} after update"
                );
                exact.push(name);
            }
            Err(e) => {
                txn.rollback().await.unwrap();
                assert!(!e.to_string().is_empty(), "{name}");
                let after = (
                    everything::Entity::find().count(db).await.unwrap(),
                    journal_counts(db).await,
                );
                assert_eq!(
                    after, before,
                    "{name}: a refused value left something behind"
                );
                refused.push(format!(
                    "{name} ({})",
                    e.to_string().chars().take(60).collect::<String>()
                ));
            }
        }
    }
    eprintln!(
        "edges on {:?}: {} cases, {} exact round trips, {} refused by the database: {}",
        t.backend,
        exact.len() + refused.len(),
        exact.len(),
        refused.len(),
        refused.join("; ")
    );
    // the database may refuse some values; revy must never be the one to lose them
    assert!(exact.len() >= 20, "{exact:?}");
}

async fn hostile_identifiers_are_named_exactly(t: TestDb) {
    t.create_table(odd::Entity).await;
    let db = &t.db;
    let row = Context::new()
        .scope(
            odd::ActiveModel {
                id: Set("k'; --".into()),
                from_: Set("v".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    let mut am = row.clone().into_active_model();
    am.from_ = Set("w".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let deltas = revy::history::of::<odd::Entity>("k'; --".to_owned())
        .all(db)
        .await
        .unwrap();
    assert_eq!(deltas.len(), 2);
    assert_eq!(deltas[0].content_type, "odd \"t\"; select");
    assert_eq!(deltas[0].content_id, "k'; --");
    let fields: Vec<String> = crate::common::entries_of(&deltas[0])
        .into_iter()
        .map(|a| a.field_name)
        .collect();
    assert_eq!(fields, ["from"]);
    let first = ObjectSnapshot::<odd::Entity>::at(deltas[1].id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(first, Some(row));
    revy::rollback::undo_revision(deltas[0].revision_id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        odd::Entity::find().one(db).await.unwrap().unwrap().from_,
        "v"
    );
}

async fn journals_of_other_schema_versions(t: TestDb) {
    t.create_table(everything::Entity).await;
    let db = &t.db;
    // newer: a column revy does not know yet
    db.execute_unprepared("ALTER TABLE revy_object_deltas ADD COLUMN extra_note VARCHAR(20) NULL")
        .await
        .unwrap();
    let saved = Context::new().scope(base().insert(db)).await.unwrap();
    let delta = object_delta::Entity::find().one(db).await.unwrap().unwrap();
    let snapshot = ObjectSnapshot::<everything::Entity>::at(delta.id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(snapshot, Some(saved));
    // older: a column revy needs is missing; the error names it, nothing is saved
    db.execute_unprepared("ALTER TABLE revy_revisions DROP COLUMN meta")
        .await
        .unwrap();
    let before = everything::Entity::find().count(db).await.unwrap();
    let txn = db.begin().await.unwrap();
    let err = Context::new()
        .scope(base().insert(&txn))
        .await
        .unwrap_err()
        .to_string();
    txn.rollback().await.unwrap();
    assert!(err.contains("meta"), "{err}");
    assert_eq!(everything::Entity::find().count(db).await.unwrap(), before);
}

backend_tests!(
    every_type_at_its_edges,
    hostile_identifiers_are_named_exactly,
    journals_of_other_schema_versions,
);
