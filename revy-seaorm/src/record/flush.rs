//! Writing a queued transaction's journal at once: revisions and object
//! deltas of many operations, on any tables, by any actors.
//!
//! - PostgreSQL: one statement of two JSON parameters (see
//!   [`recordset`]), which creates the revisions and inserts the object
//!   deltas.
//! - SQLite and MySQL, and PostgreSQL with tamper evidence on: one
//!   multi-row `INSERT` of the new revisions (when there are any), then the
//!   object deltas in multi-row `INSERT`s ([`insert::values`]), 1,000 a
//!   statement. The ids of one multi-row `INSERT` are consecutive in the
//!   rows' order: SQLite has one writer at a time, and InnoDB hands a
//!   "simple insert" (its rows counted in advance) a block of consecutive
//!   values in every `innodb_autoinc_lock_mode`. SQLite returns them
//!   (`RETURNING`); MySQL reports the first (`LAST_INSERT_ID()`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor, LazyRevision};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DbBackend};

use super::batch::BASELINE_DESCRIPTION;
use super::insert::{self, Row};
use super::rows::AttributeChange;
use super::{Seal, checkpoint, numbering, recordset, sealed};
use crate::error::{Error, JournalError};
use crate::journal::object_delta;
use crate::journal::revision::RevisionKind;

/// One queued object delta and its attribute deltas.
pub(crate) struct Entry {
    pub revision: RevisionRef,
    pub action: Action,
    pub actor: Option<Actor>,
    pub description: String,
    pub content_type: String,
    pub content_id: String,
    pub changes: Vec<AttributeChange>,
    /// When the operation was journaled (queued).
    pub created_at: DateTime<Utc>,
    /// The object's newest version in the journal as the hooks read it
    /// (`None`: none, or not read); MySQL numbers the delta from it.
    pub known_version: Option<i64>,
}

impl Entry {
    /// The row the flush inserts, in revision `revision_id`.
    fn row(&self, revision_id: i64) -> Row<'_> {
        Row {
            revision_id,
            actor: &self.actor,
            action: self.action,
            description: &self.description,
            content_type: &self.content_type,
            content_id: &self.content_id,
            created_at: self.created_at,
            changes: &self.changes,
        }
    }
}

/// The revision a queued entry belongs to.
pub(crate) enum RevisionRef {
    /// An existing revision.
    Id(i64),
    /// The context's revision, not created yet when the entry was queued:
    /// created by the flush (once for all its entries) unless it exists by
    /// then.
    Lazy {
        lazy: LazyRevision,
        description: String,
        meta: serde_json::Value,
    },
    /// A revision of the entry's own (the context had no revision).
    Own {
        description: String,
        meta: serde_json::Value,
    },
    /// The flush's baseline revision.
    Baseline,
}

/// A revision the flush creates.
struct NewRevision {
    description: String,
    meta: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl NewRevision {
    fn as_row(&self) -> insert::Revision<'_> {
        insert::Revision {
            description: &self.description,
            meta: &self.meta,
            created_at: self.created_at,
        }
    }
}

/// Each entry's revision: an id, or the index of a revision to create.
#[derive(Clone, Copy)]
enum Slot {
    Known(i64),
    New(usize),
}

/// The revisions `entries` need created, and the slot of each entry.
struct Plan {
    new: Vec<NewRevision>,
    /// The context revisions among `new`, by index.
    lazies: Vec<(LazyRevision, usize)>,
    slots: Vec<Slot>,
}

