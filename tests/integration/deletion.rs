//! Tracked deletion policies: cascade, set-null, set-default, set(value).

use crate::common::entities::{account, line, node, player, team, transaction};
use crate::common::{self, TestDb};
use revy::entity::object_delta;
use revy::{Action, Actor, Context};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

async fn ledger(t: &TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    t.create_table(line::Entity).await;
}

async fn open_account(db: &DatabaseConnection, transactions: usize) -> account::Model {
    let a = account::ActiveModel {
        code: Set("E.0001".into()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for _ in 0..transactions {
        transaction::ActiveModel {
            account_id: Set(a.id),
            kind: Set("credit".into()),
            amount: Set(Decimal::new(100, 2)),
            exchange_rate: Set(Decimal::new(200, 2)),
            local_amount: Set(Decimal::new(200, 2)),
            iso_code: Set("TZS".into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    a
}

async fn snapshot_tables(
    db: &DatabaseConnection,
) -> (Vec<account::Model>, Vec<transaction::Model>) {
    (
        account::Entity::find()
            .order_by_asc(account::Column::Id)
            .all(db)
            .await
            .unwrap(),
        transaction::Entity::find()
            .order_by_asc(transaction::Column::Id)
            .all(db)
            .await
            .unwrap(),
    )
}

/// Revy's ledger: deleting an account with 10 transactions under Cascade.
async fn cascade_deletes_children_in_one_revision(t: TestDb) {
    ledger(&t).await;
    let db = &t.db;
    let a = Context::new().scope(open_account(db, 10)).await;
    let before = snapshot_tables(db).await;
    Context::via_actor(user(1))
        .object_delta_description("The account has been closed at the owner's request.")
        .deletion_description("Deleted because the owner's account has been closed.")
        .scope(revy::deletion::delete(a.clone()).exec(db))
        .await
        .unwrap();
    assert_eq!(snapshot_tables(db).await, (vec![], vec![]));

    let deletes = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(deletes.len(), 11);
    let revision = deletes[0].revision_id;
    assert!(
        deletes.iter().all(|d| d.revision_id == revision),
        "one revision"
    );
    let (children, parent): (Vec<_>, Vec<_>) = deletes
        .iter()
        .partition(|d| d.content_type == "transactions");
    assert_eq!(children.len(), 10);
    for c in &children {
        assert_eq!((c.actor_type.clone(), c.actor_id.clone()), (None, None));
        assert_eq!(
            c.description,
            "Deleted because the owner's account has been closed."
        );
    }
    assert_eq!(parent[0].actor_id.as_deref(), Some("1"));
    assert_eq!(
        parent[0].description,
        "The account has been closed at the owner's request."
    );
    assert!(
        parent[0].id > children.iter().map(|c| c.id).max().unwrap(),
        "children first"
    );
    // deletes have no attribute deltas
    let attrs = common::attribute_rows(db)
        .await
        .iter()
        .filter(|a| a.revision_id == revision)
        .count();
    assert_eq!(attrs, 0);

    let undo = revy::rollback::undo_revision(revision)
        .exec(db)
        .await
        .unwrap();
    assert!(undo.is_some());
    assert_eq!(snapshot_tables(db).await, before, "all 11 rows are back");
}

async fn cascade_reaches_grandchildren_and_untracked_rows(t: TestDb) {
    ledger(&t).await;
    let db = &t.db;
    // written with tracking off: the journal first records baselines
    let a = open_account(db, 2).await;
    let txs = transaction::Entity::find().all(db).await.unwrap();
    for tx in &txs {
        for memo in ["a", "b"] {
            line::ActiveModel {
                transaction_id: Set(tx.id),
                memo: Set(memo.into()),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
    let lines_before = line::Entity::find()
        .order_by_asc(line::Column::Id)
        .all(db)
        .await
        .unwrap();
    Context::new()
        .scope(revy::deletion::delete(a).exec(db))
        .await
        .unwrap();
    assert_eq!(line::Entity::find().count(db).await.unwrap(), 0);
    let deletes = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    let tables: Vec<&str> = deletes.iter().map(|d| d.content_type.as_str()).collect();
    // depth-first, a chunk at a time: the chunk's lines, then its
    // transactions, the account last
    assert_eq!(
        tables,
        [
            "lines",
            "lines",
            "lines",
            "lines",
            "transactions",
            "transactions",
            "accounts"
        ]
    );
    // every row got a baseline, so every row can be restored
    let creates = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Create))
        .count(db)
        .await
        .unwrap();
    assert_eq!(creates, 7);
    revy::rollback::undo_revision(deletes[0].revision_id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        line::Entity::find()
            .order_by_asc(line::Column::Id)
            .all(db)
            .await
            .unwrap(),
        lines_before
    );
}

async fn set_policies_update_the_foreign_key(t: TestDb) {
    t.create_table(team::Entity).await;
    t.create_table(player::Entity).await;
    let db = &t.db;
    let red = team::ActiveModel {
        name: Set("red".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let blue = team::ActiveModel {
        name: Set("blue".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for (captain, plays, sponsor) in [
        (Some(red.id), red.id, red.id),
        (Some(blue.id), red.id, blue.id),
        (None, blue.id, red.id),
    ] {
        player::ActiveModel {
            captain_of: Set(captain),
            plays_for: Set(plays),
            sponsor: Set(sponsor),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    Context::via_deletion_description("team dissolved")
        .scope(revy::deletion::delete(red.clone()).exec(db))
        .await
        .unwrap();
    let players = player::Entity::find()
        .order_by_asc(player::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(players.len(), 3, "the children survive");
    let shape: Vec<(Option<i32>, i32, i32)> = players
        .iter()
        .map(|p| (p.captain_of, p.plays_for, p.sponsor))
        .collect();
    assert_eq!(
        shape,
        [
            (None, 0, -1),
            (Some(blue.id), 0, blue.id),
            (None, blue.id, -1)
        ]
    );

    let updates = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Update))
        .filter(object_delta::Column::ContentType.eq("players"))
        .all(db)
        .await
        .unwrap();
    // player 1: three updates; player 2: plays_for; player 3: sponsor
    assert_eq!(updates.len(), 5);
    assert!(
        updates
            .iter()
            .all(|d| d.actor_id.is_none() && d.description == "team dissolved")
    );
    let attrs: Vec<common::AttributeRow> = updates
        .iter()
        .flat_map(common::entries_of)
        .filter(|a| a.content_type == "players")
        .collect();
    assert_eq!(
        attrs.len(),
        5,
        "one attribute delta per update: the foreign key"
    );
    assert!(
        attrs
            .iter()
            .all(|a| a.description == "team dissolved" && a.actor_id.is_none())
    );
    let captain = attrs.iter().find(|a| a.field_name == "captain_of").unwrap();
    assert_eq!(
        (
            captain.old_value.clone(),
            captain.new_value.clone(),
            captain.action
        ),
        (
            serde_json::json!(red.id),
            serde_json::json!(null),
            Action::Unset
        )
    );
    // one revision for the team and everything it touched
    let team_delete = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("teams"))
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        updates
            .iter()
            .all(|d| d.revision_id == team_delete.revision_id)
    );
}

async fn policies_run_untracked_when_disabled(t: TestDb) {
    ledger(&t).await;
    let db = &t.db;
    let a = open_account(db, 3).await;
    revy::deletion::delete(a).exec(db).await.unwrap();
    assert_eq!(snapshot_tables(db).await, (vec![], vec![]));
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 0);
    let b = open_account(db, 3).await;
    Context::as_disabled()
        .scope(revy::deletion::delete(b).exec(db))
        .await
        .unwrap();
    assert_eq!(snapshot_tables(db).await, (vec![], vec![]));
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 0);
}

async fn cycles_in_the_data_end(t: TestDb) {
    t.create_table(node::Entity).await;
    let db = &t.db;
    // 1 -> 2 -> 3 -> 1, and 4 under 2
    for (id, parent) in [
        (1, Some(3)),
        (2, Some(1)),
        (3, Some(2)),
        (4, Some(2)),
        (5, None),
    ] {
        node::ActiveModel {
            id: Set(id),
            parent_id: Set(parent),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let one = node::Entity::find_by_id(1).one(db).await.unwrap().unwrap();
    Context::new()
        .scope(revy::deletion::delete(one).exec(db))
        .await
        .unwrap();
    let left: Vec<i32> = node::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(left, [5]);
    let deletes = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .count(db)
        .await
        .unwrap();
    assert_eq!(deletes, 4, "each node once");
}

/// 10,000 children go a chunk at a time: the statement log shows chunked
/// reads, which would be one read if all children were loaded at once.
async fn ten_thousand_children_cascade_in_chunks(t: TestDb) {
    ledger(&t).await;
    let db = &t.db;
    let a = open_account(db, 0).await;
    let rows: Vec<transaction::ActiveModel> = (0..10_000)
        .map(|_| transaction::ActiveModel {
            account_id: Set(a.id),
            kind: Set("credit".into()),
            amount: Set(Decimal::new(1, 0)),
            exchange_rate: Set(Decimal::new(1, 0)),
            local_amount: Set(Decimal::new(1, 0)),
            iso_code: Set("TZS".into()),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(1000) {
        transaction::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    t.log_sql();
    Context::new()
        .scope(revy::deletion::delete_in_chunks(a, 1000).exec(db))
        .await
        .unwrap();
    let sql = t.take_sql();
    let reads = sql
        .iter()
        .filter(|s| {
            s.starts_with("SELECT") && s.contains("\"transactions\"")
                || s.starts_with("SELECT") && s.contains("`transactions`")
        })
        .filter(|s| !s.contains("revy_"))
        .collect::<Vec<_>>();
    // ten full chunks, then one read that finds nothing left
    assert_eq!(reads.len(), 11, "chunked reads of 1000 rows");
    assert!(
        reads.iter().all(|s| s.contains("LIMIT")),
        "every read is bounded"
    );
    let deletes_of_children = sql
        .iter()
        .filter(|s| s.starts_with("DELETE") && s.contains("transactions"))
        .count();
    assert_eq!(deletes_of_children, 10);
    assert_eq!(transaction::Entity::find().count(db).await.unwrap(), 0);
    let deletes = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .count(db)
        .await
        .unwrap();
    assert_eq!(deletes, 10_001);
    // the children had no history: each got a baseline first
    let creates = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Create))
        .filter(object_delta::Column::ContentType.eq("transactions"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(creates, 10_000);
}

backend_tests!(
    cascade_deletes_children_in_one_revision,
    cascade_reaches_grandchildren_and_untracked_rows,
    set_policies_update_the_foreign_key,
    policies_run_untracked_when_disabled,
    cycles_in_the_data_end,
    ten_thousand_children_cascade_in_chunks,
);
