//! Issue 14: pruning the journal into checkpoints, its export, and import.
//!
//! The property every test checks: after a prune, every snapshot, `as_of`
//! and history page for a time at or after the cut is what it was before.

use std::collections::BTreeMap;

use revy::entity::{object_delta, revision};
use revy::lifecycle::LifecycleError;
use revy::{Action, Context, history::ObjectSnapshot};
use sea_orm::sea_query::Table;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use crate::common::TestDb;
use crate::common::entities::{account, membership};

mod concurrent;
pub(crate) mod fixture;
mod import;

use fixture::{answers_since, journal, keys, moment, random_history, snapshots};

/// For seeds of random histories: every snapshot that remains, and every
/// answer for times at or after the cut, is what it was; deleted rows are
/// gone; a second run changes nothing.
async fn prune_keeps_every_answer_after_the_cut(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut totals = Vec::new();
    for seed in [7u64, 42, 1234, 5, 99, 31337] {
        let cut = random_history(db, seed, 24).await;
        let keys = keys(db).await;
        let before = snapshots(db).await;
        let answers = answers_since(db, cut, &keys).await;
        let gone: Vec<i32> = {
            let mut gone = Vec::new();
            for &k in &keys {
                let h = revy::history::of::<account::Entity>(k)
                    .all(db)
                    .await
                    .unwrap();
                if h.first()
                    .is_some_and(|d| d.created_at < cut && d.action == Action::Delete)
                {
                    gone.push(k);
                }
            }
            gone
        };

        let report = revy::lifecycle::prune()
            .older_than(cut)
            .chunk_size(3)
            .exec(db)
            .await
            .unwrap();
        assert!(report.object_deltas_pruned > 0, "seed {seed}: {report:?}");
        totals.push(report);

        let after = snapshots(db).await;
        assert!(after.len() < before.len(), "seed {seed}: something went");
        for (id, snapshot) in &after {
            assert_eq!(
                Some(snapshot),
                before.get(id),
                "seed {seed}: snapshot at {id}"
            );
        }
        assert_eq!(answers_since(db, cut, &keys).await, answers, "seed {seed}");
        for k in &gone {
            let h = revy::history::of::<account::Entity>(*k)
                .all(db)
                .await
                .unwrap();
            assert!(
                h.is_empty(),
                "seed {seed}: row {k} deleted before the cut is gone"
            );
        }
        // every delta at or after the cut is still there, as it was
        let kept = object_delta::Entity::find()
            .filter(object_delta::Column::CreatedAt.gte(cut))
            .all(db)
            .await
            .unwrap();
        for d in &kept {
            assert!(after.contains_key(&d.id));
        }

        let journal_once = journal(db).await;
        let again = revy::lifecycle::prune()
            .older_than(cut)
            .chunk_size(2)
            .exec(db)
            .await
            .unwrap();
        assert_eq!(
            (
                again.checkpoints,
                again.object_deltas_pruned,
                again.revisions_removed
            ),
            (0, 0, 0),
            "seed {seed}: a second run is a no-op"
        );
        assert_eq!(journal(db).await, journal_once, "seed {seed}");
    }
    // the seeds reach every kind of fold
    assert!(totals.iter().any(|r| r.objects_removed > 0), "{totals:?}");
    assert!(totals.iter().any(|r| r.checkpoints > 0), "{totals:?}");
    assert!(totals.iter().any(|r| r.revisions_removed > 0), "{totals:?}");
    let delete_checkpoints = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .find_also_related(revision::Entity)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, r)| {
            r.as_ref()
                .is_some_and(|r| r.kind() == revy::entity::revision::RevisionKind::Checkpoint)
        })
        .count();
    assert!(
        delete_checkpoints > 0,
        "a Delete followed by an Update folds into a Delete"
    );
    eprintln!(
        "prune: {} seeds, {delete_checkpoints} Delete checkpoints, reports {totals:?}",
        totals.len()
    );
}

/// keep_last(n): each object keeps its newest n deltas and a checkpoint,
/// and the snapshot at each of them is what it was.
async fn keep_last_n_per_object(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    random_history(db, 99, 30).await;
    let before = snapshots(db).await;
    let keys = keys(db).await;
    let mut newest: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for &k in &keys {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        newest.insert(k, h.iter().take(2).map(|d| d.id).collect());
    }
    revy::lifecycle::prune()
        .keep_last(2)
        .exec(db)
        .await
        .unwrap();
    let after = snapshots(db).await;
    for &k in &keys {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        let ids: Vec<i64> = h.iter().map(|d| d.id).collect();
        let kept = &newest[&k];
        assert_eq!(
            &ids[..kept.len().min(ids.len())],
            &kept[..kept.len().min(ids.len())]
        );
        assert!(ids.len() <= 3, "row {k}: {ids:?}");
        if let Some(extra) = ids.get(2) {
            let checkpoint = &h[2];
            assert_eq!(
                checkpoint.action,
                Action::Create,
                "row {k}: checkpoint {extra}"
            );
            assert_eq!(checkpoint.actor(), None);
        }
        for id in kept {
            assert_eq!(after.get(id), before.get(id), "row {k}: snapshot at {id}");
        }
    }
    let again = revy::lifecycle::prune()
        .keep_last(2)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(again.checkpoints + again.object_deltas_pruned, 0);

    // with a time too: a delta goes only if both the time and the count let it
    let early = moment().await;
    random_history(db, 100, 10).await;
    let before = snapshots(db).await;
    let at_or_after: Vec<i64> = object_delta::Entity::find()
        .filter(object_delta::Column::CreatedAt.gte(early))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    revy::lifecycle::prune()
        .older_than(early)
        .keep_last(1)
        .exec(db)
        .await
        .unwrap();
    let after = snapshots(db).await;
    for id in &at_or_after {
        assert!(after.contains_key(id), "delta {id} after the time stays");
    }
    for (id, snapshot) in &after {
        assert_eq!(Some(snapshot), before.get(id), "snapshot at {id}");
    }
    for k in self::keys(db).await {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        let old = h.iter().filter(|d| d.created_at < early).count();
        assert!(
            old <= 2,
            "row {k}: a checkpoint and at most the last one: {h:?}"
        );
    }
}

