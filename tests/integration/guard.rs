//! The guard: writes to tracked tables that bypass revy are counted and
//! warned about, or refused in strict mode; revy's own writes pass.

use crate::common::TestDb;
use crate::common::entities::{account, line, odd, player, team, transaction};
use revy::entity::object_delta;
use revy::{Context, context::LazyRevision, guard::Guarded};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, Set, Statement, TransactionTrait,
};

/// The untracked-write counts are per process and per table, and the three
/// backends of one test use tables of the same names: tests that compare
/// counts take turns.
static COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tracked entity `$m` with its own table, so each test counts its own.
macro_rules! post {
    ($m:ident, $table:literal, tracked) => {
        post!($m, $table, { revy::track!(); });
    };
    ($m:ident, $table:literal, { $($hooks:tt)* }) => {
        mod $m {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub title: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                $($hooks)*
            }
            impl revy::TrackingPolicy for Entity {}
        }
    };
}

post!(strict_post, "guard_strict_posts", tracked);
post!(default_post, "guard_default_posts", tracked);
post!(raw_post, "guard_raw_posts", tracked);
post!(context_post, "guard_context_posts", tracked);
post!(plain_post, "guard_plain_posts", {});
post!(bulk_post, "guard_bulk_posts", tracked);

async fn count(table: &str) -> u64 {
    revy::guard::untracked_writes().get(table)
}

macro_rules! insert_post {
    ($m:ident, $db:expr, $title:expr) => {
        $m::ActiveModel {
            title: Set($title.to_owned()),
            ..Default::default()
        }
        .insert($db)
    };
}

/// Strict mode refuses each bypassing write before it runs, naming the
/// table and the tracked call to use; the row is unchanged.
async fn strict_refuses_untracked_writes(t: TestDb) {
    t.create_table(strict_post::Entity).await;
    let db = Guarded::new(t.db.clone())
        .strict()
        .register::<strict_post::Entity>();
    let post = Context::new()
        .scope(insert_post!(strict_post, &db, "first"))
        .await
        .unwrap();

    let refused = Context::new()
        .scope(
            strict_post::Entity::update_many()
                .col_expr(strict_post::Column::Title, Expr::value("changed"))
                .exec(&db),
        )
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("guard_strict_posts"), "{text}");
    assert!(text.contains("revy::bulk::update_many"), "{text}");
    assert!(matches!(refused, DbErr::Custom(_)), "{refused:?}");

    let refused = Context::new()
        .scope(async {
            let txn = db.begin().await?;
            let mut am = post.clone().into_active_model();
            am.title = Set("changed".into());
            strict_post::Entity::update(am).exec(&txn).await?;
            txn.commit().await
        })
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("UPDATE"), "{refused}");

    let refused = Context::new()
        .scope(strict_post::Entity::delete_by_id(post.id).exec(&db))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("revy::deletion::delete"),
        "{refused}"
    );

    let refused = Context::new()
        .scope(
            strict_post::Entity::insert_many([strict_post::ActiveModel {
                title: Set("second".into()),
                ..Default::default()
            }])
            .exec(&db),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("INSERT"), "{refused}");

    let rows = strict_post::Entity::find().all(&t.db).await.unwrap();
    assert_eq!(rows, vec![post.clone()]);

    // the tracked way passes
    let mut am = post.into_active_model();
    am.title = Set("changed".into());
    Context::new().scope(am.update(&db)).await.unwrap();
}

/// Default mode lets the write run, counts each statement and warns.
async fn default_mode_counts_each_untracked_statement(t: TestDb) {
    t.create_table(default_post::Entity).await;
    let _turn = COUNTING.lock().await;
    let db = Guarded::new(t.db.clone()).register::<default_post::Entity>();
    let table = "guard_default_posts";
    let post = Context::new()
        .scope(insert_post!(default_post, &db, "first"))
        .await
        .unwrap();
    let before = count(table).await;
    for title in ["a", "b"] {
        let result = Context::new()
            .scope(
                default_post::Entity::update_many()
                    .col_expr(default_post::Column::Title, Expr::value(title))
                    .exec(&db),
            )
            .await
            .unwrap();
        assert_eq!(result.rows_affected, 1);
    }
    assert_eq!(count(table).await, before + 2);
    let row = default_post::Entity::find_by_id(post.id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.title, "b");

    // tracked writes do not count
    let mut am = row.into_active_model();
    am.title = Set("c".into());
    let row = Context::new().scope(am.update(&db)).await.unwrap();
    Context::new()
        .scope(row.into_active_model().delete(&db))
        .await
        .unwrap();
    assert_eq!(count(table).await, before + 2);
}

