//! Issue 28: what made a revision is its kind (`revision::Model::kind`),
//! which revy marks in the meta of the revisions it writes itself; a
//! revision's description is for a person and decides nothing.

use revy::entity::{object_delta, revision};
use revy::rollback::RollbackError;
use revy::{
    Context, Error, context::LazyRevision, entity::revision::RevisionKind, error::JournalError,
    lifecycle::CHECKPOINT_DESCRIPTION,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use crate::common::TestDb;
use crate::common::entities::account;

fn new_account(id: i32) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(format!("c{id}")),
        is_active: Set(true),
        ..Default::default()
    }
}

/// Every revision, oldest first.
async fn revisions(db: &DatabaseConnection) -> Vec<revision::Model> {
    revision::Entity::find()
        .order_by_asc(revision::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn kinds(db: &DatabaseConnection) -> Vec<RevisionKind> {
    revisions(db)
        .await
        .iter()
        .map(revision::Model::kind)
        .collect()
}

async fn rename(db: &DatabaseConnection, id: i32, name: &str) {
    let mut am = account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    am.name = Set(Some(name.to_owned()));
    Context::new().scope(am.update(db)).await.unwrap();
}

/// A bulk update of rows written while tracking was off first records
/// them as they were: a baseline, which undo refuses. A queued
/// transaction's flush writes its baseline with the same kind.
async fn a_baseline_is_a_baseline(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    // written while tracking was off
    for id in [1, 2] {
        new_account(id).insert(db).await.unwrap();
    }
    Context::new()
        .scope(
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::Name, Expr::value("bulk"))
                .filter(account::Column::Id.eq(1))
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(
        kinds(db).await,
        [RevisionKind::Baseline, RevisionKind::Change]
    );
    let baseline = &revisions(db).await[0];
    assert_eq!(baseline.description, revy::hooks::BASELINE_DESCRIPTION);
    match revy::rollback::undo_revision(baseline.id).exec(db).await {
        Err(Error::Rollback(e)) => match *e {
            RollbackError::NotUndoable { what, .. } => assert_eq!(what, "a baseline"),
            other => panic!("expected NotUndoable, got {other:?}"),
        },
        other => panic!("expected NotUndoable, got {other:?}"),
    }
    assert_eq!(account::Entity::find().count(db).await.unwrap(), 2);

    // the queued path: the baseline is written at commit
    Context::new()
        .scope(async {
            let txn = revy::begin(db).await?;
            let mut am = account::Entity::find_by_id(2)
                .one(&txn)
                .await?
                .unwrap()
                .into_active_model();
            am.name = Set(Some("queued".into()));
            am.update(&txn).await?;
            txn.commit().await
        })
        .await
        .unwrap();
    assert_eq!(
        kinds(db).await,
        [
            RevisionKind::Baseline,
            RevisionKind::Change,
            RevisionKind::Baseline,
            RevisionKind::Change
        ]
    );
}

/// A prune folds older history into checkpoints, in a revision of their
/// own that undo refuses; the revisions it keeps are changes still.
async fn a_prune_checkpoint_is_a_checkpoint(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    Context::new()
        .scope(new_account(1).insert(db))
        .await
        .unwrap();
    rename(db, 1, "one").await;
    rename(db, 1, "two").await;
    let report = revy::lifecycle::prune()
        .keep_last(1)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(report.checkpoints, 1, "{report:?}");
    let checkpoints: Vec<revision::Model> = revisions(db)
        .await
        .into_iter()
        .filter(|r| r.kind() == RevisionKind::Checkpoint)
        .collect();
    let [checkpoint] = checkpoints.as_slice() else {
        panic!("one checkpoint revision, got {checkpoints:?}");
    };
    assert_eq!(checkpoint.description, CHECKPOINT_DESCRIPTION);
    assert_eq!(
        kinds(db)
            .await
            .iter()
            .filter(|k| **k == RevisionKind::Change)
            .count(),
        1,
        "the newest change is kept"
    );
    match revy::rollback::undo_revision(checkpoint.id).exec(db).await {
        Err(Error::Rollback(e)) => match *e {
            RollbackError::NotUndoable { what, .. } => assert_eq!(what, "a prune checkpoint"),
            other => panic!("expected NotUndoable, got {other:?}"),
        },
        other => panic!("expected NotUndoable, got {other:?}"),
    }
    let row = account::Entity::find_by_id(1).one(db).await.unwrap();
    assert_eq!(row.unwrap().name.as_deref(), Some("two"));
}

/// An erasure's revision is an erasure, which undo refuses.
async fn an_erasure_is_an_erasure(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    Context::new()
        .scope(new_account(1).insert(db))
        .await
        .unwrap();
    rename(db, 1, "Ann Private").await;
    let done = revy::lifecycle::erase::<account::Entity>(1)
        .columns([account::Column::Name])
        .reason("asked to be forgotten")
        .exec(db)
        .await
        .unwrap();
    let [revision_id] = done.revision_ids.as_slice() else {
        panic!("one erasure revision, got {done:?}");
    };
    let erasure = revision::Entity::find_by_id(*revision_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(erasure.kind(), RevisionKind::Erasure);
    assert_eq!(
        kinds(db).await,
        [
            RevisionKind::Change,
            RevisionKind::Change,
            RevisionKind::Erasure
        ]
    );
    match revy::rollback::undo_revision(*revision_id).exec(db).await {
        Err(Error::Rollback(e)) => match *e {
            RollbackError::ErasureIsFinal { revision_id: id } => assert_eq!(id, *revision_id),
            other => panic!("expected ErasureIsFinal, got {other:?}"),
        },
        other => panic!("expected ErasureIsFinal, got {other:?}"),
    }
}

/// A user's revision is a change whatever its description says and
/// whatever else its meta holds: it keeps the meta, and undo undoes it.
async fn a_change_is_a_change_whatever_its_description(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let lazy = LazyRevision::new();
    Context::new()
        .revision(lazy.clone())
        .revision_description(CHECKPOINT_DESCRIPTION)
        .meta(json!({"request": "r-1", "revy_like": "baseline"}))
        .scope(new_account(1).insert(db))
        .await
        .unwrap();
    let written = revision::Entity::find_by_id(lazy.id().unwrap())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.kind(), RevisionKind::Change);
    assert_eq!(
        written.meta,
        Some(json!({"request": "r-1", "revy_like": "baseline"}))
    );
    revy::rollback::undo_revision(written.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(account::Entity::find().count(db).await.unwrap(), 0);
}

/// The meta key `"revy"` is revy's: a context that sets it writes
/// nothing, through the hooks, a queued transaction or a bulk write.
async fn a_context_meta_may_not_use_the_reserved_key(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let reserved = || Context::via_meta(json!({"revy": "baseline", "request": "r-1"}));

    let err = reserved()
        .scope(new_account(1).insert(db))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("reserves"), "{err}");

    let queued = reserved()
        .scope(async {
            let txn = revy::begin(db).await?;
            new_account(2).insert(&txn).await?;
            txn.commit().await
        })
        .await;
    assert!(queued.is_err(), "the queued insert must fail");

    match reserved()
        .scope(revy::bulk::insert_many::<account::Entity>([new_account(3)]).exec(db))
        .await
    {
        Err(Error::Journal(e)) => match *e {
            JournalError::ReservedMeta { meta } => assert_eq!(meta["revy"], "baseline"),
            other => panic!("expected ReservedMeta, got {other:?}"),
        },
        other => panic!("expected ReservedMeta, got {other:?}"),
    }

    assert_eq!(account::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(revision::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 0);
}

backend_tests!(
    a_baseline_is_a_baseline,
    a_prune_checkpoint_is_a_checkpoint,
    an_erasure_is_an_erasure,
    a_change_is_a_change_whatever_its_description,
    a_context_meta_may_not_use_the_reserved_key,
);
