//! What tracking costs: each tracked operation next to the same operation on
//! an identical untracked table ("plain" sea-orm), measured in the same run.
//!
//! ```sh
//! cargo bench -p revy-seaorm --bench tracking                # full sizes
//! cargo bench -p revy-seaorm --bench tracking -- --quick     # short mode (CI)
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! REVY_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo bench -p revy-seaorm --bench tracking            # SQLite, PostgreSQL, MariaDB
//! ```
//!
//! SQLite always runs, on a file in the temp directory. PostgreSQL runs in a
//! schema `revy_bench` and MySQL/MariaDB in a database `revy_bench`, both
//! dropped and created again at start, when their URL is set.
//!
//! Short mode (`--quick`, `--test`, or `REVY_BENCH_QUICK=1`) shrinks every
//! size by 10 to 100 times and the measuring time to a second per case; the
//! benchmark names carry the sizes, so short and full results never mix.
//!
//! `REVY_BENCH_PAIRED=<rounds>` skips criterion and prints, for the write
//! cases, the median tracked/plain ratio of rounds that time both back to
//! back (see `tracking/paired.rs`): steadier on a busy machine.
//!
//! The insert, delete and cascade cases empty their tables and the journal
//! before each sample (outside the measurement), so the journal's size does
//! not drift with the number of iterations criterion picks.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use revy_core::{Actor, Context, LazyRevision};
use revy_seaorm::entity::{object_delta, revision};
use revy_seaorm::{Tracked, history::ObjectSnapshot, history::SelectSnapshotExt};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Schema, TransactionTrait,
};
use tokio::runtime::Runtime;

#[path = "tracking/bulk.rs"]
mod bulk;
#[path = "tracking/entities.rs"]
mod entities;
#[path = "tracking/paired.rs"]
mod paired;
#[path = "tracking/seed.rs"]
mod seed;

use entities::{Item, child, item, plain_child, plain_item};
use seed::{analyze, family, item_with_history, plain_family, seed, updates};

/// Sizes of the cases: full, or shrunk for a short run.
#[derive(Clone, Copy)]
struct Sizes {
    short: bool,
    /// Rows per transaction in the batch cases.
    batch: u64,
    /// History lengths of the snapshot cases, shortest first.
    histories: [u64; 3],
    /// Deltas of other objects around the snapshotted one.
    others: u64,
    /// Deltas `with_snapshot` reads.
    with_snapshot: u64,
    /// Children of a cascaded delete.
    children: u64,
}

impl Sizes {
    fn from_env() -> Self {
        let short = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
            || std::env::args().any(|a| a == "--quick" || a == "--test");
        if short {
            Sizes {
                short,
                batch: 100,
                histories: [10, 100, 1_000],
                others: 1_000,
                with_snapshot: 100,
                children: 1_000,
            }
        } else {
            Sizes {
                short,
                batch: 1_000,
                histories: [10, 1_000, 100_000],
                others: 100_000,
                with_snapshot: 100,
                children: 10_000,
            }
        }
    }

    /// A group for cases that take a long time per iteration.
    fn slow_group<'a>(&self, c: &'a mut Criterion, name: String) -> BenchmarkGroup<'a, WallTime> {
        let mut group = c.benchmark_group(name);
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        if self.short {
            group.measurement_time(Duration::from_secs(1));
        } else {
            group.measurement_time(Duration::from_secs(20));
        }
        group
    }

    /// A group for cases of a few milliseconds or less.
    fn fast_group<'a>(&self, c: &'a mut Criterion, name: String) -> BenchmarkGroup<'a, WallTime> {
        let mut group = c.benchmark_group(name);
        if self.short {
            group
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
        } else {
            group.measurement_time(Duration::from_secs(10));
        }
        group
    }
}

/// One backend under test.
struct Backend {
    name: &'static str,
    db: DatabaseConnection,
    /// A file to remove at the end (SQLite).
    file: Option<std::path::PathBuf>,
}

const BENCH_SCHEMA: &str = "revy_bench";

