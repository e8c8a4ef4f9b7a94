//! The journal as a sea-orm-migration step (feature `migration`).
#![cfg(feature = "migration")]

use crate::common::TestDb;
use crate::common::entities::account;
use revy::Context;
use revy::entity::object_delta;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, Set};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

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
        "revy_attribute_deltas",
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

backend_tests!(the_migration_creates_and_drops_the_journal);
