//! The reference fold: what revy promises the public reads say, kept
//! by the test as the workload runs.

use super::*;

/// The workload's two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Table {
    Rows,
    Entries,
}

impl Table {
    /// The table's name, which the journal names it by.
    pub(super) fn name(self) -> &'static str {
        match self {
            Table::Rows => "ledger_rows",
            Table::Entries => "ledger_entries",
        }
    }

    /// Its columns, in the entity's order.
    pub(super) fn columns(self) -> Vec<&'static str> {
        match self {
            Table::Rows => Column::iter().map(|c| c.as_str()).collect(),
            Table::Entries => entry::Column::iter().map(|c| c.as_str()).collect(),
        }
    }
}

/// A row of either table, by its table and primary key.
pub(super) type Key = (Table, i32);

/// A row of either table.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Row {
    Ledger(Model),
    Entry(entry::Model),
}

impl Row {
    pub(super) fn key(&self) -> Key {
        match self {
            Row::Ledger(m) => (Table::Rows, m.id),
            Row::Entry(m) => (Table::Entries, m.id),
        }
    }

    /// A column's value as the journal says it (`None`: withheld).
    pub(super) fn value(&self, column: &str) -> Option<Value> {
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
    pub(super) fn recorded(self) -> Row {
        match self {
            Row::Ledger(m) => Row::Ledger(without_secret(m)),
            entry => entry,
        }
    }

    /// The row with `live`'s redacted secret, which a revert leaves alone.
    pub(super) fn keeping_secret_of(self, live: &Row) -> Row {
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
pub(super) struct Change {
    pub(super) column: &'static str,
    pub(super) old: Option<Value>,
    pub(super) new: Option<Value>,
    pub(super) actor: Option<Actor>,
}

/// One object delta as the fold expects it.
#[derive(Debug, Clone)]
pub(super) struct Expected {
    pub(super) key: Key,
    /// The fold's number of the revision it belongs to: one per operation.
    pub(super) revision: usize,
    pub(super) revision_description: String,
    pub(super) action: Action,
    pub(super) actor: Option<Actor>,
    pub(super) description: &'static str,
    pub(super) changes: Vec<Change>,
    /// The snapshot at this delta: the row after it (before it, for a delete).
    pub(super) snapshot: Row,
}

/// What revy promises, kept without a database.
#[derive(Default)]
pub(super) struct Fold {
    pub(super) live: BTreeMap<Key, Row>,
    /// Rows deleted, as they were.
    pub(super) deleted: BTreeMap<Key, Row>,
    pub(super) deltas: Vec<Expected>,
    /// The revision the next deltas belong to, and its description.
    pub(super) revision: usize,
    pub(super) revision_description: String,
    /// The last entry id handed out.
    pub(super) last_entry: i32,
    /// What the workload exercised: entries deleted by a policy, undos
    /// done, undos refused (those with several rows changed later, where
    /// which row the error names matters), entries `revy::deletion::delete` deleted
    /// that an undo brought back.
    pub(super) cascaded: usize,
    pub(super) undone: usize,
    pub(super) refused: usize,
    pub(super) refused_among_several: usize,
    pub(super) revived: usize,
}

/// How an undo of a revision goes: the rows it puts back, newest first,
/// each with the state it goes back to (`None`: absent); or, in that
/// order, the rows that changed later, each with the index of its first
/// later delta (the undo names the first).
pub(super) type UndoPlan = Result<Vec<(Key, Option<Row>)>, Vec<(Key, usize)>>;

/// `Set`, or `Unset` for a NULL (a withheld value is always `Set`).
pub(super) fn set_or_unset(value: &Option<Value>) -> Action {
    match value {
        Some(v) if *v == v.as_null() => Action::Unset,
        _ => Action::Set,
    }
}

impl Fold {
    /// The next deltas are a new operation's, in a new revision.
    pub(super) fn begin(&mut self, revision_description: impl Into<String>) {
        self.revision += 1;
        self.revision_description = revision_description.into();
    }

    pub(super) fn ledger(&self, id: i32) -> Option<Model> {
        match self.live.get(&(Table::Rows, id)) {
            Some(Row::Ledger(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// The keys of the live ledger rows, in order; only those with
    /// entries, if `with_entries`.
    pub(super) fn live_rows(&self, with_entries: bool) -> Vec<i32> {
        self.live
            .keys()
            .filter(|(table, _)| *table == Table::Rows)
            .map(|(_, id)| *id)
            .filter(|id| !with_entries || !self.entries(Some(*id)).is_empty())
            .collect()
    }

    /// The live entries, in key order; of one row when `row` says which.
    pub(super) fn entries(&self, row: Option<i32>) -> Vec<entry::Model> {
        self.live
            .values()
            .filter_map(|r| match r {
                Row::Entry(e) if row.is_none_or(|id| e.row_id == id) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn known(&self, key: &Key) -> bool {
        self.live.contains_key(key) || self.deleted.contains_key(key)
    }

    pub(super) fn create(&mut self, row: Row, actor: Option<Actor>) {
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
    pub(super) fn update(
        &mut self,
        new: Row,
        actor: Option<Actor>,
        actor_of: impl Fn(&str) -> Option<Actor>,
    ) {
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

    pub(super) fn delete(&mut self, key: Key, actor: Option<Actor>, description: &'static str) {
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

    pub(super) fn push(
        &mut self,
        row: Row,
        action: Action,
        actor: Option<Actor>,
        changes: Vec<Change>,
    ) {
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
    pub(super) fn version_at(&self, i: usize) -> i64 {
        let key = self.deltas[i].key;
        self.deltas[..=i].iter().filter(|d| d.key == key).count() as i64
    }

    /// The revisions that touched more than one row, newest first, each by
    /// the index of its last delta.
    pub(super) fn revisions_of_several_rows(&self) -> Vec<usize> {
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
    pub(super) fn undo_plan(&self, revision: usize) -> UndoPlan {
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
    pub(super) fn undo(&mut self, plan: Vec<(Key, Option<Row>)>, actor: Option<Actor>) {
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
