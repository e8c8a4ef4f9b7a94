//! `insert_many(..).on_conflict_*`: a get-or-create and an upsert that
//! journal exactly the rows the statement inserted or updated, also while
//! other transactions race for the same values.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::common::TestDb;
use revy::bulk::BulkError;
use revy::entity::object_delta;
use revy::{Action, Actor, Context, history::ObjectSnapshot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

pub mod label {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "labels")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub name: String,
        pub uses: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

fn new(name: &str, uses: i32) -> label::ActiveModel {
    label::ActiveModel {
        name: Set(name.to_owned()),
        uses: Set(uses),
        ..Default::default()
    }
}

async fn setup(t: &TestDb) {
    revy::install(&t.db).await.unwrap();
    t.create_table(label::Entity).await;
}

/// (action, name of the label) of every object delta of `labels`, oldest first.
async fn journal(db: &DatabaseConnection) -> Vec<(Action, String)> {
    let names: std::collections::HashMap<String, String> = label::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.id.to_string(), l.name))
        .collect();
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("labels"))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            let name = names.get(&d.content_id).cloned().unwrap_or(d.content_id);
            (d.action, name)
        })
        .collect()
}

fn deltas(list: &[(Action, &str)]) -> Vec<(Action, String)> {
    list.iter().map(|(a, n)| (*a, (*n).to_owned())).collect()
}