async fn connect(name: &'static str, url: Option<String>) -> Backend {
    let (url, schema, file) = match (name, url) {
        ("sqlite", _) => {
            let path = std::env::temp_dir().join(format!("revy_bench_{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                None,
                Some(path),
            )
        }
        ("postgres", Some(url)) => {
            let admin = Database::connect(&url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE; CREATE SCHEMA {BENCH_SCHEMA}"
                ))
                .await
                .expect("create the bench schema");
            (url, Some(BENCH_SCHEMA), None)
        }
        (_, Some(url)) => {
            let admin = Database::connect(&url).await.expect("connect to MySQL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {BENCH_SCHEMA}"))
                .await
                .expect("drop the bench database");
            admin
                .execute_unprepared(&format!(
                    "CREATE DATABASE {BENCH_SCHEMA} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))
                .await
                .expect("create the bench database");
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            (format!("{base}/{BENCH_SCHEMA}"), None, None)
        }
        (_, None) => unreachable!("only configured backends are connected"),
    };
    let mut options = ConnectOptions::new(url);
    options.max_connections(2).sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    // SQLite as its documentation recommends running it: write-ahead
    // logging, synchronous=NORMAL (commits do not wait for the disk, a
    // checkpoint does). REVY_BENCH_SQLITE_SYNC=full waits at every commit.
    let sync = match std::env::var("REVY_BENCH_SQLITE_SYNC").as_deref() {
        Ok("full") => SqliteSynchronous::Full,
        Ok("off") => SqliteSynchronous::Off,
        _ => SqliteSynchronous::Normal,
    };
    // REVY_BENCH_SQLITE_CACHE_KIB sets SQLite's page cache per connection
    // (its default is 2,000 KiB).
    let cache = std::env::var("REVY_BENCH_SQLITE_CACHE_KIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    options.map_sqlx_sqlite_opts(move |o| {
        let o = o.journal_mode(SqliteJournalMode::Wal).synchronous(sync);
        match cache {
            Some(kib) => o.pragma("cache_size", format!("-{kib}")),
            None => o,
        }
    });
    let db = Database::connect(options).await.expect("connect");
    revy_seaorm::install(&db)
        .await
        .expect("install the journal");
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(item::Entity))
        .await
        .unwrap();
    db.execute(&schema.create_table_from_entity(plain_item::Entity))
        .await
        .unwrap();
    db.execute(&schema.create_table_from_entity(child::Entity))
        .await
        .unwrap();
    db.execute(&schema.create_table_from_entity(plain_child::Entity))
        .await
        .unwrap();
    Backend { name, db, file }
}

/// Empties the bench tables and the journal.
async fn clear(db: &DatabaseConnection) {
    child::Entity::delete_many().exec(db).await.unwrap();
    plain_child::Entity::delete_many().exec(db).await.unwrap();
    item::Entity::delete_many().exec(db).await.unwrap();
    plain_item::Entity::delete_many().exec(db).await.unwrap();
    object_delta::Entity::delete_many().exec(db).await.unwrap();
    revision::Entity::delete_many().exec(db).await.unwrap();
    settle(db).await;
}

/// Runs before each measurement, outside it: on SQLite, copies what the
/// write-ahead log holds into the database file and starts the log over, so a
/// case does not pay for the checkpoint of pages the one before it wrote.
/// (Checkpoints of a case's own pages, past SQLite's 1,000-page threshold,
/// stay in its time.)
async fn settle(db: &DatabaseConnection) {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(RESTART)")
            .await
            .unwrap();
    }
}

/// The context tracked work runs in: an actor, and one revision per unit
/// of work. Plain work runs in the same context (it has no hooks to read it).
fn context() -> revy_core::Frame {
    Context::via_actor(Some(Actor::new("users", 1))).revision(LazyRevision::new())
}

/// Runs `iters` iterations of `f` and sums the durations each reports, so
/// setup inside an iteration stays out of the measurement.
fn timed<F, Fut>(rt: &Runtime, iters: u64, mut f: F) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Duration>,
{
    rt.block_on(async {
        let mut total = Duration::ZERO;
        for i in 0..iters {
            total += f(i).await;
        }
        total
    })
}

