//! Property test: after a random sequence of tracked inserts, updates and
//! deletes of rows holding every column type, the snapshot at every object
//! delta equals the row as the database returned it at that moment, down to
//! the Debug text (float signs, decimal scales, offsets).

use crate::common::TestDb;
use crate::common::entities::{Status, everything};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use revy::entity::object_delta;
use revy::prelude::*;
use revy::{Action, Actor, Context, history::ObjectSnapshot};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

#[derive(Debug, Clone)]
struct Row {
    small: i16,
    int: i32,
    big: i64,
    float: f32,
    double: f64,
    flag: bool,
    text: String,
    maybe_text: Option<String>,
    bytes: Vec<u8>,
    decimal: Decimal,
    maybe_decimal: Option<Decimal>,
    date: NaiveDate,
    time: NaiveTime,
    naive: NaiveDateTime,
    utc: DateTime<Utc>,
    zoned: DateTime<FixedOffset>,
    uuid: uuid::Uuid,
    json: serde_json::Value,
    maybe_json: Option<serde_json::Value>,
    status: Status,
    maybe_status: Option<Status>,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Box<Row>),
    Update(usize, Box<Row>, u32), // which row, new values, which columns (bit mask)
    Delete(usize),
}

fn text() -> impl Strategy<Value = String> {
    // printable text of every script, emoji and RTL included; no NUL (PostgreSQL rejects it in text)
    "[\\PC&&[^\u{0}]]{0,40}"
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1.0e12..1.0e12f64).prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decimal() -> impl Strategy<Value = Decimal> {
    // DECIMAL(30, 10): 20 integer digits, 10 fraction digits
    (any::<i64>(), 0u32..=10).prop_map(|(m, scale)| Decimal::new(m / 10, scale))
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Draft), Just(Status::Live), Just(Status::Gone)]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // MySQL's TIMESTAMP holds 1970..2038
    (86_400i64..2_100_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).single().unwrap_or_default())
}

fn row() -> impl Strategy<Value = Row> {
    let a = (
        any::<i16>(),
        any::<i32>(),
        any::<i64>(),
        -1.0e6f32..1.0e6,
        -1.0e15f64..1.0e15,
        any::<bool>(),
        text(),
        proptest::option::of(text()),
        prop::collection::vec(any::<u8>(), 0..64),
        decimal(),
        proptest::option::of(decimal()),
    );
    let b = (
        (1i32..3_000_000).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap_or_default()),
        (0u32..86_400, 0u32..1_000_000_000).prop_map(|(s, ns)| {
            NaiveTime::from_num_seconds_from_midnight_opt(s, ns).unwrap_or_default()
        }),
        instant().prop_map(|i| i.naive_utc()),
        instant(),
        (instant(), -14 * 3600..14 * 3600i32).prop_map(|(i, off)| {
            i.with_timezone(
                &FixedOffset::east_opt(off / 60 * 60).unwrap_or(FixedOffset::east_opt(0).unwrap()),
            )
        }),
        any::<u128>().prop_map(uuid::Uuid::from_u128),
        json_value(),
        proptest::option::of(json_value()),
        status(),
        proptest::option::of(status()),
    );
    (a, b).prop_map(
        |(
            (small, int, big, float, double, flag, text, maybe_text, bytes, decimal, maybe_decimal),
            (date, time, naive, utc, zoned, uuid, json, maybe_json, status, maybe_status),
        )| Row {
            small,
            int,
            big,
            float,
            double,
            flag,
            text,
            maybe_text,
            bytes,
            decimal,
            maybe_decimal,
            date,
            time,
            naive,
            utc,
            zoned,
            uuid,
            json,
            maybe_json,
            status,
            maybe_status,
        },
    )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            2 => row().prop_map(|r| Op::Insert(Box::new(r))),
            3 => (0usize..8, row(), any::<u32>()).prop_map(|(i, r, m)| Op::Update(i, Box::new(r), m)),
            1 => (0usize..8).prop_map(Op::Delete),
        ],
        10..30,
    )
}

