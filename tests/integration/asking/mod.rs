//! Asking the history: blame, history entries a UI can show, restore by
//! key; tags (and undo back to one) in `tags`, whole-table time travel in
//! `time_travel`.

mod json;
mod tags;
mod time_travel;
mod versions;

use crate::common::TestDb;
use crate::common::entities::{account, transaction};
use revy::entity::{attribute_delta, object_delta};
use revy::rollback::RollbackError;
use revy::{Action, Actor, Context, Error, Tracked, history::FieldValue};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait, Value,
};

pub(super) fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

pub(super) fn string(s: &str) -> FieldValue {
    FieldValue::Value(Value::String(Some(s.into())))
}

pub(super) async fn open(
    db: &DatabaseConnection,
    code: &str,
    who: Option<Actor>,
) -> account::Model {
    Context::via_actor(who)
        .revision_description(format!("Open {code}"))
        .scope(
            account::ActiveModel {
                code: Set(code.into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap()
}

pub(super) async fn edit(
    db: &DatabaseConnection,
    id: i32,
    who: Option<Actor>,
    why: &str,
    change: impl FnOnce(&mut account::ActiveModel),
) -> account::Model {
    let row = account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am = row.into_active_model();
    change(&mut am);
    Context::via_actor(who)
        .revision_description(why)
        .attribute_delta_description(format!("{why} (column)"))
        .scope(am.update(db))
        .await
        .unwrap()
}

pub(super) async fn remove(db: &DatabaseConnection, id: i32) {
    let row = account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    Context::new()
        .scope(row.into_active_model().delete(db))
        .await
        .unwrap();
}

pub(super) async fn newest_revision(db: &DatabaseConnection) -> i64 {
    revy::entity::revision::Entity::find()
        .order_by_desc(revy::entity::revision::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

pub(super) async fn all_accounts(db: &DatabaseConnection) -> Vec<account::Model> {
    account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn blame_names_who_set_each_column(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    let db = &t.db;
    let acc = open(db, "B-1", user(1)).await;
    for i in 0..5 {
        edit(db, acc.id, user(2), "Rename", |am| {
            am.name = Set(Some(format!("Name {i}")))
        })
        .await;
    }
    edit(db, acc.id, None, "Interest", |am| am.balance = Set(42)).await;
    // another row's history stays out
    open(db, "B-2", user(3)).await;

    t.take_statement_count();
    let blame = revy::history::blame::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    // seven deltas, no checkpoint: every setter is in the one range read
    assert_eq!(t.take_statement_count(), 1, "blame is one statement here");
    let columns: Vec<&str> = blame.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(columns, ["id", "code", "name", "is_active", "balance"]);
    let col = |name: &str| blame.iter().find(|c| c.column == name).unwrap();
    assert_eq!(col("id").actor, None, "the database filled the key");
    assert_eq!(col("code").actor, user(1));
    assert_eq!(col("code").value, string("B-1"));
    assert_eq!(col("code").revision_description, "Open B-1");
    assert_eq!(col("name").actor, user(2));
    assert_eq!(col("name").value, string("Name 4"));
    assert_eq!(col("name").revision_description, "Rename");
    assert_eq!(col("name").description, "Rename (column)");
    assert_eq!(col("name").action, Action::Set);
    assert_eq!(col("balance").actor, None);
    assert_eq!(
        col("balance").value,
        FieldValue::Value(Value::BigInt(Some(42)))
    );
    assert_eq!(col("balance").revision_description, "Interest");
    assert!(col("balance").at >= col("name").at);
    assert!(col("balance").revision_id > col("name").revision_id);

    // as of the creation: user 1 set the code; the key and the name (left
    // NotSet, filled by the database) are the system's
    let history = revy::history::of::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    let created = history.last().unwrap();
    let then = revy::history::blame::<account::Entity>(acc.id)
        .at(created.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(then.len(), 5);
    let code = then.iter().find(|c| c.column == "code").unwrap();
    assert_eq!(code.actor, user(1));
    let name = then.iter().find(|c| c.column == "name").unwrap();
    assert_eq!(name.actor, None);
    assert_eq!(name.value, FieldValue::Value(Value::String(None)));
    assert_eq!(name.action, Action::Unset);
    assert_eq!(name.object_delta_id, created.id);

    // a draft with per-attribute actors: the system's correction wins its column
    let saved = Context::via_actor(user(5))
        .scope(async {
            let txn = db.begin().await.unwrap();
            let mut tx = Tracked::new(transaction::ActiveModel::new());
            tx.set(transaction::Column::AccountId, acc.id);
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
    let blame = revy::history::blame::<transaction::Entity>(saved.id)
        .all(db)
        .await
        .unwrap();
    let col = |name: &str| blame.iter().find(|c| c.column == name).unwrap();
    assert_eq!(col("amount").actor, user(5));
    assert_eq!(col("local_amount").actor, None);
    assert_eq!(col("local_amount").description, "Corrected by system.");
    assert!(
        matches!(col("local_amount").value.value(), Some(Value::Decimal(Some(d))) if *d == saved.local_amount)
    );

    // no history: nothing to blame
    assert!(
        revy::history::blame::<account::Entity>(999)
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn history_entries_carry_actors_revisions_and_decoded_changes(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let acc = open(db, "H-1", user(1)).await;
    Context::via_actor(user(2))
        .revision_description("Rename")
        .meta(serde_json::json!({"request": "r-7"}))
        .scope(async {
            let mut am = acc.clone().into_active_model();
            am.name = Set(Some("Main".into()));
            am.balance = Set(10);
            am.update(db).await
        })
        .await
        .unwrap();
    remove(db, acc.id).await;

    t.take_statement_count();
    let entries = revy::history::of::<account::Entity>(acc.id)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(
        t.take_statement_count(),
        1,
        "deltas with revisions, their changes inline"
    );
    let actions: Vec<Action> = entries.iter().map(|e| e.action).collect();
    assert_eq!(actions, [Action::Delete, Action::Update, Action::Create]);
    assert!(entries[0].changes.is_empty());
    let update = &entries[1];
    assert_eq!(update.actor, user(2));
    assert_eq!(update.revision_description, "Rename");
    assert_eq!(update.meta, Some(serde_json::json!({"request": "r-7"})));
    let changed: Vec<&str> = update.changes.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(changed, ["name", "balance"]);
    assert_eq!(
        update.changes[0].old,
        FieldValue::Value(Value::String(None))
    );
    assert_eq!(update.changes[0].new, string("Main"));
    assert_eq!(
        update.changes[1].old,
        FieldValue::Value(Value::BigInt(Some(0)))
    );
    assert_eq!(
        update.changes[1].new,
        FieldValue::Value(Value::BigInt(Some(10)))
    );
    let create = &entries[2];
    assert_eq!(create.actor, user(1));
    assert_eq!(create.revision_description, "Open H-1");
    assert_eq!(create.changes.len(), 5);
    let code = create.changes.iter().find(|c| c.column == "code").unwrap();
    assert_eq!(code.old, FieldValue::Value(Value::String(None)));
    assert_eq!(code.new, string("H-1"));
    assert_eq!(code.actor, user(1));

    // the builder's filters and pages hold for entries too
    let page = revy::history::of::<account::Entity>(acc.id)
        .before(entries[0].object_delta_id)
        .limit(1)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], entries[1]);
    let by_one = revy::history::of::<account::Entity>(acc.id)
        .actor(user(1))
        .entries(db)
        .await
        .unwrap();
    assert_eq!(by_one, vec![entries[2].clone()]);

    // a value the journal withholds (a redacted column) shows as withheld:
    // the marker goes into the object deltas' inline entries
    for delta in object_delta::Entity::find().all(db).await.unwrap() {
        let entries: Vec<revy::history::AttributeDelta> = delta
            .attribute_deltas()
            .unwrap()
            .into_iter()
            .map(|e| match e.field_name.as_str() {
                "name" => revy::history::AttributeDelta::new(
                    e.field_name.clone(),
                    e.old_value.clone(),
                    serde_json::json!({"revy": "redacted"}),
                    e.actor(),
                    e.description.clone(),
                ),
                _ => e,
            })
            .collect();
        let mut am: object_delta::ActiveModel = delta.clone().into();
        am.changes = Set(attribute_delta::encode(
            &entries,
            &delta.actor(),
            &delta.description,
        ));
        am.update(db).await.unwrap();
    }
    let entries = revy::history::of::<account::Entity>(acc.id)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(entries[1].changes[0].new, FieldValue::Withheld);
    let blame = revy::history::blame::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    let name = blame.iter().find(|c| c.column == "name").unwrap();
    assert_eq!(name.value, FieldValue::Withheld);
    assert_eq!(name.actor, user(2));
}

async fn restore_latest_brings_back_the_newest_deleted_state(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let acc = open(db, "R-1", user(1)).await;
    let err = revy::rollback::restore_latest::<account::Entity>(acc.id)
        .exec(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rollback(e) if matches!(**e, RollbackError::NeverDeleted { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("accounts"), "{err}");
    assert!(
        revy::rollback::restore_latest::<account::Entity>(12345)
            .exec(db)
            .await
            .is_err()
    );

    remove(db, acc.id).await;
    let back = revy::rollback::restore_latest::<account::Entity>(acc.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(back, acc);
    let err = revy::rollback::restore_latest::<account::Entity>(acc.id)
        .exec(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rollback(e) if matches!(**e, RollbackError::KeyTaken { .. })),
        "{err}"
    );

    let renamed = edit(db, acc.id, user(2), "Rename", |am| {
        am.name = Set(Some("Second life".into()))
    })
    .await;
    remove(db, acc.id).await;
    let back = revy::rollback::restore_latest::<account::Entity>(acc.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(back, renamed, "the newest Delete, not the first");
    let newest = revy::history::of::<account::Entity>(acc.id)
        .limit(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(newest[0].action, Action::Create, "a restore is tracked");
}

/// Past a checkpoint, blame reads the row's deltas from it and the deltas
/// that set columns before it by key: one statement, and the same answer
/// as walking the whole history, at the newest delta and as of older ones.
async fn blame_past_a_checkpoint_names_the_old_setters(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let acc = open(db, "C-1", user(1)).await;
    edit(db, acc.id, user(2), "Name", |am| {
        am.name = Set(Some("Cy".into()))
    })
    .await;
    // 20 more versions in one transaction: the 17th is a checkpoint
    let txn = db.begin().await.unwrap();
    let mut row = account::Entity::find_by_id(acc.id)
        .one(&txn)
        .await
        .unwrap()
        .unwrap();
    for i in 1..=20 {
        let mut am = row.into_active_model();
        am.balance = Set(i);
        row = Context::via_actor(user(3))
            .revision_description("Tick")
            .scope(am.update(&txn))
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let deltas = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .filter(object_delta::Column::ContentId.eq(acc.id.to_string()))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(deltas.len(), 22);
    assert!(deltas[16].state.is_some(), "version 17 is a checkpoint");

    t.take_statement_count();
    let blame = revy::history::blame::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        t.take_statement_count(),
        1,
        "the range and the old setters, in one statement"
    );
    let col = |name: &str| blame.iter().find(|c| c.column == name).unwrap().clone();
    assert_eq!(col("code").actor, user(1));
    assert_eq!(col("code").object_delta_id, deltas[0].id);
    assert_eq!(col("code").revision_description, "Open C-1");
    assert_eq!(col("name").actor, user(2));
    assert_eq!(col("name").object_delta_id, deltas[1].id);
    assert_eq!(col("name").description, "Name (column)");
    assert_eq!(col("balance").actor, user(3));
    assert_eq!(col("balance").object_delta_id, deltas[21].id);
    assert_eq!(
        col("balance").value,
        FieldValue::Value(Value::BigInt(Some(20)))
    );

    // as of each delta, the setter of the balance is that delta (past the
    // create and the rename) and the name's is the rename
    for (i, delta) in deltas.iter().enumerate().skip(2) {
        let then = revy::history::blame::<account::Entity>(acc.id)
            .at(delta.id)
            .all(db)
            .await
            .unwrap();
        let col = |name: &str| then.iter().find(|c| c.column == name).unwrap().clone();
        assert_eq!(
            col("balance").object_delta_id,
            delta.id,
            "at version {}",
            i + 1
        );
        assert_eq!(
            col("balance").value,
            FieldValue::Value(Value::BigInt(Some(i as i64 - 1)))
        );
        assert_eq!(col("name").object_delta_id, deltas[1].id);
        assert_eq!(col("code").object_delta_id, deltas[0].id);
    }
}

backend_tests!(
    blame_past_a_checkpoint_names_the_old_setters,
    blame_names_who_set_each_column,
    history_entries_carry_actors_revisions_and_decoded_changes,
    restore_latest_brings_back_the_newest_deleted_state,
);
