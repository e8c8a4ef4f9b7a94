//! Bulk writes: `revy_seaorm::{bulk::insert_many, bulk::update_many, bulk::delete_many}` next
//! to, in the same run and each in one transaction of `batch` rows,
//!
//! - `plain`: sea-orm's own bulk call on the untracked twin table;
//! - `per_row`: the same work as tracked per-row saves/deletes;
//! - `floor`: the plain bulk call plus a plain sea-orm `insert_many` of the
//!   journal rows revy's data model needs at least (a revision, an object
//!   delta per row, an attribute delta per changed column), so
//!   `tracked / floor` is what revy adds on top of writing its journal.
//!
//! ```sh
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p revy-seaorm --bench tracking -- /bulk/
//! ```

use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput};
use revy_core::Action;
use revy_seaorm::entity::{object_delta, revision};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel,
    NotSet, QueryOrder, QuerySelect, Set, TransactionTrait, TryIntoModel,
};
use tokio::runtime::Runtime;

use super::entities::{Item, item, plain_item};
use super::{Backend, Sizes, clear, context, next_round, settle};

/// Which of the four ways a case writes.
#[derive(Clone, Copy, Debug)]
enum Way {
    Plain,
    Tracked,
    PerRow,
    Floor,
}

const WAYS: [Way; 4] = [Way::Tracked, Way::Plain, Way::PerRow, Way::Floor];

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Plain => "plain",
            Way::Tracked => "tracked",
            Way::PerRow => "per_row",
            Way::Floor => "floor",
        }
    }
}

pub fn bench(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    let n = s.batch;
    let mut group = s.slow_group(c, format!("{}/bulk", b.name));
    group.throughput(Throughput::Elements(n));
    for way in WAYS {
        group.bench_function(format!("insert_many/{}/{n}", way.name()), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        clear(db).await;
                        settle(db).await;
                        let start = Instant::now();
                        insert(db, way, n).await;
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    // the update cases share rows with a history (no baselines in the time)
    rt.block_on(async {
        clear(db).await;
        seed(db, n).await;
    });
    for way in WAYS {
        group.bench_function(
            format!("update_many_2_columns/{}/{n}", way.name()),
            |bench| {
                bench.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            settle(db).await;
                            let start = Instant::now();
                            update(db, way, next_round()).await;
                            total += start.elapsed();
                        }
                        total
                    })
                })
            },
        );
    }
    for way in WAYS {
        group.bench_function(format!("delete_many/{}/{n}", way.name()), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        clear(db).await;
                        seed(db, n).await;
                        settle(db).await;
                        let start = Instant::now();
                        delete(db, way).await;
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

/// Paired mode for the bulk calls (`REVY_BENCH_PAIRED=<rounds>
/// REVY_BENCH_CASE=bulk`): each round times the tracked call and its floor
/// back to back, in alternating order, and the report gives the median of
/// the per-round ratios, a Markdown table row per call.
pub fn paired(rt: &Runtime, b: &Backend, s: Sizes, rounds: usize) {
    let db = &b.db;
    let n = s.batch;
    let report = |call: &str, ratios: &mut Vec<f64>, times: &[(Duration, Duration)]| {
        ratios.sort_by(|a, b| a.total_cmp(b));
        let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
        let median = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        println!(
            "| {} | bulk {call}, {n} rows | {:.2} ms | {:.2} ms | {:.2}× | {:.2}–{:.2}× |",
            b.name,
            median(times.iter().map(|t| ms(t.0)).collect()),
            median(times.iter().map(|t| ms(t.1)).collect()),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
        );
    };
    println!("| backend | call | tracked | floor | ratio (median) | ratio (min–max) |");
    println!("|---|---|---:|---:|---:|---:|");
    // one round: (tracked, floor), the order alternating
    let pair = |round: usize, one: &mut dyn FnMut(Way) -> Duration| {
        if round.is_multiple_of(2) {
            let t = one(Way::Tracked);
            (t, one(Way::Floor))
        } else {
            let f = one(Way::Floor);
            (one(Way::Tracked), f)
        }
    };
    let run = |call: &str, one: &mut dyn FnMut(Way) -> Duration| {
        let times: Vec<(Duration, Duration)> = (0..rounds).map(|r| pair(r, one)).collect();
        let mut ratios: Vec<f64> = times
            .iter()
            .map(|(t, f)| t.as_secs_f64() / f.as_secs_f64())
            .collect();
        report(call, &mut ratios, &times);
    };
    run("insert_many", &mut |way| {
        rt.block_on(async {
            clear(db).await;
            settle(db).await;
            let start = Instant::now();
            insert(db, way, n).await;
            start.elapsed()
        })
    });
    rt.block_on(async {
        clear(db).await;
        seed(db, n).await;
    });
    run("update_many of 2 columns", &mut |way| {
        rt.block_on(async {
            settle(db).await;
            let start = Instant::now();
            update(db, way, next_round()).await;
            start.elapsed()
        })
    });
    run("delete_many", &mut |way| {
        rt.block_on(async {
            clear(db).await;
            seed(db, n).await;
            settle(db).await;
            let start = Instant::now();
            delete(db, way).await;
            start.elapsed()
        })
    });
}

/// `n` rows in each table, the tracked ones with their `Create` journaled.
async fn seed(db: &DatabaseConnection, n: u64) {
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            revy_seaorm::bulk::insert_many::<item::Entity>(
                (0..n as i64).map(item::Entity::new_row),
            )
            .exec(&txn)
            .await
            .unwrap();
            plain_item::Entity::insert_many((0..n as i64).map(plain_item::Entity::new_row))
                .exec(&txn)
                .await
                .unwrap();
            txn.commit().await.unwrap();
        })
        .await;
}