/// .entity::<E>() prunes that table's history only; composite keys fold.
async fn prune_one_entity_only(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let mut m = Context::new()
        .scope(
            membership::ActiveModel {
                user_id: Set(1),
                group_id: Set("g'1".into()),
                role: Set("v0".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    for i in 1..4 {
        let mut am = m.into_active_model();
        am.role = Set(format!("v{i}"));
        m = Context::new().scope(am.update(db)).await.unwrap();
    }
    let memberships = |db: &DatabaseConnection| {
        let db = db.clone();
        async move {
            object_delta::Entity::find()
                .filter(object_delta::Column::ContentType.eq("memberships"))
                .all(&db)
                .await
                .unwrap()
        }
    };
    let before = memberships(db).await;
    random_history(db, 5, 10).await;
    let report = revy::lifecycle::prune()
        .keep_last(1)
        .entity::<account::Entity>()
        .exec(db)
        .await
        .unwrap();
    assert!(report.object_deltas_pruned > 0);
    assert_eq!(
        memberships(db).await,
        before,
        "the memberships' history is untouched"
    );
    let report = revy::lifecycle::prune()
        .keep_last(1)
        .content_type("memberships")
        .exec(db)
        .await
        .unwrap();
    assert_eq!((report.checkpoints, report.object_deltas_pruned), (1, 3));
    let h = revy::history::of::<membership::Entity>((1, "g'1".to_owned()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        ObjectSnapshot::<membership::Entity>::at(h[1].id)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.role),
        Some("v2".to_owned()),
        "the checkpoint holds the state at the cut"
    );
    assert_eq!(
        ObjectSnapshot::<membership::Entity>::at(h[0].id)
            .one(db)
            .await
            .unwrap(),
        Some(m)
    );
    assert!(matches!(
        revy::lifecycle::prune().exec(db).await,
        Err(revy::Error::Lifecycle(e)) if matches!(*e, LifecycleError::NoCut)
    ));
}

/// A prune that fails inside a chunk (after earlier chunks committed),
/// then runs again, ends where an uninterrupted prune ends; importing its
/// export, duplicate lines included, brings back the journal it started
/// from.
async fn crash_then_rerun_equals_one_prune(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 2024, 24).await;
    let original = journal(db).await;

    let mut export = Vec::new();
    let failed = revy::lifecycle::prune()
        .older_than(cut)
        .chunk_size(2)
        .export(&mut export)
        .__fail_in_chunk(3)
        .exec(db)
        .await;
    assert!(failed.is_err());
    let partial = journal(db).await;
    assert_ne!(partial, original, "two chunks were committed");
    revy::lifecycle::prune()
        .older_than(cut)
        .chunk_size(2)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let resumed = journal(db).await;

    let report = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    assert!(
        report.checkpoints_replaced > 0 && report.skipped > 0,
        "{report:?}"
    );
    assert_eq!(
        journal(db).await,
        original,
        "the import restored the pruned history"
    );

    revy::lifecycle::prune()
        .older_than(cut)
        .chunk_size(5)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(journal(db).await, resumed);
}

/// An export is a backup: imported into an empty journal, it gives back
/// every snapshot and history entry before the cut.
async fn export_then_import_into_an_empty_journal(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 77, 20).await;
    let before = snapshots(db).await;
    let keys = keys(db).await;
    let mut histories = BTreeMap::new();
    for &k in &keys {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        histories.insert(k, h);
    }
    let entries_before = crate::common::attribute_rows(db).await;
    let mut export = Vec::new();
    let report = revy::lifecycle::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let lines = String::from_utf8(export.clone()).unwrap();
    assert!(lines.lines().count() as u64 >= report.revisions_removed);
    // the attribute deltas pruned: the inline entries the exported (pruned)
    // object deltas held before the prune
    let pruned_ids: std::collections::BTreeSet<i64> = lines
        .lines()
        .flat_map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            line["object_deltas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(pruned_ids.len() as u64, report.object_deltas_pruned);
    let attribute_deltas_pruned = entries_before
        .iter()
        .filter(|a| pruned_ids.contains(&a.object_delta_id))
        .count() as u64;

    // a fresh journal
    fresh_journal(db).await;
    let imported = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    assert_eq!(imported.object_deltas, report.object_deltas_pruned);
    assert_eq!(imported.attribute_deltas, attribute_deltas_pruned);

    let restored = snapshots(db).await;
    assert!(!restored.is_empty());
    for (id, snapshot) in &restored {
        assert_eq!(Some(snapshot), before.get(id), "snapshot at {id}");
    }
    for &k in &keys {
        let h = revy::history::of::<account::Entity>(k)
            .all(db)
            .await
            .unwrap();
        let original: Vec<_> = histories[&k]
            .iter()
            .filter(|d| restored.contains_key(&d.id))
            .cloned()
            .collect();
        assert_eq!(h, original, "history of row {k} before the cut");
    }
    // tracked writes go on in the imported journal (ids come after the imported ones)
    Context::new()
        .scope(
            account::ActiveModel {
                code: Set("after import".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
}

/// Import refuses what is not an export, and ids the journal holds for
/// other rows, naming the line and the delta; nothing of the refused line
/// stays.
async fn import_refuses_what_is_not_its_own(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    match revy::lifecycle::import("\n{\"revision\": 1}\n".as_bytes())
        .exec(db)
        .await
    {
        Err(revy::Error::Lifecycle(e)) => match *e {
            LifecycleError::Import { line, reason } => {
                assert_eq!(line, 2, "{reason}");
            }
            other => panic!("expected an import error, got {other:?}"),
        },
        other => panic!("expected an import error, got {other:?}"),
    }
    let cut = random_history(db, 11, 12).await;
    let mut export = Vec::new();
    revy::lifecycle::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    // a fresh journal whose ids are taken by another table's rows
    fresh_journal(db).await;
    for user_id in 0..40 {
        Context::new()
            .scope(
                membership::ActiveModel {
                    user_id: Set(user_id),
                    group_id: Set("g".into()),
                    role: Set("member".into()),
                }
                .insert(db),
            )
            .await
            .unwrap();
    }
    let before = journal(db).await;
    match revy::lifecycle::import(export.as_slice()).exec(db).await {
        Err(revy::Error::Lifecycle(e)) => match *e {
            LifecycleError::ImportConflict { content_type, .. } => {
                assert_eq!(content_type, "accounts");
            }
            other => panic!("expected a conflict, got {other:?}"),
        },
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(journal(db).await, before, "the refused line left nothing");
}

/// Drops the journal's tables and installs them again, empty.
pub(crate) async fn fresh_journal(db: &DatabaseConnection) {
    for table in [
        "revy_tags",
        "revy_erasures",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        let drop = Table::drop()
            .table(sea_orm::sea_query::Alias::new(table))
            .to_owned();
        db.execute(&drop).await.unwrap();
    }
    revy::install(db).await.unwrap();
}

/// A tag keeps its revision and everything after it: reading the table
/// as of the tag gives what it gave before the prune.
async fn prune_keeps_tagged_history(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut rows = Vec::new();
    for id in 1..=3 {
        let a = Context::new()
            .scope(
                account::ActiveModel {
                    id: Set(id),
                    code: Set(format!("v1-{id}")),
                    is_active: Set(true),
                    ..Default::default()
                }
                .insert(db),
            )
            .await
            .unwrap();
        rows.push(a);
    }
    // three more versions each; the tag names the second round
    let mut tagged_revision = 0;
    for round in 2..=4 {
        for a in &rows {
            let mut am = account::Entity::find_by_id(a.id)
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .into_active_model();
            am.code = Set(format!("v{round}-{}", a.id));
            Context::new().scope(am.update(db)).await.unwrap();
        }
        if round == 2 {
            tagged_revision = revision::Entity::find()
                .order_by_desc(revision::Column::Id)
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .id;
        }
    }
    revy::tags::tag("release", tagged_revision)
        .exec(db)
        .await
        .unwrap();
    let mut before = Vec::new();
    for a in &rows {
        before.push(
            revy::tags::as_of_tag::<account::Entity>(a.id, "release")
                .one(db)
                .await
                .unwrap(),
        );
    }
    let report = revy::lifecycle::prune()
        .keep_last(0)
        .exec(db)
        .await
        .unwrap();
    assert!(report.checkpoints > 0, "{report:?}");
    for (a, then) in rows.iter().zip(before) {
        assert_eq!(
            revy::tags::as_of_tag::<account::Entity>(a.id, "release")
                .one(db)
                .await
                .unwrap(),
            then
        );
    }
    assert!(
        revy::tags::find_tag("release")
            .one(db)
            .await
            .unwrap()
            .is_some()
    );
}

backend_tests!(
    prune_keeps_tagged_history,
    prune_keeps_every_answer_after_the_cut,
    keep_last_n_per_object,
    prune_one_entity_only,
    crash_then_rerun_equals_one_prune,
    export_then_import_into_an_empty_journal,
    import_refuses_what_is_not_its_own,
);