async fn do_nothing_journals_only_the_rows_inserted(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // "a" written untracked: it is there, the journal never saw it
    new("a", 1).insert(db).await.unwrap();
    let inserted = Context::via_actor(Some(Actor::new("users", 7)))
        .scope(
            revy::bulk::insert_many::<label::Entity>([
                new("a", 9),
                new("b", 1),
                new("b", 2),
                new("c", 1),
            ])
            .on_conflict_do_nothing([label::Column::Name])
            .exec_with_returning(db),
        )
        .await
        .unwrap();
    // the first "b" wins, the second meets it
    assert_eq!(
        inserted
            .iter()
            .map(|l| (l.name.as_str(), l.uses))
            .collect::<Vec<_>>(),
        [("b", 1), ("c", 1)]
    );
    assert_eq!(
        journal(db).await,
        deltas(&[(Action::Create, "b"), (Action::Create, "c")])
    );
    let a = label::Entity::find()
        .filter(label::Column::Name.eq("a"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.uses, 1, "a conflicting row is left as it was");

    // every model conflicts: no key, no journal, no error
    let none = Context::new()
        .scope(
            revy::bulk::insert_many::<label::Entity>([new("a", 5), new("c", 5)])
                .on_conflict_do_nothing([label::Column::Name])
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(none.last_insert_id, None);
    assert_eq!(journal(db).await.len(), 2);

    // exec gives the key of the last row inserted
    let some = Context::new()
        .scope(
            revy::bulk::insert_many::<label::Entity>([new("d", 1), new("a", 5)])
                .on_conflict_do_nothing([label::Column::Name])
                .exec(db),
        )
        .await
        .unwrap();
    let d = label::Entity::find()
        .filter(label::Column::Name.eq("d"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(some.last_insert_id, Some(d.id));

    // the same call untracked: the plain statement, the same rows
    let plain = revy::bulk::insert_many::<label::Entity>([new("a", 5), new("e", 1)])
        .on_conflict_do_nothing([label::Column::Name])
        .exec(db)
        .await
        .unwrap();
    assert!(plain.last_insert_id.is_some());
    let all_conflict = revy::bulk::insert_many::<label::Entity>([new("a", 5)])
        .on_conflict_do_nothing([label::Column::Name])
        .exec(db)
        .await
        .unwrap();
    assert_eq!(all_conflict.last_insert_id, None);
    assert_eq!(label::Entity::find().count(db).await.unwrap(), 5);
    assert_eq!(
        journal(db).await.len(),
        3,
        "untracked calls journal nothing"
    );

    // a model that leaves the target NotSet is refused, naming the column
    let err = Context::new()
        .scope(
            revy::bulk::insert_many::<label::Entity>([label::ActiveModel {
                uses: Set(1),
                ..Default::default()
            }])
            .on_conflict_do_nothing([label::Column::Name])
            .exec(db),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, revy::Error::Bulk(e)
            if matches!(&**e, BulkError::ConflictTargetNotSet { table, column } if table == "labels" && column == "name")),
        "{err}"
    );
}

async fn update_journals_old_values_and_creates(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // "a" tracked with uses 1; "u" untracked with uses 5
    Context::new().scope(new("a", 1).insert(db)).await.unwrap();
    new("u", 5).insert(db).await.unwrap();
    let rows = Context::via_actor(Some(Actor::new("users", 7)))
        .scope(
            revy::bulk::insert_many::<label::Entity>([new("a", 2), new("u", 6), new("n", 3)])
                .on_conflict_update([label::Column::Name], [label::Column::Uses])
                .exec_with_returning(db),
        )
        .await
        .unwrap();
    let mut got: Vec<_> = rows.iter().map(|l| (l.name.clone(), l.uses)).collect();
    got.sort();
    assert_eq!(got, [("a".into(), 2), ("n".into(), 3), ("u".into(), 6)]);
    // inserted first, then updated; "u" gets its baseline (a Create by the
    // system) before its update
    let j = journal(db).await;
    assert_eq!(j.first(), Some(&(Action::Create, "a".to_owned())));
    let mut rest: Vec<_> = j[1..].iter().map(|(a, n)| format!("{a:?} {n}")).collect();
    rest.sort();
    let mut want: Vec<_> = deltas(&[
        (Action::Create, "n"),
        (Action::Update, "a"),
        (Action::Create, "u"),
        (Action::Update, "u"),
    ])
    .into_iter()
    .map(|(a, n)| format!("{a:?} {n}"))
    .collect();
    want.sort();
    assert_eq!(rest, want, "{j:?}");

    // the update of "a" records uses 1 -> 2 by the actor, nothing else
    let a = label::Entity::find()
        .filter(label::Column::Name.eq("a"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let update = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("labels"))
        .filter(object_delta::Column::ContentId.eq(a.id.to_string()))
        .filter(object_delta::Column::Action.eq(Action::Update))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(update.actor_id.as_deref(), Some("7"));
    let changes = crate::common::entries_of(&update);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].field_name, "uses");
    assert_eq!(changes[0].old_value, serde_json::json!(1));
    assert_eq!(changes[0].new_value, serde_json::json!(2));
    let snapshot = ObjectSnapshot::<label::Entity>::at(update.id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(snapshot, Some(a));

    // an upsert that changes nothing journals nothing
    let before = journal(db).await.len();
    Context::new()
        .scope(
            revy::bulk::insert_many::<label::Entity>([new("a", 2), new("n", 3)])
                .on_conflict_update([label::Column::Name], [label::Column::Uses])
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(journal(db).await.len(), before);
}

/// A deadlock (MySQL, PostgreSQL) or a busy database (SQLite) ends a whole
/// transaction: the application runs it again.
fn retryable(e: &revy::Error) -> bool {
    let text = e.to_string().to_lowercase();
    text.contains("deadlock") || text.contains("database is locked")
}

async fn racing_get_or_create_creates_once(t: TestDb) {
    setup(&t).await;
    let db = Arc::new(t.db.clone());
    const TASKS: usize = 8;
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut retries = 0;
            loop {
                let attempt = Context::via_actor(Some(Actor::new("users", i.to_string())))
                    .scope(async {
                        let txn = crate::common::begin(&db).await?;
                        let result = async {
                            revy::bulk::insert_many::<label::Entity>([
                                new("shared", 0),
                                new(&format!("own-{i}"), 0),
                            ])
                            .on_conflict_do_nothing([label::Column::Name])
                            .exec(&txn)
                            .await?;
                            let shared = label::Entity::find()
                                .filter(label::Column::Name.eq("shared"))
                                .one(&txn)
                                .await?;
                            Ok::<_, revy::Error>(shared)
                        }
                        .await;
                        match result {
                            Ok(shared) => {
                                txn.commit().await?;
                                Ok(shared)
                            }
                            Err(e) => {
                                let _ = txn.rollback().await;
                                Err(e)
                            }
                        }
                    })
                    .await;
                match attempt {
                    Ok(shared) => return (shared.expect("the shared label is there"), retries),
                    Err(e) if retryable(&e) && retries < 50 => retries += 1,
                    Err(e) => panic!("task {i}: {e}"),
                }
            }
        }));
    }
    let mut ids = BTreeSet::new();
    let mut retries = 0;
    for h in handles {
        let (shared, r) = h.await.unwrap();
        ids.insert(shared.id);
        retries += r;
    }
    assert_eq!(ids.len(), 1, "every task saw the same shared label");
    assert_eq!(
        label::Entity::find()
            .filter(label::Column::Name.eq("shared"))
            .count(&*db)
            .await
            .unwrap(),
        1
    );
    let j = journal(&db).await;
    let shared_creates = j.iter().filter(|(_, n)| n == "shared").count();
    assert_eq!(shared_creates, 1, "one Create of the shared label: {j:?}");
    assert_eq!(j.len(), TASKS + 1, "{j:?}");
    assert!(j.iter().all(|(a, _)| *a == Action::Create));
    eprintln!(
        "racing get-or-create on {:?}: {TASKS} tasks, {retries} retries",
        t.backend
    );
}

backend_tests!(
    do_nothing_journals_only_the_rows_inserted,
    update_journals_old_values_and_creates,
    racing_get_or_create_creates_once,
);