/// Raw SQL through a guarded connection is read like built SQL.
async fn raw_sql_is_caught(t: TestDb) {
    t.create_table(raw_post::Entity).await;
    let _turn = COUNTING.lock().await;
    let strict = Guarded::new(t.db.clone())
        .strict()
        .register::<raw_post::Entity>();
    Context::new()
        .scope(insert_post!(raw_post, &strict, "first"))
        .await
        .unwrap();
    let before = count("guard_raw_posts").await;
    let refused = Context::new()
        .scope(strict.execute_unprepared("UPDATE guard_raw_posts SET title = 'x'"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("guard_raw_posts"), "{refused}");
    let backend = t.db.get_database_backend();
    let refused = Context::new()
        .scope(strict.execute_raw(Statement::from_string(
            backend,
            "/* cleanup */ DELETE FROM guard_raw_posts WHERE title <> 'a; UPDATE x'",
        )))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("DELETE"), "{refused}");
    assert_eq!(count("guard_raw_posts").await, before + 2);
    let rows = raw_post::Entity::find().all(&t.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].title, "first");

    // reads, and locking reads, pass
    Context::new()
        .scope(strict.execute_unprepared("SELECT title FROM guard_raw_posts"))
        .await
        .unwrap();

    // default mode: it runs, and counts
    let lenient = Guarded::new(t.db.clone());
    Context::new()
        .scope(lenient.execute_unprepared("UPDATE guard_raw_posts SET title = 'x'"))
        .await
        .unwrap();
    assert_eq!(count("guard_raw_posts").await, before + 3);
    let rows = raw_post::Entity::find().all(&t.db).await.unwrap();
    assert_eq!(rows[0].title, "x");
}

/// A table whose name is made of quotes, a semicolon and a keyword is
/// recognized in the SQL sea-query writes for it.
async fn hostile_table_names_are_recognized(t: TestDb) {
    t.create_table(odd::Entity).await;
    let db = Guarded::new(t.db.clone())
        .strict()
        .register::<odd::Entity>();
    Context::new()
        .scope(
            odd::ActiveModel {
                id: Set("k".into()),
                from_: Set("a".into()),
            }
            .insert(&db),
        )
        .await
        .unwrap();
    let refused = Context::new()
        .scope(
            odd::Entity::update_many()
                .col_expr(odd::Column::From, Expr::value("b"))
                .exec(&db),
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("odd \"t\"; select"),
        "{refused}"
    );
}

async fn ledger(t: &TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    t.create_table(line::Entity).await;
    t.create_table(team::Entity).await;
    t.create_table(player::Entity).await;
}

