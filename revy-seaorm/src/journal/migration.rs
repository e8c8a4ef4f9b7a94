//! The journal as a sea-orm-migration step (feature `migration`).

use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use super::{attribute_delta, object_delta, revision, schema};

/// Creates the journal tables and indexes (the same as
/// [`install`](crate::install)); `down` drops them.
///
/// Add it to your migrator's list:
///
/// ```ignore
/// use sea_orm_migration::prelude::*;
///
/// pub struct Migrator;
///
/// #[async_trait::async_trait]
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(revy::migration::Migration), Box::new(m20260101_create_accounts::Migration)]
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_revy_journal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in schema::statements(manager.get_database_backend()) {
            sea_orm::ConnectionTrait::execute_raw(db, statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm::sea_query::Table;
        manager
            .drop_table(
                Table::drop()
                    .table(attribute_delta::Entity)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(object_delta::Entity)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(revision::Entity).if_exists().to_owned())
            .await
    }
}
