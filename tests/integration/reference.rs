//! The journal read through the public API against a reference fold: a
//! random workload (fixed seed) of per-row saves, two-actor drafts, bulk
//! calls, deletes, restores, child rows deleted by a deletion policy
//! (`revy::delete`, and a bulk delete applying the registered policy), and
//! undos of recent revisions and of older ones that touched several rows,
//! over an entity with a redacted column and its child entity, is applied
//! to the database and, in this file, to a plain model of what revy
//! promises. Every history entry (action, actor, version, descriptions,
//! revision, each change's column, old and new value, action and actor),
//! every snapshot, the blame as of every delta, each row's version after
//! every operation, each undo's outcome (the rows it rewrites, or the
//! conflict it reports) and the change feed must equal the fold's,
//! whatever shape the journal stores them in (issue 26 changes that shape;
//! this test does not look at its tables).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::common::TestDb;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use revy::feed::Feed;
use revy::{Action, Actor, ColumnBlame, Context, FieldValue, HistoryEntry, ObjectSnapshot};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, ModelTrait, QueryFilter, QueryOrder, Set, Value,
};

pub mod ledger {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_rows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub name: String,
        pub balance: i64,
        pub note: Option<String>,
        pub secret: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new().redact(Column::Secret)
        }
    }
    // a row's entries go with it
    impl revy::DeletionPolicies for Entity {
        fn on_delete() -> Vec<revy::ChildPolicy> {
            vec![revy::ChildPolicy::new(
                super::entry::Column::RowId,
                revy::OnDelete::Cascade,
            )]
        }
    }
}

/// The children of ledger rows. No foreign key in the database: what
/// happens to them is the deletion policy's doing, or nothing.
pub mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub row_id: i32,
        pub amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
    impl revy::DeletionPolicies for Entity {}
}

use ledger::{Column, Entity, Model};

/// The deletion description of the workload's cascades.
const CLOSED: &str = "closed with its row";

fn ann() -> Option<Actor> {
    Some(Actor::new("users", 1))
}

fn bob() -> Option<Actor> {
    Some(Actor::new("users", 2))
}

/// One step of the workload.
#[derive(Debug, Clone)]
enum Op {
    Insert(i32, i64),
    Update {
        id: i32,
        name: Option<u8>,
        balance: Option<i64>,
        note: Option<Option<u8>>,
    },
    /// Ann renames, Bob adds to the balance, in one save.
    Draft(i32, u8, i64),
    BulkInsert(Vec<i32>),
    BulkAdd(Vec<i32>, i64),
    /// A bulk delete: it applies the registered policies, so the rows'
    /// entries go first.
    BulkDelete(Vec<i32>),
    /// An active model's own delete: it applies no policy, the row's
    /// entries stay.
    Delete(i32),
    Restore(i32),
    /// Bob adds an entry to the n-th live row.
    AddEntry(usize, i64),
    /// Ann moves the n-th live entry to another row.
    MoveEntry(usize, i32),
    /// `revy::delete` of the n-th live row with entries (of the n-th live
    /// row, if none has any): its entries are deleted by the policy; then,
    /// if so, Bob undoes that at once.
    CascadeDelete(usize, bool),
    /// Bob undoes the revision of the n-th newest delta.
    Undo(usize),
    /// Bob undoes the n-th newest revision that touched several rows (a
    /// bulk call, a cascade, an undo of one), often changed since.
    UndoSeveral(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let id = || 1..=6i32;
    let ids = || proptest::collection::vec(1..=6i32, 1..4);
    prop_oneof![
        2 => (id(), -5..5i64).prop_map(|(id, b)| Op::Insert(id, b)),
        2 => (
            id(),
            proptest::option::of(0..3u8),
            proptest::option::of(-2..2i64),
            proptest::option::of(proptest::option::of(0..2u8))
        )
            .prop_map(|(id, name, balance, note)| Op::Update {
                id,
                name,
                balance,
                note
            }),
        1 => (id(), 0..3u8, 1..3i64).prop_map(|(id, n, b)| Op::Draft(id, n, b)),
        1 => ids().prop_map(Op::BulkInsert),
        1 => (ids(), 0..2i64).prop_map(|(ids, n)| Op::BulkAdd(ids, n)),
        1 => ids().prop_map(Op::BulkDelete),
        1 => id().prop_map(Op::Delete),
        1 => id().prop_map(Op::Restore),
        4 => (0..6usize, -3..3i64).prop_map(|(n, a)| Op::AddEntry(n, a)),
        1 => (0..8usize, id()).prop_map(|(n, id)| Op::MoveEntry(n, id)),
        2 => (0..6usize, any::<bool>()).prop_map(|(n, undo)| Op::CascadeDelete(n, undo)),
        2 => (0..10usize).prop_map(Op::Undo),
        1 => (0..4usize).prop_map(Op::UndoSeveral),
    ]
}

/// The workload's two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Table {
    Rows,
    Entries,
}

