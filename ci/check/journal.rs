//! One tracked write of every kind against a real database, then the
//! journal checked: what `.ci/run` runs in each user-like application
//! (ci/app-sqlite, ci/app-mysql, ci/app-postgres), each built with only its
//! own sea-orm driver features and its own lock file, so a path that
//! depends on a sea-orm feature revy's own tests turn on fails here.

use revy::entity::object_delta;
use revy::{Action, Actor, Context};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Schema, Set,
};

pub mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ci_app_notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub stars: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
    impl revy::deletion::DeletionPolicies for Entity {}
}

type Failure = Box<dyn std::error::Error>;

fn check(ok: bool, what: &str) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(format!("journal check failed: {what}").into())
    }
}

/// The object deltas written since `after`, oldest first, as
/// (action, content id).
async fn deltas_since(
    db: &DatabaseConnection,
    after: i64,
) -> Result<Vec<(Action, String)>, Failure> {
    Ok(object_delta::Entity::find()
        .filter(object_delta::Column::Id.gt(after))
        .filter(object_delta::Column::ContentType.eq("ci_app_notes"))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.action, d.content_id))
        .collect())
}

/// Connects to a database of the check's own on the server `url` names,
/// made afresh (so earlier runs' journals never meet this one).
#[allow(dead_code)] // the SQLite application opens a file instead
pub async fn fresh_database(url: &str) -> Result<DatabaseConnection, Failure> {
    let server = sea_orm::Database::connect(url).await?;
    server
        .execute_unprepared("DROP DATABASE IF EXISTS revy_ci_app")
        .await?;
    server
        .execute_unprepared("CREATE DATABASE revy_ci_app")
        .await?;
    server.close().await?;
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server_part = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
    Ok(sea_orm::Database::connect(format!("{server_part}/revy_ci_app{query}")).await?)
}

