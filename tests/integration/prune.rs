//! Issue 14: pruning the journal into checkpoints, its export, and import.
//!
//! The property every test checks: after a prune, every snapshot, `as_of`
//! and history page for a time at or after the cut is what it was before.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use revy::entity::{attribute_delta, object_delta, revision};
use revy::{Action, Actor, Context, ObjectSnapshot};
use sea_orm::sea_query::Table;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::common::TestDb;
use crate::common::entities::{account, membership};

/// A small deterministic random source (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn who(rng: &mut Rng) -> Option<Actor> {
    match rng.below(3) {
        0 => None,
        n => Some(Actor::new("users", n as i64)),
    }
}

/// Live and deleted rows of a random history.
#[derive(Default)]
struct Rows {
    live: Vec<account::Model>,
    /// deleted rows: their key and the id of their Delete
    deleted: Vec<(i32, i64)>,
}

/// One random step: create, update, delete or restore an account, each
/// tracked under a random actor; some rows start untracked (a baseline).
async fn step(db: &DatabaseConnection, rng: &mut Rng, rows: &mut Rows, n: usize) {
    let actor = who(rng);
    let choice = if rows.live.is_empty() {
        0
    } else {
        rng.below(10)
    };
    match choice {
        0 | 1 => {
            let am = account::ActiveModel {
                code: Set(format!("A{n}")),
                name: Set((rng.below(2) == 0).then(|| format!("name {n}"))),
                is_active: Set(rng.below(2) == 0),
                balance: Set(rng.below(100) as i64),
                ..Default::default()
            };
            let row = if rng.below(4) == 0 {
                am.insert(db).await.unwrap() // untracked: a baseline comes later
            } else {
                Context::via_actor(actor)
                    .scope(am.insert(db))
                    .await
                    .unwrap()
            };
            rows.live.push(row);
        }
        2 => {
            let i = rng.below(rows.live.len() as u64) as usize;
            let row = rows.live.swap_remove(i);
            let id = row.id;
            Context::via_actor(actor)
                .scope(row.into_active_model().delete(db))
                .await
                .unwrap();
            let delete = object_delta::Entity::find()
                .filter(object_delta::Column::ContentType.eq("accounts"))
                .filter(object_delta::Column::ContentId.eq(id.to_string()))
                .order_by_desc(object_delta::Column::Id)
                .one(db)
                .await
                .unwrap()
                .unwrap();
            rows.deleted.push((id, delete.id));
        }
        3 if !rows.deleted.is_empty() => {
            let i = rng.below(rows.deleted.len() as u64) as usize;
            let (_, delete) = rows.deleted.swap_remove(i);
            let row = Context::via_actor(actor)
                .scope(revy::restore::<account::Entity>(db, delete))
                .await
                .unwrap();
            rows.live.push(row);
        }
        4 if !rows.deleted.is_empty() => {
            // back in untracked: the journal's last word on it stays a
            // Delete, and its next tracked update records only what changed
            let i = rng.below(rows.deleted.len() as u64) as usize;
            let (id, _) = rows.deleted.swap_remove(i);
            let row = account::ActiveModel {
                id: Set(id),
                code: Set(format!("back {n}")),
                name: Set(None),
                is_active: Set(true),
                balance: Set(1),
            }
            .insert(db)
            .await
            .unwrap();
            rows.live.push(row);
        }
        _ => {
            let i = rng.below(rows.live.len() as u64) as usize;
            let mut am = rows.live[i].clone().into_active_model();
            match rng.below(4) {
                0 => am.code = Set(format!("A{n}")),
                1 => am.name = Set((rng.below(2) == 0).then(|| format!("renamed {n}"))),
                2 => am.is_active = Set(rng.below(2) == 0),
                _ => am.balance = Set(rng.below(1000) as i64),
            }
            rows.live[i] = Context::via_actor(actor)
                .scope(am.update(db))
                .await
                .unwrap();
        }
    }
}

/// A moment strictly between the journal rows written before and after it.
async fn moment() -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let at = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    at
}

