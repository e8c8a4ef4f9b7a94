//! Several actors in one revision: drafts that record who set each column.

use crate::common::entities::{account, transaction};
use crate::common::{self, TestDb};
use revy::entity::object_delta;
use revy::{Action, Actor, Context, Tracked, context::LazyRevision};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

/// The inline entries of an object delta, in the order written.
async fn attributes(db: &DatabaseConnection, delta: i64) -> Vec<common::AttributeRow> {
    common::attribute_rows(db)
        .await
        .into_iter()
        .filter(|a| a.object_delta_id == delta)
        .collect()
}

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// Revy's ledger: the user sets the amount, the system corrects the local
/// amount; one object delta, each attribute delta with its own actor.
async fn a_users_edit_and_a_system_correction_in_one_object_delta(t: TestDb) {
    t.create_table(transaction::Entity).await;
    let db = &t.db;
    let saved = Context::via_actor(user(1))
        .revision_description("Book")
        .scope(async {
            let txn = db.begin().await.unwrap();
            let mut tx = Tracked::new(transaction::ActiveModel::new());
            tx.set(transaction::Column::AccountId, 1);
            tx.set(transaction::Column::Kind, "credit");
            tx.set(transaction::Column::IsoCode, "TZS");
            tx.set(transaction::Column::Amount, Decimal::new(1000, 2));
            tx.set(transaction::Column::ExchangeRate, Decimal::new(250, 2));
            tx.set(transaction::Column::LocalAmount, Decimal::new(2400, 2));
            Context::via_actor(None)
                .attribute_delta_description("Corrected by system.")
                .sync_scope(|| tx.set(transaction::Column::LocalAmount, Decimal::new(2500, 2)));
            let saved = tx.save(&txn).await.unwrap();
            txn.commit().await.unwrap();
            saved
        })
        .await;
    assert_eq!(saved.local_amount, Decimal::new(2500, 2));
    let deltas = object_delta::Entity::find().all(db).await.unwrap();
    assert_eq!(deltas.len(), 1, "one object delta");
    let delta = &deltas[0];
    assert_eq!(delta.actor_id.as_deref(), Some("1"));
    let attrs = attributes(db, delta.id).await;
    let local: Vec<_> = attrs
        .iter()
        .filter(|a| a.field_name == "local_amount")
        .collect();
    assert_eq!(local.len(), 2);
    assert_eq!(local[0].actor_id.as_deref(), Some("1"));
    assert_eq!(local[0].old_value, json!(null));
    assert_eq!(dec(&local[0].new_value), Decimal::new(2400, 2));
    assert_eq!(local[0].description, "");
    assert_eq!(
        (local[1].actor_type.clone(), local[1].actor_id.clone()),
        (None, None)
    );
    assert_eq!(dec(&local[1].old_value), Decimal::new(2400, 2));
    assert_eq!(dec(&local[1].new_value), Decimal::new(2500, 2));
    assert_eq!(local[1].description, "Corrected by system.");
    let amount = attrs.iter().find(|a| a.field_name == "amount").unwrap();
    assert_eq!(amount.actor_id.as_deref(), Some("1"));
    // the key came from the database: the system's
    let id = attrs.iter().find(|a| a.field_name == "id").unwrap();
    assert_eq!(id.actor_id, None);
    // deltas keep the order of the sets
    let names: Vec<&str> = attrs.iter().map(|a| a.field_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "account_id",
            "kind",
            "iso_code",
            "amount",
            "exchange_rate",
            "local_amount",
            "local_amount",
            "id"
        ]
    );
    let actors = revy::history::revision_actors(delta.revision_id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(actors, vec![user(1), None]);
}

/// Revy's create_account_2: a code set by the system, then twice by a user.
async fn consecutive_sets_by_one_actor_merge(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    Context::new()
        .scope(async {
            Context::set_actor(None).unwrap();
            let mut a = Tracked::new(account::ActiveModel::new());
            a.set(account::Column::IsActive, true);
            a.set(account::Column::Code, "E.0001");
            Context::set_actor(user(9)).unwrap();
            a.set(account::Column::Code, "E.0002");
            a.set(account::Column::Code, "E.0004");
            a.save(db).await.unwrap();
        })
        .await;
    let delta = object_delta::Entity::find().one(db).await.unwrap().unwrap();
    let attrs = attributes(db, delta.id).await;
    assert_eq!(attrs.len(), 5 + 1, "one per column, and one more for code");
    let code: Vec<_> = attrs.iter().filter(|a| a.field_name == "code").collect();
    assert_eq!(code.len(), 2);
    assert_eq!(code[0].actor_id, None);
    assert_eq!(
        (code[0].old_value.clone(), code[0].new_value.clone()),
        (json!(null), json!("E.0001"))
    );
    assert_eq!(code[1].actor_id.as_deref(), Some("9"));
    assert_eq!(
        (code[1].old_value.clone(), code[1].new_value.clone()),
        (json!("E.0001"), json!("E.0004"))
    );
}

