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
//! The insert, delete and cascade cases empty their tables and the journal
//! before each sample (outside the measurement), so the journal's size does
//! not drift with the number of iterations criterion picks.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use revy_core::{Actor, Context, LazyRevision};
use revy_seaorm::entity::{attribute_delta, object_delta, revision};
use revy_seaorm::{ObjectSnapshot, SelectSnapshotExt, Tracked, TrackedEntity};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, NotSet, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Schema, Set, TransactionTrait,
};
use serde_json::{Value as Json, json};
use tokio::runtime::Runtime;

/// Declares an 8-column entity; `tracked` or `plain` says whether its
/// active model carries revy's hooks.
macro_rules! item_entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub quantity: i32,
                pub count: i64,
                pub label: String,
                #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
                pub price: Decimal,
                pub created_at: DateTimeUtc,
                pub active: bool,
                pub note: Option<String>,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

/// A child row pointing at an item, for cascades.
macro_rules! child_entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub parent_id: i64,
                pub label: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

item_entity!(
    item,
    "bench_items",
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
);
item_entity!(plain_item, "bench_plain_items", impl ActiveModelBehavior for ActiveModel {});
child_entity!(
    child,
    "bench_children",
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
);
child_entity!(plain_child, "bench_plain_children", impl ActiveModelBehavior for ActiveModel {});

impl revy_seaorm::DeletionPolicies for item::Entity {
    fn on_delete() -> Vec<revy_seaorm::ChildPolicy> {
        vec![revy_seaorm::ChildPolicy::new(
            child::Column::ParentId,
            revy_seaorm::OnDelete::Cascade,
        )]
    }
}
impl revy_seaorm::DeletionPolicies for child::Entity {}

/// What the benchmarks do with either item table.
trait Item: TrackedEntity {
    /// A new row, numbered `i`.
    fn new_row(i: i64) -> Self::ActiveModel;
    /// `model` with two columns changed to values of round `round`.
    fn edit(model: Self::Model, round: i64) -> Self::ActiveModel;
}

macro_rules! impl_item {
    ($module:ident) => {
        impl Item for $module::Entity {
            fn new_row(i: i64) -> $module::ActiveModel {
                $module::ActiveModel {
                    id: NotSet,
                    quantity: Set(i as i32),
                    count: Set(i * 1_000),
                    label: Set(format!("item {i}")),
                    price: Set(Decimal::new(i * 100 + 99, 2)),
                    created_at: Set(Utc.timestamp_opt(1_700_000_000 + i, 0).unwrap()),
                    active: Set(i % 2 == 0),
                    note: Set((i % 3 == 0).then(|| format!("note {i}"))),
                }
            }

            fn edit(model: $module::Model, round: i64) -> $module::ActiveModel {
                let mut am = model.into_active_model();
                am.quantity = Set(round as i32);
                am.label = Set(format!("round {round}"));
                am
            }
        }
    };
}
impl_item!(item);
impl_item!(plain_item);

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
    attribute_delta::Entity::delete_many()
        .exec(db)
        .await
        .unwrap();
    object_delta::Entity::delete_many().exec(db).await.unwrap();
    revision::Entity::delete_many().exec(db).await.unwrap();
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

/// A number that grows across the whole run, so every update changes values.
fn next_round() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static ROUND: AtomicI64 = AtomicI64::new(1);
    ROUND.fetch_add(1, Ordering::Relaxed)
}