/// Whether tracked work runs in a queued transaction (`revy::begin`:
/// its journal written at commit) instead of sea-orm's.
static QUEUED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn set_queued(on: bool) {
    QUEUED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Runs `$body` in a transaction `$txn` on `$db` and commits: a queued
/// one for a tracked entity `$e` while [`QUEUED`] is on, else sea-orm's.
macro_rules! in_transaction {
    ($e:ty, $db:expr, |$txn:ident| $body:block) => {
        if <$e as Item>::TRACKED && QUEUED.load(std::sync::atomic::Ordering::Relaxed) {
            let $txn = revy_seaorm::begin($db).await.unwrap();
            let out = $body;
            $txn.commit().await.unwrap();
            out
        } else {
            let $txn = $db.begin().await.unwrap();
            let out = $body;
            $txn.commit().await.unwrap();
            out
        }
    };
}

/// A number that grows across the whole run, so every update changes values.
fn next_round() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static ROUND: AtomicI64 = AtomicI64::new(1);
    ROUND.fetch_add(1, Ordering::Relaxed)
}

async fn insert_rows<E: Item>(db: &DatabaseConnection, n: u64) -> Vec<E::Model> {
    context()
        .scope(async {
            in_transaction!(E, db, |txn| {
                let mut rows = Vec::with_capacity(n as usize);
                for i in 0..n {
                    rows.push(E::new_row(i as i64).insert(&txn).await.unwrap());
                }
                rows
            })
        })
        .await
}

fn bench_insert(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    let mut group = s.slow_group(c, format!("{}/insert", b.name));
    fn batch<E: Item>(rt: &Runtime, db: &DatabaseConnection, n: u64, iters: u64) -> Duration {
        rt.block_on(clear(db));
        timed(rt, iters, |_| async move {
            settle(db).await;
            let start = Instant::now();
            insert_rows::<E>(db, n).await;
            start.elapsed()
        })
    }
    group.throughput(Throughput::Elements(s.batch));
    let id = format!("batch_{}", s.batch);
    group.bench_function(format!("tracked/{id}"), |bench| {
        bench.iter_custom(|iters| batch::<item::Entity>(rt, db, s.batch, iters))
    });
    group.bench_function(format!("queued/{id}"), |bench| {
        set_queued(true);
        bench.iter_custom(|iters| batch::<item::Entity>(rt, db, s.batch, iters));
        set_queued(false);
    });
    group.bench_function(format!("plain/{id}"), |bench| {
        bench.iter_custom(|iters| batch::<plain_item::Entity>(rt, db, s.batch, iters))
    });
    group.finish();

    let mut group = s.fast_group(c, format!("{}/insert", b.name));
    group.throughput(Throughput::Elements(1));
    group.bench_function("tracked/row_per_txn", |bench| {
        bench.iter_custom(|iters| batch::<item::Entity>(rt, db, 1, iters))
    });
    group.bench_function("queued/row_per_txn", |bench| {
        set_queued(true);
        bench.iter_custom(|iters| batch::<item::Entity>(rt, db, 1, iters));
        set_queued(false);
    });
    group.bench_function("plain/row_per_txn", |bench| {
        bench.iter_custom(|iters| batch::<plain_item::Entity>(rt, db, 1, iters))
    });
    group.finish();
}

/// Updates two columns of each row in one transaction, keeping the rows current.
async fn update_rows<E: Item>(db: &DatabaseConnection, rows: &mut [E::Model]) -> Duration {
    settle(db).await;
    let start = Instant::now();
    context()
        .scope(async {
            in_transaction!(E, db, |txn| {
                for row in rows.iter_mut() {
                    *row = E::edit(row.clone(), next_round())
                        .update(&txn)
                        .await
                        .unwrap();
                }
            })
        })
        .await;
    start.elapsed()
}

