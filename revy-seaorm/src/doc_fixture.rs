//! Entities and a database for the documentation's examples.

/// Declares tracked entities `user`, `account` and `transaction` (an
/// account's transactions cascade with it) and `async fn setup()`, which
/// opens an in-memory SQLite database with the journal and their tables.
/// For revy's own doctests; not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __doc_fixture {
    () => {
        mod user {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = "users")]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub name: String,
                pub email: Option<String>,
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                $crate::track!();
            }
            impl $crate::policy::TrackingPolicy for Entity {}
            impl $crate::deletion::DeletionPolicies for Entity {}
        }
        mod account {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = "accounts")]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub code: String,
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                $crate::track!();
            }
            impl $crate::policy::TrackingPolicy for Entity {}
            impl $crate::deletion::DeletionPolicies for Entity {
                fn on_delete() -> Vec<$crate::deletion::ChildPolicy> {
                    vec![$crate::deletion::ChildPolicy::new(
                        super::transaction::Column::AccountId,
                        $crate::deletion::OnDelete::Cascade,
                    )]
                }
            }
        }
        mod transaction {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = "transactions")]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub account_id: i32,
                pub amount: i64,
                pub local_amount: i64,
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                $crate::track!();
            }
            impl $crate::policy::TrackingPolicy for Entity {}
            impl $crate::deletion::DeletionPolicies for Entity {}
        }
        async fn setup() -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
            use sea_orm::ConnectionTrait;
            let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
            options.max_connections(1).sqlx_logging(false);
            let db = sea_orm::Database::connect(options).await?;
            $crate::install(&db).await?;
            let schema = sea_orm::Schema::new(db.get_database_backend());
            db.execute(&schema.create_table_from_entity(user::Entity))
                .await?;
            db.execute(&schema.create_table_from_entity(account::Entity))
                .await?;
            db.execute(&schema.create_table_from_entity(transaction::Entity))
                .await?;
            Ok(db)
        }
    };
}
