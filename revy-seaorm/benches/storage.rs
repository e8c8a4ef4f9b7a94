//! Journal bytes per change (issue 26): 10,000 inserts and 10,000
//! two-column updates of the benches' 8-column item, one transaction each,
//! then the size of the journal tables (indexes included) over the number
//! of changes, next to the size of the data table itself.
//!
//! ```sh
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! REVY_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo bench -p revy-seaorm --bench storage
//! ```
//!
//! Sizes as each server counts them: PostgreSQL `pg_total_relation_size`
//! (heap, indexes and TOAST, after `VACUUM`), MariaDB `data_length +
//! index_length` (after `ANALYZE TABLE`; InnoDB counts whole pages), SQLite
//! the `dbstat` pages of each table and its indexes. SQLite always runs;
//! the servers when their URL is set. A measurement, not a timing: it
//! prints one line per backend. `--test` or `REVY_BENCH_QUICK=1` runs 200
//! changes instead.
//!
//! The journal is one row per change (the object delta, its attribute
//! deltas inline) plus its revision; checkpoints (every 16th version of an
//! object) would be in it, but each row here reaches version 2 only.

use revy_core::{Actor, Context};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, Schema, Statement,
    TransactionTrait,
};

#[allow(dead_code)]
#[macro_use]
#[path = "tracking/entities.rs"]
mod entities;

use entities::{Item, item};

/// The journal's tables.
const JOURNAL: [&str; 2] = ["revy_revisions", "revy_object_deltas"];
/// The data table.
const DATA: &str = "bench_items";
/// The database (PostgreSQL, MariaDB) or file (SQLite) the run makes afresh.
const NAME: &str = "revy_bench_storage";

pub(crate) type Failure = Box<dyn std::error::Error>;

fn quick() -> bool {
    std::env::args().any(|a| a == "--test")
        || std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// A fresh database named [`NAME`] on the server `url` names.
async fn fresh(url: &str) -> Result<DatabaseConnection, Failure> {
    let server = Database::connect(url).await?;
    server
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {NAME}"))
        .await?;
    server
        .execute_unprepared(&format!("CREATE DATABASE {NAME}"))
        .await?;
    server.close().await?;
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server_part = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
    Ok(Database::connect(format!("{server_part}/{NAME}{query}")).await?)
}

/// Writes `n` inserts and `n` two-column updates, each in a transaction
/// of its own, as a user (the actor) would.
async fn workload(db: &DatabaseConnection, n: i64) -> Result<(), Failure> {
    Context::via_actor(Some(Actor::new("users", 42)))
        .scope(async {
            let mut rows = Vec::with_capacity(n as usize);
            for i in 0..n {
                let txn = db.begin().await?;
                rows.push(item::Entity::new_row(i).insert(&txn).await?);
                txn.commit().await?;
            }
            for (round, row) in rows.into_iter().enumerate() {
                let txn = db.begin().await?;
                item::Entity::edit(row, round as i64 + 1)
                    .update(&txn)
                    .await?;
                txn.commit().await?;
            }
            Ok::<_, Failure>(())
        })
        .await
}

pub(crate) async fn one_number(db: &DatabaseConnection, sql: &str) -> Result<i64, Failure> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or("no row")?;
    // servers type a sum differently: try the likely ones
    Ok(row
        .try_get::<i64>("", "n")
        .or_else(|_| {
            row.try_get::<rust_decimal::Decimal>("", "n")
                .map(|d| d.try_into().unwrap_or(i64::MAX))
        })
        .or_else(|_| row.try_get::<u64>("", "n").map(|n| n as i64))?)
}

/// Bytes the server uses for `tables`, indexes included.
pub(crate) async fn bytes(db: &DatabaseConnection, tables: &[&str]) -> Result<i64, Failure> {
    let list = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => format!(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS n FROM pg_class c \
             JOIN pg_namespace s ON s.oid = c.relnamespace \
             WHERE s.nspname = current_schema() AND c.relkind = 'r' AND c.relname IN ({list})"
        ),
        DbBackend::MySql => format!(
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) AS n \
             FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name IN ({list})"
        ),
        _ => format!(
            "SELECT COALESCE(SUM(d.pgsize), 0) AS n FROM dbstat d \
             JOIN sqlite_master m ON d.name = m.name WHERE m.tbl_name IN ({list})"
        ),
    };
    one_number(db, &sql).await
}