/// `steps` random steps, then the cut, then `steps` more.
async fn random_history(db: &DatabaseConnection, seed: u64, steps: usize) -> DateTime<Utc> {
    let mut rng = Rng(seed);
    let mut rows = Rows::default();
    for n in 0..steps {
        step(db, &mut rng, &mut rows, n).await;
    }
    let cut = moment().await;
    for n in steps..2 * steps {
        step(db, &mut rng, &mut rows, n).await;
    }
    cut
}

/// Every object delta of accounts with its snapshot, by id.
async fn snapshots(db: &DatabaseConnection) -> BTreeMap<i64, Option<account::Model>> {
    use revy::prelude::*;
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .with_snapshot::<account::Entity>()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, s)| (d.id, s))
        .collect()
}

/// What anyone can ask about times at or after `cut`: `as_of` every key at
/// `cut`, at each delta's time and later, and each key's history since `cut`.
async fn answers_since(db: &DatabaseConnection, cut: DateTime<Utc>, keys: &[i32]) -> String {
    let end = cut + Duration::days(1);
    let mut times = vec![cut, end];
    let deltas = object_delta::Entity::find()
        .filter(object_delta::Column::CreatedAt.gte(cut))
        .all(db)
        .await
        .unwrap();
    times.extend(deltas.iter().map(|d| d.created_at));
    let mut out = String::new();
    for &key in keys {
        for &at in &times {
            let row = revy::as_of::<account::Entity>(db, key, at).await.unwrap();
            out += &format!("{key}@{at}: {row:?}\n");
        }
        let page = revy::history::<account::Entity>(key)
            .between(cut, end)
            .all(db)
            .await
            .unwrap();
        out += &format!("{key} since cut: {page:?}\n");
    }
    out
}

