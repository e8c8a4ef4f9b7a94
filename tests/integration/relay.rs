//! The NATS relay (`revy::nats`), against the real JetStream server on
//! 127.0.0.1:4222: every committed revision in the stream exactly once,
//! per-row order kept, across restarts at random points; rollbacks never;
//! a late commit on PostgreSQL not skipped. Each test run has a stream and
//! subjects of its own, so the tests run in parallel.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::entities::account;
use crate::common::{Backend, TestDb, begin};
use futures_util::StreamExt;
use revy::entity::revision;
use revy::nats::async_nats::{self, jetstream};
use revy::nats::{Message, Relay};
use revy::{Actor, Context};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, Set,
};

const NATS: &str = "127.0.0.1:4222";

/// The NATS client; `None` (the test skips) when the server is down
/// outside CI. In CI a missing server fails the test.
async fn nats() -> Option<async_nats::Client> {
    match async_nats::connect(NATS).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("NATS with JetStream is not reachable on {NATS}: {e}")
        }
        Err(e) => {
            eprintln!("skipped: NATS is not reachable on {NATS}: {e}");
            None
        }
    }
}

/// A relay with a stream and subjects of this test and backend alone, and
/// its stream's name.
fn relay(test: &str, backend: Backend) -> (Relay, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("{test}_{backend:?}_{}_{nanos}", std::process::id()).to_lowercase();
    let relay = Relay::new()
        .subject_prefix(format!("t.{id}"))
        .stream(id.to_uppercase())
        .name(id.clone())
        .gap_grace(Duration::from_millis(50))
        .batch_size(200);
    (relay, id.to_uppercase())
}

/// Every message of the stream, in stream order, with its `Nats-Msg-Id`.
async fn read_stream(client: &async_nats::Client, stream: &str) -> Vec<(String, Message)> {
    let js = jetstream::new(client.clone());
    let mut s = js.get_stream(stream).await.unwrap();
    let count = s.info().await.unwrap().state.messages as usize;
    let consumer = s
        .create_consumer(jetstream::consumer::pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the stream's messages")
            .unwrap()
            .unwrap();
        let headers = m.headers.as_ref().expect("headers");
        let id = headers
            .iter()
            .find(|(k, _)| k.as_ref() as &str == "Nats-Msg-Id")
            .and_then(|(_, v)| v.first())
            .unwrap_or_else(|| panic!("no Nats-Msg-Id in {headers:?}"))
            .to_string();
        out.push((id, Message::from_json(&m.payload).unwrap()));
    }
    out
}