fn plan(entries: &[Entry]) -> Plan {
    let mut plan = Plan {
        new: Vec::new(),
        lazies: Vec::new(),
        slots: Vec::with_capacity(entries.len()),
    };
    let mut baseline = None;
    for entry in entries {
        let at = entry.created_at;
        let mut create = |description: &str, meta: &serde_json::Value| {
            plan.new.push(NewRevision {
                description: description.to_owned(),
                meta: meta.clone(),
                created_at: at,
            });
            plan.new.len() - 1
        };
        let slot = match &entry.revision {
            RevisionRef::Id(id) => Slot::Known(*id),
            RevisionRef::Lazy {
                lazy,
                description,
                meta,
            } => match lazy.id() {
                Some(id) => Slot::Known(id),
                None => match plan.lazies.iter().find(|(l, _)| l.same_as(lazy)) {
                    Some((_, index)) => Slot::New(*index),
                    None => {
                        let index = create(description, meta);
                        plan.lazies.push((lazy.clone(), index));
                        Slot::New(index)
                    }
                },
            },
            RevisionRef::Own { description, meta } => Slot::New(create(description, meta)),
            RevisionRef::Baseline => match baseline {
                Some(index) => Slot::New(index),
                None => {
                    let index = create(BASELINE_DESCRIPTION, &RevisionKind::Baseline.meta());
                    baseline = Some(index);
                    Slot::New(index)
                }
            },
        };
        plan.slots.push(slot);
    }
    plan
}

/// Writes `entries` in their order and returns the context revisions it
/// created, with their ids (already recorded in each [`LazyRevision`]).
pub(crate) async fn write<C: ConnectionTrait>(
    db: &C,
    entries: Vec<Entry>,
    seal: Seal,
) -> Result<Vec<(LazyRevision, i64)>, Error> {
    let plan = plan(&entries);
    let due = checkpoints_due(&entries);
    let revision_ids = match db.get_database_backend() {
        // with tamper evidence on, the flush names each delta's version
        // and link: PostgreSQL too writes in multi-row INSERTs then
        DbBackend::Postgres if !seal.is_on() => write_postgres(db, &plan, entries).await?,
        _ => write_in_inserts(db, &plan, entries, seal).await?,
    };
    let due: Vec<(&str, &str)> = due.iter().map(|(t, k)| (t.as_str(), k.as_str())).collect();
    checkpoint::write(db, &due).await?;
    let mut created = Vec::new();
    for (lazy, index) in plan.lazies {
        let id = revision_ids[index];
        if lazy.set_if_unset(id) == id {
            created.push((lazy, id));
        }
    }
    Ok(created)
}

/// The objects whose versions this flush writes pass a checkpoint's (see
/// [`checkpoint`]): each object's newest delta after the flush becomes
/// one. The versions are counted from what the hooks' locked reads saw,
/// the flush runs at commit under those locks.
fn checkpoints_due(entries: &[Entry]) -> Vec<(String, String)> {
    let mut objects: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
    for e in entries {
        let (base, count) = objects
            .entry((e.content_type.as_str(), e.content_id.as_str()))
            .or_insert((i64::MAX, 0));
        *base = (*base).min(e.known_version.unwrap_or(0));
        *count += 1;
    }
    let mut due: Vec<(String, String)> = objects
        .into_iter()
        .filter(|(_, (base, count))| (base + 1..=base + count).any(checkpoint::due))
        .map(|((table, key), _)| (table.to_owned(), key.to_owned()))
        .collect();
    due.sort();
    due
}

/// Each entry's rank among the entries of its object, from 1: the step
/// from the object's newest version before the statement to the entry's
/// version, in a statement that reads the journal as it was when it began
/// (see [`next_version`](super::rows::next_version)).
fn steps(entries: &[Entry]) -> Vec<i64> {
    let mut seen: HashMap<(&str, &str), i64> = HashMap::new();
    entries
        .iter()
        .map(|e| {
            let n = seen
                .entry((e.content_type.as_str(), e.content_id.as_str()))
                .or_insert(0);
            *n += 1;
            *n
        })
        .collect()
}

