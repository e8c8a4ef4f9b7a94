//! A small ledger: a user opens an account and books a transaction; the
//! system corrects a derived amount inside the same request, in the same
//! object delta (a `revy::Tracked` draft records who set each column).
//! Prints the revision with its actors, object deltas and attribute deltas.
//!
//! ```sh
//! cargo run -p revy-examples --example ledger                   # SQLite in memory
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p revy-examples --features postgres --example ledger
//! ```

use revy::entity::{object_delta, revision};
use revy::{Actor, Context, context::LazyRevision};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database,
    EntityTrait, QueryFilter, QueryOrder, Schema, Set, TransactionTrait,
};

mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub code: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

mod transaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_transactions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub account_id: i32,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub amount: Decimal,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub exchange_rate: Decimal,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub local_amount: Decimal,
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
        // every connection to `sqlite::memory:` is a database of its own
        options.max_connections(1);
    }
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    revy::install(&db).await?;
    let schema = Schema::new(db.get_database_backend());
    for mut table in [
        schema.create_table_from_entity(account::Entity),
        schema.create_table_from_entity(transaction::Entity),
    ] {
        db.execute(table.if_not_exists()).await?;
    }

    let alice = Actor::new("users", 7);
    let revision = LazyRevision::new();

    // One request: Alice books a transaction, the system fixes the local amount.
    let booked = Context::via_actor(Some(alice.clone()))
        .revision(revision.clone())
        .revision_description("Book the opening balance")
        .scope(async {
            let txn = db.begin().await?;
            let account = account::ActiveModel {
                code: Set("E.0001".into()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            // A draft remembers who set each column.
            let amount = Decimal::new(1000, 2);
            let rate = Decimal::new(250, 2);
            let mut booked = revy::Tracked::new(transaction::ActiveModel::new());
            booked.set(transaction::Column::AccountId, account.id);
            booked.set(transaction::Column::Amount, amount);
            booked.set(transaction::Column::ExchangeRate, rate);
            booked.set(transaction::Column::LocalAmount, Decimal::new(2400, 2)); // a typo
            let correct = amount * rate;
            Context::via_actor(None)
                .attribute_delta_description("Corrected by the system.")
                .sync_scope(|| booked.set(transaction::Column::LocalAmount, correct));
            let booked = booked.save(&txn).await?;
            txn.commit().await?;
            Ok::<_, AnyError>(booked)
        })
        .await?;

    let revision_id = revision.id().ok_or("the revision was never created")?;
    let rev = revision::Entity::find_by_id(revision_id)
        .one(&db)
        .await?
        .ok_or("revision row missing")?;
    println!(
        "revision {} \"{}\" at {}",
        rev.id, rev.description, rev.created_at
    );
    let actors = revy::history::revision_actors(revision_id).all(&db).await?;
    let names: Vec<String> = actors
        .iter()
        .map(|a| a.as_ref().map_or("system".to_owned(), Actor::to_string))
        .collect();
    println!("  actors: {}", names.join(", "));

    let deltas = object_delta::Entity::find()
        .filter(object_delta::Column::RevisionId.eq(revision_id))
        .order_by_asc(object_delta::Column::Id)
        .all(&db)
        .await?;
    for delta in deltas {
        let who = delta.actor_id.as_deref().unwrap_or("system");
        println!(
            "  #{} {} {}:{} by {who} {}",
            delta.id, delta.action, delta.content_type, delta.content_id, delta.description
        );
        for a in delta.attribute_deltas()? {
            println!(
                "      {:<14} {} -> {}  ({} by {})",
                a.field_name,
                a.old_value,
                a.new_value,
                a.action,
                a.actor().map_or("system".to_owned(), |actor| actor.id),
            );
        }
    }
    println!("local amount now {}", booked.local_amount);
    Ok(())
}
