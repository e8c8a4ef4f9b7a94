//! Object versions and optimistic concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{edit, open, remove, user};
use crate::common::entities::account;
use crate::common::{self, TestDb};
use revy::entity::object_delta;
use revy::versions::VersionError;
use revy::{Context, Error, Tracked};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, Statement,
};

/// The versions of one account's object deltas, in id order.
async fn versions(db: &DatabaseConnection, id: i32) -> Vec<i64> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .filter(object_delta::Column::ContentId.eq(id.to_string()))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.version)
        .collect()
}

async fn version(db: &DatabaseConnection, id: i32) -> Option<i64> {
    revy::versions::version_of::<account::Entity>(id)
        .one(db)
        .await
        .unwrap()
}

async fn row(db: &DatabaseConnection, id: i32) -> Option<account::Model> {
    account::Entity::find_by_id(id).one(db).await.unwrap()
}

async fn journal_size(db: &DatabaseConnection) -> usize {
    object_delta::Entity::find().all(db).await.unwrap().len()
}

async fn versions_count_every_write_path(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;

    // create, updates, delete, restore: one history, one count
    let a = open(db, "V-1", user(1)).await;
    assert_eq!(version(db, a.id).await, Some(1));
    edit(db, a.id, user(2), "Rename", |am| {
        am.name = Set(Some("x".into()))
    })
    .await;
    edit(db, a.id, user(2), "Rename", |am| {
        am.name = Set(Some("y".into()))
    })
    .await;
    remove(db, a.id).await;
    assert_eq!(
        version(db, a.id).await,
        Some(4),
        "a deleted row keeps its Delete's version"
    );
    revy::rollback::restore_latest::<account::Entity>(a.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(versions(db, a.id).await, [1, 2, 3, 4, 5]);
    let entries = revy::history::of::<account::Entity>(a.id)
        .entries(db)
        .await
        .unwrap();
    let shown: Vec<i64> = entries.iter().map(|e| e.version).collect();
    assert_eq!(
        shown,
        [5, 4, 3, 2, 1],
        "history entries show the version, newest first"
    );

    // a row written untracked: version 0 (none), then its baseline is 1
    Context::as_disabled()
        .scope(
            account::ActiveModel {
                id: Set(50),
                code: Set("V-50".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    assert_eq!(version(db, 50).await, None);
    edit(db, 50, None, "First tracked", |am| am.balance = Set(7)).await;
    assert_eq!(versions(db, 50).await, [1, 2]);

    // a queued transaction: several deltas of one row in one flush
    let b = open(db, "V-2", None).await;
    let id = b.id;
    Context::new()
        .scope(revy::transaction(db, |txn| {
            Box::pin(async move {
                for n in 0..3 {
                    let mut am = account::Entity::find_by_id(id)
                        .one(txn)
                        .await?
                        .unwrap()
                        .into_active_model();
                    am.balance = Set(n + 1);
                    am.update(txn).await?;
                }
                Ok::<_, Error>(())
            })
        }))
        .await
        .unwrap();
    assert_eq!(versions(db, id).await, [1, 2, 3, 4]);

    // bulk writes: one more per row
    let c = open(db, "V-3", None).await;
    Context::new()
        .scope(
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::Balance, Expr::value(9))
                .filter(account::Column::Id.is_in([id, c.id, 50]))
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(versions(db, id).await, [1, 2, 3, 4, 5]);
    assert_eq!(versions(db, c.id).await, [1, 2]);
    assert_eq!(versions(db, 50).await, [1, 2, 3]);
}

async fn a_save_at_a_moved_version_fails_and_writes_nothing(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let a = open(db, "C-1", user(1)).await;
    let read = version(db, a.id).await.unwrap();

    let mut am = a.clone().into_active_model();
    am.name = Set(Some("first".into()));
    revy::versions::update_at_version(am, read)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(version(db, a.id).await, Some(2));

    // the plain-model call
    let before = journal_size(db).await;
    let mut am = a.clone().into_active_model();
    am.name = Set(Some("stale".into()));
    match revy::versions::update_at_version(am, read).exec(db).await {
        Err(Error::Version(e)) => match *e {
            VersionError::VersionConflict {
                table,
                key,
                expected,
                current,
            } => {
                assert_eq!((table.as_str(), key), ("accounts", a.id.to_string()));
                assert_eq!((expected, current), (1, Some(2)));
            }
            other => panic!("expected a version conflict, got {other:?}"),
        },
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(row(db, a.id).await.unwrap().name.as_deref(), Some("first"));
    assert_eq!(journal_size(db).await, before, "a conflict writes nothing");
    let message = revy::versions::update_at_version(a.clone().into_active_model(), 7)
        .exec(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("accounts") && message.contains("version 2") && message.contains('7'),
        "{message}"
    );

    // a draft, in a transaction of the caller's
    let mut draft = Tracked::<account::ActiveModel>::from_model(a.clone()).expect_version(read);
    draft.set(account::Column::Balance, 5i64);
    let txn = common::begin(db).await.unwrap();
    let failed = draft.update(&txn).await;
    txn.rollback().await.unwrap();
    assert!(
        matches!(
            &failed,
            Err(Error::Version(e)) if matches!(**e, VersionError::VersionConflict {
                current: Some(2),
                ..
            })
        ),
        "{failed:?}"
    );
    assert_eq!(row(db, a.id).await.unwrap().balance, 0);

    // a checked save costs no statement more than an unchecked one
    let current = row(db, a.id).await.unwrap();
    let txn = common::begin(db).await.unwrap();
    t.take_statement_count();
    let mut draft = Tracked::<account::ActiveModel>::from_model(current.clone());
    draft.set(account::Column::Balance, 1i64);
    draft.update(&txn).await.unwrap();
    let unchecked = t.take_statement_count();
    let mut draft = Tracked::<account::ActiveModel>::from_model(current).expect_version(3);
    draft.set(account::Column::Balance, 2i64);
    draft.update(&txn).await.unwrap();
    let checked = t.take_statement_count();
    txn.commit().await.unwrap();
    assert_eq!(checked, unchecked, "the version check adds no statement");
    assert_eq!(version(db, a.id).await, Some(4));

    // deletes
    let now = row(db, a.id).await.unwrap();
    let failed = revy::versions::delete_at_version(now.clone().into_active_model(), 3)
        .exec(db)
        .await;
    assert!(
        matches!(
            &failed,
            Err(Error::Version(e)) if matches!(**e, VersionError::VersionConflict {
                expected: 3,
                current: Some(4),
                ..
            })
        ),
        "{failed:?}"
    );
    assert!(row(db, a.id).await.is_some());
    revy::versions::delete_at_version(now.clone().into_active_model(), 4)
        .exec(db)
        .await
        .unwrap();
    assert!(row(db, a.id).await.is_none());
    assert_eq!(version(db, a.id).await, Some(5));
    let failed = revy::versions::update_at_version(now.into_active_model(), 5)
        .exec(db)
        .await;
    assert!(
        matches!(&failed, Err(Error::Version(e))
            if matches!(**e, VersionError::VersionConflict { current: None, .. })),
        "a row gone is a conflict too: {failed:?}"
    );

    // inside a queued transaction the check sees the queued deltas
    let b = open(db, "C-2", None).await;
    let id = b.id;
    Context::new()
        .scope(revy::transaction(db, |txn| {
            Box::pin(async move {
                let mut am = b.clone().into_active_model();
                am.balance = Set(1);
                let b = am.update(txn).await?;
                assert_eq!(txn.queued(), 1);
                let mut am = b.into_active_model();
                am.balance = Set(2);
                revy::versions::update_at_version(am, 2).exec(txn).await?;
                Ok::<_, Error>(())
            })
        }))
        .await
        .unwrap();
    assert_eq!(versions(db, id).await, [1, 2, 3]);
}

/// 50 tasks update one row, each with the version it read, until each has
/// won once: every version is won by exactly one, every loss is a version
/// conflict, and no update is lost. Half the tasks also set a column to a
/// value of their own, so both ways a loser learns of its loss run: the
/// journal statement, and the read of an update whose stale new value
/// equals the row's.
async fn racing_saves_at_one_version_win_once_each(t: TestDb) {
    const TASKS: usize = 50;
    t.create_table(account::Entity).await;
    let db = Arc::new(t.db.clone());
    let a = open(&db, "R-1", None).await;
    let id = a.id;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let read = version(&db, id).await.unwrap();
                let current = row(&db, id).await.unwrap();
                let mut am = current.clone().into_active_model();
                am.balance = Set(current.balance + 1);
                if task % 2 == 0 {
                    // a change a loser's stale read cannot make disappear:
                    // its journal statement is where it finds out
                    am.name = Set(Some(format!("task {task}")));
                }
                let txn = common::begin(&db).await.unwrap();
                match revy::versions::update_at_version(am, read).exec(&txn).await {
                    Ok(_) => {
                        txn.commit().await.unwrap();
                        return (read, conflicts);
                    }
                    Err(Error::Version(e)) => {
                        let VersionError::VersionConflict { expected, .. } = *e else {
                            panic!("a racing save failed otherwise: {e}")
                        };
                        assert_eq!(expected, read);
                        txn.rollback().await.unwrap();
                        conflicts += 1;
                    }
                    Err(other) => panic!("a racing save failed otherwise: {other}"),
                }
            }
        }));
    }
    let mut won: BTreeMap<i64, usize> = BTreeMap::new();
    for task in tasks {
        let (read, _) = task.await.unwrap();
        *won.entry(read).or_default() += 1;
    }
    assert!(
        won.values().all(|n| *n == 1),
        "one winner per version: {won:?}"
    );
    assert_eq!(won.len(), TASKS);
    assert_eq!(
        row(&db, id).await.unwrap().balance,
        TASKS as i64,
        "no update lost"
    );
    let expected: Vec<i64> = (1..=TASKS as i64 + 1).collect();
    assert_eq!(
        versions(&db, id).await,
        expected,
        "versions 1..n without gaps"
    );
}

