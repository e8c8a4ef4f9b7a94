//! Relay throughput: revisions per second from a SQLite journal into
//! JetStream, acknowledgments awaited and the cursor stored (`Relay::drain`
//! from cursor 0 into an empty stream). Needs NATS with JetStream on
//! 127.0.0.1:4222.
//!
//! ```sh
//! cargo bench -p revy-nats --bench relay              # 5,000 revisions
//! cargo bench -p revy-nats --bench relay -- --quick   # 500, a second
//! ```

use std::time::{Duration, Instant};

use async_nats::jetstream;
use criterion::{Criterion, Throughput};
use revy_core::Context;
use revy_nats::{Relay, store_cursor};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, Schema, Set};
use tokio::runtime::Runtime;

mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
    impl revy_seaorm::TrackingPolicy for Entity {}
}

const STREAM: &str = "REVY_BENCH_RELAY";

async fn seed(n: usize) -> DatabaseConnection {
    let path = std::env::temp_dir().join("revy-nats-bench-relay.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    revy_seaorm::install(&db).await.unwrap();
    let backend = db.get_database_backend();
    db.execute(&Schema::new(backend).create_table_from_entity(note::Entity))
        .await
        .unwrap();
    for i in 0..n {
        Context::new()
            .scope(
                note::ActiveModel {
                    title: Set(format!("note {i}")),
                    body: Set("lorem ipsum dolor sit amet".repeat(4)),
                    ..Default::default()
                }
                .insert(&db),
            )
            .await
            .unwrap();
    }
    db
}

fn relay(c: &mut Criterion) {
    let quick = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
        || std::env::args().any(|a| a == "--quick" || a == "--test");
    let n = if quick { 500 } else { 5_000 };
    let rt = Runtime::new().unwrap();
    let db = rt.block_on(seed(n));
    let client = rt
        .block_on(async_nats::connect("127.0.0.1:4222"))
        .expect("NATS with JetStream on 127.0.0.1:4222");
    let relay = Relay::new()
        .subject_prefix("revy_bench_relay")
        .stream(STREAM)
        .name("bench");
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 10 }));
    group.bench_function(format!("drain_{n}_revisions_sqlite"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // an empty stream and cursor 0: every revision is new to JetStream
                    let js = jetstream::new(client.clone());
                    let _ = js.delete_stream(STREAM).await;
                    store_cursor(&db, "bench", 0).await.ok();
                    let start = Instant::now();
                    let published = relay.drain(&db, client.clone()).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(published, n as u64);
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(async {
        let _ = jetstream::new(client.clone()).delete_stream(STREAM).await;
    });
}

criterion::criterion_group!(benches, relay);
criterion::criterion_main!(benches);