/// Waits until the stream holds `n` messages (60 s at most).
async fn wait_for(client: &async_nats::Client, stream: &str, n: u64) {
    let js = jetstream::new(client.clone());
    let start = Instant::now();
    loop {
        if let Ok(mut s) = js.get_stream(stream).await {
            let have = s.info().await.unwrap().state.messages;
            assert!(have <= n, "{have} messages for {n} revisions");
            if have == n {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the relay stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn delete_stream(client: &async_nats::Client, stream: &str) {
    let _ = jetstream::new(client.clone()).delete_stream(stream).await;
}

fn new_account(id: i32) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(format!("A-{id}")),
        is_active: Set(true),
        ..Default::default()
    }
}

/// `tasks` tasks each commit `per_task` revisions (an update of one of 4
/// shared rows and an insert), retrying on lock conflicts; every fifth
/// task also rolls one transaction back (account 900_000 + task).
async fn write(db: &DatabaseConnection, tasks: i32, per_task: i32) {
    let mut writers = Vec::new();
    for task in 0..tasks {
        let db = db.clone();
        writers.push(tokio::spawn(
            Context::via_actor(Some(Actor::new("task", task))).scope(async move {
                for n in 0..per_task {
                    loop {
                        let result = async {
                            let txn = begin(&db).await?;
                            let shared = account::Entity::find_by_id(1 + (task + n) % 4)
                                .one(&txn)
                                .await?
                                .unwrap();
                            let mut am = shared.into_active_model();
                            am.name = Set(Some(format!("{task}-{n}")));
                            am.update(&txn).await?;
                            new_account(10_000 + task * 1000 + n).insert(&txn).await?;
                            txn.commit().await
                        }
                        .await;
                        match result {
                            Ok(()) => break,
                            Err(e)
                                if e.to_string().contains("database is locked")
                                    || e.to_string().contains("Deadlock")
                                    || e.to_string().contains("deadlock") =>
                            {
                                tokio::time::sleep(Duration::from_millis(2)).await
                            }
                            Err(e) => panic!("task {task}: {e}"),
                        }
                    }
                    if task % 5 == 0 && n == per_task / 2 {
                        // a rolled-back insert; SQLite's write lock may
                        // outwait its busy timeout under load: try again
                        loop {
                            let rolled_back = async {
                                let txn = begin(&db).await?;
                                new_account(900_000 + task).insert(&txn).await?;
                                txn.rollback().await
                            }
                            .await;
                            match rolled_back {
                                Ok(()) => break,
                                Err(e) if e.to_string().contains("database is locked") => {
                                    tokio::time::sleep(Duration::from_millis(2)).await
                                }
                                Err(e) => panic!("task {task}: {e}"),
                            }
                        }
                    }
                }
            }),
        ));
    }
    for w in writers {
        w.await.unwrap();
    }
}

async fn seed(t: &TestDb) {
    t.create_table(account::Entity).await;
    for id in 1..=4 {
        Context::new()
            .scope(new_account(id).insert(&t.db))
            .await
            .unwrap();
    }
}

/// Each revision of the journal exactly once (by `Nats-Msg-Id` and by
/// revision id), per row in the order the changes were made, no rolled-back
/// account.
async fn assert_stream_matches_journal(db: &DatabaseConnection, messages: &[(String, Message)]) {
    let journal = revision::Entity::find().count(db).await.unwrap() as usize;
    assert_eq!(messages.len(), journal, "one message per revision");
    let ids: HashSet<&str> = messages.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), journal, "no Nats-Msg-Id twice");
    let revisions: HashSet<i64> = messages.iter().map(|(_, m)| m.revision.id).collect();
    assert_eq!(revisions.len(), journal, "no revision twice");
    let mut last: HashMap<String, i64> = HashMap::new();
    for (id, m) in messages {
        assert_eq!(*id, Relay::msg_id(m.revision.id, m.position));
        for d in &m.deltas {
            assert!(
                d.content_id.parse::<i32>().unwrap() < 900_000,
                "a rolled-back row"
            );
            let key = format!("{}/{}", d.content_type, d.content_id);
            let prev = last.insert(key.clone(), d.id).unwrap_or(0);
            assert!(prev < d.id, "{key}: delta {} after {prev}", d.id);
        }
    }
}

/// 10,000 revisions in CI (2,000 elsewhere, to keep a local `cargo test`
/// short) from 20 concurrent tasks, relayed while they are written: each
/// in JetStream exactly once, per-row order kept, rollbacks absent, the
/// cursor stored.
async fn relay_every_revision_once(t: TestDb) {
    let Some(client) = nats().await else { return };
    seed(&t).await;
    let (relay, stream) = relay("once", t.backend);
    let task = {
        let (db, relay, client) = (t.db.clone(), relay.clone(), client.clone());
        tokio::spawn(async move { relay.run(&db, client).await })
    };
    let per_task = if std::env::var("CI").as_deref() == Ok("true") {
        500
    } else {
        100
    };
    write(&t.db, 20, per_task).await;
    let journal = revision::Entity::find().count(&t.db).await.unwrap();
    assert!(journal >= 4 + 20 * per_task as u64, "{journal} revisions");
    wait_for(&client, &stream, journal).await;
    task.abort();
    let messages = read_stream(&client, &stream).await;
    assert_stream_matches_journal(&t.db, &messages).await;
    assert!(
        revy::nats::load_cursor(&t.db, &stream.to_lowercase())
            .await
            .unwrap()
            > 0
    );
    delete_stream(&client, &stream).await;
}

/// The relay task dropped at pseudo-random points while writers run, and
/// restarted from its stored cursor each time: JetStream's duplicate
/// window drops the re-publishes, so every revision is there exactly once.
async fn relay_restarted_at_random_points(t: TestDb) {
    let Some(client) = nats().await else { return };
    seed(&t).await;
    let (relay, stream) = relay("restart", t.backend);
    let writers = {
        let db = t.db.clone();
        tokio::spawn(async move { write(&db, 10, 50).await })
    };
    let mut seed_rng = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut restarts = 0;
    while !writers.is_finished() || restarts < 5 {
        let task = {
            let (db, relay, client) = (t.db.clone(), relay.clone(), client.clone());
            tokio::spawn(async move { relay.run(&db, client).await })
        };
        // xorshift: a different cut each time, no dependency
        seed_rng ^= seed_rng << 13;
        seed_rng ^= seed_rng >> 7;
        seed_rng ^= seed_rng << 17;
        tokio::time::sleep(Duration::from_millis(1 + seed_rng % 60)).await;
        task.abort();
        let _ = task.await;
        restarts += 1;
    }
    writers.await.unwrap();
    let journal = revision::Entity::find().count(&t.db).await.unwrap();
    assert!(journal >= 4 + 500, "{journal} revisions");
    // a last run, until everything is in (a gap can hold a drain back)
    let task = {
        let (db, relay, client) = (t.db.clone(), relay.clone(), client.clone());
        tokio::spawn(async move { relay.run(&db, client).await })
    };
    wait_for(&client, &stream, journal).await;
    task.abort();
    let messages = read_stream(&client, &stream).await;
    assert_stream_matches_journal(&t.db, &messages).await;
    eprintln!("{restarts} restarts");
    delete_stream(&client, &stream).await;
}

