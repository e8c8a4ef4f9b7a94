//! Writing the journal of many rows of one table at once: what bulk writes
//! and deletion policies record, a chunk of rows at a time, in a number of
//! statements that does not grow with the chunk.

use std::collections::{HashMap, HashSet};

use revy_core::Action;
use sea_orm::{ConnectionTrait, EntityTrait, ModelTrait, Statement};

use super::insert::{self, Revision, Row};
use super::numbering;
use super::recordset;
use super::rows::{AttributeChange, ContextValues, Head, NewObjectDelta, NewObjectDeltas, now};
use super::write::{self};
use super::{Seal, checkpoint, sealed};
use crate::db::keys::content_type;
use crate::db::values::encode_named_row;
use crate::error::Error;
use crate::journal::revision::RevisionKind;
use crate::policy::{Rules, Vetted};

/// One row's entry in a chunk's journal.
pub(crate) struct RowDelta<'a, M> {
    /// The row's key text.
    pub content_id: String,
    /// The row as it was before the operation, for an update or delete:
    /// recorded (encoded only then) as a baseline first if the journal has
    /// never seen the row, or if the row was not tracked (its entity's
    /// condition failed) until now.
    pub before: Option<&'a M>,
    /// The row as it is after the operation, for an insert or update.
    pub after: Option<&'a M>,
    /// The attribute deltas of the row's object delta, before the policy.
    pub changes: Vec<AttributeChange>,
}

/// The description of the revision that holds a baseline, for a person to
/// read; a program tells a baseline by its kind,
/// [`RevisionKind::Baseline`](crate::entity::revision::RevisionKind::Baseline).
pub const BASELINE_DESCRIPTION: &str = "revy baseline: the row as it was before tracking began";

