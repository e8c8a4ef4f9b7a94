//! Reliability under concurrency: 2,000 tasks on a multi-thread runtime,
//! each with its own actor and description, inserting rows and updating
//! shared ones through one pool, with await points in between. Every delta
//! must carry its own task's actor and description, and per row the chain of
//! attribute deltas must be unbroken (each old value is the previous new one).

use std::collections::HashMap;

use crate::common::entities::account;
use crate::common::{self, TestDb, begin};
use revy::entity::object_delta;
use revy::{Actor, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

const TASKS: i64 = 2_000;
const SHARED_ROWS: i64 = 10;

/// One task's transaction: an insert of its own row, or an update of a
/// shared one; every other task in a queued transaction (`revy::begin`'s,
/// journal written at commit), so both paths race each other.
async fn attempt(db: &DatabaseConnection, i: i64, shared: &[i32]) -> Result<(), DbErr> {
    let txn = begin(db).await?;
    if i % 2 == 1 {
        let txn = revy::queued::Transaction::new(txn);
        work(&txn, i, shared).await?;
        tokio::task::yield_now().await;
        txn.commit().await
    } else {
        work(&txn, i, shared).await?;
        tokio::task::yield_now().await;
        txn.commit().await
    }
}

async fn work<C: ConnectionTrait>(txn: &C, i: i64, shared: &[i32]) -> Result<(), DbErr> {
    if i % 4 == 0 {
        account::ActiveModel {
            code: Set(format!("own-{i}")),
            is_active: Set(true),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    } else {
        let id = shared[(i % SHARED_ROWS) as usize];
        let row = account::Entity::find_by_id(id)
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("shared row {id}")))?;
        tokio::task::yield_now().await;
        let mut am = row.clone().into_active_model();
        am.balance = Set(row.balance + 1);
        am.name = Set(Some(format!("last by {i}")));
        am.update(txn).await?;
    }
    Ok(())
}

async fn task(db: DatabaseConnection, i: i64, shared: Vec<i32>) {
    let actor = Some(Actor::new("users", i));
    Context::via_actor(actor)
        .object_delta_description(format!("task {i}"))
        .attribute_delta_description(format!("task {i} attr"))
        .scope(async move {
            tokio::task::yield_now().await;
            // SQLite gives up waiting for its one write lock after its busy
            // timeout; an application retries, and so does this task. The
            // failed attempt rolled back whole, journal included.
            let sqlite = db.get_database_backend() == DbBackend::Sqlite;
            let mut tries = 0;
            loop {
                match attempt(&db, i, &shared).await {
                    Ok(()) => break,
                    Err(e)
                        if sqlite && e.to_string().contains("database is locked") && tries < 20 =>
                    {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    Err(e) => panic!("task {i}: {e}"),
                }
            }
        })
        .await;
}

async fn two_thousand_tasks_keep_their_actors_and_chains(t: TestDb) {
    run(t, false).await;
}

/// The same with tamper evidence on: each task seals what it writes, and
/// every row's hash chain verifies.
async fn two_thousand_sealed_tasks_keep_every_chain_whole(t: TestDb) {
    let db = t.db.clone();
    run(t, true).await;
    let verified = revy::tamper::verify(&db).await.unwrap();
    assert_eq!(verified.unsealed, 0);
    assert_eq!(verified.sealed, verified.object_deltas);
    assert!(verified.object_deltas > TASKS as u64);
}

async fn run(t: TestDb, sealed: bool) {
    t.create_table(account::Entity).await;
    let db = t.db.clone();
    let mut shared = Vec::new();
    for n in 0..SHARED_ROWS {
        let insert = account::ActiveModel {
            code: Set(format!("shared-{n}")),
            is_active: Set(true),
            ..Default::default()
        }
        .insert(&db);
        let row = revy::tamper::scope(sealed, Context::via_actor(None).scope(insert))
            .await
            .unwrap();
        shared.push(row.id);
    }
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            tokio::spawn(revy::tamper::scope(
                sealed,
                task(db.clone(), i, shared.clone()),
            ))
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }

    // no lost updates: each shared row counted its own updates
    let updates_per_row = (1..TASKS).filter(|i| i % 4 != 0).count() as i64;
    let total: i64 = account::Entity::find()
        .filter(account::Column::Id.is_in(shared.clone()))
        .all(&db)
        .await
        .unwrap()
        .iter()
        .map(|a| a.balance)
        .sum();
    assert_eq!(total, updates_per_row);

    // every delta carries its own task's actor and description
    let deltas = object_delta::Entity::find()
        .filter(object_delta::Column::ActorType.is_not_null())
        .all(&db)
        .await
        .unwrap();
    assert_eq!(deltas.len() as i64, TASKS);
    for d in &deltas {
        let i = d.actor_id.as_deref().unwrap();
        assert_eq!(d.description, format!("task {i}"), "delta {}", d.id);
    }
    // every inline entry, in the order written
    let entries = common::attribute_rows(&db).await;
    let attrs: Vec<&common::AttributeRow> =
        entries.iter().filter(|a| a.actor_type.is_some()).collect();
    let owner: HashMap<i64, &str> = deltas
        .iter()
        .map(|d| (d.id, d.actor_id.as_deref().unwrap()))
        .collect();
    for a in &attrs {
        let i = a.actor_id.as_deref().unwrap();
        assert_eq!(
            owner[&a.object_delta_id], i,
            "attribute delta {} of object delta {} of another task",
            a.field_name, a.object_delta_id
        );
        assert_eq!(a.description, format!("task {i} attr"));
    }

    // per shared row and column, an unbroken chain of values
    let mut broken = 0;
    for id in &shared {
        for field in ["balance", "name"] {
            let chain: Vec<&common::AttributeRow> = entries
                .iter()
                .filter(|a| {
                    a.content_type == "accounts"
                        && a.content_id == id.to_string()
                        && a.field_name == field
                })
                .collect();
            for pair in chain.windows(2) {
                if pair[1].old_value != pair[0].new_value {
                    broken += 1;
                }
            }
        }
    }
    assert_eq!(broken, 0, "attribute delta chains with a gap");

    // per row, versions 1, 2, .. in id order: no version twice, none skipped
    let all = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let mut newest: HashMap<&str, i64> = HashMap::new();
    for d in &all {
        let last = newest.entry(d.content_id.as_str()).or_insert(0);
        assert_eq!(
            d.version,
            *last + 1,
            "object delta {} of row {}",
            d.id,
            d.content_id
        );
        *last = d.version;
    }
}

backend_tests!(
    two_thousand_tasks_keep_their_actors_and_chains,
    two_thousand_sealed_tasks_keep_every_chain_whole,
);