/// PostgreSQL hands out ids to a transaction that commits after a later
/// one: the relay waits for it, then delivers both.
async fn relay_late_commit_delivers_both(t: TestDb) {
    if t.backend != Backend::Postgres {
        return; // SQLite writes one at a time; MariaDB's feed tests cover the rest
    }
    let Some(client) = nats().await else { return };
    t.create_table(account::Entity).await;
    let db = &t.db;
    let (relay, stream) = relay("late", t.backend);
    let early = begin(db).await.unwrap();
    Context::new()
        .scope(new_account(2).insert(&early))
        .await
        .unwrap();
    let late = begin(db).await.unwrap();
    Context::new()
        .scope(new_account(3).insert(&late))
        .await
        .unwrap();
    late.commit().await.unwrap();
    // drain waits for the running transaction's ids: nothing is published
    let waiting =
        tokio::time::timeout(Duration::from_millis(500), relay.drain(db, client.clone())).await;
    assert!(
        waiting.is_err(),
        "drain returned past a running transaction"
    );
    let js = jetstream::new(client.clone());
    let held = js
        .get_stream(&stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(held, 0, "skipped past a running transaction");
    early.commit().await.unwrap();
    assert_eq!(relay.drain(db, client.clone()).await.unwrap(), 2);
    let messages = read_stream(&client, &stream).await;
    let rows: Vec<&str> = messages
        .iter()
        .flat_map(|(_, m)| m.deltas.iter().map(|d| d.content_id.as_str()))
        .collect();
    assert_eq!(rows, ["2", "3"]);
    delete_stream(&client, &stream).await;
}

/// The cursor table: created twice without error, a cursor absent reads 0,
/// stored, moved, and each name apart.
async fn cursor_table_on_every_backend(t: TestDb) {
    use revy::nats::{install_cursors, load_cursor, store_cursor};
    let db = &t.db;
    install_cursors(db).await.unwrap();
    install_cursors(db).await.unwrap();
    assert_eq!(load_cursor(db, "a").await.unwrap(), 0);
    store_cursor(db, "a", 41).await.unwrap();
    store_cursor(db, "b", 7).await.unwrap();
    store_cursor(db, "a", 5_000_000_000).await.unwrap();
    assert_eq!(load_cursor(db, "a").await.unwrap(), 5_000_000_000);
    assert_eq!(load_cursor(db, "b").await.unwrap(), 7);
}

/// A relay whose cursor went back (restored from a backup, or lost before
/// it was stored) publishes everything again; JetStream's duplicate window
/// drops every re-publish, and the cursor comes back where it was.
async fn a_republish_is_dropped_as_duplicate(t: TestDb) {
    let Some(client) = nats().await else { return };
    seed(&t).await;
    write(&t.db, 2, 10).await;
    let (relay, stream) = relay("dup", t.backend);
    let journal = revision::Entity::find().count(&t.db).await.unwrap();
    assert_eq!(relay.drain(&t.db, client.clone()).await.unwrap(), journal);
    let name = stream.to_lowercase();
    let cursor = revy::nats::load_cursor(&t.db, &name).await.unwrap();
    revy::nats::store_cursor(&t.db, &name, 0).await.unwrap();
    let again = relay.drain(&t.db, client.clone()).await.unwrap();
    assert_eq!(again, journal, "everything published again");
    let messages = read_stream(&client, &stream).await;
    assert_stream_matches_journal(&t.db, &messages).await;
    assert_eq!(revy::nats::load_cursor(&t.db, &name).await.unwrap(), cursor);
    delete_stream(&client, &stream).await;
}

crate::backend_tests!(
    cursor_table_on_every_backend,
    a_republish_is_dropped_as_duplicate,
    relay_every_revision_once,
    relay_restarted_at_random_points,
    relay_late_commit_delivers_both,
);
