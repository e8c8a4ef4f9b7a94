//! The workload's operations applied to the database through revy, and
//! the public reads the comparison asks.

use super::*;
use revy::rollback::RollbackError;

pub(super) fn new_row(id: i32, balance: i64) -> Model {
    Model {
        id,
        name: format!("n{id}"),
        balance,
        note: None,
        secret: Some(format!("s{id}")),
    }
}

/// The history entries of a row, oldest first.
pub(super) async fn entries_of(db: &DatabaseConnection, (table, id): Key) -> Vec<HistoryEntry> {
    let mut entries = match table {
        Table::Rows => revy::history::of::<Entity>(id).entries(db).await,
        Table::Entries => revy::history::of::<entry::Entity>(id).entries(db).await,
    }
    .unwrap();
    entries.sort_by_key(|e| e.object_delta_id);
    entries
}

pub(super) async fn snapshot_at(
    db: &DatabaseConnection,
    (table, _): Key,
    delta: i64,
) -> Option<Row> {
    match table {
        Table::Rows => ObjectSnapshot::<Entity>::at(delta)
            .one(db)
            .await
            .unwrap()
            .map(Row::Ledger),
        Table::Entries => ObjectSnapshot::<entry::Entity>::at(delta)
            .one(db)
            .await
            .unwrap()
            .map(Row::Entry),
    }
}

/// The blame of a row as of `at`, or now.
pub(super) async fn blame_of(
    db: &DatabaseConnection,
    (table, id): Key,
    at: Option<i64>,
) -> Vec<ColumnBlame> {
    match (table, at) {
        (Table::Rows, Some(at)) => revy::history::blame::<Entity>(id).at(at).all(db).await,
        (Table::Rows, None) => revy::history::blame::<Entity>(id).all(db).await,
        (Table::Entries, Some(at)) => {
            revy::history::blame::<entry::Entity>(id)
                .at(at)
                .all(db)
                .await
        }
        (Table::Entries, None) => revy::history::blame::<entry::Entity>(id).all(db).await,
    }
    .unwrap()
}

pub(super) async fn version_of(db: &DatabaseConnection, (table, id): Key) -> Option<i64> {
    match table {
        Table::Rows => revy::versions::version_of::<Entity>(id).one(db).await,
        Table::Entries => {
            revy::versions::version_of::<entry::Entity>(id)
                .one(db)
                .await
        }
    }
    .unwrap()
}

/// The journal's object delta and revision of the fold's delta at index
/// `i`, found by the row's version.
pub(super) async fn journal_ids(db: &DatabaseConnection, fold: &Fold, i: usize) -> (i64, i64) {
    let key = fold.deltas[i].key;
    let version = fold.version_at(i);
    let entries = entries_of(db, key).await;
    let entry = entries
        .iter()
        .find(|e| e.version == version)
        .unwrap_or_else(|| panic!("{key:?} has no version {version}: {entries:#?}"));
    (entry.object_delta_id, entry.revision_id)
}

