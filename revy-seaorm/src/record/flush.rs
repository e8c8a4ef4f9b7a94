//! Writing a queued transaction's journal at once: revisions, object deltas
//! and attribute deltas of many operations, on any tables, by any actors.
//!
//! - PostgreSQL: one statement. The rows travel as three JSON parameters
//!   (see `recordset`); the revisions and the object deltas are inserted in
//!   `WITH` clauses, each `INSERT .. SELECT .. ORDER BY` the rows' order,
//!   so the ids the sequence hands out rise in that order, and each row
//!   finds its parent's id by rank (`row_number() OVER (ORDER BY id)`),
//!   whatever order `RETURNING` yields them in.
//! - SQLite and MySQL: one multi-row `INSERT` of the new revisions (when
//!   there are any), one of the object deltas, then the attribute deltas in
//!   multi-row `INSERT`s. The ids of one multi-row `INSERT` are consecutive
//!   in the rows' order: SQLite has one writer at a time, and InnoDB hands
//!   a "simple insert" (its rows counted in advance) a block of consecutive
//!   values in every `innodb_autoinc_lock_mode`. SQLite returns them
//!   (`RETURNING`); MySQL reports the first (`LAST_INSERT_ID()`).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use revy_core::{Action, Actor, LazyRevision};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityName, IdenStatic, Statement};

use super::batch::BASELINE_DESCRIPTION;
use super::numbering;
use super::rows::quoted;
use super::rows::{AttributeChange, OBJECT_DELTA_COLUMNS, actor_columns, newest_version_sql};
use super::{Seal, checkpoint, sealed};
use crate::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::{object_delta, revision};

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
                    let index = create(
                        BASELINE_DESCRIPTION,
                        &serde_json::json!({ "revy": "baseline" }),
                    );
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
/// (see [`next_version`]).
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

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Returns the ids of the new revisions, in the plan's order.
async fn write_postgres<C: ConnectionTrait>(
    db: &C,
    plan: &Plan,
    entries: Vec<Entry>,
) -> Result<Vec<i64>, Error> {
    let revisions: Vec<serde_json::Value> = plan
        .new
        .iter()
        .enumerate()
        .map(|(ord, r)| {
            serde_json::json!({
                "ord": ord,
                "description": r.description,
                "meta": r.meta,
                "created_at": timestamp(r.created_at),
            })
        })
        .collect();
    let mut objects = Vec::with_capacity(entries.len());
    let steps = steps(&entries);
    for (ord, ((entry, slot), step)) in entries.into_iter().zip(&plan.slots).zip(steps).enumerate()
    {
        let (revision_id, revision_ord) = match *slot {
            Slot::Known(id) => (Some(id), None),
            Slot::New(index) => (None, Some(index)),
        };
        let (actor_type, actor_id) = actor_columns(&entry.actor);
        objects.push(serde_json::json!({
            "ord": ord,
            "revision_id": revision_id,
            "revision_ord": revision_ord,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": entry.action.as_str(),
            "description": entry.description,
            "content_type": entry.content_type,
            "content_id": entry.content_id,
            "created_at": timestamp(entry.created_at),
            "step": step,
            "changes": encode_entries(&entry.changes, &entry.actor, &entry.description),
        }));
    }
    let values = [revisions, objects]
        .map(|rows| sea_orm::Value::from(serde_json::Value::Array(rows).to_string()));
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, postgres_sql(), values);
    let rows = db
        .query_all_raw(statement)
        .await
        .map_err(|e| Error::from_journal(table_named(&e), e))?;
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

/// The journal table a failed flush statement names, for the error.
fn table_named(e: &DbErr) -> &'static str {
    let text = e.to_string();
    for table in ["revy_object_deltas", "revy_revisions"] {
        if text.contains(table) {
            return table;
        }
    }
    "revy_object_deltas"
}

fn postgres_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(build_postgres_sql)
}

