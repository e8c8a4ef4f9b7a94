//! History queries: an object's deltas with keyset pagination and filters,
//! `as_of`, `diff`, a revision's deltas.

use crate::common::TestDb;
use crate::common::entities::{account, membership};
use revy::{Action, Actor, Context, history::ObjectSnapshot};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::json;

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

async fn history_pages_and_filters(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let mut row = Context::via_actor(user(1))
        .scope(
            account::ActiveModel {
                code: Set("H0".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let created = chrono::Utc::now();
    for i in 1..=9 {
        let mut am = row.clone().into_active_model();
        am.code = Set(format!("H{i}"));
        let who = if i % 3 == 0 { None } else { user(2) };
        row = Context::via_actor(who).scope(am.update(db)).await.unwrap();
    }
    // another row's history stays out
    Context::new()
        .scope(
            account::ActiveModel {
                code: Set("other".into()),
                is_active: Set(false),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();

    let all = revy::history::of::<account::Entity>(row.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all.last().unwrap().action, Action::Create);

    // keyset pagination: pages of 4 cover everything once
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let mut q = revy::history::of::<account::Entity>(row.id).limit(4);
        if let Some(b) = before {
            q = q.before(b);
        }
        let page = q.all(db).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        before = page.last().map(|d| d.id);
        seen.extend(page.into_iter().map(|d| d.id));
    }
    assert_eq!(seen, all.iter().map(|d| d.id).collect::<Vec<_>>());

    let updates = revy::history::of::<account::Entity>(row.id)
        .action(Action::Update)
        .all(db)
        .await
        .unwrap();
    assert_eq!(updates.len(), 9);
    let by_system = revy::history::of::<account::Entity>(row.id)
        .actor(None)
        .all(db)
        .await
        .unwrap();
    assert_eq!(by_system.len(), 3);
    let by_user2 = revy::history::of::<account::Entity>(row.id)
        .actor(user(2))
        .all(db)
        .await
        .unwrap();
    assert_eq!(by_user2.len(), 6);
    let none_in_the_past = revy::history::of::<account::Entity>(row.id)
        .between(
            created - chrono::Duration::days(2),
            created - chrono::Duration::days(1),
        )
        .all(db)
        .await
        .unwrap();
    assert!(none_in_the_past.is_empty());
    let around_now = revy::history::of::<account::Entity>(row.id)
        .between(
            created - chrono::Duration::hours(1),
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .all(db)
        .await
        .unwrap();
    assert_eq!(around_now.len(), 10);

    // as_of: before creation nothing, now the live row
    let past = revy::history::as_of::<account::Entity>(row.id, created - chrono::Duration::days(1))
        .one(db)
        .await
        .unwrap();
    assert_eq!(past, None);
    let now = revy::history::as_of::<account::Entity>(
        row.id,
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .one(db)
    .await
    .unwrap();
    assert_eq!(now, Some(row.clone()));

    // diff between the first and the last state: only `code`
    let first = ObjectSnapshot::<account::Entity>::at(all.last().unwrap().id)
        .one(db)
        .await
        .unwrap();
    let last = ObjectSnapshot::<account::Entity>::at(all[0].id)
        .one(db)
        .await
        .unwrap();
    let d = revy::history::diff(first.as_ref(), last.as_ref()).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d["code"], (json!("H0"), json!("H9")));
    // from no row: every non-NULL column (`name` is NULL on both sides)
    assert_eq!(revy::history::diff(None, last.as_ref()).unwrap().len(), 4);

    // a revision's deltas
    let rev = all[0].revision_id;
    let in_rev = revy::history::revision_deltas(rev).all(db).await.unwrap();
    assert_eq!(
        in_rev.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![all[0].id]
    );

    // composite keys take a tuple
    Context::new()
        .scope(
            membership::ActiveModel {
                user_id: Set(1),
                group_id: Set("g".into()),
                role: Set("r".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    let m = revy::history::of::<membership::Entity>((1, "g".to_owned()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(m.len(), 1);
}

/// `.changed(column)`: every change of one column, from the inline
/// attribute deltas: the create, the saves, a draft's and a bulk call's
/// changes that set it; not the other saves, nor a delete. A name given as
/// a value of another column is not a change of that column.
async fn history_of_one_column(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let row = Context::via_actor(user(1))
        .scope(
            account::ActiveModel {
                code: Set("C0".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let save = |row: account::Model, f: fn(&mut account::ActiveModel)| async move {
        let mut am = row.into_active_model();
        f(&mut am);
        Context::via_actor(user(2))
            .scope(am.update(db))
            .await
            .unwrap()
    };
    let row = save(row, |am| am.code = Set("C1".into())).await;
    // a value that reads like an entry of `code`
    let row = save(row, |am| am.name = Set(Some(r#"["code","C9"]"#.into()))).await;
    let row = save(row, |am| am.balance = Set(5)).await;
    let mut draft = revy::Tracked::<account::ActiveModel>::from_model(row.clone());
    // two actors set the code: two entries of one change
    Context::via_actor(user(3)).sync_scope(|| draft.set(account::Column::Code, "C2"));
    Context::via_actor(None).sync_scope(|| draft.set(account::Column::Code, "C3"));
    Context::via_actor(user(3))
        .scope(draft.save(db))
        .await
        .unwrap();
    Context::via_actor(user(4))
        .scope(
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::Code, sea_orm::sea_query::Expr::value("C4"))
                .exec(db),
        )
        .await
        .unwrap();
    let all = revy::history::of::<account::Entity>(row.id)
        .all(db)
        .await
        .unwrap();
    let code = revy::history::of::<account::Entity>(row.id)
        .changed(account::Column::Code)
        .all(db)
        .await
        .unwrap();
    let codes: Vec<Vec<serde_json::Value>> = code
        .iter()
        .map(|d| {
            d.attribute_deltas()
                .unwrap()
                .into_iter()
                .filter(|a| a.field_name == "code")
                .map(|a| a.new_value)
                .collect()
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            vec![json!("C4")],
            vec![json!("C2"), json!("C3")],
            vec![json!("C1")],
            vec![json!("C0")],
        ],
        "{all:?}"
    );
    assert_eq!(all.len(), 6);
    let name = revy::history::of::<account::Entity>(row.id)
        .changed(account::Column::Name)
        .limit(1)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(name.len(), 1);
    assert_eq!(name[0].actor, user(2));
    assert_eq!(name[0].changes[0].column, "name");
    Context::new()
        .scope(sea_orm::ModelTrait::delete(row_now(db, row.id).await, db))
        .await
        .unwrap();
    let after = revy::history::of::<account::Entity>(row.id)
        .changed(account::Column::Balance)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        after.len(),
        2,
        "the create and the balance's save: {after:?}"
    );
}

/// SQLite plans a statement whose `LIMIT` is bound anew at every run (its
/// plan reads the bound value): revy's reads write their limits into the
/// statement's text on SQLite, so the driver's prepared statement is
/// reused. Every read with a limit is checked on each backend for its
/// answer, and on SQLite for the text it sent.
async fn reads_send_no_bound_limit_to_sqlite(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut row = Context::via_actor(user(1))
        .scope(
            account::ActiveModel {
                code: Set("L0".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    for i in 1..=3 {
        let mut am = row.clone().into_active_model();
        am.code = Set(format!("L{i}"));
        row = Context::via_actor(user(2))
            .scope(am.update(db))
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    t.log_sql();
    let blame = revy::history::blame::<account::Entity>(row.id)
        .all(db)
        .await
        .unwrap();
    let code = blame.iter().find(|c| c.column == "code").unwrap();
    assert_eq!(code.actor, user(2));
    // blame is one statement; on SQLite its rows come back as one JSON row
    let blame_sql = t.take_sql();
    assert_eq!(blame_sql.len(), 1, "{blame_sql:?}");
    let one_row = blame_sql[0].starts_with("SELECT json_group_array(");
    assert_eq!(
        one_row,
        db.get_database_backend() == sea_orm::DbBackend::Sqlite,
        "{blame_sql:?}"
    );
    t.log_sql();
    let then = revy::history::as_of::<account::Entity>(row.id, now)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(then.code, "L3");
    let page = revy::history::of::<account::Entity>(row.id)
        .limit(2)
        .all(db)
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    let first = revy::history::of::<account::Entity>(row.id)
        .all(db)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    let created = ObjectSnapshot::<account::Entity>::at(first)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.code, "L0");
    let table = revy::history::table_as_of::<account::Entity>(now)
        .page_size(1)
        .page(db)
        .await
        .unwrap();
    assert_eq!(table.rows.len(), 1);
    let sql = [blame_sql, t.take_sql()].concat();
    assert!(sql.len() >= 6, "{sql:?}");
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let bound: Vec<_> = sql.iter().filter(|s| s.contains("LIMIT ?")).collect();
        assert!(bound.is_empty(), "a bound LIMIT reached SQLite: {bound:?}");
    }
}

async fn row_now(db: &sea_orm::DatabaseConnection, id: i32) -> account::Model {
    use sea_orm::EntityTrait;
    account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

backend_tests!(
    history_pages_and_filters,
    history_of_one_column,
    reads_send_no_bound_limit_to_sqlite
);