/// A baseline's attribute deltas: every column, old value null, by the system.
pub(crate) fn baseline_changes(
    row: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> Vec<AttributeChange> {
    row.into_iter()
        .map(|(field_name, new_value)| AttributeChange {
            field_name,
            old_value: serde_json::Value::Null,
            new_value,
            actor: None,
            description: String::new(),
        })
        .collect()
}

/// A row's baseline as its entity's policy lets the journal hold it.
pub(crate) fn baseline_of<M: ModelTrait>(
    rules: &Rules<M::Entity>,
    row: &M,
) -> Result<Vetted, Error> {
    Ok(rules.vet(baseline_changes(encode_named_row(row)?)))
}

/// Records full rows of objects the journal has never seen, as `Create`s by
/// the system in one revision of their own, so that their snapshots are
/// complete and undoing the operation that follows leaves them alone.
pub(crate) async fn write_baselines<C: ConnectionTrait>(
    db: &C,
    content_type: &str,
    mut rows: Vec<(String, Vetted)>,
    seal: Seal,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let meta = RevisionKind::Baseline.meta();
    if let [(content_id, changes)] = rows.as_mut_slice() {
        // one row: the one-query writer, in a revision it opens
        let revision = Revision {
            description: BASELINE_DESCRIPTION,
            meta: &meta,
            created_at: now(),
        };
        let content_id = content_id.as_str();
        let delta = |revision_id| NewObjectDelta {
            revision_id,
            action: Action::Create,
            actor: &None,
            description: "",
            content_type,
            content_id,
            after_version: None,
            known_version: None,
            known_head: None,
        };
        return write::record_in_new_revision(db, revision, &delta, std::mem::take(changes), seal)
            .await
            .map(|_| ());
    }
    let revision_id = write::insert_revision(db, BASELINE_DESCRIPTION.to_owned(), meta).await?;
    record_many(
        db,
        NewObjectDeltas {
            revision_id,
            action: Action::Create,
            actor: &None,
            description: "",
            content_type,
        },
        rows,
        seal,
        None,
    )
    .await
}

/// Journals one chunk of rows of `E` as its policy says: baselines for
/// rows the journal has never seen (one query finds them) or that were not
/// tracked until now, then one object delta per row, by the context's
/// actor with its object delta description, in the context's revision.
/// Left out: rows the policy's condition does not track (see
/// [`policy`](crate::policy)), and for an update rows with no recorded
/// change (an update that changes nothing recorded writes nothing).
pub(crate) async fn record_rows<C: ConnectionTrait, E: EntityTrait>(
    db: &C,
    ctx: &ContextValues,
    action: Action,
    rules: &Rules<E>,
    rows: Vec<RowDelta<'_, E::Model>>,
    seal: Seal,
) -> Result<(), Error> {
    let content_type = &content_type::<E>();
    let mut rows: Vec<(RowDelta<'_, E::Model>, Vetted)> = rows
        .into_iter()
        .filter(|r| r.after.is_none_or(|after| rules.tracks(after)))
        .map(|mut r| {
            let vetted = rules.vet(std::mem::take(&mut r.changes));
            (r, vetted)
        })
        .filter(|(_, vetted)| action != Action::Update || !vetted.is_empty())
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let candidates: Vec<String> = rows
        .iter()
        .filter(|(r, _)| r.before.is_some())
        .map(|(r, _)| r.content_id.clone())
        .collect();
    // the keys whose delta written now passes a checkpoint's version
    let mut due: Vec<String> = Vec::new();
    // Unsealed, the versions read here are the rows' heads as the writer
    // would find them, so it need not read them again: the read is made
    // while the call holds the rows' locks, every writer of a row's deltas
    // takes that lock first, and the read is current (SQLite's reads are,
    // and its writers take turns; PostgreSQL's is a statement of its own,
    // read committed: a fresh snapshot; MySQL's is a locking read). MySQL's
    // unique index of versions still refuses a version taken meanwhile.
    let reuse = !seal.is_on() && candidates.len() == rows.len();
    let mut heads: Option<HashMap<numbering::Object, Head>> = None;
    if !candidates.is_empty() {
        let known = known_ids(db, content_type, candidates).await?;
        // a delete of a row the condition did not track is recorded only
        // when the journal knows the row
        rows.retain(|(r, _)| {
            action != Action::Delete
                || known.contains_key(&r.content_id)
                || r.before.is_none_or(|before| rules.tracks(before))
        });
        let baselines = rows
            .iter()
            .filter_map(|(r, _)| r.before.map(|before| (&r.content_id, before)))
            .filter(|(content_id, before)| {
                !known.contains_key(*content_id) || !rules.tracks(before)
            })
            .map(|(content_id, before)| Ok((content_id.clone(), baseline_of(rules, before)?)))
            .collect::<Result<Vec<(String, Vetted)>, Error>>()?;
        let baselined: HashSet<&String> = baselines.iter().map(|(id, _)| id).collect();
        let mut read = HashMap::with_capacity(if reuse { rows.len() } else { 0 });
        for (r, _) in &rows {
            let newest = known.get(&r.content_id).copied().unwrap_or(0);
            let head = newest + i64::from(baselined.contains(&r.content_id));
            if checkpoint::due(head + 1) {
                due.push(r.content_id.clone());
            }
            if reuse && head > 0 {
                let object = (content_type.clone(), r.content_id.clone());
                read.insert(
                    object,
                    Head {
                        version: head,
                        hash: None,
                    },
                );
            }
        }
        heads = reuse.then_some(read);
        write_baselines(db, content_type, baselines, seal).await?;
    }
    if rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<(String, Vetted)> = rows
        .into_iter()
        .map(|(r, vetted)| (r.content_id, vetted))
        .collect();
    write::with_revision(db, ctx, |revision_id| {
        record_many(
            db,
            NewObjectDeltas {
                revision_id,
                action,
                actor: &ctx.actor,
                description: &ctx.object_delta_description,
                content_type,
            },
            rows.clone(),
            seal,
            heads.clone(),
        )
    })
    .await?;
    // every so many versions the delta also holds the object's whole
    // state (see `checkpoint`): the call holds the rows' locks
    let due: Vec<(&str, &str)> = due
        .iter()
        .map(|k| (content_type.as_str(), k.as_str()))
        .collect();
    checkpoint::write(db, &due).await
}

/// Which of `ids` (key texts of rows of `content_type`) the journal has
/// seen, as committed now, with each one's newest version: the caller
/// holds the rows' locks, and another transaction may have journaled a row
/// for the first time while the caller waited for its lock. PostgreSQL
/// (read committed) gives each statement a fresh snapshot, and SQLite's
/// reads are current. MySQL's plain reads see the transaction's first
/// snapshot, so there the read is a locking one (see
/// [`numbering::newest_versions`]), which reads the newest.
pub(crate) async fn known_ids<C: ConnectionTrait>(
    db: &C,
    content_type: &str,
    ids: Vec<String>,
) -> Result<HashMap<String, i64>, Error> {
    if db.get_database_backend() == sea_orm::DbBackend::MySql {
        let objects: Vec<numbering::Object> = ids
            .into_iter()
            .map(|id| (content_type.to_owned(), id))
            .collect();
        return Ok(numbering::newest_versions(db, &objects, true)
            .await?
            .into_iter()
            .map(|((_, id), version)| (id, version))
            .collect());
    }
    seen(db, content_type, ids).await
}

/// [`known_ids`] on PostgreSQL and SQLite.
async fn seen<C: ConnectionTrait>(
    db: &C,
    content_type: &str,
    ids: Vec<String>,
) -> Result<HashMap<String, i64>, Error> {
    // Each key asks for its newest delta's version, an index seek that
    // stops at the first entry: flat in the length of the rows' histories
    // (a DISTINCT over the keys would read every delta of every row).
    let mut known = HashMap::new();
    if ids.is_empty() {
        return Ok(known);
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        for row in db
            .query_all_raw(newest_of_keys(content_type, ids))
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?
        {
            if let Some(version) = row.try_get::<Option<i64>>("", VERSION)? {
                known.insert(row.try_get::<String>("", KEY)?, version);
            }
        }
        return Ok(known);
    }
    // SQLite
    let row = db
        .query_one_raw(newest_of_keys_sqlite(content_type, &ids))
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let text: String = match row {
        Some(row) => row.try_get("", VERSION)?,
        None => return Ok(known),
    };
    let heads: Vec<(String, Option<i64>)> = serde_json::from_str(&text).map_err(|e| {
        sea_orm::DbErr::Type(format!(
            "revy_object_deltas: the newest versions read as one JSON array: {e}"
        ))
    })?;
    known.extend(heads.into_iter().filter_map(|(k, v)| Some((k, v?))));
    Ok(known)
}

/// [`seen`]'s read on PostgreSQL: the keys as one array parameter,
/// `unnest`ed, each asking for its newest delta's version. One statement
/// text whatever the number of keys, so one plan: PostgreSQL planned the
/// `UNION ALL` of 500 one-row SELECTs that the other backends get anew
/// at each run (55-63 ms of planning against 4-9 ms of execution in psql,
/// for 500 keys; the `unnest` form: 0.3 ms and 1.6 ms).
fn newest_of_keys(content_type: &str, ids: Vec<String>) -> Statement {
    Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        r#"SELECT "k" AS "revy_key", (SELECT "d"."version" FROM "revy_object_deltas" AS "d" WHERE "d"."content_type" = $1 AND "d"."content_id" = "k" ORDER BY "d"."id" DESC LIMIT 1) AS "revy_version" FROM unnest(CAST($2 AS text[])) AS "k""#,
        [content_type.into(), ids.into()],
    )
}

/// [`seen`]'s read on SQLite: the keys as one JSON parameter walked by
/// `json_each`, each asking for its newest delta's version, and the answer
/// as one row, a `json_group_array` of `[key, version]`. sqlx hands SQLite's
/// rows over from its worker thread one at a time, a few microseconds each:
/// for the 1,000 rows of a bulk chunk that was most of the read (SQLite's
/// own work is one index seek per key).
fn newest_of_keys_sqlite(content_type: &str, ids: &[String]) -> Statement {
    Statement::from_sql_and_values(
        sea_orm::DbBackend::Sqlite,
        r#"SELECT json_group_array(json_array("k"."value", (SELECT "d"."version" FROM "revy_object_deltas" AS "d" WHERE "d"."content_type" = ?1 AND "d"."content_id" = "k"."value" ORDER BY "d"."id" DESC LIMIT 1))) AS "revy_version" FROM json_each(?2) AS "k""#,
        [
            content_type.into(),
            serde_json::Value::from(ids.to_vec()).to_string().into(),
        ],
    )
}

const KEY: &str = "revy_key";
const VERSION: &str = "revy_version";

/// Writes an object delta for each row, with its attribute deltas: one
/// INSERT of the object deltas that returns their ids where the backend
/// can (a read-back of the ids on MySQL), then the attribute deltas in
/// multi-row INSERTs. Each row's key text appears once in `rows`.
/// `heads`, when given, are the objects' newest deltas as the caller read
/// them current in this transaction, holding their rows' locks (unsealed
/// SQLite and PostgreSQL only; an object missing from them has none), and
/// the INSERT takes its versions from them instead of reading them.
pub(crate) async fn record_many<C: ConnectionTrait>(
    db: &C,
    deltas: NewObjectDeltas<'_>,
    rows: Vec<(String, Vetted)>,
    seal: Seal,
    heads: Option<HashMap<numbering::Object, Head>>,
) -> Result<(), Error> {
    let rows: Vec<(String, Vec<AttributeChange>)> = rows
        .into_iter()
        .map(|(id, v)| (id, v.into_inner()))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let created_at = now();
    let sealed = seal.is_on();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres && !sealed {
        return record_many_in_recordsets(db, deltas, rows, created_at, heads).await;
    }
    let backend = db.get_database_backend();
    let seal = if sealed { Seal::On } else { Seal::Off };
    // the writer names each version (and, sealed, each link: see
    // `sealed`) from the objects' newest deltas read first, current: MySQL
    // cannot read them in its INSERT (see `numbering`), and SQLite slows
    // down with the square of the rows when each row of a multi-row
    // INSERT reads the table it writes (every row's subquery keeps a
    // cursor open on it, and each row written visits them all: 61 ms for
    // 1,000 rows against 15 ms for the journal's floor)
    let objects: Vec<numbering::Object> = rows
        .iter()
        .map(|(c, _)| (deltas.content_type.to_owned(), c.clone()))
        .collect();
    let written: Vec<Row<'_>> = rows
        .iter()
        .map(|(content_id, changes)| deltas.row(content_id, created_at, changes))
        .collect();
    let build = |heads: HashMap<numbering::Object, Head>| {
        let named = written
            .iter()
            .zip(&objects)
            .map(|(row, object)| {
                let head = heads.get(object).cloned().unwrap_or_default();
                let version = head.version + 1;
                let link = match sealed {
                    true => Some(sealed::link_of(row, version, head.hash.as_deref())?),
                    false => None,
                };
                Ok((*row, version, link))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        insert::values(named, seal)
    };
    let heads = match heads {
        Some(heads) => heads,
        None => current_heads(db, &objects, sealed).await?,
    };
    let insert = build(heads)?;
    match db.execute_raw(backend.build(&insert)).await {
        Err(e) if numbering::version_taken(&e) => {
            // MySQL: a version read from a stale snapshot: read them current
            let insert = build(current_heads(db, &objects, sealed).await?)?;
            db.execute_raw(backend.build(&insert))
                .await
                .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        }
        done => {
            done.map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        }
    }
    Ok(())
}

/// The newest delta of each of `objects` (all of one table), current:
/// with their links when `sealed` (see `sealed::heads`); else a locking
/// read on MySQL (see `numbering`), and on SQLite, whose reads are current
/// (its writers are serialized), one index seek per object (a row-value
/// `IN` of the objects read the table's whole journal there).
async fn current_heads<C: ConnectionTrait>(
    db: &C,
    objects: &[numbering::Object],
    sealed: bool,
) -> Result<HashMap<numbering::Object, Head>, Error> {
    if sealed {
        return sealed::heads(db, objects).await;
    }
    let versions = match (db.get_database_backend(), objects.first()) {
        (_, None) => HashMap::new(),
        (sea_orm::DbBackend::MySql, _) => numbering::newest_versions(db, objects, true).await?,
        (_, Some((content_type, _))) => {
            let ids = objects.iter().map(|(_, id)| id.clone()).collect();
            seen(db, content_type, ids)
                .await?
                .into_iter()
                .map(|(id, version)| ((content_type.clone(), id), version))
                .collect()
        }
    };
    Ok(versions
        .into_iter()
        .map(|(o, version)| {
            let hash = None;
            (o, Head { version, hash })
        })
        .collect())
}

/// [`record_many`] on PostgreSQL, unsealed: one statement (see
/// [`recordset`]), each row's object once in it.
async fn record_many_in_recordsets<C: ConnectionTrait>(
    db: &C,
    deltas: NewObjectDeltas<'_>,
    rows: Vec<(String, Vec<AttributeChange>)>,
    created_at: chrono::DateTime<chrono::Utc>,
    heads: Option<HashMap<numbering::Object, Head>>,
) -> Result<(), Error> {
    let content_type = deltas.content_type.to_owned();
    let rows = rows.iter().map(|(content_id, changes)| recordset::Delta {
        row: deltas.row(content_id, created_at, changes),
        step: 1,
        new_revision: None,
        // an object missing from the heads read has no delta
        base: heads.as_ref().map(|heads| {
            heads
                .get(&(content_type.clone(), content_id.clone()))
                .map_or(0, |head| head.version)
        }),
    });
    db.execute_raw(recordset::statement([], rows))
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(())
}
