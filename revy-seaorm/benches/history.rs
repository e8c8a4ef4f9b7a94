//! Reading and pruning long histories (issues 14 and 15): `blame` of one
//! row, one page of whole-table time travel, and `prune` throughput, each
//! next to a plain sea-orm read of the live rows in the same run.
//!
//! ```sh
//! cargo bench -p revy-seaorm --bench history                # full sizes
//! cargo bench -p revy-seaorm --bench history -- --quick     # short mode (CI)
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! REVY_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo bench -p revy-seaorm --bench history            # SQLite, PostgreSQL, MariaDB
//! ```
//!
//! The backends, schemas and entities are the tracking bench's (its
//! `tracking/entities.rs` and `tracking/seed.rs` are included as modules):
//! long histories are written straight into the journal in bulk, so the
//! 100,000-delta cases take seconds to set up.
//!
//! Prune is destructive, so it is timed once per backend outside criterion
//! and printed as object deltas removed per second, with the process's peak
//! resident memory (`VmHWM`) before and after. `REVY_BENCH_NO_PRUNE=1`
//! leaves it out (blame and time travel only).
//!
//! `verify` of a sealed journal (tamper evidence on while it is written,
//! through the real writers) is timed the same way, once per backend, in
//! object and attribute deltas checked per second; `REVY_BENCH_NO_VERIFY=1`
//! leaves it out.

use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use revy_core::{Actor, Context, LazyRevision};
use revy_seaorm::entity::{object_delta, revision};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    EntityTrait, PaginatorTrait, QueryOrder, QuerySelect, Schema, TransactionTrait,
};
use tokio::runtime::Runtime;

#[allow(dead_code)]
#[path = "tracking/entities.rs"]
mod entities;
#[allow(dead_code)]
#[path = "tracking/seed.rs"]
mod seed;

use entities::{Item, child, item, plain_child, plain_item};
use seed::{analyze, item_with_history, seed, updates};

/// Sizes of the cases: full, or shrunk for a short run.
#[derive(Clone, Copy)]
struct Sizes {
    short: bool,
    /// Object deltas of the long history `blame` reads (the short one is 10).
    long_history: u64,
    /// Rows of the small and the large table time travel pages over; each
    /// row has 10 object deltas.
    table_rows: [u64; 2],
    /// Rows the prune case folds.
    prune_rows: u64,
    /// Object deltas of each of them (a create of 8 columns, then updates
    /// of 2): 50 make 1,060,000 attribute deltas of 10,000 rows.
    prune_history: u64,
}

impl Sizes {
    fn from_env() -> Self {
        let short = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
            || std::env::args().any(|a| a == "--quick" || a == "--test");
        if short {
            Sizes {
                short,
                long_history: 1_000,
                table_rows: [100, 1_000],
                prune_rows: 1_000,
                prune_history: 10,
            }
        } else {
            Sizes {
                short,
                long_history: 100_000,
                table_rows: [100, 10_000],
                prune_rows: 10_000,
                prune_history: 50,
            }
        }
    }

    fn group<'a>(&self, c: &'a mut Criterion, name: String) -> BenchmarkGroup<'a, WallTime> {
        let mut group = c.benchmark_group(name);
        // time travel on SQLite takes most of a second a page: ten samples
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
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

const BENCH_SCHEMA: &str = "revy_bench_history";

