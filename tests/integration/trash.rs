//! The trash: rows whose newest journal entry is a delete, paged by the
//! delete's object delta, one statement a page.

use std::collections::BTreeSet;

use crate::common::TestDb;
use crate::common::entities::{account, membership};
use revy::{Actor, Context, history::DeletedRow};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, ModelTrait, QueryFilter, Set,
    TransactionTrait,
};

async fn open(db: &DatabaseConnection, code: &str) -> account::Model {
    Context::new()
        .scope(
            account::ActiveModel {
                code: Set(code.into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap()
}

async fn remove(db: &DatabaseConnection, row: &account::Model, who: i64, why: &str) {
    Context::via_actor(Some(Actor::new("users", who)))
        .object_delta_description(why)
        .scope(row.clone().delete(db))
        .await
        .unwrap();
}

/// Every page of the trash of accounts, `size` rows a page, counting the
/// statements of each page.
async fn walk(t: &TestDb, size: u64) -> Vec<DeletedRow> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let mut trash = revy::history::deleted::<account::Entity>().limit(size);
        if let Some(id) = before {
            trash = trash.before(id);
        }
        t.take_statement_count();
        let page = trash.all(&t.db).await.unwrap();
        assert_eq!(t.take_statement_count(), 1, "one statement a page");
        assert!(page.len() as u64 <= size);
        let Some(last) = page.last() else { break };
        before = Some(last.object_delta_id);
        all.extend(page);
    }
    all
}

async fn the_trash_names_who_deleted_what_and_forgets_restored_rows(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let a = open(db, "A").await;
    let b = open(db, "B").await;
    let c = open(db, "C").await;
    remove(db, &a, 1, "Closed").await;
    remove(db, &b, 2, "Duplicate").await;
    // another table's delete stays in its own trash
    let m = Context::new()
        .scope(
            membership::ActiveModel {
                user_id: Set(7),
                group_id: Set("g".into()),
                role: Set("admin".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    Context::new().scope(m.clone().delete(db)).await.unwrap();

    t.take_statement_count();
    let trash = revy::history::deleted::<account::Entity>()
        .all(db)
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), 1);
    let keys: Vec<&str> = trash.iter().map(|r| r.key.as_str()).collect();
    let (a_key, b_key) = (a.id.to_string(), b.id.to_string());
    assert_eq!(
        keys,
        [b_key.as_str(), a_key.as_str()],
        "newest deletion first"
    );
    let history = revy::history::of::<account::Entity>(b.id)
        .all(db)
        .await
        .unwrap();
    let deleted = &trash[0];
    assert_eq!(deleted.object_delta_id, history[0].id);
    assert_eq!(deleted.revision_id, history[0].revision_id);
    assert_eq!(deleted.at, history[0].created_at);
    assert_eq!(deleted.version, 2);
    assert_eq!(deleted.actor, Some(Actor::new("users", 2)));
    assert_eq!(deleted.description, "Duplicate");
    assert_eq!(trash[1].description, "Closed");

    let members = revy::history::deleted::<membership::Entity>()
        .all(db)
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].key, r#"[7,"g"]"#);
    assert_eq!(members[0].actor, None);

    // with snapshots: each row as it was before its deletion
    let with = revy::history::deleted::<account::Entity>()
        .with_snapshots(db)
        .await
        .unwrap();
    assert_eq!(with.len(), 2);
    assert_eq!(with[0], (trash[0].clone(), Some(b.clone())));
    assert_eq!(with[1], (trash[1].clone(), Some(a.clone())));

    // restored, B leaves the trash; deleted again, it comes back with the
    // new delete
    let restored = revy::rollback::restore::<account::Entity>(deleted.object_delta_id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(restored, b);
    let trash = revy::history::deleted::<account::Entity>()
        .all(db)
        .await
        .unwrap();
    let keys: Vec<&str> = trash.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [a_key.as_str()]);
    remove(db, &restored, 3, "Really").await;
    let trash = revy::history::deleted::<account::Entity>()
        .all(db)
        .await
        .unwrap();
    assert_eq!(trash.len(), 2);
    assert_eq!(trash[0].key, b_key);
    assert_eq!(trash[0].version, 4);
    assert_eq!(trash[0].actor, Some(Actor::new("users", 3)));

    // a live row with history is never in the trash
    assert!(trash.iter().all(|r| r.key != c.id.to_string()));
}

async fn paging_covers_every_deleted_row_exactly_once(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut rows = Vec::new();
    for i in 0..30 {
        rows.push(open(db, &format!("P-{i}")).await);
    }
    // deleted one by one in a shuffled order, and in bulk
    let mut expected = BTreeSet::new();
    for i in [17, 3, 28, 9, 0, 22, 11, 5, 26, 14] {
        remove(db, &rows[i], 1, "one").await;
        expected.insert(rows[i].id);
    }
    let bulk: Vec<i32> = [1, 7, 19, 20, 29].iter().map(|&i| rows[i].id).collect();
    let txn = db.begin().await.unwrap();
    Context::new()
        .scope(
            revy::bulk::delete_many::<account::Entity>()
                .filter(account::Column::Id.is_in(bulk.clone()))
                .exec(&txn),
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    expected.extend(bulk);
    // two come back: out of the trash
    for i in [3, 20] {
        let delete = revy::history::of::<account::Entity>(rows[i].id)
            .all(db)
            .await
            .unwrap()[0]
            .id;
        revy::rollback::restore::<account::Entity>(delete)
            .exec(db)
            .await
            .unwrap();
        expected.remove(&rows[i].id);
    }

    for size in [1, 4, 13, 100] {
        let all = walk(&t, size).await;
        let keys: Vec<i32> = all.iter().map(|r| r.key.parse().unwrap()).collect();
        let unique: BTreeSet<i32> = keys.iter().copied().collect();
        assert_eq!(keys.len(), unique.len(), "no row twice (page size {size})");
        assert_eq!(unique, expected, "every deleted row (page size {size})");
        let ids: Vec<i64> = all.iter().map(|r| r.object_delta_id).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    }
}

async fn the_time_filter_keeps_deletions_of_that_time(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let early = open(db, "E").await;
    let late = open(db, "L").await;
    let later = open(db, "M").await;
    remove(db, &early, 1, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    remove(db, &late, 1, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let end = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    remove(db, &later, 1, "").await;

    let keys = |rows: Vec<DeletedRow>| -> Vec<String> { rows.into_iter().map(|r| r.key).collect() };
    let between = revy::history::deleted::<account::Entity>()
        .between(cut, end)
        .all(db)
        .await
        .unwrap();
    assert_eq!(keys(between), [late.id.to_string()]);
    let since = revy::history::deleted::<account::Entity>()
        .between(cut, end + chrono::Duration::hours(1))
        .all(db)
        .await
        .unwrap();
    assert_eq!(keys(since), [later.id.to_string(), late.id.to_string()]);
    let before = revy::history::deleted::<account::Entity>()
        .between(cut - chrono::Duration::hours(1), cut)
        .all(db)
        .await
        .unwrap();
    assert_eq!(keys(before), [early.id.to_string()]);
    // the filter and the pages together
    let first = revy::history::deleted::<account::Entity>()
        .between(cut, end + chrono::Duration::hours(1))
        .limit(1)
        .all(db)
        .await
        .unwrap();
    let second = revy::history::deleted::<account::Entity>()
        .between(cut, end + chrono::Duration::hours(1))
        .limit(1)
        .before(first[0].object_delta_id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(keys(second), [late.id.to_string()]);
}

backend_tests!(
    the_trash_names_who_deleted_what_and_forgets_restored_rows,
    paging_covers_every_deleted_row_exactly_once,
    the_time_filter_keeps_deletions_of_that_time,
);
