//! The journal as a sea-orm-migration step (feature `migration`).
#![cfg(feature = "migration")]

use crate::common::TestDb;
use crate::common::entities::account;
use revy::Context;
use revy::entity::object_delta;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, Set};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(revy::migration::Migration)]
    }
}

async fn the_migration_creates_and_drops_the_journal(t: TestDb) {
    let db = &t.db;
    // the harness installed the journal; start from nothing
    for table in [
        "revy_tags",
        "revy_erasures",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        db.execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    Migrator::up(db, None).await.unwrap();
    t.create_table(account::Entity).await;
    Context::new()
        .scope(
            account::ActiveModel {
                code: Set("M".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 1);
    Migrator::down(db, None).await.unwrap();
    let err = object_delta::Entity::find()
        .count(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("revy_object_deltas"), "{err}");
}

/// An app's own migration: the accounts table.
struct CreateAccounts;

impl MigrationName for CreateAccounts {
    fn name(&self) -> &str {
        "m20240101_000001_create_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateAccounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        let backend = manager.get_database_backend();
        let create = sea_orm::Schema::new(backend).create_table_from_entity(account::Entity);
        manager.get_connection().execute(&create).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        manager
            .drop_table(
                sea_orm::sea_query::Table::drop()
                    .table(account::Entity)
                    .to_owned(),
            )
            .await
    }
}

/// The app before revy.
struct AppMigrator;

#[async_trait::async_trait]
impl MigratorTrait for AppMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateAccounts)]
    }
}

/// The app with revy's step appended, as the migration docs say.
struct AppWithRevy;

#[async_trait::async_trait]
impl MigratorTrait for AppWithRevy {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateAccounts),
            Box::new(revy::migration::Migration),
        ]
    }
}

/// revy's step appended to an app whose migrations already ran: `up`
/// runs only it, a row written before counts as version 0 and gets a
/// baseline, and `down(1)` removes the journal and nothing of the app.
async fn revy_steps_appended_to_applied_migrations(t: TestDb) {
    let db = &t.db;
    for table in [
        "revy_tags",
        "revy_erasures",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        db.execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    AppMigrator::up(db, None).await.unwrap();
    let old = account::ActiveModel {
        code: Set("before revy".into()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let pending = AppWithRevy::get_pending_migrations(db).await.unwrap();
    let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["m20261203_000001_revy_journal"]);
    assert!(names.iter().all(|n| n.contains("revy")), "{names:?}");
    AppWithRevy::up(db, None).await.unwrap();

    assert_eq!(
        revy::versions::version_of::<account::Entity>(old.id)
            .one(db)
            .await
            .unwrap(),
        None
    );
    let mut am = sea_orm::IntoActiveModel::into_active_model(old.clone());
    am.code = Set("tracked".into());
    let row = revy::versions::update_at_version(am, 0)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        revy::versions::version_of::<account::Entity>(row.id)
            .one(db)
            .await
            .unwrap(),
        Some(2)
    );

    AppWithRevy::down(db, Some(1)).await.unwrap();
    assert!(object_delta::Entity::find().count(db).await.is_err());
    assert_eq!(
        account::Entity::find().count(db).await.unwrap(),
        1,
        "the app's table stays"
    );
    let applied = AppWithRevy::get_applied_migrations(db).await.unwrap();
    let names: Vec<&str> = applied.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["m20240101_000001_create_accounts"]);
}

/// The migration's `up` refuses a database that holds the three-table
/// journal from before 0.1, as `install` does.
async fn the_migration_refuses_a_three_table_journal(t: TestDb) {
    let db = &t.db;
    for table in [
        "revy_tags",
        "revy_erasures",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        db.execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    db.execute_unprepared("CREATE TABLE revy_attribute_deltas (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    let err = Migrator::up(db, None).await.unwrap_err().to_string();
    assert!(err.contains("three-table journal"), "{err}");
    assert!(
        object_delta::Entity::find().count(db).await.is_err(),
        "nothing was created"
    );
}

backend_tests!(
    the_migration_refuses_a_three_table_journal,
    the_migration_creates_and_drops_the_journal,
    revy_steps_appended_to_applied_migrations,
);