/// Lets each server bring its size figures up to date.
async fn settle(db: &DatabaseConnection) -> Result<(), Failure> {
    let all: Vec<&str> = JOURNAL.iter().copied().chain([DATA]).collect();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            for t in all {
                db.execute_unprepared(&format!("VACUUM ANALYZE {t}"))
                    .await?;
            }
        }
        DbBackend::MySql => {
            for t in all {
                db.execute_unprepared(&format!("ANALYZE TABLE {t}")).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn measure(label: &str, db: DatabaseConnection, n: i64) -> Result<(), Failure> {
    revy_seaorm::install(&db).await?;
    let backend = db.get_database_backend();
    db.execute(&Schema::new(backend).create_table_from_entity(item::Entity))
        .await?;
    workload(&db, n).await?;
    settle(&db).await?;
    let journal = bytes(&db, &JOURNAL).await?;
    let data = bytes(&db, &[DATA]).await?;
    let changes = 2 * n;
    let rows: Vec<String> = {
        let mut out = Vec::new();
        for t in JOURNAL {
            let count = one_number(&db, &format!("SELECT COUNT(*) AS n FROM {t}")).await?;
            out.push(format!("{t} {count} rows"));
        }
        out
    };
    println!(
        "storage/{label}: {changes} changes, journal {journal} bytes = {:.0} bytes per change \
         ({:.1}x the data table's {data} bytes; {})",
        journal as f64 / changes as f64,
        journal as f64 / data.max(1) as f64,
        rows.join(", "),
    );
    checkpoint_cost(label, &db).await?;
    db.close().await?;
    Ok(())
}

/// What a checkpoint adds: ten rows taken on to version 17, where each
/// gets one, and the length of the state it carries next to a create's
/// entries. Spaced K versions apart, checkpoints add that length over K
/// to each change (BENCHMARKS.md "Checkpoint spacing"). Measured after
/// the sizes above, so they do not count these rows.
async fn checkpoint_cost(label: &str, db: &DatabaseConnection) -> Result<(), Failure> {
    use revy_seaorm::entity::object_delta;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let rows = item::Entity::find()
        .order_by_asc(item::Column::Id)
        .all(db)
        .await?;
    Context::via_actor(Some(Actor::new("users", 42)))
        .scope(async {
            for row in rows.into_iter().take(10) {
                let mut row = row;
                // rounds the workload did not use, so that no edit is a
                // no-op (which writes no delta)
                for round in 1_000..1_015 {
                    let txn = db.begin().await?;
                    row = item::Entity::edit(row, round).update(&txn).await?;
                    txn.commit().await?;
                }
            }
            Ok::<_, Failure>(())
        })
        .await?;
    let checkpoints = object_delta::Entity::find()
        .filter(object_delta::Column::State.is_not_null())
        .all(db)
        .await?;
    let creates = object_delta::Entity::find()
        .filter(object_delta::Column::Version.eq(1))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await?;
    let mean =
        |lengths: Vec<usize>| lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
    let state = mean(
        checkpoints
            .iter()
            .map(|d| d.state.as_deref().map_or(0, str::len))
            .collect(),
    );
    let create = mean(creates.iter().take(10).map(|d| d.changes.len()).collect());
    println!(
        "storage/{label}: {} checkpoints, state {state:.0} bytes each (a create's entries: \
         {create:.0}); per change at K = 4 / 8 / 16 / 32: {:.0} / {:.0} / {:.0} / {:.0} bytes",
        checkpoints.len(),
        state / 4.0,
        state / 8.0,
        state / 16.0,
        state / 32.0,
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let n = if quick() { 100 } else { 10_000 };
    let file = std::env::temp_dir().join(format!("{NAME}-{}.db", std::process::id()));
    let sqlite = Database::connect(format!("sqlite://{}?mode=rwc", file.display())).await?;
    let result = measure("sqlite", sqlite, n).await;
    let _ = std::fs::remove_file(&file);
    result?;
    if let Ok(url) = std::env::var("REVY_BENCH_POSTGRES_URL") {
        measure("postgres", fresh(&url).await?, n).await?;
    }
    if let Ok(url) = std::env::var("REVY_BENCH_MYSQL_URL") {
        measure("mariadb", fresh(&url).await?, n).await?;
    }
    Ok(())
}
