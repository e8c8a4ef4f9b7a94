//! The change feed relayed to NATS JetStream: a few tracked writes on
//! SQLite, then `revy::nats::Relay` publishes one message per revision to
//! the stream `REVY_EXAMPLE` (subjects `revy_example.<table>`) and stores
//! its cursor. Needs NATS with JetStream on 127.0.0.1:4222
//! (`nats-server -js`).
//!
//! ```sh
//! cargo run -p revy-examples --features nats --example relay
//! ```

use revy::Context;
use revy::nats::Relay;
use revy::nats::async_nats::{self, jetstream};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, Schema, Set};

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

const STREAM: &str = "REVY_EXAMPLE";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::connect("sqlite::memory:").await?;
    revy::install(&db).await?;
    let backend = db.get_database_backend();
    db.execute(&Schema::new(backend).create_table_from_entity(note::Entity))
        .await?;
    for title in ["groceries", "taxes", "holidays"] {
        Context::new()
            .revision_description(format!("Write {title}"))
            .scope(
                note::ActiveModel {
                    title: Set(title.into()),
                    ..Default::default()
                }
                .insert(&db),
            )
            .await?;
    }

    let client = async_nats::connect("127.0.0.1:4222").await?;
    // This database is new on each run and numbers its revisions from 1
    // again: a stream of an earlier run would drop them as duplicates.
    let _ = jetstream::new(client.clone()).delete_stream(STREAM).await;
    let relay = Relay::new()
        .subject_prefix("revy_example")
        .stream(STREAM)
        .name("example");
    let published = relay.drain(&db, client.clone()).await?;
    println!("published {published} revisions to {STREAM}");
    assert_eq!(published, 3);
    println!("cursor: {}", revy::nats::load_cursor(&db, "example").await?);

    let mut stream = jetstream::new(client).get_stream(STREAM).await?;
    let info = stream.info().await?;
    println!("the stream holds {} messages", info.state.messages);
    assert_eq!(info.state.messages, 3);
    Ok(())
}
