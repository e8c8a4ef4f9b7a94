//! Issue 25: an import counts a delta as imported only when the journal
//! holds the same content; ids reused by a journal installed again are a
//! conflict, never a silent skip.

use revy::entity::{object_delta, revision};
use revy::lifecycle::LifecycleError;
use revy::{Action, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use super::fixture::{journal, random_history, snapshots};
use super::fresh_journal;
use crate::common::TestDb;
use crate::common::entities::account;
use crate::faults::{arm, disarm, install_fault_budget};

/// (id, revision id, action, row) of every object delta of an export.
fn exported_deltas(export: &[u8]) -> Vec<(i64, i64, String, String)> {
    let mut out = Vec::new();
    for line in String::from_utf8(export.to_vec()).unwrap().lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        for d in line["object_deltas"].as_array().unwrap() {
            out.push((
                d["id"].as_i64().unwrap(),
                line["revision"]["id"].as_i64().unwrap(),
                d["action"].as_str().unwrap().to_owned(),
                d["content_id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// The same as `exported_deltas`, read from the journal.
async fn journal_deltas(db: &DatabaseConnection) -> Vec<(i64, i64, String, String)> {
    object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.revision_id, format!("{:?}", d.action), d.content_id))
        .collect()
}

async fn rename(db: &DatabaseConnection, row: account::Model, code: &str) -> account::Model {
    let mut am = row.into_active_model();
    am.code = Set(code.to_owned());
    Context::new().scope(am.update(db)).await.unwrap()
}

/// The issue's scenario: prune with an export, drop and install the
/// journal, write new history for the same row so that its deltas take
/// the export's ids, rows, revision ids and actions; the import refuses,
/// naming the delta and its table, leaves the journal as it was, and the
/// export still imports whole into an empty journal.
async fn import_refuses_new_history_under_the_export_ids(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut row = Context::new()
        .scope(
            account::ActiveModel {
                code: Set("v1".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    for code in ["v2", "v3"] {
        row = rename(db, row, code).await;
    }
    let mut export = Vec::new();
    revy::lifecycle::prune()
        .keep_last(1)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let exported = exported_deltas(&export);
    assert_eq!(exported.len(), 2, "the create and the first rename");

    fresh_journal(db).await;
    // the same row's new history: a Create and an Update, as before
    account::Entity::delete_by_id(row.id)
        .exec(db)
        .await
        .unwrap();
    let again = Context::new()
        .scope(
            account::ActiveModel {
                id: Set(row.id),
                code: Set("new 1".into()),
                is_active: Set(false),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    rename(db, again, "new 2").await;
    assert_eq!(
        journal_deltas(db).await,
        exported,
        "ids, revision ids, actions and row collide with the export's"
    );

    let before = journal(db).await;
    match revy::lifecycle::import(export.as_slice()).exec(db).await {
        Err(revy::Error::Lifecycle(e)) => match *e {
            LifecycleError::ImportConflict {
                id,
                content_type,
                content_id,
            } => {
                assert_eq!(
                    (id, content_type.as_str(), content_id),
                    (exported[0].0, "accounts", row.id.to_string())
                );
            }
            other => panic!("expected a conflict, got {other:?}"),
        },
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(journal(db).await, before, "the journal's history is kept");

    // nothing of the export is lost: an empty journal takes all of it
    fresh_journal(db).await;
    let report = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    assert_eq!((report.object_deltas, report.skipped), (2, 0), "{report:?}");
    assert_eq!(journal_deltas(db).await, exported);
}

/// Running an import again changes nothing and reports every delta as
/// skipped: into the journal the export came from, and into an empty one.
async fn an_import_run_twice_is_a_no_op(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 31, 16).await;
    let original = journal(db).await;
    let mut export = Vec::new();
    let pruned = revy::lifecycle::prune()
        .older_than(cut)
        .chunk_size(3)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    assert!(pruned.object_deltas_pruned > 0, "{pruned:?}");

    for into in ["the origin", "an empty journal"] {
        if into == "an empty journal" {
            fresh_journal(db).await;
        }
        let first = revy::lifecycle::import(export.as_slice())
            .exec(db)
            .await
            .unwrap();
        assert_eq!(first.object_deltas, pruned.object_deltas_pruned, "{into}");
        let once = journal(db).await;
        if into == "the origin" {
            assert_eq!(once, original, "the pruned history is back");
        }
        let second = revy::lifecycle::import(export.as_slice())
            .exec(db)
            .await
            .unwrap();
        assert_eq!(
            (
                second.revisions,
                second.object_deltas,
                second.attribute_deltas,
                second.checkpoints_replaced,
                second.skipped
            ),
            (0, 0, 0, 0, pruned.object_deltas_pruned),
            "{into}: {second:?}"
        );
        assert_eq!(journal(db).await, once, "{into}");
    }
}

/// Two prunes of the same rows (the second folds the first's checkpoint,
/// so its export holds a checkpoint line), imported in either order, give
/// back the journal before both; each import run again is a no-op.
async fn exports_of_two_prunes_import_in_either_order(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    for i in 0..3 {
        let mut row = Context::new()
            .scope(
                account::ActiveModel {
                    code: Set(format!("{i}-0")),
                    is_active: Set(true),
                    ..Default::default()
                }
                .insert(db),
            )
            .await
            .unwrap();
        for n in 1..6 {
            row = rename(db, row, &format!("{i}-{n}")).await;
        }
    }
    let original = journal(db).await;
    for order in ["older first", "newer first"] {
        let (mut older, mut newer) = (Vec::new(), Vec::new());
        revy::lifecycle::prune()
            .keep_last(3)
            .export(&mut older)
            .exec(db)
            .await
            .unwrap();
        revy::lifecycle::prune()
            .keep_last(1)
            .export(&mut newer)
            .exec(db)
            .await
            .unwrap();
        assert!(
            String::from_utf8(newer.clone())
                .unwrap()
                .contains(r#""meta":{"revy":"checkpoint"}"#),
            "the second export holds the first's checkpoints, marked as such"
        );
        let exports = match order {
            "older first" => [&older, &newer],
            _ => [&newer, &older],
        };
        for export in exports {
            revy::lifecycle::import(export.as_slice())
                .exec(db)
                .await
                .unwrap();
        }
        assert_eq!(journal(db).await, original, "{order}");
        for export in exports {
            let again = revy::lifecycle::import(export.as_slice())
                .exec(db)
                .await
                .unwrap();
            assert_eq!(
                again.object_deltas + again.checkpoints_replaced,
                0,
                "{order}: {again:?}"
            );
        }
        assert_eq!(journal(db).await, original, "{order}: run again");
    }
}

/// An import stopped by a fault at an object delta (its attribute deltas
/// inline) or a revision (earlier lines committed, the failing line rolled
/// back), then run again, ends with the journal an uninterrupted import
/// gives.
async fn an_import_stopped_by_a_fault_then_run_again(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    install_fault_budget(db).await;
    let cut = random_history(db, 2025, 12).await;
    let original = journal(db).await;
    let (mut tried, mut partial) = (0, 0);
    let mut export = Vec::new();
    revy::lifecycle::prune()
        .older_than(cut)
        .chunk_size(2)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let text = String::from_utf8(export).unwrap();
    let deltas = text.matches("\"attribute_deltas\"").count() as i64;
    assert!(deltas > 4, "{text}");
    for (table, budget) in [
        ("revy_object_deltas", 0),
        ("revy_object_deltas", 1),
        ("revy_object_deltas", deltas / 3),
        ("revy_object_deltas", deltas / 2),
        ("revy_object_deltas", deltas - 1),
        ("revy_revisions", 1),
    ] {
        let pruned_journal = journal(db).await;
        arm(db, table, budget).await;
        let failed = revy::lifecycle::import(text.as_bytes()).exec(db).await;
        disarm(db, table).await;
        match failed {
            Err(revy::Error::Lifecycle(e)) => match *e {
                LifecycleError::Import { reason, .. } => {
                    assert!(reason.contains("injected fault"), "{reason}")
                }
                other => panic!("{table} at {budget}: expected the fault, got {other:?}"),
            },
            other => panic!("{table} at {budget}: expected the fault, got {other:?}"),
        }
        let stopped = journal(db).await;
        if stopped != pruned_journal {
            partial += 1;
        }
        let rerun = revy::lifecycle::import(text.as_bytes())
            .exec(db)
            .await
            .unwrap();
        assert_eq!(
            journal(db).await,
            original,
            "{table} at {budget}: {rerun:?}"
        );
        assert_eq!(
            (rerun.object_deltas + rerun.skipped) as i64,
            deltas,
            "{table} at {budget}: {rerun:?}"
        );
        tried += 1;
        // back to the pruned journal for the next fault point
        let mut again = Vec::new();
        revy::lifecycle::prune()
            .older_than(cut)
            .chunk_size(2)
            .export(&mut again)
            .exec(db)
            .await
            .unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), text);
        assert_eq!(journal(db).await, pruned_journal);
    }
    assert!(
        partial >= 3,
        "{partial} of {tried} stopped after some lines"
    );
    eprintln!("import faults: {tried} fault points, {partial} stopped midway");
}

/// Into a journal whose ids have moved past the export's: the journal the
/// export came from after more tracked writes, and a journal emptied by
/// hand (its sequences past the export's ids). Everything comes back, the
/// newer history stays, and tracked writes after the import take new ids.
async fn import_into_a_journal_whose_ids_moved_past(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 8, 14).await;
    let before = snapshots(db).await;
    let mut export = Vec::new();
    let pruned = revy::lifecycle::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let newest_exported = exported_deltas(&export).iter().map(|d| d.0).max().unwrap();
    // more history: ids move on past the export's
    random_history(db, 9, 10).await;
    let newer = snapshots(db).await;
    let report = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    assert_eq!(report.object_deltas, pruned.object_deltas_pruned);
    let after = snapshots(db).await;
    for (id, snapshot) in &before {
        assert_eq!(after.get(id), Some(snapshot), "snapshot at {id} is back");
    }
    for (id, snapshot) in newer.iter().filter(|(id, _)| !before.contains_key(id)) {
        assert_eq!(after.get(id), Some(snapshot), "newer delta {id} stays");
    }
    let newest = *after.keys().max().unwrap();
    assert!(newest > newest_exported);
    let written = Context::new()
        .scope(
            account::ActiveModel {
                code: Set("after".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let delta = revy::history::of::<account::Entity>(written.id)
        .all(db)
        .await
        .unwrap();
    assert!(delta[0].id > newest, "{} after {newest}", delta[0].id);

    // a journal emptied by hand: its sequences are past every id
    object_delta::Entity::delete_many().exec(db).await.unwrap();
    revision::Entity::delete_many().exec(db).await.unwrap();
    let report = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        (report.object_deltas, report.skipped),
        (pruned.object_deltas_pruned, 0)
    );
    let restored = snapshots(db).await;
    for (id, snapshot) in &restored {
        assert_eq!(before.get(id), Some(snapshot), "snapshot at {id}");
    }
    let row = account::Entity::find()
        .filter(account::Column::Id.eq(written.id))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    rename(db, row, "after the second import").await;
    let h = revy::history::of::<account::Entity>(written.id)
        .all(db)
        .await
        .unwrap();
    assert!(!h.is_empty());
    for d in &h {
        assert!(d.id > newest, "{} after {newest}", d.id);
    }
    assert_eq!(h[0].action, Action::Update);
}

/// Issue 26: exports say their format. A format 1 export (attribute
/// deltas with ids and times of their own, no `format` field) imports into
/// an empty journal like the format 2 export it was made from; a line of a
/// newer format is refused, naming the line, and nothing of it is written.
async fn exports_say_their_format(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 7, 12).await;
    let mut export = Vec::new();
    let pruned = revy::lifecycle::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    assert!(pruned.object_deltas_pruned > 0, "{pruned:?}");
    let text = String::from_utf8(export.clone()).unwrap();
    let mut format_1 = String::new();
    let mut next_id = 900_000;
    for line in text.lines() {
        let mut line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["format"], 2, "{line}");
        line.as_object_mut().unwrap().remove("format");
        for d in line["object_deltas"].as_array_mut().unwrap() {
            let at = d["created_at"].clone();
            for a in d["attribute_deltas"].as_array_mut().unwrap() {
                assert!(
                    a.get("id").is_none() && a.get("created_at").is_none(),
                    "{a}"
                );
                next_id += 1;
                a["id"] = next_id.into();
                a["created_at"] = at.clone();
            }
        }
        format_1.push_str(&line.to_string());
        format_1.push('\n');
    }

    fresh_journal(db).await;
    let two = revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    let from_two = (journal(db).await, snapshots(db).await);
    fresh_journal(db).await;
    let one = revy::lifecycle::import(format_1.as_bytes())
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        (one.object_deltas, one.attribute_deltas),
        (two.object_deltas, two.attribute_deltas)
    );
    assert_eq!((journal(db).await, snapshots(db).await), from_two);

    fresh_journal(db).await;
    let newer = text.replacen("\"format\":2", "\"format\":3", 1);
    let refused = revy::lifecycle::import(newer.as_bytes())
        .exec(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, revy::Error::Lifecycle(e)
            if matches!(&**e, LifecycleError::Import { line: 1, reason } if reason.contains("format 3"))),
        "{refused}"
    );
    assert!(
        object_delta::Entity::find()
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
}

/// An imported history gets the checkpoints its writer wrote: a row with
/// 20 versions in one transaction, pruned whole into an export and
/// imported into an empty journal, has its checkpoint at version 17 again,
/// and its snapshots read from it.
async fn an_import_writes_checkpoints(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut row = Context::new()
        .scope(
            account::ActiveModel {
                code: Set("K".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let txn = db.begin().await.unwrap();
    for i in 1..=20 {
        let mut am = row.into_active_model();
        am.balance = Set(i);
        row = Context::new().scope(am.update(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();
    let written = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(written.len(), 21);
    assert!(written[16].state.is_some(), "version 17 is a checkpoint");
    let before = snapshots(db).await;

    let mut export = Vec::new();
    revy::lifecycle::prune()
        .older_than(chrono::Utc::now() + chrono::Duration::days(1))
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    super::fresh_journal(db).await;
    revy::lifecycle::import(export.as_slice())
        .exec(db)
        .await
        .unwrap();
    let imported = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    let states = |deltas: &[object_delta::Model]| -> Vec<(i64, Option<String>)> {
        deltas.iter().map(|d| (d.id, d.state.clone())).collect()
    };
    assert_eq!(states(&imported), states(&written));
    assert_eq!(snapshots(db).await, before);
}

backend_tests!(
    an_import_writes_checkpoints,
    exports_say_their_format,
    import_refuses_new_history_under_the_export_ids,
    an_import_run_twice_is_a_no_op,
    exports_of_two_prunes_import_in_either_order,
    an_import_stopped_by_a_fault_then_run_again,
    import_into_a_journal_whose_ids_moved_past,
);