/// A database that holds the three-table journal from before 0.1 is
/// refused by `install` with an error that says what to do; nothing of the
/// journal there changes, and once the old table is gone install works.
async fn install_refuses_a_three_table_journal(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let a = open(db, "U-1", None).await;
    edit(db, a.id, None, "x", |am| am.balance = Set(1)).await;
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(
        backend,
        "CREATE TABLE revy_attribute_deltas (id BIGINT PRIMARY KEY)",
    ))
    .await
    .unwrap();
    let err = revy::install(db).await.unwrap_err();
    assert!(
        matches!(
            &err,
            revy::Error::Journal(e) if matches!(**e, revy::error::JournalError::OldJournal {
                table: "revy_attribute_deltas"
            })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    for says in [
        "revy_attribute_deltas",
        "export",
        "revy::install",
        "revy::lifecycle::import",
    ] {
        assert!(text.contains(says), "{text}");
    }
    assert_eq!(versions(db, a.id).await, [1, 2], "the journal is as it was");
    db.execute_raw(Statement::from_string(
        backend,
        "DROP TABLE revy_attribute_deltas",
    ))
    .await
    .unwrap();
    revy::install(db).await.unwrap();
    edit(db, a.id, None, "x", |am| am.balance = Set(2)).await;
    assert_eq!(versions(db, a.id).await, [1, 2, 3]);
}

backend_tests!(
    versions_count_every_write_path,
    a_save_at_a_moved_version_fails_and_writes_nothing,
    racing_saves_at_one_version_win_once_each,
    install_refuses_a_three_table_journal,
);
