//! Issue 14: tamper evidence. Every writer seals what it writes, `verify`
//! passes on an untouched journal (also after a prune, and after an export
//! is imported), and names each kind of edit made outside revy.

use revy::entity::object_delta;
use revy::tamper::{Finding, TamperError};
use revy::{Context, Error, tamper::Verified};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::common::TestDb;
use crate::common::entities::account;
use crate::prune::fixture::random_history;
use crate::prune::fresh_journal;

async fn sealed<F: std::future::Future>(work: F) -> F::Output {
    revy::tamper::scope(true, work).await
}

async fn verified(db: &DatabaseConnection) -> Verified {
    match revy::tamper::verify(db).await {
        Ok(v) => v,
        Err(e) => panic!("verify: {e}"),
    }
}

/// `verify`'s finding: the object delta it names and what it says.
async fn finding(db: &DatabaseConnection) -> (i64, Finding) {
    match revy::tamper::verify(db).await {
        Err(Error::Tamper(e)) => match *e {
            TamperError::Tampered {
                object_delta_id,
                finding,
                ..
            } => (object_delta_id, finding),
            other => panic!("expected a finding, got {other:?}"),
        },
        other => panic!("expected a finding, got {other:?}"),
    }
}

async fn deltas_of(db: &DatabaseConnection, id: i32) -> Vec<object_delta::Model> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .filter(object_delta::Column::ContentId.eq(id.to_string()))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
}

fn account(id: i32, code: &str) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(code.into()),
        name: Set(None),
        is_active: Set(true),
        balance: Set(0),
    }
}

async fn set_code<C: ConnectionTrait>(db: &C, id: i32, code: &str) -> Result<(), DbErr> {
    let mut am = account::Entity::find_by_id(id)
        .one(db)
        .await?
        .unwrap()
        .into_active_model();
    am.code = Set(code.into());
    am.update(db).await.map(|_| ())
}

/// Every path that writes the journal, sealed: per-row hooks (creates,
/// updates, deletes, restores, baselines), bulk writes, a queued
/// transaction, a save at a version; then a prune and an import.
async fn every_writer_seals_what_it_writes(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    sealed(async {
        random_history(db, 11, 24).await;
        let ids: Vec<i32> = (500..506).collect();
        revy::bulk::insert_many::<account::Entity>(ids.iter().map(|&i| account(i, "bulk")))
            .chunk_size(4)
            .exec(db)
            .await
            .unwrap();
        revy::bulk::update_many::<account::Entity>()
            .col_expr(
                account::Column::Balance,
                Expr::col(account::Column::Balance).add(5),
            )
            .filter(account::Column::Id.is_in(ids.clone()))
            .chunk_size(4)
            .exec(db)
            .await
            .unwrap();
        revy::bulk::delete_many::<account::Entity>()
            .filter(account::Column::Id.is_in([500, 501]))
            .exec(db)
            .await
            .unwrap();
        Context::new()
            .scope(revy::transaction(db, |txn| {
                Box::pin(async move {
                    account(600, "queued").insert(txn).await?;
                    set_code(txn, 600, "q2").await?;
                    set_code(txn, 502, "q3").await?;
                    set_code(txn, 600, "q4").await?;
                    Ok::<_, DbErr>(())
                })
            }))
            .await
            .unwrap();
        let v = revy::versions::version_of::<account::Entity>(502)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut am = account::Entity::find_by_id(502)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        am.code = Set("at version".into());
        Context::new()
            .scope(revy::versions::update_at_version(am, v).exec(db))
            .await
            .unwrap();
    })
    .await;
    let all = object_delta::Entity::find().count(db).await.unwrap();
    let v = verified(db).await;
    assert_eq!(v.object_deltas, all);
    assert_eq!((v.sealed, v.unsealed, v.checkpoints), (all, 0, 0), "{v:?}");
    assert!(v.attribute_deltas > 0 && v.root.len() == 64, "{v:?}");
    let unhashed = object_delta::Entity::find()
        .filter(object_delta::Column::Hash.is_null())
        .count(db)
        .await
        .unwrap();
    assert_eq!(unhashed, 0);

    // a prune folds old history into sealed checkpoints: still verifies
    let mut export = Vec::new();
    let report = sealed(
        revy::lifecycle::prune()
            .keep_last(2)
            .chunk_size(3)
            .export(&mut export)
            .exec(db),
    )
    .await
    .unwrap();
    assert!(report.checkpoints > 0, "{report:?}");
    let after = verified(db).await;
    assert_eq!(after.checkpoints, report.checkpoints, "{after:?}");
    assert_eq!(after.unsealed, 0);
    assert_eq!(
        after.root, v.root,
        "a prune keeps every chain's newest link"
    );

    // tracked writes after the prune chain on from the checkpoints
    sealed(Context::new().scope(set_code(db, 502, "after prune")))
        .await
        .unwrap();
    verified(db).await;

    // what the prune removed, imported into an empty journal, verifies
    fresh_journal(db).await;
    revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    let imported = verified(db).await;
    assert_eq!(imported.object_deltas, report.object_deltas_pruned);
    assert_eq!(imported.sealed, imported.object_deltas);
}