async fn open_account<C: ConnectionTrait>(db: &C, code: &str) -> Result<account::Model, DbErr> {
    let a = account::ActiveModel {
        code: Set(code.into()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await?;
    for _ in 0..3 {
        let tx = transaction::ActiveModel {
            account_id: Set(a.id),
            kind: Set("credit".into()),
            amount: Set(Decimal::new(100, 2)),
            exchange_rate: Set(Decimal::new(200, 2)),
            local_amount: Set(Decimal::new(200, 2)),
            iso_code: Set("TZS".into()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        line::ActiveModel {
            transaction_id: Set(tx.id),
            memo: Set("fee".into()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(a)
}

/// Everything revy does itself passes a strict guard: active-model saves
/// and deletes, deletion policies (cascade and set), restore and undo, on
/// the connection, in a transaction and in `transaction(..)`.
async fn tracked_paths_pass_in_strict_mode(t: TestDb) {
    ledger(&t).await;
    let db = Guarded::new(t.db.clone())
        .strict()
        .report_without_context()
        .register::<account::Entity>()
        .register::<transaction::Entity>()
        .register::<line::Entity>()
        .register::<team::Entity>()
        .register::<player::Entity>();

    // on the connection
    let a = Context::new()
        .scope(open_account(&db, "A-1"))
        .await
        .unwrap();
    let mut am = a.clone().into_active_model();
    am.name = Set(Some("Main".into()));
    let a = Context::new().scope(am.save(&db)).await.unwrap();
    let a = account::Entity::find_by_id(a.id.unwrap())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let revision = LazyRevision::new();
    Context::via_revision(revision.clone())
        .scope(revy::deletion::delete(a).exec(&db))
        .await
        .unwrap();
    assert_eq!(transaction::Entity::find().count(&t.db).await.unwrap(), 0);
    assert_eq!(line::Entity::find().count(&t.db).await.unwrap(), 0);

    // undo brings the tree back through the guard
    Context::new()
        .scope(revy::rollback::undo_revision(revision.id().unwrap()).exec(&db))
        .await
        .unwrap();
    assert_eq!(transaction::Entity::find().count(&t.db).await.unwrap(), 3);

    // in a guarded transaction
    Context::new()
        .scope(async {
            let txn = db.begin().await?;
            let b = open_account(&txn, "B-1").await?;
            let mut am = b.clone().into_active_model();
            am.code = Set("B-2".into());
            let b = am.update(&txn).await?;
            revy::deletion::delete(b).exec(&txn).await?;
            txn.commit().await?;
            Ok::<_, revy::Error>(())
        })
        .await
        .unwrap();

    // in transaction(..), with set-policies
    Context::new()
        .scope(db.transaction::<_, _, revy::Error>(|txn| {
            Box::pin(async move {
                let team = team::ActiveModel {
                    name: Set("Red".into()),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                player::ActiveModel {
                    captain_of: Set(Some(team.id)),
                    plays_for: Set(team.id),
                    sponsor: Set(team.id),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                revy::deletion::delete(team).exec(txn).await?;
                Ok(())
            })
        }))
        .await
        .unwrap();
    let player = player::Entity::find().one(&t.db).await.unwrap().unwrap();
    assert_eq!(player.captain_of, None);
    assert_eq!(player.sponsor, -1);

    // a deleted row restored
    let delete = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("teams"))
        .filter(object_delta::Column::Action.eq("Delete"))
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    Context::new()
        .scope(revy::rollback::restore::<team::Entity>(delete.id).exec(&db))
        .await
        .unwrap();

    // each tracked write was journaled
    let deletes = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq("Delete"))
        .count(&t.db)
        .await
        .unwrap();
    assert_eq!(deletes, (1 + 3 + 3) * 2 + 1);
}

/// Tables no entity tracks are never reported.
async fn untracked_tables_pass(t: TestDb) {
    t.create_table(plain_post::Entity).await;
    let db = Guarded::new(t.db.clone()).strict().report_without_context();
    insert_post!(plain_post, &db, "first").await.unwrap();
    Context::new()
        .scope(
            plain_post::Entity::update_many()
                .col_expr(plain_post::Column::Title, Expr::value("x"))
                .exec(&db),
        )
        .await
        .unwrap();
    plain_post::Entity::delete_many().exec(&db).await.unwrap();
    assert_eq!(revy::guard::untracked_writes().get("guard_plain_posts"), 0);
}

/// A disabled context is never reported; no context is reported only when
/// asked for.
async fn context_decides_what_is_reported(t: TestDb) {
    t.create_table(context_post::Entity).await;
    let _turn = COUNTING.lock().await;
    let table = "guard_context_posts";
    let strict = Guarded::new(t.db.clone())
        .strict()
        .register::<context_post::Entity>();
    let strict_everywhere = strict.clone().report_without_context();
    let before = count(table).await;
    let update = |title: &'static str| {
        context_post::Entity::update_many()
            .col_expr(context_post::Column::Title, Expr::value(title))
    };

    // no context: passes, unless asked for
    insert_post!(context_post, &strict, "first").await.unwrap();
    update("a").exec(&strict).await.unwrap();
    assert_eq!(count(table).await, before);
    let refused = update("b").exec(&strict_everywhere).await.unwrap_err();
    assert!(refused.to_string().contains("no revy context"), "{refused}");
    let refused = insert_post!(context_post, &strict_everywhere, "second")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("no revy context"), "{refused}");
    assert_eq!(count(table).await, before + 2);
    // a spawned task that did not carry the context has none
    let db = strict_everywhere.clone();
    let spawned = Context::new()
        .scope(tokio::spawn(async move {
            update("c").exec(&db).await.map(|_| ())
        }))
        .await
        .unwrap();
    assert!(spawned.is_err());
    // ... one that did carries permission with it
    let db = strict_everywhere.clone();
    Context::new()
        .scope(async {
            let captured = Context::capture().unwrap();
            tokio::spawn(
                captured.scope(async move {
                    insert_post!(context_post, &db, "carried").await.map(|_| ())
                }),
            )
            .await
            .unwrap()
        })
        .await
        .unwrap();

    // disabled: never
    Context::as_disabled()
        .scope(update("d").exec(&strict_everywhere))
        .await
        .unwrap();
    Context::new()
        .scope(Context::as_disabled().scope(update("e").exec(&strict_everywhere)))
        .await
        .unwrap();
    assert_eq!(count(table).await, before + 3);
    let titles: Vec<String> = context_post::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.title)
        .collect();
    assert_eq!(titles, ["e", "e"]);

    // default mode, no context, asked for: counted and run
    let lenient = Guarded::new(t.db.clone()).report_without_context();
    update("f").exec(&lenient).await.unwrap();
    assert_eq!(count(table).await, before + 4);
}

/// revy's bulk calls pass a strict guard, on the connection and in a
/// guarded transaction, and journal every row; sea-orm's own are refused.
async fn bulk_calls_pass_in_strict_mode(t: TestDb) {
    t.create_table(bulk_post::Entity).await;
    let db = Guarded::new(t.db.clone())
        .strict()
        .report_without_context()
        .register::<bulk_post::Entity>();
    let posts = |titles: &[&str]| {
        titles
            .iter()
            .map(|title| bulk_post::ActiveModel {
                title: Set((*title).to_owned()),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    Context::new()
        .scope(async {
            revy::bulk::insert_many::<bulk_post::Entity>(posts(&["a", "b", "c"]))
                .exec(&db)
                .await
                .unwrap();
            let txn = db.begin().await.unwrap();
            revy::bulk::update_many::<bulk_post::Entity>()
                .col_expr(bulk_post::Column::Title, Expr::value("z"))
                .filter(bulk_post::Column::Title.ne("c"))
                .exec(&txn)
                .await
                .unwrap();
            revy::bulk::delete_by_id::<bulk_post::Entity>(3)
                .exec(&txn)
                .await
                .unwrap();
            let refused = bulk_post::Entity::delete_many().exec(&txn).await;
            assert!(refused.is_err(), "sea-orm's own delete_many passed");
            txn.commit().await.unwrap();
            revy::bulk::delete_many::<bulk_post::Entity>()
                .exec(&db)
                .await
                .unwrap();
        })
        .await;
    assert_eq!(bulk_post::Entity::find().count(&t.db).await.unwrap(), 0);
    let journaled = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("guard_bulk_posts"))
        .count(&t.db)
        .await
        .unwrap();
    assert_eq!(journaled, 3 + 2 + 1 + 2);
    // with no context, even revy's call is reported: nothing journals it
    let refused = revy::bulk::delete_many::<bulk_post::Entity>()
        .exec(&db)
        .await;
    assert!(refused.is_err(), "a write with no context passed");
}

backend_tests!(
    bulk_calls_pass_in_strict_mode,
    strict_refuses_untracked_writes,
    default_mode_counts_each_untracked_statement,
    raw_sql_is_caught,
    hostile_table_names_are_recognized,
    tracked_paths_pass_in_strict_mode,
    untracked_tables_pass,
    context_decides_what_is_reported,
);
