//! Queued transactions (`revy::transaction`, `revy::begin`): the journal of
//! a whole transaction written at once before COMMIT, row for row what the
//! immediate path writes.

use std::collections::HashMap;

use crate::common::entities::account;
use crate::common::{self, TestDb};
use revy::entity::{object_delta, revision};
use revy::{Actor, Context, Tracked, context::LazyRevision, history::ObjectSnapshot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionSession,
    TransactionTrait,
};
use serde_json::json;

fn account(id: i32, code: &str) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(code.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
}

async fn set_code<C: ConnectionTrait>(db: &C, id: i32, code: &str) -> Result<(), DbErr> {
    let row = account::Entity::find_by_id(id).one(db).await?.unwrap();
    let mut am = row.into_active_model();
    am.code = Set(code.to_owned());
    am.balance = Set(i64::from(id) * 10);
    am.update(db).await?;
    Ok(())
}

async fn remove<C: ConnectionTrait>(db: &C, id: i32) -> Result<(), DbErr> {
    let row = account::Entity::find_by_id(id).one(db).await?.unwrap();
    row.into_active_model().delete(db).await?;
    Ok(())
}

/// The work of one request, on any transaction: creates, updates, a row
/// tracking has never seen (baseline), a delete, a draft with its own
/// actor per column, a savepoint rolled back and one released.
async fn workload<T>(txn: &T) -> Result<(), DbErr>
where
    T: ConnectionTrait + TransactionTrait,
{
    account(10, "A").insert(txn).await?;
    account(11, "B").insert(txn).await?;
    set_code(txn, 10, "A2").await?;
    set_code(txn, 1, "untracked-1 now").await?; // baseline, then the update
    remove(txn, 2).await?; // baseline, then the delete
    let row = account::Entity::find_by_id(11).one(txn).await?.unwrap();
    let mut draft = Tracked::new(row.into_active_model());
    Context::via_actor(Some(Actor::new("reviewers", 9)))
        .sync_scope(|| draft.set(account::Column::Name, Some("named".to_owned())));
    draft.set(account::Column::Balance, 5i64);
    draft.save(txn).await?;
    let inner = txn.begin().await?;
    account(12, "gone").insert(&inner).await?;
    set_code(&inner, 10, "never").await?;
    inner.rollback().await?;
    let inner = txn.begin().await?;
    account(13, "kept").insert(&inner).await?;
    inner.commit().await?;
    set_code(txn, 10, "A3").await?;
    remove(txn, 11).await?;
    Ok(())
}

/// The journal, with ids replaced by their rank so two runs compare.
async fn journal(db: &DatabaseConnection) -> Vec<serde_json::Value> {
    let revisions = revision::Entity::find()
        .order_by_asc(revision::Column::Id)
        .all(db)
        .await
        .unwrap();
    let rank: HashMap<i64, usize> = revisions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    let objects = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    objects
        .iter()
        .map(|o| {
            let revision = revisions.iter().find(|r| r.id == o.revision_id).unwrap();
            // the inline entries, in the order written
            let attrs: Vec<_> = common::entries_of(o)
                .into_iter()
                .map(|a| {
                    json!([
                        a.field_name,
                        a.old_value,
                        a.new_value,
                        a.actor_type,
                        a.actor_id,
                        a.action.to_string(),
                        a.description
                    ])
                })
                .collect();
            json!({
                "revision": [rank[&o.revision_id], revision.description, revision.meta],
                "object": [o.action.to_string(), o.actor_type, o.actor_id, o.description,
                           o.content_type, o.content_id],
                "attributes": attrs,
            })
        })
        .collect()
}

