//! Pruning while others write the journal: tracked writes, and a second
//! prune.

use chrono::Utc;
use revy::entity::object_delta;
use revy::{Context, history::ObjectSnapshot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};

use super::fixture::{keys, moment, random_history, snapshots};
use crate::common::TestDb;
use crate::common::entities::account;

/// Tracked updates run while a prune works through the same rows: none
/// fails for it, every row's newest snapshot is the row.
async fn tracked_writes_during_a_prune(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let sqlite = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let mut rows = Vec::new();
    for i in 0..20 {
        let mut row = Context::new()
            .scope(
                account::ActiveModel {
                    code: Set(format!("C{i}")),
                    is_active: Set(true),
                    ..Default::default()
                }
                .insert(db),
            )
            .await
            .unwrap();
        for b in 1..4 {
            let mut am = row.into_active_model();
            am.balance = Set(b);
            row = Context::new().scope(am.update(db)).await.unwrap();
        }
        rows.push(row);
    }
    let cut = moment().await;
    let retries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = rows
        .iter()
        .cloned()
        .map(|row| {
            let db = db.clone();
            let retries = retries.clone();
            tokio::spawn(async move {
                for b in 10..14 {
                    let mut tries = 0;
                    loop {
                        let txn = if sqlite {
                            db.begin_with_options(sea_orm::TransactionOptions {
                                sqlite_transaction_mode: Some(
                                    sea_orm::SqliteTransactionMode::Immediate,
                                ),
                                ..Default::default()
                            })
                            .await
                        } else {
                            db.begin().await
                        };
                        let attempt = async {
                            let txn = txn?;
                            let live = account::Entity::find_by_id(row.id)
                                .one(&txn)
                                .await?
                                .unwrap();
                            let mut am = live.into_active_model();
                            am.balance = Set(b);
                            Context::new().scope(am.update(&txn)).await?;
                            txn.commit().await
                        };
                        match attempt.await {
                            Ok(()) => break,
                            Err(e)
                                if tries < 50
                                    && ["locked", "deadlock", "busy"]
                                        .iter()
                                        .any(|w| e.to_string().to_lowercase().contains(w)) =>
                            {
                                tries += 1;
                                retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(e) => panic!("a tracked write failed during the prune: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    let prune = {
        let db = db.clone();
        tokio::spawn(async move {
            let start = Utc::now();
            let report = revy::lifecycle::prune()
                .older_than(cut)
                .chunk_size(2)
                .exec(&db)
                .await
                .unwrap();
            (start, Utc::now(), report)
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let (start, end, report) = prune.await.unwrap();
    let during = object_delta::Entity::find()
        .filter(object_delta::Column::CreatedAt.between(start, end))
        .all(db)
        .await
        .unwrap()
        .len();
    eprintln!(
        "prune during writes on {:?}: {report:?}, {during} tracked writes while it ran, \
         {} writer retries (lock timeouts, deadlocks)",
        t.backend,
        retries.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(during > 0, "the writes overlapped the prune");
    assert_eq!(report.checkpoints, 20);
    revy::lifecycle::prune()
        .older_than(cut)
        .exec(db)
        .await
        .unwrap();
    for row in rows {
        let live = account::Entity::find_by_id(row.id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.balance, 13);
        let h = revy::history::of::<account::Entity>(row.id)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            h.len(),
            5,
            "a checkpoint and the four updates after the cut"
        );
        let newest = ObjectSnapshot::<account::Entity>::at(h[0].id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(newest, Some(live));
        let at_cut = revy::history::as_of::<account::Entity>(row.id, cut)
            .one(db)
            .await
            .unwrap();
        assert_eq!(at_cut, Some(row));
    }
}

/// Two prunes of the same journal at once: each object is folded once
/// (one checkpoint, one attribute delta per column), snapshots unchanged.
async fn two_prunes_at_once_fold_each_object_once(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 8, 30).await;
    let before = snapshots(db).await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                revy::lifecycle::prune()
                    .older_than(cut)
                    .chunk_size(2)
                    .exec(&db)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut checkpoints = 0;
    for run in runs {
        checkpoints += run.await.unwrap().checkpoints;
    }
    let after = snapshots(db).await;
    for (id, snapshot) in &after {
        assert_eq!(Some(snapshot), before.get(id), "snapshot at {id}");
    }
    let mut found = 0;
    let entries = crate::common::attribute_rows(db).await;
    for k in keys(db).await {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        let old: Vec<_> = h.iter().filter(|d| d.created_at < cut).collect();
        assert!(old.len() <= 1, "row {k}: {old:?}");
        for d in old {
            let columns: Vec<_> = entries
                .iter()
                .filter(|c| c.object_delta_id == d.id)
                .collect();
            if d.actor().is_none() && columns.len() == 5 {
                found += 1;
            }
            let mut names: Vec<_> = columns.iter().map(|c| c.field_name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), columns.len(), "row {k}: one value per column");
        }
    }
    assert!(
        checkpoints > 0 && found as u64 >= checkpoints,
        "{checkpoints} {found}"
    );
}

backend_tests!(
    tracked_writes_during_a_prune,
    two_prunes_at_once_fold_each_object_once,
);