/// Returns the ids of the new revisions, in the plan's order.
async fn write_postgres<C: ConnectionTrait>(
    db: &C,
    plan: &Plan,
    entries: Vec<Entry>,
) -> Result<Vec<i64>, Error> {
    let revisions = plan.new.iter().map(NewRevision::as_row);
    let deltas =
        entries
            .iter()
            .zip(&plan.slots)
            .zip(steps(&entries))
            .map(|((entry, slot), step)| {
                let (revision_id, new_revision) = match *slot {
                    Slot::Known(id) => (id, None),
                    Slot::New(index) => (0, Some(index)),
                };
                recordset::Delta {
                    row: entry.row(revision_id),
                    step,
                    new_revision,
                    base: None,
                }
            });
    let statement = recordset::statement(revisions, deltas);
    let rows = db
        .query_all_raw(statement)
        .await
        .map_err(|e| Error::from_journal_tables(&["revy_object_deltas", "revy_revisions"], e))?;
    let mut ids = vec![0; plan.new.len()];
    for row in rows {
        let ord: i64 = row.try_get("", "ord")?;
        let id: i64 = row.try_get("", "id")?;
        if let Some(slot) = usize::try_from(ord).ok().and_then(|o| ids.get_mut(o)) {
            *slot = id;
        }
    }
    Ok(ids)
}

// Rows per multi-row INSERT of object deltas (8 parameters each, under
// SQLite's limit of 32,766).
const OBJECT_ROWS_PER_STATEMENT: usize = 1_000;
// Rows per multi-row INSERT of revisions (3 parameters each).
const REVISION_ROWS_PER_STATEMENT: usize = 1_000;

/// SQLite and MySQL: the revisions, the object deltas, the attribute
/// deltas, each in multi-row INSERTs. Returns the new revisions' ids.
async fn write_in_inserts<C: ConnectionTrait>(
    db: &C,
    plan: &Plan,
    entries: Vec<Entry>,
    seal: Seal,
) -> Result<Vec<i64>, Error> {
    let mut revision_ids = Vec::with_capacity(plan.new.len());
    for chunk in plan.new.chunks(REVISION_ROWS_PER_STATEMENT) {
        let insert = insert::revisions(chunk.iter().map(NewRevision::as_row))?;
        revision_ids.extend(consecutive_ids(db, insert, chunk.len(), "revy_revisions").await?);
    }
    let mut start = 0;
    let mut entries = entries.into_iter();
    let sealed = seal.is_on();
    let named = db.get_database_backend() == DbBackend::MySql && !sealed;
    // with tamper evidence on: each object's newest delta, read once (the
    // objects' first entries in a chunk), then as this flush writes them
    let mut chain = sealed::Chainer::default();
    // MySQL: the newest version of each object written so far in this
    // flush, to number the next delta of it (see `numbering`)
    let mut written: HashMap<numbering::Object, i64> = HashMap::new();
    while start < plan.slots.len() {
        let chunk: Vec<Entry> = entries.by_ref().take(OBJECT_ROWS_PER_STATEMENT).collect();
        let slots = &plan.slots[start..start + chunk.len()];
        start += chunk.len();
        let revision_of = |slot: &Slot| match *slot {
            Slot::Known(id) => id,
            Slot::New(index) => revision_ids[index],
        };
        let rows: Vec<Row<'_>> = chunk
            .iter()
            .zip(slots)
            .map(|(entry, slot)| entry.row(revision_of(slot)))
            .collect();
        let build = |named: Vec<(i64, Option<sealed::Link>)>| {
            insert::values(
                rows.iter()
                    .zip(named)
                    .map(|(row, (v, link))| (*row, v, link)),
                seal,
            )
        };
        let ids = if sealed {
            let mut unread: Vec<numbering::Object> = chunk
                .iter()
                .map(|e| (e.content_type.clone(), e.content_id.clone()))
                .filter(|o| !chain.knows(o))
                .collect();
            unread.sort();
            unread.dedup();
            if !unread.is_empty() {
                chain.learn(sealed::heads(db, &unread).await?);
            }
            let mut names = Vec::with_capacity(chunk.len());
            for row in &rows {
                let object = (row.content_type.to_owned(), row.content_id.to_owned());
                let (version, link) = chain.next(object, |version, previous| {
                    sealed::link_of(row, version, previous)
                })?;
                names.push((version, Some(link)));
            }
            consecutive_ids(db, build(names)?, chunk.len(), "revy_object_deltas").await?
        } else if named {
            let before = written.clone();
            let versions = unlinked(named_versions(&chunk, &mut written, &HashMap::new(), false));
            let insert = build(versions)?;
            match consecutive_ids(db, insert, chunk.len(), "revy_object_deltas").await {
                Err(Error::Db(e)) if numbering::version_taken(&e) => {
                    // a version read from a stale snapshot: read them current
                    let objects: Vec<numbering::Object> = chunk
                        .iter()
                        .map(|e| (e.content_type.clone(), e.content_id.clone()))
                        .collect();
                    let newest = numbering::newest_versions(db, &objects, true).await?;
                    written = before;
                    let versions = unlinked(named_versions(&chunk, &mut written, &newest, true));
                    consecutive_ids(db, build(versions)?, chunk.len(), "revy_object_deltas").await?
                }
                done => done?,
            }
        } else {
            // SQLite numbers from what the hooks read, which is current
            // (its writers are serialized); only a create read nothing,
            // and its key may have an older history: one read for those.
            // (A version subquery in each row made the INSERT read its own
            // table, and the flush of 1,000 updates 20% slower.)
            let mut unknown: Vec<numbering::Object> = chunk
                .iter()
                .filter(|e| e.known_version.is_none())
                .map(|e| (e.content_type.clone(), e.content_id.clone()))
                .filter(|o| !written.contains_key(o))
                .collect();
            unknown.sort();
            unknown.dedup();
            let read = match unknown.is_empty() {
                true => HashMap::new(),
                false => numbering::newest_versions(db, &unknown, false).await?,
            };
            let versions = unlinked(named_versions(&chunk, &mut written, &read, false));
            consecutive_ids(db, build(versions)?, chunk.len(), "revy_object_deltas").await?
        };
        debug_assert_eq!(ids.len(), slots.len());
    }
    Ok(revision_ids)
}

