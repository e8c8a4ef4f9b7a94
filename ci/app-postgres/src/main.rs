//! A tracked entity on PostgreSQL, compiled without any other driver.

mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = std::env::args().nth(1) else {
        println!("usage: app-postgres postgres://...");
        return Ok(());
    };
    let db = sea_orm::Database::connect(&url).await?;
    revy::install(&db).await?;
    let _ = revy::history::<note::Entity>(1).all(&db).await?;
    Ok(())
}