/// A connection to a fresh bench database (SQLite file, PostgreSQL schema
/// or MySQL database) with the journal and the bench tables.
async fn connect(
    name: &str,
    url: Option<String>,
) -> (DatabaseConnection, Option<std::path::PathBuf>) {
    let (url, schema, file) = match (name, url) {
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
        ("mysql", Some(url)) => {
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
        _ => {
            let path =
                std::env::temp_dir().join(format!("revy_bench_history_{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                None,
                Some(path),
            )
        }
    };
    let mut options = ConnectOptions::new(url);
    options.max_connections(2).sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
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
    (db, file)
}

/// Empties the bench tables and the journal.
async fn clear(db: &DatabaseConnection) {
    item::Entity::delete_many().exec(db).await.unwrap();
    object_delta::Entity::delete_many().exec(db).await.unwrap();
    revision::Entity::delete_many().exec(db).await.unwrap();
}

/// Tracked inserts of `n` rows in one transaction (the seed helpers call it).
pub async fn insert_rows<E: Item>(db: &DatabaseConnection, n: u64) -> Vec<E::Model> {
    Context::via_actor(Some(Actor::new("users", 1)))
        .revision(LazyRevision::new())
        .scope(async {
            let txn = db.begin().await.unwrap();
            let mut rows = Vec::with_capacity(n as usize);
            for i in 0..n {
                rows.push(E::new_row(i as i64).insert(&txn).await.unwrap());
            }
            txn.commit().await.unwrap();
            rows
        })
        .await
}

/// Adds `n` tracked rows with 9 updates each in the journal: 10 object
/// deltas a row.
async fn rows_with_history(db: &DatabaseConnection, n: u64) {
    rows_with_long_history(db, n, 10).await;
}

/// Adds `n` tracked rows with `history` object deltas each (a create, then
/// updates), 1,000 rows a transaction.
async fn rows_with_long_history(db: &DatabaseConnection, n: u64, history: u64) {
    for chunk in 0..n.div_ceil(1_000) {
        let rows = insert_rows::<item::Entity>(db, std::cmp::min(1_000, n - chunk * 1_000)).await;
        let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
        let deltas = ids.iter().flat_map(|id| updates(id, history - 1)).collect();
        let txn = db.begin().await.unwrap();
        seed(&txn, "bench_items", deltas).await;
        txn.commit().await.unwrap();
    }
    analyze(db).await;
}

async fn object_deltas(db: &DatabaseConnection) -> u64 {
    object_delta::Entity::find().count(db).await.unwrap()
}

/// One page of the table as it is now, through the journal.
async fn time_travel_page(db: &DatabaseConnection) -> usize {
    let page = revy_seaorm::history::table_as_of::<item::Entity>(chrono::Utc::now())
        .page(db)
        .await
        .unwrap();
    page.rows.len()
}

fn bench_time_travel(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    db: &DatabaseConnection,
    s: Sizes,
) {
    let mut group = s.group(c, format!("{name}/time_travel"));
    rt.block_on(clear(db));
    let mut have = 0;
    for rows in s.table_rows {
        rt.block_on(rows_with_history(db, rows - have));
        have = rows;
        let deltas = rt.block_on(object_deltas(db));
        assert_eq!(rt.block_on(time_travel_page(db)), 100);
        group.bench_function(format!("tracked/page_100_of_{deltas}_deltas"), |b| {
            b.iter(|| rt.block_on(time_travel_page(db)))
        });
    }
    // plain reference: the first 100 live rows
    group.bench_function("plain/page_100", |b| {
        b.iter(|| {
            rt.block_on(
                item::Entity::find()
                    .order_by_asc(item::Column::Id)
                    .limit(100)
                    .all(db),
            )
            .unwrap()
        })
    });
    group.finish();
}

fn bench_blame(c: &mut Criterion, rt: &Runtime, name: &str, db: &DatabaseConnection, s: Sizes) {
    let mut group = s.group(c, format!("{name}/blame"));
    let mut short_row = None;
    for history in [10, s.long_history] {
        let (row, _) = rt.block_on(item_with_history(db, history));
        let got = rt
            .block_on(revy_seaorm::history::blame::<item::Entity>(row.id).all(db))
            .unwrap();
        assert_eq!(got.len(), 8, "a blame entry per column");
        group.bench_function(format!("tracked/history_{history}"), |b| {
            b.iter(|| {
                rt.block_on(revy_seaorm::history::blame::<item::Entity>(row.id).all(db))
                    .unwrap()
            })
        });
        short_row.get_or_insert(row);
    }
    let row = short_row.expect("the short history's row");
    group.bench_function("plain/find_by_id", |b| {
        b.iter(|| {
            rt.block_on(item::Entity::find_by_id(row.id).one(db))
                .unwrap()
        })
    });
    group.finish();
}

/// The process's peak resident memory, in KiB (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Times one `prune().keep_last(1)` of a journal of `rows` rows with 10
/// object deltas each, and prints the throughput.
fn bench_prune(rt: &Runtime, name: &str, db: &DatabaseConnection, s: Sizes) {
    rt.block_on(clear(db));
    let seeding = Instant::now();
    rt.block_on(rows_with_long_history(db, s.prune_rows, s.prune_history));
    let seeded = seeding.elapsed();
    let before = rt.block_on(object_deltas(db));
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let report = rt
        .block_on(revy_seaorm::lifecycle::prune().keep_last(1).exec(db))
        .unwrap();
    let took = start.elapsed();
    let rss_after = peak_rss_kib();
    let after = rt.block_on(object_deltas(db));
    assert!(report.object_deltas_pruned > 0);
    let removed = report.object_deltas_pruned;
    println!(
        "{name}/prune/keep_last_1_of_{before}_deltas: {removed} object deltas removed \
         ({} checkpoints, {} chunks; {after} object deltas left) \
         in {:.3} s = {:.0} object deltas/s; VmHWM {} KiB before, {} KiB after \
         (seeded in {:.1} s)",
        report.checkpoints,
        report.chunks,
        took.as_secs_f64(),
        removed as f64 / took.as_secs_f64(),
        rss_before.map_or("?".into(), |k| k.to_string()),
        rss_after.map_or("?".into(), |k| k.to_string()),
        seeded.as_secs_f64(),
    );
}

/// Times one `verify` of a sealed journal: `rows` rows, each inserted and
/// then updated 9 times through `update_many` with tamper evidence on (10
/// object deltas a row), and prints the throughput.
fn bench_verify(rt: &Runtime, name: &str, db: &DatabaseConnection, s: Sizes) {
    use sea_orm::sea_query::{Expr, ExprTrait};
    rt.block_on(clear(db));
    revy_seaorm::tamper::enable();
    let seeding = Instant::now();
    rt.block_on(async {
        for chunk in 0..s.prune_rows.div_ceil(1_000) {
            let n = std::cmp::min(1_000, s.prune_rows - chunk * 1_000);
            insert_rows::<item::Entity>(db, n).await;
        }
        for _ in 0..9 {
            Context::via_actor(Some(Actor::new("users", 1)))
                .scope(
                    revy_seaorm::bulk::update_many::<item::Entity>()
                        .col_expr(item::Column::Count, Expr::col(item::Column::Count).add(1))
                        .exec(db),
                )
                .await
                .unwrap();
        }
    });
    revy_seaorm::tamper::disable();
    rt.block_on(analyze(db));
    let seeded = seeding.elapsed();
    let start = Instant::now();
    let verified = rt.block_on(revy_seaorm::tamper::verify(db)).unwrap();
    let took = start.elapsed();
    assert_eq!(verified.sealed, verified.object_deltas);
    println!(
        "{name}/verify/{}_object_deltas: {} object deltas and {} attribute deltas of {} rows \
         in {:.3} s = {:.0} object deltas/s, {:.0} attribute deltas/s (sealed journal written in {:.1} s)",
        verified.object_deltas,
        verified.object_deltas,
        verified.attribute_deltas,
        verified.objects,
        took.as_secs_f64(),
        verified.object_deltas as f64 / took.as_secs_f64(),
        verified.attribute_deltas as f64 / took.as_secs_f64(),
        seeded.as_secs_f64(),
    );
}

fn main() {
    let sizes = Sizes::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Criterion::default().configure_from_args();
    let mut backends = vec![("sqlite", None)];
    for (name, var) in [
        ("postgres", "REVY_BENCH_POSTGRES_URL"),
        ("mysql", "REVY_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            backends.push((name, Some(url)));
        }
    }
    for (name, url) in backends {
        let (db, file) = rt.block_on(connect(name, url));
        assert_eq!(
            db.get_database_backend(),
            match name {
                "sqlite" => DbBackend::Sqlite,
                "postgres" => DbBackend::Postgres,
                _ => DbBackend::MySql,
            }
        );
        bench_time_travel(&mut c, &rt, name, &db, sizes);
        bench_blame(&mut c, &rt, name, &db, sizes);
        if std::env::var_os("REVY_BENCH_NO_PRUNE").is_none() {
            bench_prune(&rt, name, &db, sizes);
        }
        if std::env::var_os("REVY_BENCH_NO_VERIFY").is_none() {
            bench_verify(&rt, name, &db, sizes);
        }
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
    }
    c.final_summary();
}
