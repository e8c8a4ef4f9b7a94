//! The change feed's latency and what it costs a writer (issue 16).
//!
//! ```sh
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p revy-seaorm --features feed-postgres --bench feed
//! cargo bench -p revy-seaorm --features feed-postgres --bench feed -- --quick   # short mode (CI)
//! ```
//!
//! Not criterion: what matters here is a distribution (p50/p99 of the time
//! from a commit to the subscriber's stream yielding it) and ratios of
//! write timings taken back to back, which this binary prints as Markdown
//! tables for BENCHMARKS.md.
//!
//! - **Latency**: a writer commits a tracked insert, each in its own
//!   transaction, and waits until a subscriber task (`feed::subscribe` with
//!   its defaults) yields it; the time runs from the commit's return to the
//!   yield. Writes are spaced 0–50 ms apart (a fixed pseudo-random
//!   sequence), so a polling subscriber is met at every point of its
//!   backoff. SQLite polls; PostgreSQL is woken by LISTEN/NOTIFY.
//! - **Write cost**: tracked inserts, each in its own transaction, in
//!   rounds; each round times the sides back to back in rotating order:
//!   *none* (on PostgreSQL the notify trigger dropped), *trigger* (the
//!   trigger present, no subscriber: PostgreSQL's whole write-side cost),
//!   *feed* (trigger and a running subscriber reading after each commit).
//!   The report gives per-insert medians and the median of the per-round
//!   ratios to *none*.
//!
//! SQLite always runs, on a file in the temp directory; PostgreSQL runs in
//! a schema `revy_bench_feed` (dropped and created again) when its URL is
//! set. Short mode (`--quick`, `--test` or `REVY_BENCH_QUICK=1`) takes 50
//! latency samples and 5 rounds instead of 500 and 30.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use revy_core::{Actor, Context, LazyRevision};
use revy_seaorm::entity::object_delta;
use revy_seaorm::feed::{Feed, Subscription};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    EntityTrait, QueryOrder, Schema, TransactionTrait,
};
use tokio::sync::mpsc;

#[allow(dead_code)]
#[path = "tracking/entities.rs"]
mod entities;

use entities::{Item, item};

const SCHEMA: &str = "revy_bench_feed";

struct Sizes {
    samples: usize,
    rounds: usize,
    /// Inserts per side and round.
    inserts: usize,
}

impl Sizes {
    fn from_env() -> Self {
        let short = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
            || std::env::args().any(|a| a == "--quick" || a == "--test");
        if short {
            Sizes {
                samples: 50,
                rounds: 5,
                inserts: 20,
            }
        } else {
            Sizes {
                samples: 500,
                rounds: 30,
                inserts: 50,
            }
        }
    }
}

async fn connect(
    name: &str,
    url: Option<String>,
) -> (DatabaseConnection, Option<std::path::PathBuf>) {
    let (url, schema, file) = match url {
        None => {
            let path =
                std::env::temp_dir().join(format!("revy_bench_feed_{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                None,
                Some(path),
            )
        }
        Some(url) => {
            let admin = Database::connect(&url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"
                ))
                .await
                .expect("create the bench schema");
            (url, Some(SCHEMA), None)
        }
    };
    let mut options = ConnectOptions::new(url);
    // the writer's and the subscriber's, as an application would have
    options.max_connections(4).sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    // as the tracking bench runs SQLite: WAL, synchronous=NORMAL
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    });
    let db = Database::connect(options).await.expect("connect");
    revy_seaorm::install(&db)
        .await
        .expect("install the journal");
    let builder = Schema::new(db.get_database_backend());
    db.execute(&builder.create_table_from_entity(item::Entity))
        .await
        .unwrap();
    eprintln!("{name}: connected");
    (db, file)
}

/// One tracked insert in its own transaction.
async fn insert(db: &DatabaseConnection, i: i64) -> item::Model {
    Context::via_actor(Some(Actor::new("users", 1)))
        .revision(LazyRevision::new())
        .scope(async {
            let txn = db.begin().await.unwrap();
            let row = item::Entity::new_row(i).insert(&txn).await.unwrap();
            txn.commit().await.unwrap();
            row
        })
        .await
}

/// The newest object delta id: a subscriber started there sees only what
/// comes next.
async fn newest(db: &DatabaseConnection) -> i64 {
    object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .map_or(0, |d| d.id)
}

/// A subscriber task: sends the content id of each revision it gets, with
/// the instant it got it.
async fn subscriber(
    db: &DatabaseConnection,
) -> (
    mpsc::UnboundedReceiver<(String, Instant)>,
    tokio::task::JoinHandle<()>,
    bool,
) {
    let feed = Feed::from_cursor(newest(db).await)
        .only([revy_seaorm::registry::content_type::<item::Entity>()]);
    let sub = Subscription::new(db.clone(), feed);
    let notified = sub.is_notified();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut stream = Box::pin(sub.into_stream());
        while let Some(next) = stream.next().await {
            let now = Instant::now();
            let next = next.expect("feed read");
            for d in next.deltas {
                if tx.send((d.object.content_id, now)).is_err() {
                    return;
                }
            }
        }
    });
    // let it listen and read once before anything is measured
    tokio::time::sleep(Duration::from_millis(200)).await;
    (rx, task, notified)
}