impl Table {
    /// The table's name, which the journal names it by.
    fn name(self) -> &'static str {
        match self {
            Table::Rows => "ledger_rows",
            Table::Entries => "ledger_entries",
        }
    }

    /// Its columns, in the entity's order.
    fn columns(self) -> Vec<&'static str> {
        match self {
            Table::Rows => Column::iter().map(|c| c.as_str()).collect(),
            Table::Entries => entry::Column::iter().map(|c| c.as_str()).collect(),
        }
    }
}

/// A row of either table, by its table and primary key.
type Key = (Table, i32);

/// A row of either table.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    Ledger(Model),
    Entry(entry::Model),
}

impl Row {
    fn key(&self) -> Key {
        match self {
            Row::Ledger(m) => (Table::Rows, m.id),
            Row::Entry(m) => (Table::Entries, m.id),
        }
    }

    /// A column's value as the journal says it (`None`: withheld).
    fn value(&self, column: &str) -> Option<Value> {
        match self {
            Row::Ledger(_) if column == "secret" => None,
            Row::Ledger(m) => Column::iter()
                .find(|c| c.as_str() == column)
                .map(|c| m.get(c)),
            Row::Entry(m) => entry::Column::iter()
                .find(|c| c.as_str() == column)
                .map(|c| m.get(c)),
        }
    }

    /// The row as the journal can say it: the redacted secret NULL, as a
    /// restore writes it.
    fn recorded(self) -> Row {
        match self {
            Row::Ledger(m) => Row::Ledger(without_secret(m)),
            entry => entry,
        }
    }

    /// The row with `live`'s redacted secret, which a revert leaves alone.
    fn keeping_secret_of(self, live: &Row) -> Row {
        match (self, live) {
            (Row::Ledger(m), Row::Ledger(l)) => Row::Ledger(Model {
                secret: l.secret.clone(),
                ..m
            }),
            (row, _) => row,
        }
    }
}

/// A column's change as the fold expects it: the values as sea-orm values
/// (`None` for withheld), and who made it.
#[derive(Debug, Clone, PartialEq)]
struct Change {
    column: &'static str,
    old: Option<Value>,
    new: Option<Value>,
    actor: Option<Actor>,
}

/// One object delta as the fold expects it.
#[derive(Debug, Clone)]
struct Expected {
    key: Key,
    /// The fold's number of the revision it belongs to: one per operation.
    revision: usize,
    revision_description: String,
    action: Action,
    actor: Option<Actor>,
    description: &'static str,
    changes: Vec<Change>,
    /// The snapshot at this delta: the row after it (before it, for a delete).
    snapshot: Row,
}

/// What revy promises, kept without a database.
#[derive(Default)]
struct Fold {
    live: BTreeMap<Key, Row>,
    /// Rows deleted, as they were.
    deleted: BTreeMap<Key, Row>,
    deltas: Vec<Expected>,
    /// The revision the next deltas belong to, and its description.
    revision: usize,
    revision_description: String,
    /// The last entry id handed out.
    last_entry: i32,
    /// What the workload exercised: entries deleted by a policy, undos
    /// done, undos refused (those with several rows changed later, where
    /// which row the error names matters), entries `revy::delete` deleted
    /// that an undo brought back.
    cascaded: usize,
    undone: usize,
    refused: usize,
    refused_among_several: usize,
    revived: usize,
}