fn bench_update(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    // Rows with a history, made when the first case runs.
    let mut made: Option<UpdateRows> = None;
    let mut group = s.slow_group(c, format!("{}/update", b.name));
    group.throughput(Throughput::Elements(s.batch));
    let id = format!("batch_{}", s.batch);
    group.bench_function(format!("tracked/{id}"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).0,
                iters,
                None,
            ))
        })
    });
    group.bench_function(format!("queued/{id}"), |bench| {
        set_queued(true);
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).0,
                iters,
                None,
            ))
        });
        set_queued(false);
    });
    group.bench_function(format!("plain/{id}"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<plain_item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).1,
                iters,
                None,
            ))
        })
    });
    group.finish();

    let mut group = s.fast_group(c, format!("{}/update", b.name));
    group.throughput(Throughput::Elements(1));
    group.bench_function("tracked/row_per_txn", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).0,
                iters,
                Some(1),
            ))
        })
    });
    group.bench_function("queued/row_per_txn", |bench| {
        set_queued(true);
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).0,
                iters,
                Some(1),
            ))
        });
        set_queued(false);
    });
    group.bench_function("plain/row_per_txn", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(update_rounds::<plain_item::Entity>(
                db,
                &mut rows(&mut made, rt, db, s.batch).1,
                iters,
                Some(1),
            ))
        })
    });
    group.finish();
}

/// Tracked and plain rows for the update cases.
type UpdateRows = (Vec<item::Model>, Vec<plain_item::Model>);

/// The update cases' rows, inserted with a history on first use.
fn rows<'a>(
    made: &'a mut Option<UpdateRows>,
    rt: &Runtime,
    db: &DatabaseConnection,
    n: u64,
) -> &'a mut UpdateRows {
    made.get_or_insert_with(|| {
        rt.block_on(async {
            clear(db).await;
            (
                insert_rows::<item::Entity>(db, n).await,
                insert_rows::<plain_item::Entity>(db, n).await,
            )
        })
    })
}

/// `iters` transactions, each updating all `rows` or the next `per_txn` of them.
async fn update_rounds<E: Item>(
    db: &DatabaseConnection,
    rows: &mut [E::Model],
    iters: u64,
    per_txn: Option<usize>,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut next = 0;
    for _ in 0..iters {
        total += match per_txn {
            None => update_rows::<E>(db, rows).await,
            Some(n) => {
                let len = rows.len();
                let start = next % len;
                next = (start + n).min(len);
                update_rows::<E>(db, &mut rows[start..next]).await
            }
        };
    }
    total
}

/// Deletes `rows` in one transaction.
async fn delete_rows<E: Item>(db: &DatabaseConnection, rows: Vec<E::Model>) -> Duration {
    settle(db).await;
    let start = Instant::now();
    context()
        .scope(async {
            in_transaction!(E, db, |txn| {
                for row in rows {
                    row.into_active_model().delete(&txn).await.unwrap();
                }
            })
        })
        .await;
    start.elapsed()
}

fn bench_delete(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    fn delete_batch<E: Item>(
        rt: &Runtime,
        db: &DatabaseConnection,
        n: u64,
        iters: u64,
    ) -> Duration {
        rt.block_on(clear(db));
        timed(rt, iters, |_| async move {
            let rows = insert_rows::<E>(db, n).await;
            delete_rows::<E>(db, rows).await
        })
    }
    let mut group = s.slow_group(c, format!("{}/delete", b.name));
    group.throughput(Throughput::Elements(s.batch));
    let id = format!("batch_{}", s.batch);
    group.bench_function(format!("tracked/{id}"), |bench| {
        bench.iter_custom(|iters| delete_batch::<item::Entity>(rt, db, s.batch, iters))
    });
    group.bench_function(format!("plain/{id}"), |bench| {
        bench.iter_custom(|iters| delete_batch::<plain_item::Entity>(rt, db, s.batch, iters))
    });
    group.finish();
}

async fn snapshot(db: &DatabaseConnection, delta: i64) -> item::Model {
    ObjectSnapshot::<item::Entity>::at(delta)
        .one(db)
        .await
        .unwrap()
        .expect("a snapshot")
}