async fn insert_rows<E: Item>(db: &DatabaseConnection, n: u64) -> Vec<E::Model> {
    context()
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

fn bench_insert(c: &mut Criterion, rt: &Runtime, b: &Backend, s: Sizes) {
    let db = &b.db;
    let mut group = s.slow_group(c, format!("{}/insert", b.name));
    fn batch<E: Item>(rt: &Runtime, db: &DatabaseConnection, n: u64, iters: u64) -> Duration {
        rt.block_on(clear(db));
        timed(rt, iters, |_| async move {
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
    group.bench_function(format!("plain/{id}"), |bench| {
        bench.iter_custom(|iters| batch::<plain_item::Entity>(rt, db, s.batch, iters))
    });
    group.finish();

    let mut group = s.fast_group(c, format!("{}/insert", b.name));
    group.throughput(Throughput::Elements(1));
    group.bench_function("tracked/row_per_txn", |bench| {
        bench.iter_custom(|iters| batch::<item::Entity>(rt, db, 1, iters))
    });
    group.bench_function("plain/row_per_txn", |bench| {
        bench.iter_custom(|iters| batch::<plain_item::Entity>(rt, db, 1, iters))
    });
    group.finish();
}

/// Updates two columns of each row in one transaction, keeping the rows current.
async fn update_rows<E: Item>(db: &DatabaseConnection, rows: &mut [E::Model]) -> Duration {
    let start = Instant::now();
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            for row in rows.iter_mut() {
                *row = E::edit(row.clone(), next_round())
                    .update(&txn)
                    .await
                    .unwrap();
            }
            txn.commit().await.unwrap();
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
            let start = Instant::now();
            context()
                .scope(async {
                    let txn = db.begin().await.unwrap();
                    for row in rows {
                        row.into_active_model().delete(&txn).await.unwrap();
                    }
                    txn.commit().await.unwrap();
                })
                .await;
            start.elapsed()
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

/// Journal rows of one object delta, written straight to the tables.
struct SeedDelta {
    content_id: String,
    action: &'static str,
    /// Per column: name, old value, new value.
    columns: Vec<(&'static str, Json, Json)>,
}

/// Writes object deltas of `content_type` with their attribute deltas in
/// bulk (1,000 object deltas a revision), bypassing the hooks: how the
/// large histories are built in seconds.
async fn seed<C: ConnectionTrait>(db: &C, content_type: &str, deltas: Vec<SeedDelta>) {
    const CHUNK: usize = 1_000;
    let now = Utc::now();
    let mut deltas = deltas.into_iter().peekable();
    while deltas.peek().is_some() {
        let chunk: Vec<SeedDelta> = deltas.by_ref().take(CHUNK).collect();
        let revision_id = revision::Entity::insert(revision::ActiveModel {
            id: NotSet,
            description: Set("bench seed".into()),
            meta: Set(None),
            created_at: Set(now),
        })
        .exec(db)
        .await
        .unwrap()
        .last_insert_id;
        let objects = chunk.iter().map(|d| object_delta::ActiveModel {
            id: NotSet,
            revision_id: Set(revision_id),
            actor_type: Set(None),
            actor_id: Set(None),
            action: Set(d.action.into()),
            description: Set(String::new()),
            content_type: Set(content_type.into()),
            content_id: Set(d.content_id.clone()),
            created_at: Set(now),
        });
        object_delta::Entity::insert_many(objects)
            .exec_without_returning(db)
            .await
            .unwrap();
        // ids follow the order of the rows of one multi-row insert
        let ids: Vec<i64> = object_delta::Entity::find()
            .select_only()
            .column(object_delta::Column::Id)
            .filter(object_delta::Column::RevisionId.eq(revision_id))
            .order_by_asc(object_delta::Column::Id)
            .into_tuple()
            .all(db)
            .await
            .unwrap();
        assert_eq!(ids.len(), chunk.len());
        let attributes: Vec<attribute_delta::ActiveModel> = ids
            .iter()
            .zip(&chunk)
            .flat_map(|(id, d)| {
                d.columns
                    .iter()
                    .map(move |(field, old, new)| attribute_delta::ActiveModel {
                        id: NotSet,
                        object_delta_id: Set(*id),
                        revision_id: Set(revision_id),
                        actor_type: Set(None),
                        actor_id: Set(None),
                        action: Set(if new.is_null() { "Unset" } else { "Set" }.into()),
                        description: Set(String::new()),
                        content_type: Set(content_type.into()),
                        content_id: Set(d.content_id.clone()),
                        field_name: Set((*field).into()),
                        old_value: Set(old.clone()),
                        new_value: Set(new.clone()),
                        created_at: Set(now),
                    })
            })
            .collect();
        for part in attributes.chunks(CHUNK) {
            attribute_delta::Entity::insert_many(part.to_vec())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
    }
}

/// Refreshes the planner's statistics after a bulk load, as autovacuum or
/// InnoDB's automatic statistics would in a database that grew over time:
/// without it PostgreSQL plans lookups in the just-filled journal as scans
/// of an empty table. On PostgreSQL it also vacuums and checkpoints, so
/// that neither autovacuum nor the checkpointer wakes up for the new rows in
/// the middle of a measurement. SQLite keeps no statistics unless asked to.
async fn analyze(db: &DatabaseConnection) {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "VACUUM ANALYZE revy_revisions, revy_object_deltas, revy_attribute_deltas, bench_items, bench_children"
        }
        DbBackend::MySql => {
            "ANALYZE TABLE revy_revisions, revy_object_deltas, revy_attribute_deltas, bench_items, bench_children"
        }
        _ => return,
    };
    db.execute_unprepared(sql).await.unwrap();
    if db.get_database_backend() == DbBackend::Postgres {
        // needs a superuser or pg_checkpoint; without, the bench is noisier
        let _ = db.execute_unprepared("CHECKPOINT").await;
    }
}

/// `n` updates of two columns, as a tracked update of `Item::edit` records them.
fn updates(content_id: &str, n: u64) -> impl Iterator<Item = SeedDelta> + '_ {
    (1..=n as i64).map(move |round| SeedDelta {
        content_id: content_id.to_owned(),
        action: "Update",
        columns: vec![
            ("quantity", json!(round - 1), json!(round)),
            (
                "label",
                json!(format!("round {}", round - 1)),
                json!(format!("round {round}")),
            ),
        ],
    })
}

/// A tracked item with `history` object deltas (its Create, then updates);
/// returns the live row and its newest object delta.
async fn item_with_history(db: &DatabaseConnection, history: u64) -> (item::Model, i64) {
    let row = insert_rows::<item::Entity>(db, 1).await.remove(0);
    let txn = db.begin().await.unwrap();
    let content_id = row.id.to_string();
    seed(
        &txn,
        "bench_items",
        updates(&content_id, history - 1).collect(),
    )
    .await;
    txn.commit().await.unwrap();
    analyze(db).await;
    let newest = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::Id)
        .filter(object_delta::Column::ContentType.eq("bench_items"))
        .filter(object_delta::Column::ContentId.eq(content_id))
        .order_by_desc(object_delta::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (row, newest)
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
}

/// A tracked parent whose `n` children have their Create in the journal.
async fn family(db: &DatabaseConnection, n: u64) -> item::Model {
    let parent = insert_rows::<item::Entity>(db, 1).await.remove(0);
    let txn = db.begin().await.unwrap();
    for start in (0..n).step_by(1_000) {
        let rows = (start..n.min(start + 1_000)).map(|i| child::ActiveModel {
            id: NotSet,
            parent_id: Set(parent.id),
            label: Set(format!("child {i}")),
        });
        child::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .unwrap();
    }
    let children = child::Entity::find()
        .filter(child::Column::ParentId.eq(parent.id))
        .all(&txn)
        .await
        .unwrap();
    let creates = children
        .iter()
        .map(|c| SeedDelta {
            content_id: c.id.to_string(),
            action: "Create",
            columns: vec![
                ("id", Json::Null, json!(c.id)),
                ("parent_id", Json::Null, json!(c.parent_id)),
                ("label", Json::Null, json!(c.label)),
            ],
        })
        .collect();
    seed(&txn, "bench_children", creates).await;
    txn.commit().await.unwrap();
    analyze(db).await;
    parent
}

async fn plain_family(db: &DatabaseConnection, n: u64) -> i64 {
    let parent = insert_rows::<plain_item::Entity>(db, 1).await.remove(0);
    for start in (0..n).step_by(1_000) {
        let rows = (start..n.min(start + 1_000)).map(|i| plain_child::ActiveModel {
            id: NotSet,
            parent_id: Set(parent.id),
            label: Set(format!("child {i}")),
        });
        plain_child::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    parent.id
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
                    .scope(revy_seaorm::delete(db, parent))
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
    for backend in &backends {
        assert_eq!(
            backend.db.get_database_backend(),
            match backend.name {
                "sqlite" => DbBackend::Sqlite,
                "postgres" => DbBackend::Postgres,
                _ => DbBackend::MySql,
            }
        );
        bench_insert(&mut c, &rt, backend, sizes);
        bench_update(&mut c, &rt, backend, sizes);
        bench_delete(&mut c, &rt, backend, sizes);
        bench_snapshot(&mut c, &rt, backend, sizes);
        bench_cascade(&mut c, &rt, backend, sizes);
    }
    bench_set(&mut c, sizes);
    c.final_summary();
    for backend in backends {
        if let Some(file) = backend.file {
            let _ = std::fs::remove_file(file);
        }
    }
}
