//! What an erasure costs (issue 29): `revy::lifecycle::erase` of one object with
//! 1,000 deltas (a checkpoint every 16), and `revy::lifecycle::erase_all` of 10,000
//! objects, each next to plain sea-orm rewriting the same number of rows
//! of a table of its own (one `UPDATE` by key per row in one transaction:
//! the floor of any rewrite of those rows); then 1,000 objects erased one
//! `erase` (one transaction) each. Tamper evidence is on.
//!
//! ```sh
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! REVY_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo bench -p revy-seaorm --bench erase
//! ```
//!
//! Not criterion: an erasure destroys what it measures, so each round seeds
//! the history again and times the erasure alone; the table gives the
//! median of the rounds. `--test` or `REVY_BENCH_QUICK=1` runs small sizes.

use std::time::{Duration, Instant};

use revy_core::Context;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder,
    Schema, Set, TransactionTrait,
};

#[allow(dead_code)]
#[macro_use]
#[path = "tracking/entities.rs"]
mod entities;

use entities::{Item, item, plain_item};

type Failure = Box<dyn std::error::Error>;

const NAME: &str = "revy_bench_erase";

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

async fn reset(db: &DatabaseConnection) -> Result<(), Failure> {
    for table in [
        "revy_tags",
        "revy_erasures",
        "revy_object_deltas",
        "revy_revisions",
        "bench_items",
        "bench_plain_items",
    ] {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await?;
    }
    revy_seaorm::install(db).await?;
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(item::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(plain_item::Entity))
        .await?;
    Ok(())
}

/// One item with `versions` deltas, each update in a transaction of its
/// own (where the writer keeps checkpoints).
async fn one_long_history(db: &DatabaseConnection, versions: i64) -> Result<i64, Failure> {
    let row = Context::new()
        .scope(item::Entity::new_row(1).insert(db))
        .await?;
    let id = row.id;
    let mut row = row;
    for round in 1..versions {
        let txn = db.begin().await?;
        row = Context::new()
            .scope(item::Entity::edit(row, round).update(&txn))
            .await?;
        txn.commit().await?;
    }
    Ok(id)
}

/// `n` items, inserted tracked in bulk (one create delta each).
async fn many_objects(db: &DatabaseConnection, n: i64) -> Result<Vec<i64>, Failure> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        Context::new()
            .scope(
                revy_seaorm::bulk::insert_many::<item::Entity>(
                    chunk.iter().map(|i| item::Entity::new_row(*i)),
                )
                .exec(db),
            )
            .await?;
    }
    Ok(item::Entity::find()
        .order_by_asc(item::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// The floor: plain sea-orm rewrites `n` rows, one `UPDATE` by key each,
/// in one transaction.
async fn plain_rewrite(db: &DatabaseConnection, n: i64) -> Result<Duration, Failure> {
    plain_item::Entity::delete_many().exec(db).await?;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        plain_item::Entity::insert_many(chunk.iter().map(|i| plain_item::Entity::new_row(*i)))
            .exec(db)
            .await?;
    }
    let rows = plain_item::Entity::find().all(db).await?;
    let start = Instant::now();
    let txn = db.begin().await?;
    for row in rows {
        let mut am: plain_item::ActiveModel = row.into();
        am.label = Set("erased".into());
        am.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(label: &str, db: DatabaseConnection) -> Result<(), Failure> {
    let (versions, objects, rounds) = if quick() {
        (40, 50, 1)
    } else {
        (1000, 10_000, 3)
    };
    // one object with a long history
    let mut erased = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..rounds {
        reset(&db).await?;
        let id = one_long_history(&db, versions).await?;
        let start = Instant::now();
        let done = revy_seaorm::lifecycle::erase::<item::Entity>(id)
            .columns([item::Column::Label])
            .exec(&db)
            .await?;
        erased.push(start.elapsed());
        assert_eq!(done.deltas as i64, versions);
        plain.push(plain_rewrite(&db, versions).await?);
    }
    let (e, p) = (median(erased), median(plain));
    println!(
        "| {label} | one object, {versions} deltas | {:.1} ms | {:.1} ms | {:.2}x |",
        e.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3,
        e.as_secs_f64() / p.as_secs_f64()
    );
    // many objects in one call (transactions of ERASE_CHUNK_SIZE rows)
    reset(&db).await?;
    let ids = many_objects(&db, objects).await?;
    let start = Instant::now();
    let done = revy_seaorm::lifecycle::erase_all::<item::Entity>(ids)
        .columns([item::Column::Label])
        .exec(&db)
        .await?;
    let e = start.elapsed();
    assert_eq!(done.objects as i64, objects);
    let p = plain_rewrite(&db, objects).await?;
    println!(
        "| {label} | {objects} objects, `erase_all` | {:.0} ms ({:.0} µs each) | {:.0} ms | {:.2}x |",
        e.as_secs_f64() * 1e3,
        e.as_secs_f64() * 1e6 / objects as f64,
        p.as_secs_f64() * 1e3,
        e.as_secs_f64() / p.as_secs_f64()
    );
    // one object per call: what each `erase` costs as a transaction
    let singles = objects / 10;
    reset(&db).await?;
    let ids = many_objects(&db, singles).await?;
    let start = Instant::now();
    for id in ids {
        revy_seaorm::lifecycle::erase::<item::Entity>(id)
            .columns([item::Column::Label])
            .exec(&db)
            .await?;
    }
    let e = start.elapsed();
    println!(
        "| {label} | {singles} objects, one `erase` each | {:.0} ms ({:.0} µs each) | | |",
        e.as_secs_f64() * 1e3,
        e.as_secs_f64() * 1e6 / singles as f64,
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    revy_seaorm::tamper::enable();
    println!("| backend | case | erase | plain rewrite of as many rows | ratio |");
    println!("|---|---|---:|---:|---:|");
    let file = std::env::temp_dir().join(format!("{NAME}-{}.db", std::process::id()));
    let sqlite = Database::connect(format!("sqlite://{}?mode=rwc", file.display())).await?;
    let result = measure("sqlite", sqlite).await;
    let _ = std::fs::remove_file(&file);
    result?;
    if let Ok(url) = std::env::var("REVY_BENCH_POSTGRES_URL") {
        measure("postgres", fresh(&url).await?).await?;
    }
    if let Ok(url) = std::env::var("REVY_BENCH_MYSQL_URL") {
        measure("mariadb", fresh(&url).await?).await?;
    }
    Ok(())
}
