//! A replica kept in step through NATS JetStream: tracked writes on a
//! primary SQLite database are relayed (`revy::nats::Relay`); a consumer of
//! the stream copies each revision's journal rows into a second SQLite
//! database and sets each changed row there to its snapshot
//! (`revy::history::as_of`), deleting it when its newest delta is a delete. An
//! erasure at the primary (`revy::lifecycle::erase`) reaches the replica as a delta of
//! its own, and the replica erases its copy (`revy::lifecycle::Erasure::apply`). At
//! the end the replica's table equals the primary's. Needs NATS with JetStream
//! on 127.0.0.1:4222.
//!
//! ```sh
//! cargo run -p revy-examples --features nats --example replica       # SQLite -> SQLite
//! # PostgreSQL -> SQLite (the primary in a schema of its own, made anew)
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p revy-examples --features nats,postgres --example replica
//! ```

use std::time::Duration;

use futures_util::StreamExt;
use revy::entity::{attribute_delta, object_delta, revision};
use revy::nats::async_nats::{self, jetstream};
use revy::nats::{Message, Relay};
use revy::{Actor, Context, history::AttributeDelta};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryOrder, Schema, Set, TransactionTrait,
};

/// The tracked table on the primary.
mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub body: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// The same table on the replica, written without tracking: its journal
/// is the primary's, copied.
mod mirror {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub title: String,
        pub body: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const STREAM: &str = "REVY_REPLICA_EXAMPLE";

/// A new SQLite file; for the primary, `DATABASE_URL` instead when it is
/// set to PostgreSQL, in the schema `revy_replica_example`, dropped first.
async fn open(name: &str) -> Result<DatabaseConnection, Box<dyn std::error::Error>> {
    let db = match std::env::var("DATABASE_URL") {
        Ok(url) if name == "primary" && url.starts_with("postgres") => {
            let admin = Database::connect(&url).await?;
            admin
                .execute_unprepared(
                    "DROP SCHEMA IF EXISTS revy_replica_example CASCADE; \
                     CREATE SCHEMA revy_replica_example",
                )
                .await?;
            let mut options = ConnectOptions::new(url);
            options.set_schema_search_path("revy_replica_example");
            Database::connect(options).await?
        }
        _ => {
            let path = std::env::temp_dir().join(format!("revy-replica-example-{name}.db"));
            let _ = std::fs::remove_file(&path);
            Database::connect(format!("sqlite://{}?mode=rwc", path.display())).await?
        }
    };
    revy::install(&db).await?;
    let backend = db.get_database_backend();
    db.execute(&Schema::new(backend).create_table_from_entity(note::Entity))
        .await?;
    Ok(db)
}

/// Applies one relayed revision: its journal rows (again or not: a
/// re-delivery changes nothing), then each changed row from its snapshot.
async fn apply(
    replica: &DatabaseConnection,
    m: &Message,
) -> Result<(), Box<dyn std::error::Error>> {
    let txn = replica.begin().await?;
    revision::Entity::insert(revision::ActiveModel {
        id: Set(m.revision.id),
        description: Set(m.revision.description.clone()),
        meta: Set(m.revision.meta.clone()),
        created_at: Set(m.revision.created_at),
    })
    .on_conflict_do_nothing_on([revision::Column::Id])
    .exec(&txn)
    .await?;
    for d in &m.deltas {
        let inserted = object_delta::Entity::insert(object_delta::ActiveModel {
            id: Set(d.id),
            revision_id: Set(m.revision.id),
            actor_type: Set(d.actor_type.clone()),
            actor_id: Set(d.actor_id.clone()),
            action: Set(d.action),
            description: Set(d.description.clone()),
            content_type: Set(d.content_type.clone()),
            content_id: Set(d.content_id.clone()),
            created_at: Set(d.created_at),
            // messages of releases before object versions carry none
            version: Set(d.version.unwrap_or_default()),
            hash: Set(d.hash.clone()),
            seal: Set(d.seal.clone()),
            salt: Set(d.salt.clone()),
            changes: Set(attribute_delta::encode(
                &d.attributes
                    .iter()
                    .map(|a| {
                        AttributeDelta::new(
                            a.field_name.clone(),
                            a.old_value.clone(),
                            a.new_value.clone(),
                            match (&a.actor_type, &a.actor_id) {
                                (Some(kind), Some(id)) => {
                                    Some(Actor::new(kind.clone(), id.clone()))
                                }
                                _ => None,
                            },
                            a.description.clone(),
                        )
                    })
                    .collect::<Vec<_>>(),
                &match (&d.actor_type, &d.actor_id) {
                    (Some(kind), Some(id)) => Some(Actor::new(kind.clone(), id.clone())),
                    _ => None,
                },
                &d.description,
            )),
            state: sea_orm::ActiveValue::NotSet,
        })
        .on_conflict_do_nothing_on([object_delta::Column::Id])
        .exec_without_returning(&txn)
        .await?;
        // delivered before, or now: its columns are inline in the row
        let _ = inserted;
        // an erasure at the primary: erase the replica's copy too
        if d.content_type == revy::lifecycle::ERASURES {
            let row = object_delta::Entity::find_by_id(d.id)
                .one(&txn)
                .await?
                .ok_or("the erasure's delta")?;
            if let Some(erasure) = revy::lifecycle::Erasure::of(&row)? {
                erasure.apply(&txn).await?;
            }
        }
    }
    for d in m.deltas.iter().filter(|d| d.content_type == "notes") {
        let id: i32 = d.content_id.parse()?;
        let now = chrono::Utc::now();
        match revy::history::as_of::<note::Entity>(id, now)
            .one(&txn)
            .await?
        {
            Some(row) => {
                mirror::Entity::insert(mirror::ActiveModel {
                    id: Set(row.id),
                    title: Set(row.title),
                    body: Set(row.body),
                })
                .on_conflict(
                    OnConflict::column(mirror::Column::Id)
                        .update_columns([mirror::Column::Title, mirror::Column::Body])
                        .to_owned(),
                )
                .exec(&txn)
                .await?;
            }
            None => {
                mirror::Entity::delete_by_id(id).exec(&txn).await?;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let primary = open("primary").await?;
    println!("primary: {:?}", primary.get_database_backend());
    let replica = open("replica").await?;

    // the primary's history: inserts, updates, a delete
    for n in 1..=20 {
        Context::new()
            .scope(
                note::ActiveModel {
                    title: Set(format!("note {n}")),
                    ..Default::default()
                }
                .insert(&primary),
            )
            .await?;
    }
    for n in (2..=20).step_by(3) {
        let row = note::Entity::find_by_id(n)
            .one(&primary)
            .await?
            .ok_or("row")?;
        let mut am = row.into_active_model();
        am.body = Set(Some(format!("edited {n}")));
        Context::new().scope(am.update(&primary)).await?;
    }
    let gone = note::Entity::find_by_id(7)
        .one(&primary)
        .await?
        .ok_or("row")?;
    Context::new()
        .scope(gone.into_active_model().delete(&primary))
        .await?;

    let client = async_nats::connect("127.0.0.1:4222").await?;
    let js = jetstream::new(client.clone());
    // both databases are new on each run: so is the stream
    let _ = js.delete_stream(STREAM).await;
    let relay = Relay::new()
        .subject_prefix("revy_replica_example")
        .stream(STREAM)
        .name("replica-example");
    let published = relay.drain(&primary, client.clone()).await?;
    println!("relayed {published} revisions");

    // the replica's consumer: every message of the stream, in order
    let consumer = js
        .get_stream(STREAM)
        .await?
        .create_consumer(jetstream::consumer::pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    for _ in 0..published {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await?
            .ok_or("the stream ended")??;
        apply(&replica, &Message::from_json(&message.payload)?).await?;
        message.ack().await.map_err(|e| e.to_string())?;
    }
    let copied = object_delta::Entity::find().all(&replica).await?;
    assert!(copied.iter().any(|d| d.changes.contains("edited 5")));

    // note 5's author asks to be forgotten: the live row first, then its
    // history (the erasure travels to the replica like any revision)
    let five = note::Entity::find_by_id(5)
        .one(&primary)
        .await?
        .ok_or("row")?;
    let mut am = five.into_active_model();
    am.body = Set(None);
    Context::new().scope(am.update(&primary)).await?;
    revy::lifecycle::erase::<note::Entity>(5)
        .columns([note::Column::Body])
        .reason("asked to be forgotten")
        .exec(&primary)
        .await?;

    let published = relay.drain(&primary, client.clone()).await?;
    println!("relayed {published} more revisions, one an erasure");
    for _ in 0..published {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await?
            .ok_or("the stream ended")??;
        apply(&replica, &Message::from_json(&message.payload)?).await?;
        message.ack().await.map_err(|e| e.to_string())?;
    }

    let want: Vec<note::Model> = note::Entity::find()
        .order_by_asc(note::Column::Id)
        .all(&primary)
        .await?;
    let got: Vec<mirror::Model> = mirror::Entity::find()
        .order_by_asc(mirror::Column::Id)
        .all(&replica)
        .await?;
    let got: Vec<note::Model> = got
        .into_iter()
        .map(|m| note::Model {
            id: m.id,
            title: m.title,
            body: m.body,
        })
        .collect();
    assert_eq!(got, want, "the replica equals the primary");
    // and its journal holds note 5's body no more
    let journal = object_delta::Entity::find().all(&replica).await?;
    assert!(
        journal.iter().all(|d| !d.changes.contains("edited 5")),
        "the erasure reached the replica"
    );
    println!("replica: {} rows, equal to the primary's", got.len());
    Ok(())
}