pub(super) async fn apply(db: &DatabaseConnection, fold: &mut Fold, op: &Op) {
    let ctx = || Context::via_actor(ann());
    match op {
        Op::Insert(id, balance) => {
            if fold.known(&(Table::Rows, *id)) {
                return;
            }
            let row = new_row(*id, *balance);
            let saved = ctx()
                .scope(row.clone().into_active_model().reset_all().insert(db))
                .await
                .unwrap();
            assert_eq!(saved, row);
            fold.begin("");
            fold.create(Row::Ledger(row), ann());
        }
        Op::Update {
            id,
            name,
            balance,
            note,
        } => {
            let Some(old) = fold.ledger(*id) else {
                return;
            };
            let mut new = old.clone();
            let mut am = old.into_active_model();
            if let Some(n) = name {
                new.name = format!("name{n}");
                am.name = Set(new.name.clone());
            }
            if let Some(b) = balance {
                new.balance = *b;
                am.balance = Set(*b);
            }
            if let Some(n) = note {
                new.note = n.map(|n| format!("note{n}"));
                am.note = Set(new.note.clone());
            }
            ctx().scope(am.update(db)).await.unwrap();
            fold.begin("");
            fold.update(Row::Ledger(new), ann(), |_| ann());
        }
        Op::Draft(id, name, add) => {
            let Some(old) = fold.ledger(*id) else {
                return;
            };
            let mut new = old.clone();
            new.name = format!("draft{name}");
            new.balance = old.balance + add;
            ctx()
                .scope(async {
                    let mut draft = revy::Tracked::<ledger::ActiveModel>::from_model(old.clone());
                    draft.set(Column::Name, new.name.clone());
                    Context::via_actor(bob())
                        .sync_scope(|| draft.set(Column::Balance, new.balance));
                    draft.save(db).await
                })
                .await
                .unwrap();
            // a name set to the one it had is no change: only Bob's remains
            fold.begin("");
            fold.update(Row::Ledger(new), ann(), |c| {
                if c == "balance" { bob() } else { ann() }
            });
        }
        Op::BulkInsert(ids) => {
            let mut fresh: Vec<i32> = Vec::new();
            for id in ids {
                if !fold.known(&(Table::Rows, *id)) && !fresh.contains(id) {
                    fresh.push(*id);
                }
            }
            if fresh.is_empty() {
                return;
            }
            let rows: Vec<Model> = fresh.iter().map(|id| new_row(*id, 0)).collect();
            ctx()
                .scope(
                    revy::bulk::insert_many::<Entity>(
                        rows.iter()
                            .cloned()
                            .map(|r| r.into_active_model().reset_all()),
                    )
                    .chunk_size(2)
                    .exec(db),
                )
                .await
                .unwrap();
            fold.begin("");
            for row in rows {
                fold.create(Row::Ledger(row), ann());
            }
        }
        Op::BulkAdd(ids, n) => {
            ctx()
                .scope(
                    revy::bulk::update_many::<Entity>()
                        .col_expr(Column::Balance, Expr::col(Column::Balance).add(*n))
                        .filter(Column::Id.is_in(ids.clone()))
                        .chunk_size(2)
                        .exec(db),
                )
                .await
                .unwrap();
            // rows in key order, as the bulk call walks them
            let mut touched: Vec<i32> = ids
                .iter()
                .copied()
                .filter(|i| fold.ledger(*i).is_some())
                .collect();
            touched.sort();
            touched.dedup();
            fold.begin("");
            for id in touched {
                let mut new = fold.ledger(id).unwrap();
                new.balance += n;
                fold.update(Row::Ledger(new), ann(), |_| ann());
            }
        }
        Op::BulkDelete(ids) => {
            ctx()
                .scope(
                    revy::bulk::delete_many::<Entity>()
                        .filter(Column::Id.is_in(ids.clone()))
                        .chunk_size(2)
                        .exec(db),
                )
                .await
                .unwrap();
            let mut touched: Vec<i32> = ids
                .iter()
                .copied()
                .filter(|i| fold.ledger(*i).is_some())
                .collect();
            touched.sort();
            touched.dedup();
            fold.begin("");
            // a chunk of rows at a time: each row's entries, by the
            // system, described by the (here empty) deletion description;
            // then the chunk's rows
            for chunk in touched.chunks(2) {
                for id in chunk {
                    for e in fold.entries(Some(*id)) {
                        fold.delete((Table::Entries, e.id), None, "");
                        fold.cascaded += 1;
                    }
                }
                for id in chunk {
                    fold.delete((Table::Rows, *id), ann(), "");
                }
            }
        }
        Op::Delete(id) => {
            let Some(row) = fold.ledger(*id) else {
                return;
            };
            ctx().scope(row.delete(db)).await.unwrap();
            fold.begin("");
            fold.delete((Table::Rows, *id), ann(), "");
        }
        Op::Restore(id) => {
            let Some(Row::Ledger(was)) = fold.deleted.get(&(Table::Rows, *id)).cloned() else {
                return;
            };
            let restored = ctx()
                .scope(revy::rollback::restore_latest::<Entity>(*id).exec(db))
                .await
                .unwrap();
            // the redacted column comes back NULL, as the journal cannot
            // say it: everything else as it was
            assert_eq!(restored, without_secret(was));
            fold.begin("");
            fold.create(Row::Ledger(restored), ann());
        }
        Op::AddEntry(n, amount) => {
            let rows = fold.live_rows(false);
            if rows.is_empty() {
                return;
            }
            fold.last_entry += 1;
            let e = entry::Model {
                id: fold.last_entry,
                row_id: rows[n % rows.len()],
                amount: *amount,
            };
            let saved = Context::via_actor(bob())
                .scope(e.clone().into_active_model().reset_all().insert(db))
                .await
                .unwrap();
            assert_eq!(saved, e);
            fold.begin("");
            fold.create(Row::Entry(e), bob());
        }
        Op::MoveEntry(n, to) => {
            let entries = fold.entries(None);
            if entries.is_empty() {
                return;
            }
            let e = entries[n % entries.len()].clone();
            let mut am = e.clone().into_active_model();
            am.row_id = Set(*to);
            ctx().scope(am.update(db)).await.unwrap();
            fold.begin("");
            fold.update(Row::Entry(entry::Model { row_id: *to, ..e }), ann(), |_| {
                ann()
            });
        }
        Op::CascadeDelete(n, undo_it) => {
            let mut rows = fold.live_rows(true);
            if rows.is_empty() {
                rows = fold.live_rows(false);
            }
            if rows.is_empty() {
                return;
            }
            let id = &rows[n % rows.len()];
            let row = fold.ledger(*id).unwrap();
            let deleted = ctx()
                .deletion_description(CLOSED)
                .scope(revy::deletion::delete(row).exec(db))
                .await
                .unwrap();
            assert_eq!(deleted.rows_affected, 1);
            // the entries first, in key order, by the system with the
            // deletion description; the row last, as Ann's
            fold.begin("");
            for e in fold.entries(Some(*id)) {
                fold.delete((Table::Entries, e.id), None, CLOSED);
                fold.cascaded += 1;
            }
            fold.delete((Table::Rows, *id), ann(), "");
            if *undo_it {
                undo(db, fold, fold.deltas.len() - 1).await;
            }
        }
        Op::Undo(n) => {
            if !fold.deltas.is_empty() {
                undo(db, fold, fold.deltas.len() - 1 - n % fold.deltas.len()).await;
            }
        }
        Op::UndoSeveral(n) => {
            let several = fold.revisions_of_several_rows();
            if !several.is_empty() {
                undo(db, fold, several[n % several.len()]).await;
            }
        }
    }
}