async fn insert(db: &DatabaseConnection, way: Way, n: u64) {
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            match way {
                Way::Tracked => {
                    revy_seaorm::bulk::insert_many::<item::Entity>(
                        (0..n as i64).map(item::Entity::new_row),
                    )
                    .exec(&txn)
                    .await
                    .unwrap();
                }
                Way::Plain => {
                    plain_item::Entity::insert_many((0..n as i64).map(plain_item::Entity::new_row))
                        .exec(&txn)
                        .await
                        .unwrap();
                }
                Way::PerRow => {
                    for i in 0..n as i64 {
                        item::Entity::new_row(i).insert(&txn).await.unwrap();
                    }
                }
                Way::Floor => {
                    let rows = if txn.get_database_backend() == DbBackend::MySql {
                        inserted_without_returning(&txn, n).await
                    } else {
                        plain_item::Entity::insert_many(
                            (0..n as i64).map(plain_item::Entity::new_row),
                        )
                        .exec_with_returning(&txn)
                        .await
                        .unwrap()
                    };
                    let changes = rows.iter().map(|r| {
                        let values = [
                            ("id", serde_json::json!(r.id)),
                            ("quantity", serde_json::json!(r.quantity)),
                            ("count", serde_json::json!(r.count)),
                            ("label", serde_json::json!(r.label)),
                            ("price", serde_json::json!(r.price.to_string())),
                            ("created_at", serde_json::json!(r.created_at.to_rfc3339())),
                            ("active", serde_json::json!(r.active)),
                            ("note", serde_json::json!(r.note)),
                        ];
                        (r.id.to_string(), values.to_vec())
                    });
                    journal_floor(&txn, Action::Create, changes.collect()).await;
                }
            }
            txn.commit().await.unwrap();
        })
        .await;
}

async fn update(db: &DatabaseConnection, way: Way, round: i64) {
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            let label = format!("round {round}");
            match way {
                Way::Tracked => {
                    revy_seaorm::bulk::update_many::<item::Entity>()
                        .col_expr(item::Column::Quantity, Expr::value(round as i32))
                        .col_expr(item::Column::Label, Expr::value(label))
                        .exec(&txn)
                        .await
                        .unwrap();
                }
                Way::Plain => {
                    plain_item::Entity::update_many()
                        .col_expr(plain_item::Column::Quantity, Expr::value(round as i32))
                        .col_expr(plain_item::Column::Label, Expr::value(label))
                        .exec(&txn)
                        .await
                        .unwrap();
                }
                Way::PerRow => {
                    let rows = item::Entity::find()
                        .order_by_asc(item::Column::Id)
                        .all(&txn)
                        .await
                        .unwrap();
                    for row in rows {
                        item::Entity::edit(row, round).update(&txn).await.unwrap();
                    }
                }
                Way::Floor => {
                    let update = plain_item::Entity::update_many()
                        .col_expr(plain_item::Column::Quantity, Expr::value(round as i32))
                        .col_expr(plain_item::Column::Label, Expr::value(label.clone()));
                    // the rows' keys and new values: read back by RETURNING,
                    // or on MySQL (which has no RETURNING on UPDATE) the keys
                    // read first, locked, and the values known
                    let rows: Vec<(i64, i32, String)> =
                        if txn.get_database_backend() == DbBackend::MySql {
                            let ids: Vec<i64> = plain_item::Entity::find()
                                .select_only()
                                .column(plain_item::Column::Id)
                                .lock_exclusive()
                                .into_tuple()
                                .all(&txn)
                                .await
                                .unwrap();
                            update.exec(&txn).await.unwrap();
                            ids.into_iter()
                                .map(|id| (id, round as i32, label.clone()))
                                .collect()
                        } else {
                            update
                                .exec_with_returning(&txn)
                                .await
                                .unwrap()
                                .into_iter()
                                .map(|r| (r.id, r.quantity, r.label))
                                .collect()
                        };
                    let changes = rows
                        .iter()
                        .map(|(id, quantity, label)| {
                            (
                                id.to_string(),
                                vec![
                                    ("quantity", serde_json::json!(quantity)),
                                    ("label", serde_json::json!(label)),
                                ],
                            )
                        })
                        .collect();
                    journal_floor(&txn, Action::Update, changes).await;
                }
            }
            txn.commit().await.unwrap();
        })
        .await;
}

