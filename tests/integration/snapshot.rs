//! Issue: snapshots, restore, revert, undo of a revision.

use crate::common::TestDb;
use crate::common::entities::{account, account_v2, account_v3, membership};
use revy::entity::object_delta;
use revy::prelude::*;
use revy::rollback::RollbackError;
use revy::{Action, Actor, Context, context::LazyRevision, history::ObjectSnapshot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

/// Statements a snapshot takes, on every backend: the object delta, then
/// the object's deltas from its newest checkpoint up to it.
fn snapshot_statements(_: &TestDb) -> usize {
    2
}

/// Statements of `with_snapshot().all()` over a page of several deltas of
/// one object: the page, then one range of the object's deltas.
fn page_statements(_: &TestDb) -> usize {
    2
}

async fn setup(t: &TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
}

fn new_account(code: &str) -> account::ActiveModel {
    account::ActiveModel {
        code: Set(code.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
}

async fn deltas_of(db: &DatabaseConnection, table: &str, id: &str) -> Vec<object_delta::Model> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(table))
        .filter(object_delta::Column::ContentId.eq(id))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn all_accounts(db: &DatabaseConnection) -> Vec<account::Model> {
    account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// Revy's recovery sample: a membership is deleted by mistake and brought
/// back from the snapshot of its `Delete` delta, with the same keys.
async fn recovery_restores_a_deleted_membership(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let m = Context::via_actor(user(1))
        .scope(
            membership::ActiveModel {
                user_id: Set(7),
                group_id: Set("admins".into()),
                role: Set("owner".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    Context::via_actor(user(2))
        .scope(m.clone().into_active_model().delete(db))
        .await
        .unwrap();
    assert_eq!(membership::Entity::find().count(db).await.unwrap(), 0);

    let (delta, snapshot) = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .filter(object_delta::Column::ContentType.eq("memberships"))
        .filter(object_delta::Column::ContentId.eq(r#"[7,"admins"]"#))
        .order_by_desc(object_delta::Column::Id)
        .with_snapshot::<membership::Entity>()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delta.action, Action::Delete);
    let snapshot = snapshot.unwrap();
    assert_eq!(snapshot, m);
    // saved again as it is, it restores the membership with the same keys
    let restored = Context::via_actor(user(2))
        .scope(snapshot.into_active_model().reset_all().insert(db))
        .await
        .unwrap();
    assert_eq!(restored, m);
    assert_eq!(
        membership::Entity::find().all(db).await.unwrap(),
        vec![m.clone()]
    );

    // revy::rollback::restore does the same and refuses a taken key, recording nothing
    let before = object_delta::Entity::find().count(db).await.unwrap();
    let err = revy::rollback::restore::<membership::Entity>(delta.id)
        .exec(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("memberships") && err.contains(r#"[7,"admins"]"#),
        "{err}"
    );
    assert_eq!(
        object_delta::Entity::find().count(db).await.unwrap(),
        before
    );
}

async fn snapshot_at_every_delta_equals_the_row_then(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let mut expected: Vec<(i64, account::Model)> = Vec::new();
    let mut row = Context::new()
        .scope(new_account("A0").insert(db))
        .await
        .unwrap();
    let id = row.id.to_string();
    expected.push((
        deltas_of(db, "accounts", &id).await.last().unwrap().id,
        row.clone(),
    ));
    for i in 1..=12 {
        let mut am = row.clone().into_active_model();
        match i % 3 {
            0 => am.code = Set(format!("A{i}")),
            1 => am.name = Set((i % 2 == 0).then(|| format!("name {i}"))),
            _ => {
                am.balance = Set(i64::from(i) * 1000 - 7);
                am.is_active = Set(i % 4 != 0);
            }
        }
        row = Context::via_actor(user(i64::from(i)))
            .scope(am.update(db))
            .await
            .unwrap();
        let last = deltas_of(db, "accounts", &id).await.last().unwrap().clone();
        // an update that changed nothing wrote no delta
        if expected.last().is_some_and(|(d, _)| *d == last.id) {
            assert_eq!(expected.last().map(|(_, m)| m), Some(&row));
            continue;
        }
        expected.push((last.id, row.clone()));
    }
    for (delta_id, want) in &expected {
        let got = ObjectSnapshot::<account::Entity>::at(*delta_id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(got.as_ref(), Some(want), "snapshot at delta {delta_id}");
    }
    // the whole history in two statements, see page_statements
    t.take_statement_count();
    let rows = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .order_by_asc(object_delta::Column::Id)
        .with_snapshot::<account::Entity>()
        .all(db)
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), page_statements(&t));
    let got: Vec<(i64, account::Model)> =
        rows.into_iter().map(|(d, m)| (d.id, m.unwrap())).collect();
    assert_eq!(got, expected);

    // a Delete delta's snapshot is the last state before the deletion
    Context::new()
        .scope(row.clone().into_active_model().delete(db))
        .await
        .unwrap();
    let delete = deltas_of(db, "accounts", &id).await.last().unwrap().clone();
    assert_eq!(delete.action, Action::Delete);
    assert_eq!(
        ObjectSnapshot::<account::Entity>::at(delete.id)
            .one(db)
            .await
            .unwrap(),
        Some(row.clone())
    );
    // no such delta, or a delta of another table: None
    assert_eq!(
        ObjectSnapshot::<account::Entity>::at(999_999)
            .one(db)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        ObjectSnapshot::<membership::Entity>::at(delete.id)
            .one(db)
            .await
            .unwrap(),
        None
    );
}

async fn restore_and_revert(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let original = Context::new()
        .scope(new_account("R").insert(db))
        .await
        .unwrap();
    let id = original.id.to_string();
    let mut am = original.clone().into_active_model();
    am.name = Set(Some("renamed".into()));
    am.balance = Set(99);
    let changed = Context::new().scope(am.update(db)).await.unwrap();

    // revert to the Create: only the two differing columns are recorded
    let create = deltas_of(db, "accounts", &id).await[0].clone();
    let reverted = revy::rollback::revert::<account::Entity>(create.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(reverted, original);
    let revert_delta = deltas_of(db, "accounts", &id).await.last().unwrap().clone();
    assert_eq!(revert_delta.action, Action::Update);
    let fields: Vec<String> = crate::common::entries_of(&revert_delta)
        .into_iter()
        .map(|a| a.field_name)
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");

    // delete, then restore the state of the update, with its key
    Context::new()
        .scope(reverted.into_active_model().delete(db))
        .await
        .unwrap();
    let update = deltas_of(db, "accounts", &id).await[1].clone();
    let err = revy::rollback::revert::<account::Entity>(update.id)
        .exec(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no longer exists") && err.contains("accounts"),
        "{err}"
    );
    let restored = revy::rollback::restore::<account::Entity>(update.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(restored, changed);
    assert_eq!(all_accounts(db).await, vec![changed]);
    assert_eq!(
        deltas_of(db, "accounts", &id).await.last().unwrap().action,
        Action::Create
    );
}

async fn untracked_row_restores_completely(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // created with tracking off
    let a = new_account("B").insert(db).await.unwrap();
    let mut am = a.clone().into_active_model();
    am.name = Set(Some("tracked".into()));
    let updated = Context::new().scope(am.update(db)).await.unwrap();
    Context::new()
        .scope(updated.clone().into_active_model().delete(db))
        .await
        .unwrap();
    let delete = deltas_of(db, "accounts", &a.id.to_string())
        .await
        .last()
        .unwrap()
        .clone();
    let restored = revy::rollback::restore::<account::Entity>(delete.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(restored, updated);
}

async fn undo_revision_returns_tables_to_their_prior_contents(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let keep = Context::new()
        .scope(new_account("KEEP").insert(db))
        .await
        .unwrap();
    let doomed = Context::new()
        .scope(new_account("DOOMED").insert(db))
        .await
        .unwrap();
    let before = all_accounts(db).await;

    let lazy = LazyRevision::new();
    Context::via_revision(lazy.clone())
        .actor(user(5))
        .scope(async {
            let txn = db.begin().await.unwrap();
            new_account("NEW").insert(&txn).await.unwrap();
            let mut am = keep.clone().into_active_model();
            am.code = Set("KEPT".into());
            am.name = Set(Some("edited".into()));
            am.update(&txn).await.unwrap();
            doomed
                .clone()
                .into_active_model()
                .delete(&txn)
                .await
                .unwrap();
            txn.commit().await.unwrap();
        })
        .await;
    assert_ne!(all_accounts(db).await, before);
    let undo = revy::rollback::undo_revision(lazy.id().unwrap())
        .exec(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all_accounts(db).await, before);
    // the undo is one revision of three object deltas
    let undo_deltas = object_delta::Entity::find()
        .filter(object_delta::Column::RevisionId.eq(undo))
        .count(db)
        .await
        .unwrap();
    assert_eq!(undo_deltas, 3);
    // undoing the undo redoes the revision
    revy::rollback::undo_revision(undo).exec(db).await.unwrap();
    let codes: Vec<String> = all_accounts(db).await.into_iter().map(|a| a.code).collect();
    assert_eq!(codes, ["KEPT", "NEW"]);
}

async fn undo_refuses_when_a_row_moved_on(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let lazy = LazyRevision::new();
    let a = Context::via_revision(lazy.clone())
        .scope(new_account("X").insert(db))
        .await
        .unwrap();
    let mut am = a.clone().into_active_model();
    am.code = Set("Y".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let before = (
        all_accounts(db).await,
        object_delta::Entity::find().count(db).await.unwrap(),
    );
    let err = revy::rollback::undo_revision(lazy.id().unwrap())
        .exec(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("accounts")
            && err.contains(&a.id.to_string())
            && err.contains("changed after"),
        "{err}"
    );
    assert_eq!(
        (
            all_accounts(db).await,
            object_delta::Entity::find().count(db).await.unwrap()
        ),
        before
    );
    let missing = revy::rollback::undo_revision(424_242)
        .exec(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("424242"), "{missing}");
}

async fn columns_added_later_take_their_default(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = Context::new()
        .scope(new_account("D").insert(db))
        .await
        .unwrap();
    let delta = deltas_of(db, "accounts", &a.id.to_string()).await[0].clone();
    let v2 = ObjectSnapshot::<account_v2::Entity>::at(delta.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.code, "D");
    assert_eq!(v2.nickname, None, "nullable: NULL");
    assert_eq!(v2.level, 5, "the declared default");
    let err = ObjectSnapshot::<account_v3::Entity>::at(delta.id)
        .one(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("accounts.region"), "{err}");
}

async fn a_snapshot_is_two_statements_whatever_the_history(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let mut row = Context::new()
        .scope(new_account("H").insert(db))
        .await
        .unwrap();
    let txn = db.begin().await.unwrap();
    Context::via_revision(LazyRevision::new())
        .scope(async {
            for i in 0..200 {
                let mut am = row.clone().into_active_model();
                am.balance = Set(i);
                row = am.update(&txn).await.unwrap();
            }
        })
        .await;
    txn.commit().await.unwrap();
    let last = deltas_of(db, "accounts", &row.id.to_string())
        .await
        .last()
        .unwrap()
        .id;
    t.take_statement_count();
    let got = ObjectSnapshot::<account::Entity>::at(last)
        .one(db)
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), snapshot_statements(&t));
    assert_eq!(got, Some(row));
}

/// A diary entry whose secret is redacted and whose last-seen time is
/// ignored, both with a value a deleted row's snapshot can take.
mod diary {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "snapshot_diaries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub body: Option<String>,
        #[sea_orm(default_value = "")]
        pub secret: String,
        pub seen: Option<i64>,
        pub score: i32,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new()
                .redact(Column::Secret)
                .ignore(Column::Seen)
        }
    }
}

/// `with_snapshot` over every delta of an interleaved history of several
/// rows (updates, redacted and ignored columns, deletes) gives, per delta,
/// the row as it was then, equal to `ObjectSnapshot` one delta at a time,
/// whatever page of the deltas is asked for.
async fn batch_snapshots_equal_one_by_one_on_a_mixed_history(t: TestDb) {
    t.create_table(diary::Entity).await;
    let db = &t.db;
    let mut rows = Vec::new();
    for id in 1..=4 {
        let row = Context::via_actor(user(id.into()))
            .scope(
                diary::ActiveModel {
                    id: Set(id),
                    title: Set(format!("entry {id}")),
                    body: Set(None),
                    secret: Set(format!("secret {id}")),
                    seen: Set(Some(id.into())),
                    score: Set(0),
                }
                .insert(db),
            )
            .await
            .unwrap();
        rows.push(Some(row));
    }
    // (object delta, the row right after it, recorded columns only)
    let mut history: Vec<(i64, diary::Model)> = Vec::new();
    for delta in object_delta::Entity::find().all(db).await.unwrap() {
        let row = rows[delta.content_id.parse::<usize>().unwrap() - 1].clone();
        history.push((delta.id, row.unwrap()));
    }
    for step in 0..24_i32 {
        let i = (step * 7 % 4) as usize;
        let Some(row) = rows[i].clone() else { continue };
        let before = object_delta::Entity::find().count(db).await.unwrap();
        let deleted = step == 13 || step == 19;
        let now = if deleted {
            Context::via_actor(user(9))
                .scope(row.clone().into_active_model().delete(db))
                .await
                .unwrap();
            rows[i] = None;
            row
        } else {
            let mut am = row.clone().into_active_model();
            match step % 4 {
                0 => am.title = Set(format!("entry {} v{step}", row.id)),
                1 => am.body = Set((step % 3 != 0).then(|| format!("body {step}"))),
                2 => am.secret = Set(format!("secret v{step}")),
                _ => {
                    am.seen = Set(Some(step.into()));
                    am.score = Set(step * 10);
                }
            }
            let row = Context::via_actor(user(step.into()))
                .scope(am.update(db))
                .await
                .unwrap();
            rows[i] = Some(row.clone());
            row
        };
        if object_delta::Entity::find().count(db).await.unwrap() == before {
            // an update of the ignored column alone wrote no delta
            continue;
        }
        let newest = object_delta::Entity::find()
            .order_by_desc(object_delta::Column::Id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        history.push((newest.id, now));
    }
    assert!(rows.iter().any(Option::is_none) && rows.iter().any(Option::is_some));
    // withheld columns: the live row's value, else the default or NULL
    let expected: Vec<(i64, diary::Model)> = history
        .into_iter()
        .map(|(delta, mut then)| {
            match &rows[then.id as usize - 1] {
                Some(live) => {
                    then.secret = live.secret.clone();
                    then.seen = live.seen;
                }
                None => {
                    then.secret = String::new();
                    then.seen = None;
                }
            }
            (delta, then)
        })
        .collect();

    let all = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("snapshot_diaries"))
        .order_by_asc(object_delta::Column::Id)
        .with_snapshot::<diary::Entity>()
        .all(db)
        .await
        .unwrap();
    let got: Vec<(i64, diary::Model)> = all
        .iter()
        .map(|(d, m)| (d.id, m.clone().expect("a snapshot")))
        .collect();
    assert_eq!(got, expected);
    for (delta, want) in &expected {
        let one = ObjectSnapshot::<diary::Entity>::at(*delta)
            .one(db)
            .await
            .unwrap();
        assert_eq!(one.as_ref(), Some(want), "snapshot at delta {delta}");
    }
    // pages of deltas of several rows, newest first
    for offset in [0, 3, 11] {
        let page = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq("snapshot_diaries"))
            .order_by_desc(object_delta::Column::Id)
            .offset(offset)
            .limit(5)
            .with_snapshot::<diary::Entity>()
            .all(db)
            .await
            .unwrap();
        assert_eq!(page.len(), 5);
        for (d, m) in page {
            let want = expected.iter().find(|(id, _)| *id == d.id).map(|(_, m)| m);
            assert_eq!(m.as_ref(), want, "delta {} in page at {offset}", d.id);
        }
    }
}

/// A baseline records a row as it already was: undoing it is refused, and
/// the row stays.
async fn a_baseline_cannot_be_undone(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let a = account::ActiveModel {
        id: Set(1),
        code: Set("plain".into()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let mut am = a.into_active_model();
    am.code = Set("tracked".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let baseline = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    match revy::rollback::undo_revision(baseline.revision_id)
        .exec(db)
        .await
    {
        Err(revy::Error::Rollback(e)) => match *e {
            RollbackError::NotUndoable { what, .. } => assert_eq!(what, "a baseline"),
            other => panic!("expected NotUndoable, got {other:?}"),
        },
        other => panic!("expected NotUndoable, got {other:?}"),
    }
    assert_eq!(account::Entity::find().count(db).await.unwrap(), 1);
}

backend_tests!(
    a_baseline_cannot_be_undone,
    recovery_restores_a_deleted_membership,
    snapshot_at_every_delta_equals_the_row_then,
    restore_and_revert,
    untracked_row_restores_completely,
    undo_revision_returns_tables_to_their_prior_contents,
    undo_refuses_when_a_row_moved_on,
    columns_added_later_take_their_default,
    a_snapshot_is_two_statements_whatever_the_history,
    batch_snapshots_equal_one_by_one_on_a_mixed_history,
);