/// How an undo of a revision goes: the rows it puts back, newest first,
/// each with the state it goes back to (`None`: absent); or, in that
/// order, the rows that changed later, each with the index of its first
/// later delta (the undo names the first).
type UndoPlan = Result<Vec<(Key, Option<Row>)>, Vec<(Key, usize)>>;

/// `Set`, or `Unset` for a NULL (a withheld value is always `Set`).
fn set_or_unset(value: &Option<Value>) -> Action {
    match value {
        Some(v) if *v == v.as_null() => Action::Unset,
        _ => Action::Set,
    }
}

impl Fold {
    /// The next deltas are a new operation's, in a new revision.
    fn begin(&mut self, revision_description: impl Into<String>) {
        self.revision += 1;
        self.revision_description = revision_description.into();
    }

    fn ledger(&self, id: i32) -> Option<Model> {
        match self.live.get(&(Table::Rows, id)) {
            Some(Row::Ledger(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// The keys of the live ledger rows, in order; only those with
    /// entries, if `with_entries`.
    fn live_rows(&self, with_entries: bool) -> Vec<i32> {
        self.live
            .keys()
            .filter(|(table, _)| *table == Table::Rows)
            .map(|(_, id)| *id)
            .filter(|id| !with_entries || !self.entries(Some(*id)).is_empty())
            .collect()
    }

    /// The live entries, in key order; of one row when `row` says which.
    fn entries(&self, row: Option<i32>) -> Vec<entry::Model> {
        self.live
            .values()
            .filter_map(|r| match r {
                Row::Entry(e) if row.is_none_or(|id| e.row_id == id) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    fn known(&self, key: &Key) -> bool {
        self.live.contains_key(key) || self.deleted.contains_key(key)
    }

    fn create(&mut self, row: Row, actor: Option<Actor>) {
        let changes = row
            .key()
            .0
            .columns()
            .into_iter()
            .map(|c| {
                let new = row.value(c);
                Change {
                    column: c,
                    old: new.as_ref().map(Value::as_null),
                    new,
                    actor: actor.clone(),
                }
            })
            .collect();
        self.push(row, Action::Create, actor, changes);
    }

    /// The changes from the live row to `new`, each by `actor_of(column)`.
    fn update(&mut self, new: Row, actor: Option<Actor>, actor_of: impl Fn(&str) -> Option<Actor>) {
        let Some(old) = self.live.get(&new.key()).cloned() else {
            return;
        };
        let changes: Vec<Change> = new
            .key()
            .0
            .columns()
            .into_iter()
            .filter(|c| old.value(c) != new.value(c))
            .map(|c| Change {
                column: c,
                old: old.value(c),
                new: new.value(c),
                actor: actor_of(c),
            })
            .collect();
        if !changes.is_empty() {
            self.push(new, Action::Update, actor, changes);
        }
    }

    fn delete(&mut self, key: Key, actor: Option<Actor>, description: &'static str) {
        if let Some(row) = self.live.remove(&key) {
            self.deltas.push(Expected {
                key,
                revision: self.revision,
                revision_description: self.revision_description.clone(),
                action: Action::Delete,
                actor,
                description,
                changes: Vec::new(),
                snapshot: row.clone(),
            });
            self.deleted.insert(key, row);
        }
    }

    fn push(&mut self, row: Row, action: Action, actor: Option<Actor>, changes: Vec<Change>) {
        let key = row.key();
        self.deleted.remove(&key);
        self.live.insert(key, row.clone());
        self.deltas.push(Expected {
            key,
            revision: self.revision,
            revision_description: self.revision_description.clone(),
            action,
            actor,
            description: "",
            changes,
            snapshot: row,
        });
    }

    /// A row's version after the delta at index `i`: 1, 2, ... over the
    /// row's whole history, deletes and restores included.
    fn version_at(&self, i: usize) -> i64 {
        let key = self.deltas[i].key;
        self.deltas[..=i].iter().filter(|d| d.key == key).count() as i64
    }

    /// The revisions that touched more than one row, newest first, each by
    /// the index of its last delta.
    fn revisions_of_several_rows(&self) -> Vec<usize> {
        let mut last: BTreeMap<usize, (usize, Vec<Key>)> = BTreeMap::new();
        for (i, d) in self.deltas.iter().enumerate() {
            let (at, keys) = last.entry(d.revision).or_default();
            *at = i;
            if !keys.contains(&d.key) {
                keys.push(d.key);
            }
        }
        last.into_values()
            .rev()
            .filter(|(_, keys)| keys.len() > 1)
            .map(|(at, _)| at)
            .collect()
    }

    /// What undoing the fold's revision `revision` does: each row it
    /// touched goes back to its state before the revision, the row touched
    /// last first, unless some row changed after it: then nothing is
    /// done, and the first such row (in that order) is named with its
    /// first later delta.
    fn undo_plan(&self, revision: usize) -> UndoPlan {
        // (row, its first and last delta in the revision)
        let mut touched: Vec<(Key, usize, usize)> = Vec::new();
        for (i, d) in self.deltas.iter().enumerate() {
            if d.revision != revision {
                continue;
            }
            match touched.iter_mut().find(|t| t.0 == d.key) {
                Some(t) => t.2 = i,
                None => touched.push((d.key, i, i)),
            }
        }
        touched.sort_by_key(|t| Reverse(t.2));
        let changed_later: Vec<(Key, usize)> = touched
            .iter()
            .filter_map(|&(key, _, last)| {
                let later = (last + 1..self.deltas.len()).find(|&j| self.deltas[j].key == key)?;
                Some((key, later))
            })
            .collect();
        if !changed_later.is_empty() {
            return Err(changed_later);
        }
        Ok(touched
            .iter()
            .map(|&(key, first, _)| {
                let before = self.deltas[..first]
                    .iter()
                    .rev()
                    .find(|d| d.key == key)
                    .filter(|d| d.action != Action::Delete)
                    .map(|d| d.snapshot.clone());
                (key, before)
            })
            .collect())
    }

    /// Carries out a plan of [`undo_plan`](Self::undo_plan), as `actor`:
    /// a row to be absent is deleted, an absent row is restored (its
    /// redacted secret NULL, the journal never had it), a live one reverted
    /// (its secret left as it is).
    fn undo(&mut self, plan: Vec<(Key, Option<Row>)>, actor: Option<Actor>) {
        for (key, target) in plan {
            match (target, self.live.get(&key).cloned()) {
                (None, Some(_)) => self.delete(key, actor.clone(), ""),
                (Some(target), None) => self.create(target.recorded(), actor.clone()),
                (Some(target), Some(live)) => {
                    let a = actor.clone();
                    self.update(target.keeping_secret_of(&live), actor.clone(), move |_| {
                        a.clone()
                    });
                }
                (None, None) => {}
            }
        }
    }
}

fn new_row(id: i32, balance: i64) -> Model {
    Model {
        id,
        name: format!("n{id}"),
        balance,
        note: None,
        secret: Some(format!("s{id}")),
    }
}

/// The history entries of a row, oldest first.
async fn entries_of(db: &DatabaseConnection, (table, id): Key) -> Vec<HistoryEntry> {
    let mut entries = match table {
        Table::Rows => revy::history::<Entity>(id).entries(db).await,
        Table::Entries => revy::history::<entry::Entity>(id).entries(db).await,
    }
    .unwrap();
    entries.sort_by_key(|e| e.object_delta_id);
    entries
}

async fn snapshot_at(db: &DatabaseConnection, (table, _): Key, delta: i64) -> Option<Row> {
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
async fn blame_of(db: &DatabaseConnection, (table, id): Key, at: Option<i64>) -> Vec<ColumnBlame> {
    match (table, at) {
        (Table::Rows, Some(at)) => revy::blame::<Entity>(id).at(at).all(db).await,
        (Table::Rows, None) => revy::blame::<Entity>(id).all(db).await,
        (Table::Entries, Some(at)) => revy::blame::<entry::Entity>(id).at(at).all(db).await,
        (Table::Entries, None) => revy::blame::<entry::Entity>(id).all(db).await,
    }
    .unwrap()
}

async fn version_of(db: &DatabaseConnection, (table, id): Key) -> Option<i64> {
    match table {
        Table::Rows => revy::version_of::<Entity>(db, id).await,
        Table::Entries => revy::version_of::<entry::Entity>(db, id).await,
    }
    .unwrap()
}

/// The journal's object delta and revision of the fold's delta at index
/// `i`, found by the row's version.
async fn journal_ids(db: &DatabaseConnection, fold: &Fold, i: usize) -> (i64, i64) {
    let key = fold.deltas[i].key;
    let version = fold.version_at(i);
    let entries = entries_of(db, key).await;
    let entry = entries
        .iter()
        .find(|e| e.version == version)
        .unwrap_or_else(|| panic!("{key:?} has no version {version}: {entries:#?}"));
    (entry.object_delta_id, entry.revision_id)
}

async fn apply(db: &DatabaseConnection, fold: &mut Fold, op: &Op) {
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
                    revy::insert_many::<Entity>(
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
                    revy::update_many::<Entity>()
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
                    revy::delete_many::<Entity>()
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
                .scope(revy::restore_latest::<Entity>(db, *id))
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
                .scope(revy::delete(db, row))
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
async fn undo(db: &DatabaseConnection, fold: &mut Fold, i: usize) {
    let (_, revision_id) = journal_ids(db, fold, i).await;
    let plan = fold.undo_plan(fold.deltas[i].revision);
    let undo = Context::via_actor(bob())
        .scope(revy::undo_revision(db, revision_id))
        .await;
    match plan {
        Err(changed_later) => {
            let (key, later) = changed_later[0];
            let (later_delta_id, _) = journal_ids(db, fold, later).await;
            match undo {
                Err(revy::Error::Conflict {
                    revision_id: r,
                    table,
                    key: k,
                    later_delta_id: l,
                }) => assert_eq!(
                    (r, table.as_str(), k, l),
                    (revision_id, key.0.name(), key.1.to_string(), later_delta_id),
                    "undo of revision {revision_id}: the conflict"
                ),
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

fn field(v: &Option<Value>) -> FieldValue {
    match v {
        Some(v) => FieldValue::Value(v.clone()),
        None => FieldValue::Withheld,
    }
}

fn without_secret(m: Model) -> Model {
    Model { secret: None, ..m }
}

/// Who set a column, as of some delta: the delta, its revision, the actor
/// and the value.
type Setter = (i64, i64, Option<Actor>, Option<Value>);

/// A change as compared: column, old, new, action, actor.
type ChangeRow = (String, FieldValue, FieldValue, Action, Option<Actor>);

/// A blame entry as compared: column, delta, revision, actor, value, action.
type BlameRow = (String, i64, i64, Option<Actor>, FieldValue, Action);

fn blame_rows(blame: &[ColumnBlame]) -> Vec<BlameRow> {
    blame
        .iter()
        .map(|b| {
            (
                b.column.clone(),
                b.object_delta_id,
                b.revision_id,
                b.actor.clone(),
                b.value.clone(),
                b.action,
            )
        })
        .collect()
}

/// The blame the fold expects from each column's setter, in column order.
fn expected_blame(table: Table, setters: &BTreeMap<&str, Setter>) -> Vec<BlameRow> {
    table
        .columns()
        .into_iter()
        .filter_map(|c| {
            let (delta, revision, actor, value) = setters.get(c)?;
            Some((
                c.to_owned(),
                *delta,
                *revision,
                actor.clone(),
                field(value),
                set_or_unset(value),
            ))
        })
        .collect()
}

/// Reads everything back through the public API and compares it with the fold.
async fn compare(db: &DatabaseConnection, fold: &Fold, seq: usize) {
    let mut per_row: BTreeMap<Key, Vec<&Expected>> = BTreeMap::new();
    for e in &fold.deltas {
        per_row.entry(e.key).or_default().push(e);
    }
    // the fold's revisions and the journal's, one to one
    let mut journal_revision: BTreeMap<usize, i64> = BTreeMap::new();
    let mut fold_revision: BTreeMap<i64, usize> = BTreeMap::new();
    let mut ids_in_order = Vec::new();
    for (key, expected) in &per_row {
        let entries = entries_of(db, *key).await;
        assert_eq!(
            entries.len(),
            expected.len(),
            "seq {seq}, row {key:?}: {entries:#?}"
        );
        // each column's setter as of the delta being read
        let mut setters: BTreeMap<&str, Setter> = BTreeMap::new();
        for (n, (entry, want)) in entries.iter().zip(expected).enumerate() {
            let at = format!("seq {seq}, row {key:?}, delta {n}");
            assert_eq!(entry.action, want.action, "{at}");
            assert_eq!(entry.actor, want.actor, "{at}");
            assert_eq!(entry.description, want.description, "{at}");
            assert_eq!(
                entry.revision_description, want.revision_description,
                "{at}"
            );
            assert_eq!(
                entry.version,
                n as i64 + 1,
                "{at}: versions count 1, 2, ..."
            );
            assert_eq!(
                *journal_revision
                    .entry(want.revision)
                    .or_insert(entry.revision_id),
                entry.revision_id,
                "{at}: an operation's deltas share one revision"
            );
            assert_eq!(
                *fold_revision
                    .entry(entry.revision_id)
                    .or_insert(want.revision),
                want.revision,
                "{at}: a revision holds one operation's deltas"
            );
            let mut got: Vec<ChangeRow> = entry
                .changes
                .iter()
                .map(|c| {
                    (
                        c.column.clone(),
                        c.old.clone(),
                        c.new.clone(),
                        c.action,
                        c.actor.clone(),
                    )
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let mut wanted: Vec<ChangeRow> = want
                .changes
                .iter()
                .map(|c| {
                    (
                        c.column.to_owned(),
                        field(&c.old),
                        field(&c.new),
                        set_or_unset(&c.new),
                        c.actor.clone(),
                    )
                })
                .collect();
            wanted.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(got, wanted, "{at}");
            let snapshot = snapshot_at(db, *key, entry.object_delta_id)
                .await
                .map(Row::recorded);
            assert_eq!(
                snapshot,
                Some(want.snapshot.clone().recorded()),
                "{at}: snapshot"
            );
            // blame as of this delta: each column's setter up to it (a
            // delete sets nothing)
            for c in &want.changes {
                setters.insert(
                    c.column,
                    (
                        entry.object_delta_id,
                        entry.revision_id,
                        c.actor.clone(),
                        c.new.clone(),
                    ),
                );
            }
            let blame = blame_of(db, *key, Some(entry.object_delta_id)).await;
            assert_eq!(
                blame_rows(&blame),
                expected_blame(key.0, &setters),
                "{at}: blame as of it"
            );
            ids_in_order.push((entry.object_delta_id, *key, want.action));
        }
        assert_eq!(
            setters.len(),
            key.0.columns().len(),
            "seq {seq}, row {key:?}: every column was set by its first delta"
        );
        // blame of a live row now: each column's last setter
        if fold.live.contains_key(key) {
            let blame = blame_of(db, *key, None).await;
            assert_eq!(
                blame_rows(&blame),
                expected_blame(key.0, &setters),
                "seq {seq}, row {key:?}: blame"
            );
        }
        assert_eq!(
            version_of(db, *key).await,
            Some(expected.len() as i64),
            "seq {seq}, row {key:?}: the version, a deleted row's too"
        );
    }
    // the change feed delivers every delta once, in id order
    ids_in_order.sort_by_key(|(delta, _, _)| *delta);
    // from just before this sequence's first delta (PostgreSQL and MariaDB
    // do not reuse the ids of the journal emptied before it)
    let first = ids_in_order.first().map(|(id, _, _)| id - 1).unwrap_or(0);
    let mut feed = Feed::from_cursor(first).gap_grace(std::time::Duration::ZERO);
    let mut delivered = Vec::new();
    // An id gap (MariaDB spends an auto-increment id on an insert its
    // unique index of versions refuses) holds the feed until every
    // transaction running on the server when it saw the gap has ended,
    // other tests' included, which can take long under a parallel suite.
    // So: everything up to the first gap must come, and what comes after
    // it must be the fold's, in order.
    let before_gap = ids_in_order
        .windows(2)
        .position(|w| w[1].0 != w[0].0 + 1)
        .map_or(ids_in_order.len(), |at| at + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while delivered.len() < ids_in_order.len() {
        let batch = feed.next_batch(db).await.unwrap();
        if batch.is_empty() {
            if delivered.len() >= before_gap && std::time::Instant::now() >= deadline {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline + std::time::Duration::from_secs(20),
                "seq {seq}: the feed delivered {} of the {before_gap} deltas before any id gap",
                delivered.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        for revision in batch {
            for d in revision.deltas {
                let table = match d.object.content_type.as_str() {
                    "ledger_rows" => Table::Rows,
                    "ledger_entries" => Table::Entries,
                    _ => continue,
                };
                let id: i32 = d.object.content_id.parse().unwrap();
                delivered.push((d.object.id, (table, id), d.object.action));
            }
        }
    }
    assert_eq!(
        delivered,
        ids_in_order[..delivered.len().min(ids_in_order.len())],
        "seq {seq}: the feed"
    );
}

async fn public_reads_equal_the_reference_fold(t: TestDb) {
    revy::install(&t.db).await.unwrap();
    let sequences = 10;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[26; 32]),
    );
    let strategy = proptest::collection::vec(op(), 40..60);
    let (mut total, mut cascaded, mut undone, mut refused, mut several, mut revived) =
        (0, 0, 0, 0, 0, 0);
    for seq in 0..sequences {
        for table in ["ledger_rows", "ledger_entries"] {
            t.db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await
                .unwrap();
        }
        t.create_table(Entity).await;
        t.create_table(entry::Entity).await;
        // undo rebuilds entries only of a registered entity; a bulk delete
        // applies only registered policies
        revy::register::<entry::Entity>();
        let policies = revy::register_child_policies::<Entity>(&t.db)
            .await
            .unwrap();
        let policies: Vec<_> = policies
            .iter()
            .map(|p| (p.table(), p.column(), p.on_delete().clone()))
            .collect();
        assert_eq!(
            policies,
            [("ledger_entries", "row_id", revy::OnDelete::Cascade)]
        );
        // each sequence starts from an empty journal
        for table in ["revy_object_deltas", "revy_tags", "revy_revisions"] {
            t.db.execute_unprepared(&format!("DELETE FROM {table}"))
                .await
                .unwrap();
        }
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let mut fold = Fold::default();
        for op in &ops {
            let before = fold.deltas.len();
            apply(&t.db, &mut fold, op).await;
            // each row the operation wrote is at its newest version now
            let mut written: Vec<Key> = fold.deltas[before..].iter().map(|d| d.key).collect();
            written.sort();
            written.dedup();
            for key in written {
                let version = fold.deltas.iter().filter(|d| d.key == key).count() as i64;
                assert_eq!(
                    version_of(&t.db, key).await,
                    Some(version),
                    "seq {seq}, {op:?}: the version of {key:?}"
                );
            }
        }
        compare(&t.db, &fold, seq).await;
        // the live tables are the fold's
        let rows: Vec<Model> = Entity::find()
            .order_by_asc(Column::Id)
            .all(&t.db)
            .await
            .unwrap();
        let entries: Vec<entry::Model> = entry::Entity::find()
            .order_by_asc(entry::Column::Id)
            .all(&t.db)
            .await
            .unwrap();
        let live: Vec<Row> = rows
            .into_iter()
            .map(Row::Ledger)
            .chain(entries.into_iter().map(Row::Entry))
            .map(Row::recorded)
            .collect();
        let want: Vec<Row> = fold.live.values().cloned().map(Row::recorded).collect();
        assert_eq!(live, want, "seq {seq}: the tables");
        total += fold.deltas.len();
        cascaded += fold.cascaded;
        undone += fold.undone;
        refused += fold.refused;
        several += fold.refused_among_several;
        revived += fold.revived;
    }
    assert!(total > 100, "the workload wrote only {total} deltas");
    // the workload reached what it is meant to check
    assert!(
        cascaded > 0 && undone > 0 && several > 0 && revived > 0,
        "entries deleted by a policy: {cascaded}, undos done: {undone}, \
         undos refused: {refused} ({several} with several rows changed later), entries of a cascade an undo restored: {revived}"
    );
    eprintln!(
        "reference fold on {:?}: {sequences} sequences, {total} deltas compared; \
         {cascaded} entries deleted by a policy, {undone} undos ({revived} entries \
         a cascade deleted restored), {refused} undos refused ({several} with several rows changed later)",
        t.backend
    );
}

backend_tests!(public_reads_equal_the_reference_fold);