async fn keys(db: &DatabaseConnection) -> Vec<i32> {
    let mut keys: Vec<i32> = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.content_id.parse().unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The journal as rows, without the ids that differ between two equal
/// prunes (attribute deltas' and revisions' own ids): object deltas with
/// their revision's description and meta, attribute deltas in id order.
async fn journal(db: &DatabaseConnection) -> Vec<String> {
    let revisions: BTreeMap<i64, revision::Model> = revision::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut out = Vec::new();
    for d in object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        let r = &revisions[&d.revision_id];
        out.push(format!(
            "{} {:?} {:?} {:?} {} {} {} | {} {:?}",
            d.id,
            d.action,
            d.actor(),
            d.description,
            d.content_type,
            d.content_id,
            d.created_at,
            r.description,
            r.meta
        ));
        for a in attribute_delta::Entity::find()
            .filter(attribute_delta::Column::ObjectDeltaId.eq(d.id))
            .order_by_asc(attribute_delta::Column::Id)
            .all(db)
            .await
            .unwrap()
        {
            assert_eq!(a.revision_id, d.revision_id);
            out.push(format!(
                "  {:?} {:?} {} {} -> {} {}",
                a.action,
                a.actor(),
                a.field_name,
                a.old_value,
                a.new_value,
                a.created_at
            ));
        }
    }
    let used: std::collections::BTreeSet<i64> = object_delta::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.revision_id)
        .collect();
    assert_eq!(
        used,
        revisions.keys().copied().collect(),
        "no revision is left empty"
    );
    out
}

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
                let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
                if h.first()
                    .is_some_and(|d| d.created_at < cut && d.action == Action::Delete)
                {
                    gone.push(k);
                }
            }
            gone
        };

        let report = revy::prune()
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
            let h = revy::history::<account::Entity>(*k).all(db).await.unwrap();
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
        let again = revy::prune()
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
                .is_some_and(|r| r.description == revy::CHECKPOINT_DESCRIPTION)
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
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
        newest.insert(k, h.iter().take(2).map(|d| d.id).collect());
    }
    revy::prune().keep_last(2).exec(db).await.unwrap();
    let after = snapshots(db).await;
    for &k in &keys {
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
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
    let again = revy::prune().keep_last(2).exec(db).await.unwrap();
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
    revy::prune()
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
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
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
    let report = revy::prune()
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
    let report = revy::prune()
        .keep_last(1)
        .content_type("memberships")
        .exec(db)
        .await
        .unwrap();
    assert_eq!((report.checkpoints, report.object_deltas_pruned), (1, 3));
    let h = revy::history::<membership::Entity>((1, "g'1".to_owned()))
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
        revy::prune().exec(db).await,
        Err(revy::Error::NoCut)
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
    let failed = revy::prune()
        .older_than(cut)
        .chunk_size(2)
        .export(&mut export)
        .__fail_in_chunk(3)
        .exec(db)
        .await;
    assert!(failed.is_err());
    let partial = journal(db).await;
    assert_ne!(partial, original, "two chunks were committed");
    revy::prune()
        .older_than(cut)
        .chunk_size(2)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let resumed = journal(db).await;

    let report = revy::import(db, export.as_slice()).await.unwrap();
    assert!(
        report.checkpoints_replaced > 0 && report.skipped > 0,
        "{report:?}"
    );
    assert_eq!(
        journal(db).await,
        original,
        "the import restored the pruned history"
    );

    revy::prune()
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
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
        histories.insert(k, h);
    }
    let mut export = Vec::new();
    let report = revy::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let lines = String::from_utf8(export.clone()).unwrap();
    assert!(lines.lines().count() as u64 >= report.revisions_removed);

    // a fresh journal
    for table in [
        "revy_attribute_deltas",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        let drop = Table::drop()
            .table(sea_orm::sea_query::Alias::new(table))
            .to_owned();
        db.execute(&drop).await.unwrap();
    }
    revy::install(db).await.unwrap();
    let imported = revy::import(db, export.as_slice()).await.unwrap();
    assert_eq!(imported.object_deltas, report.object_deltas_pruned);
    assert_eq!(imported.attribute_deltas, report.attribute_deltas_pruned);

    let restored = snapshots(db).await;
    assert!(!restored.is_empty());
    for (id, snapshot) in &restored {
        assert_eq!(Some(snapshot), before.get(id), "snapshot at {id}");
    }
    for &k in &keys {
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
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

/// Tracked updates run while a prune works through the same rows: none
/// fails for it, every row's newest snapshot is the row.
async fn tracked_writes_during_a_prune(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let sqlite = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let mut rows = Vec::new();
    for i in 0..20 {
        let mut row = Context::new()
            .scope(
                account::ActiveModel {
                    code: Set(format!("C{i}")),
                    is_active: Set(true),
                    ..Default::default()
                }
                .insert(db),
            )
            .await
            .unwrap();
        for b in 1..4 {
            let mut am = row.into_active_model();
            am.balance = Set(b);
            row = Context::new().scope(am.update(db)).await.unwrap();
        }
        rows.push(row);
    }
    let cut = moment().await;
    let retries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = rows
        .iter()
        .cloned()
        .map(|row| {
            let db = db.clone();
            let retries = retries.clone();
            tokio::spawn(async move {
                for b in 10..14 {
                    let mut tries = 0;
                    loop {
                        let txn = if sqlite {
                            db.begin_with_options(sea_orm::TransactionOptions {
                                sqlite_transaction_mode: Some(
                                    sea_orm::SqliteTransactionMode::Immediate,
                                ),
                                ..Default::default()
                            })
                            .await
                        } else {
                            db.begin().await
                        };
                        let attempt = async {
                            let txn = txn?;
                            let live = account::Entity::find_by_id(row.id)
                                .one(&txn)
                                .await?
                                .unwrap();
                            let mut am = live.into_active_model();
                            am.balance = Set(b);
                            Context::new().scope(am.update(&txn)).await?;
                            txn.commit().await
                        };
                        match attempt.await {
                            Ok(()) => break,
                            Err(e)
                                if tries < 50
                                    && ["locked", "deadlock", "busy"]
                                        .iter()
                                        .any(|w| e.to_string().to_lowercase().contains(w)) =>
                            {
                                tries += 1;
                                retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(e) => panic!("a tracked write failed during the prune: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    let prune = {
        let db = db.clone();
        tokio::spawn(async move {
            let start = Utc::now();
            let report = revy::prune()
                .older_than(cut)
                .chunk_size(2)
                .exec(&db)
                .await
                .unwrap();
            (start, Utc::now(), report)
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let (start, end, report) = prune.await.unwrap();
    let during = object_delta::Entity::find()
        .filter(object_delta::Column::CreatedAt.between(start, end))
        .all(db)
        .await
        .unwrap()
        .len();
    eprintln!(
        "prune during writes on {:?}: {report:?}, {during} tracked writes while it ran, \
         {} writer retries (lock timeouts, deadlocks)",
        t.backend,
        retries.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(during > 0, "the writes overlapped the prune");
    assert_eq!(report.checkpoints, 20);
    revy::prune().older_than(cut).exec(db).await.unwrap();
    for row in rows {
        let live = account::Entity::find_by_id(row.id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.balance, 13);
        let h = revy::history::<account::Entity>(row.id)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            h.len(),
            5,
            "a checkpoint and the four updates after the cut"
        );
        let newest = ObjectSnapshot::<account::Entity>::at(h[0].id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(newest, Some(live));
        let at_cut = revy::as_of::<account::Entity>(db, row.id, cut)
            .await
            .unwrap();
        assert_eq!(at_cut, Some(row));
    }
}

/// Two prunes of the same journal at once: each object is folded once
/// (one checkpoint, one attribute delta per column), snapshots unchanged.
async fn two_prunes_at_once_fold_each_object_once(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let cut = random_history(db, 8, 30).await;
    let before = snapshots(db).await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                revy::prune()
                    .older_than(cut)
                    .chunk_size(2)
                    .exec(&db)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut checkpoints = 0;
    for run in runs {
        checkpoints += run.await.unwrap().checkpoints;
    }
    let after = snapshots(db).await;
    for (id, snapshot) in &after {
        assert_eq!(Some(snapshot), before.get(id), "snapshot at {id}");
    }
    let mut found = 0;
    for k in keys(db).await {
        let h = revy::history::<account::Entity>(k).all(db).await.unwrap();
        let old: Vec<_> = h.iter().filter(|d| d.created_at < cut).collect();
        assert!(old.len() <= 1, "row {k}: {old:?}");
        for d in old {
            let columns = attribute_delta::Entity::find()
                .filter(attribute_delta::Column::ObjectDeltaId.eq(d.id))
                .all(db)
                .await
                .unwrap();
            if d.actor().is_none() && columns.len() == 5 {
                found += 1;
            }
            let mut names: Vec<_> = columns.iter().map(|c| c.field_name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), columns.len(), "row {k}: one value per column");
        }
    }
    assert!(
        checkpoints > 0 && found as u64 >= checkpoints,
        "{checkpoints} {found}"
    );
}

/// Import refuses what is not an export, and ids the journal holds for
/// other rows, naming the line and the delta; nothing of the refused line
/// stays.
async fn import_refuses_what_is_not_its_own(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(membership::Entity).await;
    let db = &t.db;
    match revy::import(db, "\n{\"revision\": 1}\n".as_bytes()).await {
        Err(revy::Error::Import { line, reason }) => {
            assert_eq!(line, 2, "{reason}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    let cut = random_history(db, 11, 12).await;
    let mut export = Vec::new();
    revy::prune()
        .older_than(cut)
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    // a fresh journal whose ids are taken by another table's rows
    for table in [
        "revy_attribute_deltas",
        "revy_object_deltas",
        "revy_revisions",
    ] {
        let drop = Table::drop()
            .table(sea_orm::sea_query::Alias::new(table))
            .to_owned();
        db.execute(&drop).await.unwrap();
    }
    revy::install(db).await.unwrap();
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
    match revy::import(db, export.as_slice()).await {
        Err(revy::Error::ImportConflict { content_type, .. }) => {
            assert_eq!(content_type, "accounts");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(journal(db).await, before, "the refused line left nothing");
}

backend_tests!(
    prune_keeps_every_answer_after_the_cut,
    keep_last_n_per_object,
    prune_one_entity_only,
    crash_then_rerun_equals_one_prune,
    export_then_import_into_an_empty_journal,
    tracked_writes_during_a_prune,
    two_prunes_at_once_fold_each_object_once,
    import_refuses_what_is_not_its_own,
);