async fn delete(db: &DatabaseConnection, way: Way) {
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            match way {
                Way::Tracked => {
                    revy_seaorm::bulk::delete_many::<item::Entity>()
                        .exec(&txn)
                        .await
                        .unwrap();
                }
                Way::Plain => {
                    plain_item::Entity::delete_many().exec(&txn).await.unwrap();
                }
                Way::PerRow => {
                    let rows = item::Entity::find()
                        .order_by_asc(item::Column::Id)
                        .all(&txn)
                        .await
                        .unwrap();
                    for row in rows {
                        row.into_active_model().delete(&txn).await.unwrap();
                    }
                }
                Way::Floor => {
                    let rows = plain_item::Entity::find().all(&txn).await.unwrap();
                    plain_item::Entity::delete_many().exec(&txn).await.unwrap();
                    let deltas = rows
                        .iter()
                        .map(|r| (r.id.to_string(), Vec::new()))
                        .collect();
                    journal_floor(&txn, Action::Delete, deltas).await;
                }
            }
            txn.commit().await.unwrap();
        })
        .await;
}

/// The floor's insert on MySQL, which has no `RETURNING`: one multi-row
/// INSERT, whose keys are consecutive from the first (InnoDB's default
/// lock mode for a simple insert), and the rows' values as written.
async fn inserted_without_returning<C: ConnectionTrait>(db: &C, n: u64) -> Vec<plain_item::Model> {
    let first = plain_item::Entity::insert_many((0..n as i64).map(plain_item::Entity::new_row))
        .exec(db)
        .await
        .unwrap()
        .last_insert_id
        .expect("MySQL reports the first key of a multi-row INSERT");
    (0..n as i64)
        .map(|i| {
            let mut am = plain_item::Entity::new_row(i);
            am.id = Set(first + i);
            am.try_into_model().unwrap()
        })
        .collect()
}

/// The journal rows revy's data model must write for these row changes, by
/// plain sea-orm `insert_many`s: one revision, an object delta per row, an
/// attribute delta per changed column.
async fn journal_floor<C: ConnectionTrait>(
    db: &C,
    action: Action,
    rows: Vec<(String, Vec<(&'static str, serde_json::Value)>)>,
) {
    let now = Utc::now();
    let revision_id = revision::Entity::insert(revision::ActiveModel {
        id: NotSet,
        description: Set(String::new()),
        meta: Set(None),
        created_at: Set(now),
    })
    .exec(db)
    .await
    .unwrap()
    .last_insert_id;
    // each call writes one delta per row: a version of its own per call
    static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let version = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let actor = Some(revy_core::Actor::new("users", 1));
    let object = |(content_id, values): &(String, Vec<(&'static str, serde_json::Value)>)| {
        object_delta::ActiveModel {
            id: NotSet,
            revision_id: Set(revision_id),
            actor_type: Set(Some("users".into())),
            actor_id: Set(Some("1".into())),
            action: Set(action),
            description: Set(String::new()),
            content_type: Set("bench_plain_items".into()),
            content_id: Set(content_id.clone()),
            created_at: Set(now),
            version: Set(version),
            hash: Set(None),
            seal: Set(None),
            salt: Set(None),
            changes: Set(revy_seaorm::entity::attribute_delta::encode(
                &values
                    .iter()
                    .map(|(field, value)| {
                        revy_seaorm::history::AttributeDelta::new(
                            *field,
                            serde_json::Value::Null,
                            value.clone(),
                            actor.clone(),
                            "",
                        )
                    })
                    .collect::<Vec<_>>(),
                &actor,
                "",
            )),
            state: sea_orm::ActiveValue::NotSet,
        }
    };
    object_delta::Entity::insert_many(rows.iter().map(object))
        .exec_without_returning(db)
        .await
        .unwrap();
}