fn build_postgres_sql() -> String {
    use object_delta::Column as O;
    use revision::Column as R;
    fn q(c: impl IdenStatic) -> String {
        quoted(c.as_str())
    }
    let revisions = quoted(revision::Entity.table_name());
    let objects = quoted(object_delta::Entity.table_name());
    fn names<C: IdenStatic + Copy>(cols: &[C]) -> String {
        cols.iter().map(|c| q(*c)).collect::<Vec<_>>().join(", ")
    }
    let object_names = names(&OBJECT_DELTA_COLUMNS);
    format!(
        "WITH \"revy_rv\" AS (\
            INSERT INTO {revisions} ({rd}, {rm}, {rc}) \
            SELECT \"r\".\"description\", \"r\".\"meta\", \"r\".\"created_at\" \
            FROM json_to_recordset(CAST($1 AS json)) AS \"r\"(\"ord\" bigint, \"description\" text, \"meta\" json, \"created_at\" timestamptz) \
            ORDER BY \"r\".\"ord\" RETURNING {rid}), \
         \"revy_rvn\" AS (SELECT {rid}, row_number() OVER (ORDER BY {rid}) - 1 AS \"ord\" FROM \"revy_rv\"), \
         \"revy_od\" AS (\
            INSERT INTO {objects} ({object_names}, {ochanges}) \
            SELECT COALESCE(\"r\".\"revision_id\", \"n\".{rid}), \"r\".\"actor_type\", \"r\".\"actor_id\", \"r\".\"action\", \
                   \"r\".\"description\", \"r\".\"content_type\", \"r\".\"content_id\", \"r\".\"created_at\", \
                   {version} + \"r\".\"step\", \"r\".\"changes\" \
            FROM json_to_recordset(CAST($2 AS json)) AS \"r\"(\"ord\" bigint, \"revision_id\" bigint, \"revision_ord\" bigint, \
                 \"actor_type\" text, \"actor_id\" text, \"action\" text, \"description\" text, \"content_type\" text, \
                 \"content_id\" text, \"created_at\" timestamptz, \"step\" bigint, \"changes\" text) \
            LEFT JOIN \"revy_rvn\" AS \"n\" ON \"n\".\"ord\" = \"r\".\"revision_ord\" \
            ORDER BY \"r\".\"ord\") \
         SELECT \"ord\", {rid} FROM \"revy_rvn\"",
        rd = q(R::Description),
        rm = q(R::Meta),
        rc = q(R::CreatedAt),
        rid = q(R::Id),
        ochanges = q(O::Changes),
        version = newest_version_sql("\"r\".\"content_type\"", "\"r\".\"content_id\""),
    )
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
        let mut insert = Query::insert();
        insert.into_table(revision::Entity).columns([
            revision::Column::Description,
            revision::Column::Meta,
            revision::Column::CreatedAt,
        ]);
        for r in chunk {
            let meta = (!r.meta.is_null()).then(|| r.meta.clone());
            insert
                .values([
                    Expr::val(r.description.as_str()),
                    Expr::val(meta),
                    Expr::val(r.created_at),
                ])
                .map_err(|e| Error::Db(DbErr::Custom(format!("revy_revisions: {e}"))))?;
        }
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
        let build = |versions: &[Expr]| {
            let mut insert = Query::insert();
            let mut columns = OBJECT_DELTA_COLUMNS.to_vec();
            if sealed {
                columns.push(object_delta::Column::Hash);
            }
            columns.push(object_delta::Column::Changes);
            insert.into_table(object_delta::Entity).columns(columns);
            for ((entry, slot), version) in chunk.iter().zip(slots).zip(versions.chunks(2)) {
                let (actor_type, actor_id) = actor_columns(&entry.actor);
                let mut values = vec![
                    Expr::val(revision_of(slot)),
                    Expr::val(actor_type),
                    Expr::val(actor_id),
                    Expr::val(entry.action.as_str()),
                    Expr::val(entry.description.as_str()),
                    Expr::val(entry.content_type.as_str()),
                    Expr::val(entry.content_id.as_str()),
                    Expr::val(entry.created_at),
                ];
                values.extend(version.iter().take(1 + usize::from(sealed)).cloned());
                values.push(Expr::val(encode_entries(
                    &entry.changes,
                    &entry.actor,
                    &entry.description,
                )));
                insert
                    .values(values)
                    .map_err(|e| Error::Db(DbErr::Custom(format!("revy_object_deltas: {e}"))))?;
            }
            Ok::<_, Error>(insert)
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
            let mut names = Vec::with_capacity(2 * chunk.len());
            for (entry, slot) in chunk.iter().zip(slots) {
                let object = (entry.content_type.clone(), entry.content_id.clone());
                let (version, hash) = chain.next(object, |version, previous| {
                    sealed::link_of(
                        sealed::Unwritten {
                            revision_id: revision_of(slot),
                            actor: &entry.actor,
                            action: entry.action,
                            description: &entry.description,
                            content_type: &entry.content_type,
                            content_id: &entry.content_id,
                            created_at: entry.created_at,
                            version,
                        },
                        &entry.changes,
                        previous,
                    )
                });
                names.extend([Expr::val(version), Expr::val(hash)]);
            }
            consecutive_ids(db, build(&names)?, chunk.len(), "revy_object_deltas").await?
        } else if named {
            let before = written.clone();
            let versions = paired(named_versions(&chunk, &mut written, &HashMap::new(), false));
            let insert = build(&versions)?;
            match consecutive_ids(db, insert, chunk.len(), "revy_object_deltas").await {
                Err(Error::Db(e)) if numbering::version_taken(&e) => {
                    // a version read from a stale snapshot: read them current
                    let objects: Vec<numbering::Object> = chunk
                        .iter()
                        .map(|e| (e.content_type.clone(), e.content_id.clone()))
                        .collect();
                    let newest = numbering::newest_versions(db, &objects, true).await?;
                    written = before;
                    let versions = paired(named_versions(&chunk, &mut written, &newest, true));
                    consecutive_ids(db, build(&versions)?, chunk.len(), "revy_object_deltas")
                        .await?
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
            let versions = paired(named_versions(&chunk, &mut written, &read, false));
            consecutive_ids(db, build(&versions)?, chunk.len(), "revy_object_deltas").await?
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
) -> Vec<Expr> {
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
            Expr::val(before + 1)
        })
        .collect()
}

/// Versions laid out as [`write_in_inserts`]'s `build` takes them: two
/// expressions a row (version, link), the link unused when unsealed.
fn paired(versions: Vec<Expr>) -> Vec<Expr> {
    versions
        .into_iter()
        .flat_map(|v| [v, Expr::val(Option::<String>::None)])
        .collect()
}

/// Runs a multi-row INSERT of `n` rows and returns their ids in the rows'
/// order (see the module documentation for why they are consecutive).
async fn consecutive_ids<C: ConnectionTrait>(
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
    let first = i64::try_from(result.last_insert_id())
        .map_err(|_| Error::Db(DbErr::Custom(format!("{table}: an id past i64"))))?;
    Ok((0..n as i64).map(|i| first + i).collect())
}
