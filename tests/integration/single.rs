//! Single-row shortcuts: `revy::bulk::insert_one/update_one/delete_one(am).exec`,
//! the tracked twins of sea-orm's `Entity::insert/update/delete(am).exec`,
//! journal as the active-model hooks do and pass the strict guard.

use std::sync::Arc;

use crate::common::entities::{account, membership};
use crate::common::{self, TestDb};
use revy::entity::object_delta;
use revy::{Action, Actor, Context, guard::Guarded, history::ObjectSnapshot};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, DeleteResult, EntityTrait, InsertResult,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};

mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "single_strict_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

fn new_account(code: &str) -> account::ActiveModel {
    account::ActiveModel {
        code: Set(code.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
}

/// (column, old, new, actor) of each attribute delta of an object delta.
async fn changes(t: &TestDb, delta: i64) -> Vec<(String, serde_json::Value, Option<Actor>)> {
    common::attribute_rows(&t.db)
        .await
        .into_iter()
        .filter(|a| a.object_delta_id == delta)
        .map(|a| (a.field_name.clone(), a.old_value.clone(), a.actor()))
        .collect()
}

async fn shortcuts_journal_as_the_active_model_hooks_do(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let ann = || Some(Actor::new("users", 1));

    // insert: the same journal as am.insert, the key in sea-orm's result
    let by_hooks = Context::via_actor(ann())
        .scope(new_account("A").insert(db))
        .await
        .unwrap();
    let result: InsertResult<account::ActiveModel> = Context::via_actor(ann())
        .scope(revy::bulk::insert_one(new_account("B")).exec(db))
        .await
        .unwrap();
    let b = account::Entity::find_by_id(result.last_insert_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.code, "B");
    let hooks_history = revy::history::of::<account::Entity>(by_hooks.id)
        .all(db)
        .await
        .unwrap();
    let twin_history = revy::history::of::<account::Entity>(b.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(twin_history.len(), 1);
    assert_eq!(twin_history[0].action, Action::Create);
    assert_eq!(twin_history[0].actor(), ann());
    assert_eq!(
        changes(&t, twin_history[0].id).await,
        changes(&t, hooks_history[0].id).await,
        "same columns, old values and actors (the key the database's)"
    );
    let snapshot = ObjectSnapshot::<account::Entity>::at(twin_history[0].id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(snapshot, Some(b.clone()));

    let c = Context::new()
        .scope(revy::bulk::insert_one(new_account("C")).exec_with_returning(db))
        .await
        .unwrap();
    assert_eq!(
        account::Entity::find_by_id(c.id).one(db).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        revy::history::of::<account::Entity>(c.id)
            .all(db)
            .await
            .unwrap()
            .len(),
        1
    );

    // a composite key the caller sets comes back as the key's tuple
    let member = Context::new()
        .scope(
            revy::bulk::insert_one(membership::ActiveModel {
                user_id: Set(7),
                group_id: Set("g".into()),
                role: Set("admin".into()),
            })
            .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(member.last_insert_id, (7, "g".to_owned()));
    assert_eq!(
        revy::history::of::<membership::Entity>((7, "g".to_owned()))
            .all(db)
            .await
            .unwrap()
            .len(),
        1
    );

    // update: only the changed columns; an update that changes nothing
    // writes nothing
    let mut am = b.clone().into_active_model();
    am.name = Set(Some("Bee".into()));
    am.balance = Set(b.balance);
    let updated: account::Model = Context::via_actor(Some(Actor::new("users", 2)))
        .scope(revy::bulk::update_one(am).exec(db))
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Bee"));
    let history = revy::history::of::<account::Entity>(b.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].action, Action::Update);
    assert_eq!(history[0].actor(), Some(Actor::new("users", 2)));
    let columns: Vec<String> = changes(&t, history[0].id)
        .await
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(columns, ["name"]);
    let mut same = updated.clone().into_active_model();
    same.name = Set(Some("Bee".into()));
    Context::new()
        .scope(revy::bulk::update_one(same).exec(db))
        .await
        .unwrap();
    assert_eq!(
        revy::history::of::<account::Entity>(b.id)
            .all(db)
            .await
            .unwrap()
            .len(),
        2
    );

    // delete of a row tracking never saw: a baseline, then the Delete
    let plain = new_account("D").insert(db).await.unwrap();
    let deleted: DeleteResult = Context::via_actor(ann())
        .scope(revy::bulk::delete_one(plain.clone().into_active_model()).exec(db))
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected, 1);
    assert_eq!(
        account::Entity::find_by_id(plain.id).one(db).await.unwrap(),
        None
    );
    let history = revy::history::of::<account::Entity>(plain.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "baseline and Delete");
    assert_eq!(history[0].action, Action::Delete);
    assert_eq!(history[0].actor(), ann());
    let before = ObjectSnapshot::<account::Entity>::at(history[0].id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(before, Some(plain));

    // inside a transaction that rolls back, nothing of them stays
    let journal = object_delta::Entity::find().all(db).await.unwrap().len();
    let txn = db.begin().await.unwrap();
    Context::new()
        .scope(revy::bulk::insert_one(new_account("E")).exec(&txn))
        .await
        .unwrap();
    Context::new()
        .scope(revy::bulk::delete_one(updated.clone().into_active_model()).exec(&txn))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(
        object_delta::Entity::find().all(db).await.unwrap().len(),
        journal
    );
    assert_eq!(
        account::Entity::find_by_id(updated.id)
            .one(db)
            .await
            .unwrap(),
        Some(updated)
    );
}

async fn the_strict_guard_passes_the_shortcuts_and_names_them(t: TestDb) {
    t.create_table(post::Entity).await;
    let db = Guarded::new(t.db.clone())
        .strict()
        .register::<post::Entity>();
    let am = |title: &str| post::ActiveModel {
        title: Set(title.into()),
        ..Default::default()
    };

    let first = Context::new()
        .scope(revy::bulk::insert_one(am("first")).exec(&db))
        .await
        .unwrap();
    let second = Context::new()
        .scope(revy::bulk::insert_one(am("second")).exec_with_returning(&db))
        .await
        .unwrap();
    let mut change = second.clone().into_active_model();
    change.title = Set("changed".into());
    Context::new()
        .scope(revy::bulk::update_one(change).exec(&db))
        .await
        .unwrap();
    Context::new()
        .scope(revy::bulk::delete_one(second.clone().into_active_model()).exec(&db))
        .await
        .unwrap();
    let rows = post::Entity::find().all(&t.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, first.last_insert_id);

    // sea-orm's shortcuts are refused, and the refusal names the twin
    let refused = Context::new()
        .scope(post::Entity::insert(am("third")).exec(&db))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("revy::bulk::insert_one"), "{refused}");
    let mut change = rows[0].clone().into_active_model();
    change.title = Set("again".into());
    let refused = Context::new()
        .scope(post::Entity::update(change).exec(&db))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("revy::bulk::update_one"), "{refused}");
    let refused = Context::new()
        .scope(post::Entity::delete(rows[0].clone().into_active_model()).exec(&db))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("revy::bulk::delete_one"), "{refused}");
    assert_eq!(post::Entity::find().all(&t.db).await.unwrap(), rows);
    let journal = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("single_strict_posts"))
        .all(&t.db)
        .await
        .unwrap();
    assert_eq!(journal.len(), 4, "two creates, an update, a delete");
}

