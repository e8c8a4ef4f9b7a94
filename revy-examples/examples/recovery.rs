//! Revy's recovery sample: a user's group membership is deleted by mistake;
//! the `Delete` delta's snapshot brings it back with the same key.
//!
//! ```sh
//! cargo run -p revy-examples --example recovery            # SQLite in memory
//! ```

use revy::entity::object_delta;
use revy::prelude::*;
use revy::{Actor, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Schema, Set,
};

mod membership {
    use sea_orm::entity::prelude::*;

    /// Which user belongs to which group, with which role.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: i32,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), AnyError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let mut options = ConnectOptions::new(url.clone());
    if url.contains(":memory:") {
        options.max_connections(1);
    }
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    revy::install(&db).await?;
    let mut table =
        Schema::new(db.get_database_backend()).create_table_from_entity(membership::Entity);
    db.execute(table.if_not_exists()).await?;

    let admin = Some(Actor::new("users", 1));
    let alice_in_admins = Context::via_actor(admin.clone())
        .scope(
            membership::ActiveModel {
                user_id: Set(7),
                group_id: Set(3),
                role: Set("owner".into()),
            }
            .insert(&db),
        )
        .await?;
    println!("created  {alice_in_admins:?}");

    // The mistake.
    Context::via_actor(admin)
        .object_delta_description("Cleaning up old groups")
        .scope(alice_in_admins.clone().into_active_model().delete(&db))
        .await?;
    println!(
        "deleted; rows left: {}",
        membership::Entity::find().all(&db).await?.len()
    );

    // The newest Delete of that row, with the row as it was.
    let key = revy::registry::content_type::<membership::Entity>();
    let (delta, snapshot) = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq("Delete"))
        .filter(object_delta::Column::ContentType.eq(key))
        .filter(object_delta::Column::ContentId.eq("[7,3]"))
        .order_by_desc(object_delta::Column::Id)
        .with_snapshot::<membership::Entity>()
        .one(&db)
        .await?
        .ok_or("no Delete delta found")?;
    println!(
        "found    delta #{} ({}) by {:?}: {snapshot:?}",
        delta.id, delta.description, delta.actor_id
    );

    // Put it back, with its original key; the restore is itself recorded.
    let restored = Context::via_actor(Some(Actor::new("users", 2)))
        .revision_description("Restore a membership deleted by mistake")
        .scope(revy::rollback::restore::<membership::Entity>(delta.id).exec(&db))
        .await?;
    println!("restored {restored:?}");
    if restored != alice_in_admins {
        return Err("the restored row differs from the original".into());
    }
    let history = revy::history::of::<membership::Entity>((7, 3))
        .all(&db)
        .await?;
    let actions: Vec<&str> = history.iter().map(|d| d.action.as_str()).collect();
    println!("history  {actions:?} (newest first)");
    Ok(())
}