pub async fn run(db: &DatabaseConnection) -> Result<(), Failure> {
    revy::install(db).await?;
    let backend = db.get_database_backend();
    db.execute_unprepared("DROP TABLE IF EXISTS ci_app_notes")
        .await?;
    db.execute(&Schema::new(backend).create_table_from_entity(note::Entity))
        .await?;
    let start = last_delta(db).await?;

    let actor = Actor::new("users", 7);
    Context::via_actor(Some(actor.clone()))
        .scope(async {
            // per-row: insert, update, delete through the hooks
            let first = note::ActiveModel {
                title: Set("first".into()),
                stars: Set(1),
                ..Default::default()
            }
            .insert(db)
            .await?;
            let mut edit: note::ActiveModel = first.clone().into();
            edit.stars = Set(2);
            edit.update(db).await?;
            // through the deletion policies' path (no children here)
            revy::deletion::delete(first).exec(db).await?;

            // bulk: three inserts with auto-increment keys, an update, a delete
            let rows = (0..3).map(|i| note::ActiveModel {
                title: Set(format!("bulk {i}")),
                stars: Set(i),
                ..Default::default()
            });
            let inserted = revy::bulk::insert_many::<note::Entity>(rows).exec(db).await?;
            check(
                inserted.last_insert_id == Some(4),
                "insert_many returns the last key",
            )?;
            let updated = revy::bulk::update_many::<note::Entity>()
                .col_expr(note::Column::Stars, Expr::col(note::Column::Stars).add(10))
                .filter(note::Column::Title.starts_with("bulk"))
                .exec(db)
                .await?;
            check(updated.rows_affected == 3, "update_many changes three rows")?;
            let deleted = revy::bulk::delete_many::<note::Entity>()
                .filter(note::Column::Id.eq(2))
                .exec(db)
                .await?;
            check(deleted.rows_affected == 1, "delete_many deletes one row")?;
            Ok::<_, Failure>(())
        })
        .await?;

    let journal = deltas_since(db, start).await?;
    let expected: Vec<(Action, String)> = [
        (Action::Create, "1"),
        (Action::Update, "1"),
        (Action::Delete, "1"),
        (Action::Create, "2"),
        (Action::Create, "3"),
        (Action::Create, "4"),
        (Action::Update, "2"),
        (Action::Update, "3"),
        (Action::Update, "4"),
        (Action::Delete, "2"),
    ]
    .into_iter()
    .map(|(a, id)| (a, id.to_owned()))
    .collect();
    check(
        journal == expected,
        &format!("object deltas {journal:?}, expected {expected:?}"),
    )?;

    // every delta carries the actor
    let actors = object_delta::Entity::find()
        .filter(object_delta::Column::Id.gt(start))
        .filter(object_delta::Column::ContentType.eq("ci_app_notes"))
        .all(db)
        .await?;
    check(
        actors.iter().all(|d| d.actor_id.as_deref() == Some("7")),
        "every object delta names the actor",
    )?;

    // a snapshot of the first row at its update, then a restore of it
    let update_id = actors
        .iter()
        .find(|d| d.action == Action::Update && d.content_id == "1")
        .map(|d| d.id)
        .ok_or("no update delta of row 1")?;
    let snapshot = revy::history::ObjectSnapshot::<note::Entity>::at(update_id)
        .one(db)
        .await?;
    let expected_row = note::Model {
        id: 1,
        title: "first".into(),
        stars: 2,
    };
    check(
        snapshot.as_ref() == Some(&expected_row),
        &format!("snapshot at the update: {snapshot:?}"),
    )?;
    let restored = Context::via_actor(Some(actor))
        .scope(revy::rollback::restore_latest::<note::Entity>(1).exec(db))
        .await?;
    check(restored == expected_row, "restore gives the row back")?;
    let live = note::Entity::find_by_id(1).one(db).await?;
    check(
        live == Some(expected_row),
        "the restored row is in the table",
    )?;
    let bulk = note::Entity::find()
        .order_by_asc(note::Column::Id)
        .all(db)
        .await?;
    check(
        bulk.iter().map(|n| (n.id, n.stars)).collect::<Vec<_>>() == vec![(1, 2), (3, 11), (4, 12)],
        &format!("rows after the bulk calls: {bulk:?}"),
    )?;

    // a queued transaction: the journal written at commit
    let queued_start = last_delta(db).await?;
    Context::new()
        .scope(async {
            let txn = revy::begin(db).await?;
            let row = note::ActiveModel {
                title: Set("queued".into()),
                stars: Set(0),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let mut edit: note::ActiveModel = row.into();
            edit.stars = Set(1);
            edit.update(&txn).await?;
            txn.commit().await?;
            Ok::<_, Failure>(())
        })
        .await?;
    let queued = deltas_since(db, queued_start).await?;
    check(
        queued
            == [
                (Action::Create, "5".to_owned()),
                (Action::Update, "5".to_owned()),
            ],
        &format!("queued transaction: {queued:?}"),
    )?;

    // a draft: one column set by a second actor
    let draft_start = last_delta(db).await?;
    let row = note::Entity::find_by_id(5).one(db).await?.ok_or("row 5")?;
    Context::via_actor(Some(Actor::new("users", 8)))
        .scope(async {
            let mut draft = revy::Tracked::<note::ActiveModel>::from_model(row);
            draft.set(note::Column::Title, "drafted");
            Context::via_actor(None).sync_scope(|| draft.set(note::Column::Stars, 3));
            draft.save(db).await?;
            Ok::<_, Failure>(())
        })
        .await?;
    let drafted = deltas_since(db, draft_start).await?;
    check(
        drafted == [(Action::Update, "5".to_owned())],
        &format!("draft: {drafted:?}"),
    )?;

    // a prune with an export, then the export imported back
    let before_prune = count(db).await?;
    let mut export = Vec::new();
    revy::lifecycle::prune()
        .keep_last(1)
        .entity::<note::Entity>()
        .export(&mut export)
        .exec(db)
        .await?;
    check(count(db).await? < before_prune, "the prune folded history")?;
    revy::lifecycle::import(export.as_slice()).exec(db).await?;
    check(
        count(db).await? == before_prune,
        "the export imported back gives the journal before the prune",
    )?;
    let snapshot = revy::history::ObjectSnapshot::<note::Entity>::at(update_id)
        .one(db)
        .await?;
    check(
        snapshot.as_ref().map(|n| n.stars) == Some(2),
        "the snapshot after prune and import",
    )?;

    println!(
        "journal check on {backend:?}: {} object deltas as expected",
        count(db).await?
    );
    Ok(())
}

async fn last_delta(db: &DatabaseConnection) -> Result<i64, Failure> {
    Ok(object_delta::Entity::find()
        .select_only()
        .column_as(object_delta::Column::Id.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}

async fn count(db: &DatabaseConnection) -> Result<u64, Failure> {
    use sea_orm::PaginatorTrait;
    Ok(object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("ci_app_notes"))
        .count(db)
        .await?)
}