/// Sets the columns of `row` whose bit is set in `mask` (all when inserting).
fn apply(am: &mut everything::ActiveModel, r: &Row, mask: u32) {
    let on = |bit: u32| mask & (1 << bit) != 0;
    if on(0) {
        am.small = Set(r.small);
    }
    if on(1) {
        am.int = Set(r.int);
    }
    if on(2) {
        am.big = Set(r.big);
    }
    if on(3) {
        am.float = Set(r.float);
    }
    if on(4) {
        am.double = Set(r.double);
    }
    if on(5) {
        am.flag = Set(r.flag);
    }
    if on(6) {
        am.text = Set(r.text.clone());
    }
    if on(7) {
        am.maybe_text = Set(r.maybe_text.clone());
    }
    if on(8) {
        am.bytes = Set(r.bytes.clone());
    }
    if on(9) {
        am.decimal = Set(r.decimal);
    }
    if on(10) {
        am.maybe_decimal = Set(r.maybe_decimal);
    }
    if on(11) {
        am.date = Set(r.date);
    }
    if on(12) {
        am.time = Set(r.time);
    }
    if on(13) {
        am.naive = Set(r.naive);
    }
    if on(14) {
        am.utc = Set(r.utc);
    }
    if on(15) {
        am.zoned = Set(r.zoned);
    }
    if on(16) {
        am.uuid = Set(r.uuid);
    }
    if on(17) {
        am.json = Set(r.json.clone());
    }
    if on(18) {
        am.maybe_json = Set(r.maybe_json.clone());
    }
    if on(19) {
        am.status = Set(r.status.clone());
    }
    if on(20) {
        am.maybe_status = Set(r.maybe_status.clone());
    }
}

async fn latest_delta(t: &TestDb, id: i32) -> object_delta::Model {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("everything"))
        .filter(object_delta::Column::ContentId.eq(id.to_string()))
        .order_by_desc(object_delta::Column::Id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
}

async fn snapshots_equal_the_rows_they_describe(t: TestDb) {
    t.create_table(everything::Entity).await;
    let db = &t.db;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = ops();
    let mut checked = 0;
    for case in 0..12 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        // the test's own copy: each live row, and (delta id, row then) for every delta
        let mut live: Vec<everything::Model> = Vec::new();
        let mut expected: Vec<(i64, everything::Model)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let actor = Some(Actor::new("users", case * 100 + step));
            match op {
                Op::Insert(r) => {
                    let mut am = everything::ActiveModel::new();
                    apply(&mut am, &r, u32::MAX);
                    let saved = Context::via_actor(actor)
                        .scope(am.insert(db))
                        .await
                        .unwrap();
                    expected.push((latest_delta(&t, saved.id).await.id, saved.clone()));
                    live.push(saved);
                }
                Op::Update(i, r, mask) if !live.is_empty() => {
                    let i = i % live.len();
                    let mut am = live[i].clone().into_active_model();
                    apply(&mut am, &r, mask);
                    let saved = Context::via_actor(actor)
                        .scope(am.update(db))
                        .await
                        .unwrap();
                    let delta = latest_delta(&t, saved.id).await;
                    if delta.action == Action::Update
                        && expected.iter().all(|(d, _)| *d != delta.id)
                    {
                        expected.push((delta.id, saved.clone()));
                    }
                    live[i] = saved;
                }
                Op::Delete(i) if !live.is_empty() => {
                    let gone = live.remove(i % live.len());
                    Context::via_actor(actor)
                        .scope(gone.clone().into_active_model().delete(db))
                        .await
                        .unwrap();
                    // a Delete's snapshot is the last state
                    expected.push((latest_delta(&t, gone.id).await.id, gone));
                }
                _ => {}
            }
        }
        for (delta_id, want) in &expected {
            let got = ObjectSnapshot::<everything::Entity>::at(*delta_id)
                .one(db)
                .await
                .unwrap();
            let got = got.unwrap_or_else(|| panic!("no snapshot at delta {delta_id}"));
            assert_eq!(&got, want, "case {case}, delta {delta_id}");
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "case {case}, delta {delta_id}"
            );
            checked += 1;
        }
        // the same through one batch query
        let ids: Vec<i64> = expected.iter().map(|(d, _)| *d).collect();
        let batch = object_delta::Entity::find()
            .filter(object_delta::Column::Id.is_in(ids))
            .order_by_asc(object_delta::Column::Id)
            .with_snapshot::<everything::Entity>()
            .all(db)
            .await
            .unwrap();
        let mut sorted = expected.clone();
        sorted.sort_by_key(|(d, _)| *d);
        let got: Vec<(i64, everything::Model)> =
            batch.into_iter().map(|(d, m)| (d.id, m.unwrap())).collect();
        assert_eq!(got, sorted);
    }
    assert!(checked > 20, "only {checked} snapshots checked");
    eprintln!("snapshots checked on {:?}: {checked}", t.backend);
}

backend_tests!(snapshots_equal_the_rows_they_describe);
