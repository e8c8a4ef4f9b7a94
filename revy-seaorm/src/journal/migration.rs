//! The journal as a sea-orm-migration step (feature `migration`).

use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use super::{erasure, object_delta, revision, schema, tag};

/// Creates the journal tables and indexes, and on PostgreSQL the change
/// feed's notify trigger (the same as [`install`](crate::journal::install)); `down`
/// drops them. The journal's one step: revy 0.1 collapsed the steps of its
/// unreleased versions into it, and its `up` refuses a database that holds
/// the older three-table journal ([`JournalError::OldJournal`](crate::error::JournalError::OldJournal)).
///
/// Add it to your migrator's list:
///
/// ```
/// use sea_orm_migration::{MigrationTrait, MigratorTrait};
///
/// struct Migrator;
///
/// #[async_trait::async_trait]
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         // revy's journal first, then the app's own migrations
///         vec![
///             Box::new(revy_seaorm::migration::Migration),
///         ]
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sea_orm::DbErr> {
/// let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
/// options.max_connections(1);
/// let db = sea_orm::Database::connect(options).await?;
/// Migrator::up(&db, None).await?;
/// Migrator::down(&db, None).await?;
/// # Ok(()) }
/// ```
///
/// # In an app whose migrations already ran
///
/// Append revy's step at the *end* of the list, after the migrations the
/// database has applied, and write the app's later migrations after it.
/// The next `up` runs only revy's step (sea-orm-migration runs whatever
/// the database has not applied, in list order), and the list keeps the
/// order in which the steps were applied, which is the order `down(n)`
/// undoes them in: `down(Some(1))` then removes the journal and nothing of
/// the app. The journal needs none of the app's tables, so nothing has to
/// run before it; rows written before it count as never seen (version 0)
/// and get a baseline at their first tracked change.
///
/// ```
/// use sea_orm_migration::{MigrationTrait, MigratorTrait};
/// # use sea_orm::ConnectionTrait;
/// # use sea_orm_migration::{MigrationName, SchemaManager};
/// # struct CreatePosts;
/// # impl MigrationName for CreatePosts { fn name(&self) -> &str { "m20240101_000001_create_posts" } }
/// # #[async_trait::async_trait]
/// # impl MigrationTrait for CreatePosts {
/// #     async fn up(&self, m: &SchemaManager) -> Result<(), sea_orm::DbErr> {
/// #         m.get_connection().execute_unprepared("CREATE TABLE posts (id INTEGER PRIMARY KEY)").await.map(|_| ())
/// #     }
/// # }
///
/// struct Migrator;
///
/// #[async_trait::async_trait]
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![
///             Box::new(CreatePosts), // applied long ago
///             // revy added later: after everything applied so far
///             Box::new(revy_seaorm::migration::Migration),
///             // the app's next migrations go here
///         ]
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_revy_journal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        schema::refuse_old_journal(db).await?;
        for statement in schema::statements(manager.get_database_backend()) {
            sea_orm::ConnectionTrait::execute_raw(db, statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm::sea_query::Table;
        manager
            .drop_table(Table::drop().table(tag::Entity).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(erasure::Entity).if_exists().to_owned())
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
            .await?;
        let db = manager.get_connection();
        for statement in crate::journal::trigger::drop_statements(manager.get_database_backend()) {
            sea_orm::ConnectionTrait::execute_raw(db, statement).await?;
        }
        Ok(())
    }
}