/// Four kinds of edits outside revy, each named by `verify`, and the
/// journal verifies again once each is undone.
async fn verify_names_each_edit(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    sealed(async {
        for id in 1..=3 {
            Context::new()
                .scope(account(id, "a").insert(db))
                .await
                .unwrap();
            for code in ["b", "c", "d"] {
                Context::new().scope(set_code(db, id, code)).await.unwrap();
            }
        }
    })
    .await;
    verified(db).await;
    let one = deltas_of(db, 1).await;
    assert_eq!(
        one.iter().map(|d| d.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    // 1. a changed value in a delta's entries
    let written = one[2].changes.clone();
    assert!(written.contains(r#""c""#), "{written}");
    set_changes(db, one[2].id, &written.replace(r#""c""#, r#""forged""#)).await;
    assert_eq!(finding(db).await, (one[2].id, Finding::Altered));
    // ... and entries that are not revy's encoding at all
    set_changes(db, one[2].id, "not entries").await;
    assert_eq!(finding(db).await, (one[2].id, Finding::Altered));
    set_changes(db, one[2].id, &written).await;
    verified(db).await;

    // ... and a changed actor on the object delta itself
    let actor = |a: Option<&str>| {
        object_delta::Entity::update_many()
            .col_expr(
                object_delta::Column::ActorId,
                Expr::val(a.map(str::to_owned)),
            )
            .filter(object_delta::Column::Id.eq(one[1].id))
            .exec(db)
    };
    actor(Some("mallory")).await.unwrap();
    assert_eq!(finding(db).await, (one[1].id, Finding::Altered));
    actor(one[1].actor_id.as_deref()).await.unwrap();
    verified(db).await;

    // 2. two deltas swapped in order (their versions exchanged)
    let two = deltas_of(db, 2).await;
    let version = |id: i64, v: i64| {
        object_delta::Entity::update_many()
            .col_expr(object_delta::Column::Version, Expr::val(v))
            .filter(object_delta::Column::Id.eq(id))
            .exec(db)
    };
    // MySQL's unique index of versions: through a free number
    version(two[1].id, 100).await.unwrap();
    version(two[2].id, 2).await.unwrap();
    version(two[1].id, 3).await.unwrap();
    assert_eq!(
        finding(db).await,
        (
            two[1].id,
            Finding::OutOfOrder {
                version: 3,
                expected: 2
            }
        )
    );
    version(two[1].id, 100).await.unwrap();
    version(two[2].id, 3).await.unwrap();
    version(two[1].id, 2).await.unwrap();
    verified(db).await;

    // 3. a forged delta: without a link, then with a made-up one
    let three = deltas_of(db, 3).await;
    let mut forged = three[3].clone().into_active_model();
    forged.id = sea_orm::ActiveValue::NotSet;
    forged.version = Set(5);
    forged.hash = Set(None);
    let forged = forged.insert(db).await.unwrap();
    assert_eq!(finding(db).await, (forged.id, Finding::Inserted));
    object_delta::Entity::update_many()
        .col_expr(object_delta::Column::Hash, Expr::val(three[3].hash.clone()))
        .filter(object_delta::Column::Id.eq(forged.id))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(finding(db).await, (forged.id, Finding::Altered));
    object_delta::Entity::delete_by_id(forged.id)
        .exec(db)
        .await
        .unwrap();
    verified(db).await;

    // 4. a removed first delta: the chain starts past version 1
    let first = deltas_of(db, 2).await[0].id;
    object_delta::Entity::delete_by_id(first)
        .exec(db)
        .await
        .unwrap();
    assert!(matches!(
        finding(db).await,
        (_, Finding::Missing { expected: 1, .. })
    ));
    // ... and a removed delta within: the chain has a gap where it was
    object_delta::Entity::delete_by_id(one[1].id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        finding(db).await,
        (
            one[2].id,
            Finding::Missing {
                version: 3,
                expected: 2
            }
        )
    );
}

/// Writes an object delta's inline entries as they are given, as an edit
/// outside revy would.
async fn set_changes(db: &sea_orm::DatabaseConnection, id: i64, changes: &str) {
    object_delta::Entity::update_many()
        .col_expr(object_delta::Column::Changes, Expr::val(changes))
        .filter(object_delta::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
}

/// A checkpoint's contents are sealed: editing one is named.
async fn an_edited_checkpoint_is_named(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    sealed(async {
        Context::new()
            .scope(account(1, "a").insert(db))
            .await
            .unwrap();
        for code in ["b", "c", "d"] {
            Context::new().scope(set_code(db, 1, code)).await.unwrap();
        }
        revy::lifecycle::prune()
            .keep_last(1)
            .exec(db)
            .await
            .unwrap();
    })
    .await;
    let deltas = deltas_of(db, 1).await;
    assert_eq!(deltas.len(), 2);
    assert!(deltas[0].seal.is_some(), "the checkpoint is sealed");
    assert_eq!(verified(db).await.checkpoints, 1);
    let written = deltas[0].changes.clone();
    assert!(written.contains(r#""c""#), "{written}");
    set_changes(db, deltas[0].id, &written.replace(r#""c""#, r#""z""#)).await;
    assert_eq!(finding(db).await, (deltas[0].id, Finding::Altered));
}

/// Deltas written with tamper evidence off are counted, not checked, until
/// the object's chain begins; one written off after that is named.
async fn unsealed_history_before_the_chain(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::tamper::scope(false, async {
        Context::new()
            .scope(account(1, "a").insert(db))
            .await
            .unwrap();
        Context::new().scope(set_code(db, 1, "b")).await.unwrap();
    })
    .await;
    sealed(Context::new().scope(set_code(db, 1, "c")))
        .await
        .unwrap();
    let v = verified(db).await;
    assert_eq!((v.unsealed, v.sealed), (2, 1), "{v:?}");
    revy::tamper::scope(false, Context::new().scope(set_code(db, 1, "d")))
        .await
        .unwrap();
    let newest = deltas_of(db, 1).await.pop().unwrap();
    assert_eq!(finding(db).await, (newest.id, Finding::Inserted));
}

/// Concurrent sealed writers of one row and of different rows, each in its
/// own transaction: every chain is whole.
async fn concurrent_writers_keep_every_chain_whole(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = t.db.clone();
    sealed(async {
        for id in 1..=3 {
            Context::new()
                .scope(account(id, "init").insert(&db))
                .await
                .unwrap();
        }
    })
    .await;
    let mut tasks = Vec::new();
    for n in 0..12 {
        let db = db.clone();
        tasks.push(tokio::spawn(sealed(async move {
            // rows 1 and 2 are shared by every task, row 3 by none but n = 0
            let id = if n == 0 { 3 } else { 1 + n % 2 };
            loop {
                let txn = db.begin().await.unwrap();
                let done = Context::new()
                    .scope(set_code(&txn, id, &format!("{n}")))
                    .await;
                match done {
                    Ok(()) => match txn.commit().await {
                        Ok(()) => break,
                        Err(e) if retryable(&e) => continue,
                        Err(e) => panic!("{e}"),
                    },
                    Err(e) if retryable(&e) => {
                        let _ = txn.rollback().await;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        })));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let v = verified(&db).await;
    assert_eq!(v.sealed, 3 + 12);
    for id in 1..=3 {
        let versions: Vec<i64> = deltas_of(&db, id).await.iter().map(|d| d.version).collect();
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected, "row {id}");
    }
}

/// A sealed insert, update and delete send as many statements as unsealed
/// ones: the hash rides on the hooks' locked read and the journal
/// statement. Each save here opens a revision of its own, which PostgreSQL
/// and SQLite create in an unsealed save's journal statement; a sealed save's link
/// hashes the revision's id, so there it creates the revision first, one
/// statement more.
async fn a_sealed_write_sends_no_extra_statement(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut counts = Vec::new();
    for (on, id) in [(false, 1), (true, 2)] {
        revy::tamper::scope(on, async {
            t.take_statement_count();
            let txn = db.begin().await.unwrap();
            Context::new()
                .scope(account(id, "a").insert(&txn))
                .await
                .unwrap();
            let insert = t.take_statement_count();
            Context::new().scope(set_code(&txn, id, "b")).await.unwrap();
            let update = t.take_statement_count();
            let row = account::Entity::find_by_id(id)
                .one(&txn)
                .await
                .unwrap()
                .unwrap();
            t.take_statement_count();
            Context::new().scope(row.delete(&txn)).await.unwrap();
            let delete = t.take_statement_count();
            txn.commit().await.unwrap();
            counts.push((insert, update, delete));
        })
        .await;
    }
    let opening = usize::from(db.get_database_backend() != sea_orm::DbBackend::MySql);
    let (insert, update, delete) = counts[0];
    assert_eq!(
        (insert + opening, update + opening, delete + opening),
        counts[1],
        "unsealed, sealed: (insert, update, delete)"
    );
    let v = verified(db).await;
    assert_eq!((v.sealed, v.unsealed), (3, 3), "{v:?}");
}

/// A deadlock or a busy database: the transaction is run again.
pub(crate) fn retryable(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("Deadlock")
        || text.contains("deadlock")
        || text.contains("locked")
        || text.contains("busy")
}

backend_tests!(
    every_writer_seals_what_it_writes,
    verify_names_each_edit,
    an_edited_checkpoint_is_named,
    unsealed_history_before_the_chain,
    concurrent_writers_keep_every_chain_whole,
    a_sealed_write_sends_no_extra_statement,
);