/// Bob undoes the revision of the fold's delta at index `i`: the rows it
/// touched go back, or, when one changed later, the undo is refused
/// naming it.
pub(super) async fn undo(db: &DatabaseConnection, fold: &mut Fold, i: usize) {
    let (_, revision_id) = journal_ids(db, fold, i).await;
    let plan = fold.undo_plan(fold.deltas[i].revision);
    let undo = Context::via_actor(bob())
        .scope(revy::rollback::undo_revision(revision_id).exec(db))
        .await;
    match plan {
        Err(changed_later) => {
            let (key, later) = changed_later[0];
            let (later_delta_id, _) = journal_ids(db, fold, later).await;
            match undo {
                Err(revy::Error::Rollback(e)) => match *e {
                    RollbackError::Conflict {
                        revision_id: r,
                        table,
                        key: k,
                        later_delta_id: l,
                    } => assert_eq!(
                        (r, table.as_str(), k, l),
                        (revision_id, key.0.name(), key.1.to_string(), later_delta_id),
                        "undo of revision {revision_id}: the conflict"
                    ),
                    other => panic!(
                        "undo of revision {revision_id}: {key:?} changed after it \
                         (delta {later_delta_id}), yet the undo gave {other:?}"
                    ),
                },
                other => panic!(
                    "undo of revision {revision_id}: {key:?} changed after it \
                     (delta {later_delta_id}), yet the undo gave {other:?}"
                ),
            }
            fold.refused += 1;
            if changed_later.len() > 1 {
                fold.refused_among_several += 1;
            }
        }
        Ok(plan) => {
            let undo =
                undo.unwrap_or_else(|e| panic!("undo of revision {revision_id} ({plan:?}): {e}"));
            let revision = fold.deltas[i].revision;
            fold.revived += fold
                .deltas
                .iter()
                .filter(|d| d.revision == revision && d.description == CLOSED)
                .count();
            let before = fold.deltas.len();
            fold.begin(format!("Undo revision {revision_id}"));
            fold.undo(plan, bob());
            assert_eq!(
                undo.is_some(),
                fold.deltas.len() > before,
                "undo of revision {revision_id}: a revision iff it changed rows"
            );
            fold.undone += 1;
        }
    }
}