fn bench_snapshot(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    let mut group = s.fast_group(c, format!("{}/snapshot", b.name));
    // Built on first use, so a filtered run builds only what it measures;
    // the first build starts from an empty journal.
    let mut small: Option<(item::Model, i64)> = None;
    let build_small = |small: &mut Option<(item::Model, i64)>| {
        small
            .get_or_insert_with(|| {
                rt.block_on(async {
                    clear(db).await;
                    item_with_history(db, s.histories[0]).await
                })
            })
            .clone()
    };
    for (i, history) in s.histories.into_iter().enumerate() {
        let mut built: Option<(item::Model, i64)> = None;
        group.bench_function(format!("tracked/history_{history}"), |bench| {
            let (row, delta) = if i == 0 {
                build_small(&mut small)
            } else {
                built
                    .get_or_insert_with(|| rt.block_on(item_with_history(db, history)))
                    .clone()
            };
            let got = rt.block_on(snapshot(db, delta));
            assert_eq!(got.id, row.id);
            assert_eq!(got.quantity as u64, history - 1);
            bench.iter(|| rt.block_on(snapshot(db, delta)))
        });
    }
    let mut others_built = false;
    group.bench_function(
        format!("tracked/history_{}_among_{}", s.histories[0], s.others),
        |bench| {
            let (_, delta) = build_small(&mut small);
            if !others_built {
                // deltas of other rows of the same table, 10 each
                let deltas = (0..s.others / 10).flat_map(|i| {
                    updates(&format!("{}", 1_000_000_000 + i), 10).collect::<Vec<_>>()
                });
                rt.block_on(async {
                    let txn = db.begin().await.unwrap();
                    seed(&txn, "bench_items", deltas.collect()).await;
                    txn.commit().await.unwrap();
                    analyze(db).await;
                });
                others_built = true;
            }
            bench.iter(|| rt.block_on(snapshot(db, delta)))
        },
    );
    // plain reference: read the live row
    group.bench_function("plain/find_by_id", |bench| {
        let (row, _) = build_small(&mut small);
        bench.iter(|| {
            rt.block_on(item::Entity::find_by_id(row.id).one(db))
                .unwrap()
        })
    });

    let n = s.with_snapshot;
    let mut built: Option<String> = None;
    let mut deltas_of = |n: u64| {
        let content_id = built
            .get_or_insert_with(|| rt.block_on(item_with_history(db, n)).0.id.to_string())
            .clone();
        object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq("bench_items"))
            .filter(object_delta::Column::ContentId.eq(content_id))
    };
    group.bench_function(format!("tracked/with_snapshot_{n}"), |bench| {
        let query = deltas_of(n);
        let rows = rt
            .block_on(query.clone().with_snapshot::<item::Entity>().all(db))
            .unwrap();
        assert_eq!(rows.len() as u64, n);
        assert!(rows.iter().all(|(_, m)| m.is_some()));
        bench.iter(|| {
            rt.block_on(query.clone().with_snapshot::<item::Entity>().all(db))
                .unwrap()
        })
    });
    // plain reference: the same object deltas without their snapshots
    group.bench_function(format!("plain/object_deltas_{n}"), |bench| {
        let query = deltas_of(n);
        bench.iter(|| rt.block_on(query.clone().all(db)).unwrap())
    });
    group.finish();
    bench_fold(c, rt, b, s);
}

/// A snapshot's time against the number of deltas it folds: `fold_j` is
/// the snapshot of the version `j - 1` past a checkpoint, which reads the
/// checkpoint and the `j - 1` deltas after it. The cost of spacing
/// checkpoints K versions apart is the mean of `fold_1` .. `fold_K`; the
/// storage bench prints what a checkpoint adds to the journal. Together
/// they choose `CHECKPOINT_EVERY` (BENCHMARKS.md "Checkpoint spacing").
fn bench_fold(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    const FOLDS: [i64; 5] = [1, 2, 4, 8, 16];
    let db = &b.db;
    let mut group = s.fast_group(c, format!("{}/snapshot_fold", b.name));
    let mut deltas: Option<Vec<i64>> = None;
    for j in FOLDS {
        group.bench_function(format!("tracked/fold_{j}"), |bench| {
            let ids = deltas.get_or_insert_with(|| {
                rt.block_on(async {
                    // versions 1 ..= 32: a create, then a checkpoint at 17
                    let (row, _) = item_with_history(db, 32).await;
                    object_delta::Entity::find()
                        .select_only()
                        .column(object_delta::Column::Id)
                        .filter(object_delta::Column::ContentType.eq("bench_items"))
                        .filter(object_delta::Column::ContentId.eq(row.id.to_string()))
                        .order_by_asc(object_delta::Column::Id)
                        .into_tuple::<i64>()
                        .all(db)
                        .await
                        .unwrap()
                })
            });
            // the delta at version 17 + (j - 1)
            let delta = ids[(16 + j - 1) as usize];
            let got = rt.block_on(snapshot(db, delta));
            assert_eq!(got.quantity as i64, 16 + j - 1);
            bench.iter(|| rt.block_on(snapshot(db, delta)))
        });
    }
    group.finish();
}