async fn wipe(db: &DatabaseConnection) {
    for table in ["accounts", "revy_object_deltas", "revy_revisions"] {
        // fixed names of this test's tables
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    Context::as_disabled()
        .scope(async {
            for id in 1..=3 {
                account(id, &format!("untracked-{id}"))
                    .insert(db)
                    .await
                    .unwrap();
            }
        })
        .await;
}

fn context() -> revy::context::Frame {
    Context::via_actor(Some(Actor::new("users", 1)))
        .revision_description("request")
        .object_delta_description("by hand")
        .attribute_delta_description("typed")
}

async fn the_queued_journal_is_the_immediate_journal(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;

    wipe(db).await;
    context()
        .revision(LazyRevision::new())
        .scope(async {
            let txn = db.begin().await.unwrap();
            workload(&txn).await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
    // no shared revision: a revision per operation
    context()
        .scope(async {
            let txn = db.begin().await.unwrap();
            account(20, "own").insert(&txn).await.unwrap();
            set_code(&txn, 20, "own2").await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
    let immediate = journal(db).await;
    let immediate_rows = account::Entity::find().all(db).await.unwrap();

    wipe(db).await;
    context()
        .revision(LazyRevision::new())
        .scope(async {
            let txn = revy::begin(db).await.unwrap();
            workload(&txn).await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
    context()
        .scope(revy::transaction(db, |txn| {
            Box::pin(async move {
                account(20, "own").insert(txn).await?;
                set_code(txn, 20, "own2").await?;
                assert_eq!(txn.queued(), 2);
                Ok::<_, DbErr>(())
            })
        }))
        .await
        .unwrap();
    let queued = journal(db).await;
    assert_eq!(
        account::Entity::find().all(db).await.unwrap(),
        immediate_rows
    );
    assert_eq!(queued.len(), immediate.len());
    for (q, i) in queued.iter().zip(&immediate) {
        assert_eq!(q, i);
    }
    // the snapshots say what the table says (row 3 was never tracked)
    for row in immediate_rows.iter().filter(|r| r.id != 3) {
        let newest = object_delta::Entity::find()
            .order_by_desc(object_delta::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .find(|o| o.content_id == row.id.to_string())
            .unwrap();
        let snapshot = ObjectSnapshot::<account::Entity>::at(newest.id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(snapshot.as_ref(), Some(row));
    }
}

async fn reads_inside_see_the_queue_and_a_rollback_leaves_nothing(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let lazy = LazyRevision::new();
    let seen = lazy.clone();
    let failed = context()
        .revision(lazy.clone())
        .scope(revy::transaction(db, |txn| {
            Box::pin(async move {
                account(1, "A").insert(txn).await?;
                set_code(txn, 1, "B").await?;
                assert_eq!(txn.queued(), 2);
                // a journal read flushes first, so it sees both
                let history = revy::history::of::<account::Entity>(1).all(txn).await?;
                assert_eq!(history.len(), 2);
                assert_eq!(txn.queued(), 0);
                // the flush created the context's revision
                assert!(seen.id().is_some());
                Err::<(), _>(DbErr::Custom("the request failed".into()))
            })
        }))
        .await;
    assert!(
        failed
            .unwrap_err()
            .to_string()
            .contains("the request failed")
    );
    assert_eq!(object_delta::Entity::find().all(db).await.unwrap().len(), 0);
    assert_eq!(revision::Entity::find().all(db).await.unwrap().len(), 0);
    // the revision rolled back with the transaction, and is forgotten
    assert_eq!(lazy.id(), None);

    // the request retried under the same context
    context()
        .revision(lazy.clone())
        .scope(revy::transaction(db, |txn| {
            Box::pin(async move {
                account(1, "A").insert(txn).await?;
                revy::history::of::<account::Entity>(1).all(txn).await?;
                account(2, "B").insert(txn).await?;
                Ok::<_, revy::Error>(())
            })
        }))
        .await
        .unwrap();
    let revisions = revision::Entity::find().all(db).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(lazy.id(), Some(revisions[0].id));
    let objects = object_delta::Entity::find().all(db).await.unwrap();
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|o| o.revision_id == revisions[0].id));

    // dropped without commit: the same as a rollback
    context()
        .scope(async {
            let txn = revy::begin(db).await.unwrap();
            account(3, "C").insert(&txn).await.unwrap();
            assert_eq!(txn.queued(), 1);
        })
        .await;
    assert_eq!(object_delta::Entity::find().all(db).await.unwrap().len(), 2);
    assert!(
        account::Entity::find_by_id(3)
            .one(db)
            .await
            .unwrap()
            .is_none()
    );
}

/// A plain sea-orm transaction that rolled back after creating the
/// context's revision: a retry under the same context writes its journal
/// anyway (the revision is re-created under its id).
async fn a_retry_after_a_rolled_back_plain_transaction_journals(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let lazy = LazyRevision::new();
    context()
        .revision(lazy.clone())
        .scope(async {
            let txn = db.begin().await.unwrap();
            account(1, "A").insert(&txn).await.unwrap();
            txn.rollback().await.unwrap();
            let first = lazy.id().expect("the first try created the revision");
            let txn = db.begin().await.unwrap();
            if db.get_database_backend() == DbBackend::Postgres {
                // PostgreSQL aborts the transaction at the failed journal
                // write: the error says to retry, and revy forgot the id
                let e = account(1, "A").insert(&txn).await.unwrap_err();
                assert!(e.to_string().contains("retry the transaction"), "{e}");
                assert_eq!(lazy.id(), None);
                txn.rollback().await.unwrap();
            } else {
                // the others give up the statement only: revy creates the
                // revision anew and writes again
                account(1, "A").insert(&txn).await.unwrap();
                txn.commit().await.unwrap();
            }
            let txn = db.begin().await.unwrap();
            if db.get_database_backend() == DbBackend::Postgres {
                account(1, "A").insert(&txn).await.unwrap();
            }
            set_code(&txn, 1, "B").await.unwrap();
            txn.commit().await.unwrap();
            // SQLite hands out a rolled-back id again; the others do not
            if db.get_database_backend() != DbBackend::Sqlite {
                assert_ne!(lazy.id(), Some(first));
            }
        })
        .await;
    let revisions = revision::Entity::find().all(db).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(lazy.id(), Some(revisions[0].id));
    assert_eq!(revisions[0].description, "request");
    assert_eq!(object_delta::Entity::find().all(db).await.unwrap().len(), 2);
}

async fn a_large_transaction_flushes_in_chunks(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let rows = 2_300;
    context()
        .revision(LazyRevision::new())
        .scope(async {
            let txn = revy::begin(db).await.unwrap();
            let mut most = 0;
            for id in 1..=rows {
                account(id, "x").insert(&txn).await.unwrap();
                most = most.max(txn.queued());
            }
            // the queue never held more than its limit and one operation
            assert!(most <= 1_001, "{most}");
            txn.commit().await.unwrap();
        })
        .await;
    let objects = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(objects.len(), rows as usize);
    // in the order of the operations
    for (i, o) in objects.iter().enumerate() {
        assert_eq!(o.content_id, (i + 1).to_string());
    }
    let attributes = common::attribute_rows(db).await;
    assert_eq!(attributes.len(), rows as usize * 5);
}

/// Queries per operation on the queued path: only the application's own
/// statements (and the locked read of an update or delete) until the
/// commit, which writes the journal in one statement on PostgreSQL.
async fn statements_per_queued_operation(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mysql = db.get_database_backend() == DbBackend::MySql;
    let read_back = usize::from(mysql);
    context()
        .revision(LazyRevision::new())
        .scope(async {
            let txn = revy::begin(db).await.unwrap();
            account(1, "W").insert(&txn).await.unwrap();
            t.take_statement_count();
            account(2, "A").insert(&txn).await.unwrap();
            assert_eq!(t.take_statement_count(), 1 + read_back, "queued insert");
            set_code(&txn, 2, "B").await.unwrap();
            // the find, the locked read, the UPDATE (+ read-back)
            assert_eq!(t.take_statement_count(), 3 + read_back, "queued update");
            remove(&txn, 1).await.unwrap();
            // the find, the locked read, the DELETE
            assert_eq!(t.take_statement_count(), 3, "queued delete");
            txn.commit().await.unwrap();
            // the flush (COMMIT is not counted): one statement on
            // PostgreSQL; a revision and the object deltas elsewhere, and
            // on SQLite a read of the versions of the keys the creates
            // wrote (their history, if any)
            let flush = match db.get_database_backend() {
                DbBackend::Postgres => 1,
                DbBackend::Sqlite => 3,
                _ => 2,
            };
            assert_eq!(t.take_statement_count(), flush, "the flush");
        })
        .await;
    assert_eq!(object_delta::Entity::find().all(db).await.unwrap().len(), 4);
}

/// A queued transaction's flush writes checkpoints as the hooks do: the
/// newest delta of each object whose versions passed a checkpoint's holds
/// the object's state (checked against the fold after every test, see
/// `common`), with two more statements for all of them.
async fn the_flush_writes_checkpoints(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    context()
        .scope(async {
            let txn = revy::begin(db).await.unwrap();
            account(1, "v1").insert(&txn).await.unwrap();
            account(2, "v1").insert(&txn).await.unwrap();
            txn.commit().await.unwrap();
            // versions 2..=20 of account 1, 2..=5 of account 2
            let txn = revy::begin(db).await.unwrap();
            for v in 2..=20 {
                set_code(&txn, 1, &format!("v{v}")).await.unwrap();
                if v <= 5 {
                    set_code(&txn, 2, &format!("v{v}")).await.unwrap();
                }
            }
            txn.commit().await.unwrap();
        })
        .await;
    let checkpoints: Vec<(String, i64)> = object_delta::Entity::find()
        .filter(object_delta::Column::State.is_not_null())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.content_id, d.version))
        .collect();
    // account 1 passed version 17: its newest delta holds the state
    assert_eq!(checkpoints, [("1".to_owned(), 20)]);
}

backend_tests!(
    the_flush_writes_checkpoints,
    the_queued_journal_is_the_immediate_journal,
    reads_inside_see_the_queue_and_a_rollback_leaves_nothing,
    a_retry_after_a_rolled_back_plain_transaction_journals,
    a_large_transaction_flushes_in_chunks,
    statements_per_queued_operation,
);
