//! Whole-table time travel: every row as it was at a time or a tag.

use super::{all_accounts, edit, newest_revision, open, remove, user};
use crate::common::TestDb;
use crate::common::entities::{account, membership};
use revy::{Context, history::Moment};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};

async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

/// Every page of `table_as_of`, two statements each (the walk, then the
/// rows' deltas from their checkpoints; one for an empty page).
async fn walk_accounts(t: &TestDb, moment: Moment, size: u64) -> Vec<account::Model> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = revy::history::table_as_of::<account::Entity>(moment.clone()).page_size(size);
        if let Some(c) = cursor.take() {
            q = q.after(c);
        }
        t.take_statement_count();
        let page = q.page(&t.db).await.unwrap();
        // the walk, then the rows' deltas from their checkpoints
        let statements = if page.rows.is_empty() { 1 } else { 2 };
        assert_eq!(
            t.take_statement_count(),
            statements,
            "two statements a page"
        );
        assert!(page.rows.len() as u64 <= size);
        pages += 1;
        out.extend(page.rows);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages >= out.len() / size as usize, "pages of {size}");
    out.sort_by_key(|a| a.id);
    out
}

async fn time_travel_equals_a_copy_of_the_table(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::registry::register::<account::Entity>();
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(open(db, &format!("A-{i}"), user(1)).await.id);
    }
    for i in [0, 2, 4] {
        edit(db, ids[i], user(2), "Edit", |am| {
            am.balance = Set(i as i64 * 10)
        })
        .await;
    }
    for i in [1, 5, 9] {
        remove(db, ids[i]).await;
    }
    revy::rollback::restore_latest::<account::Entity>(ids[5])
        .exec(db)
        .await
        .unwrap();
    edit(db, ids[5], user(3), "After restore", |am| {
        am.name = Set(Some("back".into()))
    })
    .await;
    pause().await;
    let moment = chrono::Utc::now();
    let copy = all_accounts(db).await;
    revy::tags::tag("copy", newest_revision(db).await)
        .exec(db)
        .await
        .unwrap();
    pause().await;

    // later: deletes (one of them of a row edited before), creates,
    // updates, a restore of a row deleted before the moment
    for i in [0, 3, 7] {
        remove(db, ids[i]).await;
    }
    for i in 0..4 {
        open(db, &format!("Late-{i}"), None).await;
    }
    edit(db, ids[2], user(4), "Late edit", |am| {
        am.code = Set("late".into())
    })
    .await;
    revy::rollback::restore_latest::<account::Entity>(ids[9])
        .exec(db)
        .await
        .unwrap();
    assert_ne!(all_accounts(db).await, copy);

    for size in [1, 3, 100] {
        assert_eq!(
            walk_accounts(&t, moment.into(), size).await,
            copy,
            "at a time, pages of {size}"
        );
    }
    assert_eq!(
        walk_accounts(&t, Moment::tag("copy"), 4).await,
        copy,
        "at a tag"
    );
    // before anything was written: an empty table
    let before = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap();
    assert!(walk_accounts(&t, before.into(), 5).await.is_empty());
    // now: the live table
    assert_eq!(
        walk_accounts(&t, chrono::Utc::now().into(), 5).await,
        all_accounts(db).await
    );
}

async fn time_travel_pages_composite_keys(t: TestDb) {
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let mut rows = Vec::new();
    for (u, g) in [(1, "a"), (1, "b"), (2, "a"), (10, "a"), (3, "c")] {
        let row = Context::new()
            .scope(
                membership::ActiveModel {
                    user_id: Set(u),
                    group_id: Set(g.into()),
                    role: Set("member".into()),
                }
                .insert(db),
            )
            .await
            .unwrap();
        rows.push(row);
    }
    pause().await;
    let moment = chrono::Utc::now();
    pause().await;
    Context::new()
        .scope(rows[0].clone().into_active_model().delete(db))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut q = revy::history::table_as_of::<membership::Entity>(moment).page_size(2);
    loop {
        let page = q.page(db).await.unwrap();
        seen.extend(page.rows);
        match page.next {
            Some(c) => {
                q = revy::history::table_as_of::<membership::Entity>(moment)
                    .page_size(2)
                    .after(c)
            }
            None => break,
        }
    }
    seen.sort_by(|a, b| (a.user_id, &a.group_id).cmp(&(b.user_id, &b.group_id)));
    rows.sort_by(|a, b| (a.user_id, &a.group_id).cmp(&(b.user_id, &b.group_id)));
    assert_eq!(seen, rows);
}

/// Keys that hold no row at the moment: PostgreSQL and SQLite walk past
/// them to fill the page; MySQL/MariaDB reads twice the page's size in keys
/// and may come back short, with a cursor, until the last page.
async fn time_travel_pages_past_keys_without_rows(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let first = open(db, "Early", user(1)).await;
    pause().await;
    let moment = chrono::Utc::now();
    pause().await;
    // keys 2..=10: after the moment; in text order "1", "10", "2", "3", ..
    for i in 2..=10 {
        open(db, &format!("Late-{i}"), None).await;
    }
    let mut pages: Vec<(usize, bool)> = Vec::new();
    let mut rows = Vec::new();
    let mut q = revy::history::table_as_of::<account::Entity>(moment).page_size(2);
    loop {
        t.take_statement_count();
        let page = q.page(db).await.unwrap();
        let statements = if page.rows.is_empty() { 1 } else { 2 };
        assert_eq!(
            t.take_statement_count(),
            statements,
            "two statements a page"
        );
        pages.push((page.rows.len(), page.next.is_some()));
        rows.extend(page.rows);
        match page.next {
            Some(c) => {
                q = revy::history::table_as_of::<account::Entity>(moment)
                    .page_size(2)
                    .after(c)
            }
            None => break,
        }
    }
    assert_eq!(rows, vec![first]);
    if db.get_database_backend() == sea_orm::DbBackend::MySql {
        // "1" "10" "2" "3", then "4" .. "7", then "8" "9"
        assert_eq!(pages, [(1, true), (0, true), (0, false)]);
    } else {
        assert_eq!(pages, [(1, false)]);
    }
}

backend_tests!(
    time_travel_pages_past_keys_without_rows,
    time_travel_equals_a_copy_of_the_table,
    time_travel_pages_composite_keys,
);