fn bench_cascade(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    let n = s.children;
    let mut group = s.slow_group(c, format!("{}/cascade_delete", b.name));
    group.throughput(Throughput::Elements(n));
    group.bench_function(format!("tracked/children_{n}"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(clear(db));
            timed(rt, iters, |_| async move {
                let parent = family(db, n).await;
                let start = Instant::now();
                Context::via_actor(Some(Actor::new("users", 1)))
                    .scope(revy_seaorm::deletion::delete(parent).exec(db))
                    .await
                    .unwrap();
                start.elapsed()
            })
        })
    });
    group.bench_function(format!("plain/children_{n}"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(clear(db));
            timed(rt, iters, |_| async move {
                let parent = plain_family(db, n).await;
                let start = Instant::now();
                let txn = db.begin().await.unwrap();
                plain_child::Entity::delete_many()
                    .filter(plain_child::Column::ParentId.eq(parent))
                    .exec(&txn)
                    .await
                    .unwrap();
                plain_item::Entity::delete_by_id(parent)
                    .exec(&txn)
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
                start.elapsed()
            })
        })
    });
    group.finish();
    let left = rt.block_on(child::Entity::find().count(db)).unwrap();
    assert_eq!(left, 0, "the cascade deleted every child");
}

fn bench_set(c: &mut Criterion, s: Sizes) {
    let mut group = s.fast_group(c, "tracked_set".to_owned());
    let base = <item::Entity as Item>::new_row(1);
    let plain_base = <plain_item::Entity as Item>::new_row(1);
    Context::via_actor(Some(Actor::new("users", 1))).sync_scope(|| {
        group.bench_function("tracked/two_columns", |bench| {
            bench.iter(|| {
                let mut draft = Tracked::new(base.clone());
                draft.set(item::Column::Quantity, 7);
                draft.set(item::Column::Label, "seven");
                draft
            })
        });
        group.bench_function("plain/two_columns", |bench| {
            bench.iter(|| {
                let mut am = plain_base.clone();
                am.set(plain_item::Column::Quantity, 7.into());
                am.set(plain_item::Column::Label, "seven".into());
                am
            })
        });
    });
    group.finish();
}

fn main() {
    let sizes = Sizes::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Criterion::default().configure_from_args();

    let mut backends = vec![rt.block_on(connect("sqlite", None))];
    for (name, var) in [
        ("postgres", "REVY_BENCH_POSTGRES_URL"),
        ("mysql", "REVY_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            backends.push(rt.block_on(connect(name, Some(url))));
        }
    }
    let paired: Option<usize> = std::env::var("REVY_BENCH_PAIRED")
        .ok()
        .and_then(|v| v.parse().ok());
    for backend in &backends {
        assert_eq!(
            backend.db.get_database_backend(),
            match backend.name {
                "sqlite" => DbBackend::Sqlite,
                "postgres" => DbBackend::Postgres,
                _ => DbBackend::MySql,
            }
        );
        if let Some(rounds) = paired {
            if std::env::var("REVY_BENCH_CASE").is_ok_and(|c| c == "bulk") {
                bulk::paired(&rt, backend, sizes, rounds);
            } else {
                paired::run(&rt, backend, sizes, rounds);
            }
            continue;
        }
        bench_insert(&mut c, &rt, backend, sizes);
        bench_update(&mut c, &rt, backend, sizes);
        bench_delete(&mut c, &rt, backend, sizes);
        bench_snapshot(&mut c, &rt, backend, sizes);
        bench_cascade(&mut c, &rt, backend, sizes);
        bulk::bench(&mut c, &rt, backend, sizes);
    }
    if paired.is_none() {
        bench_set(&mut c, sizes);
        c.final_summary();
    }
    for backend in backends {
        if let Some(file) = backend.file {
            let _ = std::fs::remove_file(file);
        }
    }
}