/// Concurrent shortcut updates of one row, each in its own transaction:
/// every one journaled, versions numbered without gaps or repeats.
async fn concurrent_shortcut_updates_number_versions_without_gaps(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = Arc::new(t.db.clone());
    let row = Context::new()
        .scope(revy::bulk::insert_one(new_account("C")).exec_with_returning(&*db))
        .await
        .unwrap();
    let tasks: Vec<_> = (1..=8i64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(
                Context::via_actor(Some(Actor::new("users", i))).scope(async move {
                    let txn = common::begin(&db).await.unwrap();
                    let am = account::ActiveModel {
                        id: ActiveValue::Unchanged(row.id),
                        balance: Set(i * 100),
                        ..Default::default()
                    };
                    revy::bulk::update_one(am).exec(&txn).await.unwrap();
                    txn.commit().await.unwrap();
                }),
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let versions: Vec<i64> = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .filter(object_delta::Column::ContentId.eq(row.id.to_string()))
        .order_by_asc(object_delta::Column::Id)
        .all(&*db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.version)
        .collect();
    assert_eq!(versions, (1..=9).collect::<Vec<i64>>());
    // the newest snapshot is the row as it is
    let live = account::Entity::find_by_id(row.id).one(&*db).await.unwrap();
    let newest = revy::history::of::<account::Entity>(row.id)
        .limit(1)
        .all(&*db)
        .await
        .unwrap();
    let snapshot = ObjectSnapshot::<account::Entity>::at(newest[0].id)
        .one(&*db)
        .await
        .unwrap();
    assert_eq!(snapshot, live);
}

backend_tests!(
    shortcuts_journal_as_the_active_model_hooks_do,
    the_strict_guard_passes_the_shortcuts_and_names_them,
    concurrent_shortcut_updates_number_versions_without_gaps,
);