/// The version of each entry of a chunk (SQLite, MySQL): one more than the
/// object's newest, which is the one an earlier entry of this flush wrote,
/// else the one the hooks read (or `read`, first when `prefer_read`).
fn named_versions(
    chunk: &[Entry],
    written: &mut HashMap<numbering::Object, i64>,
    read: &HashMap<numbering::Object, i64>,
    prefer_read: bool,
) -> Vec<i64> {
    chunk
        .iter()
        .map(|e| {
            let object = (e.content_type.clone(), e.content_id.clone());
            let from_read = read.get(&object).copied();
            let before = match written.get(&object) {
                Some(v) => *v,
                None if prefer_read => from_read.unwrap_or(0),
                None => e.known_version.or(from_read).unwrap_or(0),
            };
            written.insert(object, before + 1);
            before + 1
        })
        .collect()
}

/// Named versions without links, as [`write_in_inserts`]'s `build` takes
/// them when unsealed.
fn unlinked(versions: Vec<i64>) -> Vec<(i64, Option<sealed::Link>)> {
    versions.into_iter().map(|v| (v, None)).collect()
}

/// Runs a multi-row INSERT of `n` rows and returns their ids in the rows'
/// order (see the module documentation for why they are consecutive).
pub(crate) async fn consecutive_ids<C: ConnectionTrait>(
    db: &C,
    mut insert: sea_orm::sea_query::InsertStatement,
    n: usize,
    table: &'static str,
) -> Result<Vec<i64>, Error> {
    let backend = db.get_database_backend();
    if backend != DbBackend::MySql {
        // PostgreSQL's sequence hands a multi-row INSERT rising ids, not
        // always consecutive ones: they are returned too
        insert.returning(Query::returning().column(object_delta::Column::Id));
        let rows = db
            .query_all_raw(backend.build(&insert))
            .await
            .map_err(|e| Error::from_journal(table, e))?;
        let mut ids = rows
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<Result<Vec<_>, _>>()?;
        ids.sort_unstable();
        return Ok(ids);
    }
    let result = db
        .execute_raw(backend.build(&insert))
        .await
        .map_err(|e| Error::from_journal(table, e))?;
    let first =
        i64::try_from(result.last_insert_id()).map_err(|_| JournalError::IdOutOfRange { table })?;
    Ok((0..n as i64).map(|i| first + i).collect())
}