async fn drafts_of_existing_rows_update_them(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut a = Tracked::new(account::ActiveModel::new());
    a.set(account::Column::Code, "A");
    a.set(account::Column::IsActive, true);
    let saved = Context::via_actor(user(1)).scope(a.save(db)).await.unwrap();

    let mut edit = Tracked::<account::ActiveModel>::from_model(saved.clone());
    Context::via_actor(user(2))
        .sync_scope(|| edit.set(account::Column::Name, Some("Two".to_owned())));
    Context::via_actor(user(3)).sync_scope(|| edit.set(account::Column::Balance, 30i64));
    let updated = Context::via_actor(user(2))
        .scope(edit.save(db))
        .await
        .unwrap();
    assert_eq!(updated.balance, 30);
    let delta = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delta.action, Action::Update);
    let attrs = attributes(db, delta.id).await;
    let who: Vec<(&str, Option<&str>)> = attrs
        .iter()
        .map(|a| (a.field_name.as_str(), a.actor_id.as_deref()))
        .collect();
    assert_eq!(who, [("name", Some("2")), ("balance", Some("3"))]);

    // a value the column does not accept fails the save, which writes nothing
    let before = object_delta::Entity::find().count(db).await.unwrap();
    let mut bad = Tracked::<account::ActiveModel>::from_model(updated);
    bad.set(account::Column::Balance, "not a number");
    let err = Context::new().scope(bad.save(db)).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("balance") || err.to_string().contains("type"),
        "{err}"
    );
    assert_eq!(
        object_delta::Entity::find().count(db).await.unwrap(),
        before
    );
}

/// A page of revisions summed up: the same actors, count and first deltas
/// as the full reads of each revision, in four statements for the page
/// (three, and one for the deltas past the first two whose entries name an
/// actor of their own).
async fn revision_summaries_agree_with_the_full_reads(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    Context::via_actor(user(1))
        .revision(LazyRevision::new())
        .scope(async {
            for code in ["A.1", "A.2", "A.3"] {
                let mut a = Tracked::new(account::ActiveModel::new());
                a.set(account::Column::IsActive, true);
                a.set(account::Column::Code, code);
                a.save(db).await.unwrap();
            }
            // the fourth delta, past the two a summary lists: its code set
            // by user 9, so only its inline entries name that actor
            let mut a = Tracked::new(account::ActiveModel::new());
            a.set(account::Column::IsActive, true);
            Context::via_actor(user(9)).sync_scope(|| a.set(account::Column::Code, "B.1"));
            a.save(db).await.unwrap();
        })
        .await;
    Context::via_actor(None)
        .scope(async {
            let mut a = Tracked::new(account::ActiveModel::new());
            a.set(account::Column::IsActive, false);
            a.set(account::Column::Code, "S.1");
            a.save(db).await.unwrap();
        })
        .await;
    let revisions = revy::history::revisions().all(db).await.unwrap();
    assert_eq!(revisions.len(), 2);
    let mut ids: Vec<i64> = revisions.iter().map(|r| r.id).collect();
    ids.push(ids[0] + 1_000); // no such revision
    t.take_statement_count();
    let summaries = revy::history::revision_summaries(&ids, 2)
        .all(db)
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), 4, "four statements for the page");
    assert_eq!(
        summaries.iter().map(|s| s.revision_id).collect::<Vec<_>>(),
        ids,
        "in the order asked"
    );
    for summary in &summaries[..2] {
        let deltas = revy::history::revision_deltas(summary.revision_id)
            .all(db)
            .await
            .unwrap();
        let actors = revy::history::revision_actors(summary.revision_id)
            .all(db)
            .await
            .unwrap();
        assert_eq!(summary.delta_count, deltas.len() as u64);
        assert_eq!(
            summary.deltas,
            deltas.into_iter().take(2).collect::<Vec<_>>()
        );
        assert_eq!(summary.actors, actors);
    }
    assert_eq!(summaries[0].delta_count, 1);
    assert_eq!(summaries[0].actors, [None]);
    assert_eq!(summaries[1].delta_count, 4);
    // the values the database filled in (the key, defaults) are the
    // system's; user 9 shows up in the fourth delta's entries only
    assert_eq!(summaries[1].actors, [user(1), None, user(9)]);
    assert_eq!(summaries[2].delta_count, 0);
    assert!(summaries[2].deltas.is_empty() && summaries[2].actors.is_empty());
    assert!(
        revy::history::revision_summaries(&[], 2)
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
}

backend_tests!(
    revision_summaries_agree_with_the_full_reads,
    a_users_edit_and_a_system_correction_in_one_object_delta,
    consecutive_sets_by_one_actor_merge,
    drafts_of_existing_rows_update_them,
);