/// Pauses of 0–50 ms from a fixed sequence (xorshift), the same each run.
struct Pauses(u64);

impl Iterator for Pauses {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Some(Duration::from_micros(self.0 % 50_000))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

async fn latency(name: &str, db: &DatabaseConnection, samples: usize) {
    let (mut rx, task, notified) = subscriber(db).await;
    let mut pauses = Pauses(0x9e37_79b9_7f4a_7c15);
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        tokio::time::sleep(pauses.next().unwrap_or_default()).await;
        let row = insert(db, i as i64).await;
        let committed = Instant::now();
        let (id, got) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("delivered within 30 s")
            .expect("subscriber alive");
        assert_eq!(id, row.id.to_string(), "delivered in commit order");
        times.push(got.saturating_duration_since(committed));
    }
    task.abort();
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        if notified {
            "LISTEN/NOTIFY"
        } else {
            "polling 10 ms → 1 s"
        },
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
        ms(mean),
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    None,
    Trigger,
    Feed,
}

async fn set_trigger(db: &DatabaseConnection, on: bool) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    if on {
        revy_seaorm::install(db).await.unwrap();
    } else {
        db.execute_unprepared("DROP TRIGGER IF EXISTS revy_feed_notify ON revy_object_deltas")
            .await
            .unwrap();
    }
}

/// Times `n` tracked inserts on one side; per insert.
async fn side(db: &DatabaseConnection, side: Side, n: usize, next: &mut i64) -> Duration {
    set_trigger(db, side != Side::None).await;
    let sub = if side == Side::Feed {
        Some(subscriber(db).await)
    } else {
        None
    };
    let start = Instant::now();
    for _ in 0..n {
        insert(db, *next).await;
        *next += 1;
    }
    let took = start.elapsed() / n as u32;
    if let Some((_, task, _)) = sub {
        task.abort();
    }
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn write_cost(name: &str, db: &DatabaseConnection, s: &Sizes) {
    let sides: &[Side] = if db.get_database_backend() == DbBackend::Postgres {
        &[Side::None, Side::Trigger, Side::Feed]
    } else {
        &[Side::None, Side::Feed]
    };
    let mut next = 1_000_000;
    // warm-up: caches, plans, the sequence
    side(db, Side::None, s.inserts, &mut next).await;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for round in 0..s.rounds {
        for k in 0..sides.len() {
            let which = sides[(round + k) % sides.len()];
            let t = side(db, which, s.inserts, &mut next).await;
            times[which as usize].push(t.as_secs_f64() * 1e6);
        }
    }
    let base = &times[Side::None as usize];
    for (label, which) in [
        ("trigger", Side::Trigger),
        ("trigger + subscriber", Side::Feed),
    ] {
        let t = &times[which as usize];
        if t.is_empty() {
            continue;
        }
        let label = if db.get_database_backend() == DbBackend::Sqlite && which == Side::Feed {
            "subscriber (polling)"
        } else {
            label
        };
        let ratios: Vec<f64> = t.iter().zip(base).map(|(a, b)| a / b).collect();
        println!(
            "| {name} | {label} | {} | {:.0} | {:.0} | {:.3} |",
            s.rounds,
            median(base.clone()),
            median(t.clone()),
            median(ratios),
        );
    }
}

fn main() {
    let s = Sizes::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("REVY_BENCH_POSTGRES_URL") {
        backends.push(("postgres", Some(url)));
    }
    let dbs: Vec<_> = backends
        .into_iter()
        .map(|(name, url)| (name, rt.block_on(connect(name, url))))
        .collect();
    println!("### Commit-to-subscriber latency\n");
    println!("| backend | wake-up | samples | p50 ms | p99 ms | max ms | mean ms |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, (db, _)) in dbs.iter() {
        rt.block_on(latency(name, db, s.samples));
    }
    println!("\n### Tracked insert (own transaction), feed on vs off\n");
    println!("| backend | with | rounds | off µs/insert | on µs/insert | ratio (median) |");
    println!("|---|---|---:|---:|---:|---:|");
    for (name, (db, _)) in dbs.iter() {
        rt.block_on(write_cost(name, db, &s));
    }
    for (_, (_, file)) in dbs.iter() {
        if let Some(path) = file {
            for suffix in ["", "-wal", "-shm"] {
                let mut f = path.clone().into_os_string();
                f.push(suffix);
                let _ = std::fs::remove_file(f);
            }
        }
    }
}
