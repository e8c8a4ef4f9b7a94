//! Every public read compared with the fold.

use super::*;

pub(super) fn field(v: &Option<Value>) -> FieldValue {
    match v {
        Some(v) => FieldValue::Value(v.clone()),
        None => FieldValue::Withheld,
    }
}

pub(super) fn without_secret(m: Model) -> Model {
    Model { secret: None, ..m }
}

/// Who set a column, as of some delta: the delta, its revision, the actor
/// and the value.
pub(super) type Setter = (i64, i64, Option<Actor>, Option<Value>);

/// A change as compared: column, old, new, action, actor.
pub(super) type ChangeRow = (String, FieldValue, FieldValue, Action, Option<Actor>);

/// A blame entry as compared: column, delta, revision, actor, value, action.
pub(super) type BlameRow = (String, i64, i64, Option<Actor>, FieldValue, Action);

pub(super) fn blame_rows(blame: &[ColumnBlame]) -> Vec<BlameRow> {
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
pub(super) fn expected_blame(table: Table, setters: &BTreeMap<&str, Setter>) -> Vec<BlameRow> {
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
pub(super) async fn compare(db: &DatabaseConnection, fold: &Fold, seq: usize) {
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
