//! Reading a prune's export back into a journal, so that an export is a
//! real backup.

use std::collections::BTreeSet;
use std::io::BufRead;

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityName, EntityTrait,
    QueryFilter, TransactionTrait,
};

use crate::error::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::object_delta;
use crate::journal::revision::{self, RevisionKind};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::export::{FORMAT, Line, ObjectDeltaRow, RevisionRow};
use crate::lifecycle::prune::{begin, fold, remove_empty_revisions};
use crate::record::rows::AttributeChange;
use crate::record::write::finish;

/// What an [`import`] did.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// # revy_seaorm::install(&db).await?;
/// let report = revy_seaorm::lifecycle::import("".as_bytes()).exec(&db).await?;
/// assert_eq!(report, revy_seaorm::lifecycle::ImportReport::default());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Revisions written.
    pub revisions: u64,
    /// Object deltas written.
    pub object_deltas: u64,
    /// Attribute deltas written.
    pub attribute_deltas: u64,
    /// Checkpoints replaced by the history they had folded.
    pub checkpoints_replaced: u64,
    /// Object deltas left out because the journal holds them already, with
    /// the same content field for field, attribute deltas included (a line
    /// imported before, or an export's line repeated), or holds more than
    /// the export has (the export's delta is a checkpoint, and the journal
    /// holds the history it folds). A delta whose id the journal holds
    /// with other content is never counted here: the import fails with
    /// [`LifecycleError::ImportConflict`].
    pub skipped: u64,
}

/// Reads a [`prune`](crate::lifecycle::prune())'s export (JSON Lines) back into the
/// journal, every row with its original id, actor, description and time.
///
/// Into the journal the export came from, the pruned history returns and
/// each checkpoint it had folded into is replaced by the original delta, so
/// snapshots before the cut are back; into an empty journal (one restored
/// from a backup, or a fresh archive database), the exported history alone.
/// Each line is one transaction; a line already imported is skipped, so an
/// import stopped midway is finished by running it again, running it twice
/// changes nothing, and exports may be read in any order.
///
/// Imported ids are the original ones. A delta counts as imported only when
/// the journal holds it with the same content (every field of the delta
/// and of its attribute deltas). When the journal holds that id for other
/// content (a journal dropped and installed again numbers its new deltas
/// from 1, so new history of the same row can take the export's ids), the
/// import stops with [`LifecycleError::ImportConflict`]
/// naming the delta, its table and its row: nothing of that line is
/// written, the lines before it are, and the journal's own history is left
/// as it was. Import such an export into an empty journal (an archive
/// database) instead, or before tracked writes start on a new journal. On
/// PostgreSQL the id sequences are moved past the imported ids at the end.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use revy_seaorm::history::ObjectSnapshot;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let mut row = ann.clone();
/// for name in ["Anna", "Annie"] {
///     let mut am = row.into_active_model();
///     am.name = Set(name.into());
///     row = Context::new().scope(am.update(&db)).await?;
/// }
///
/// // create and first rename fold into a checkpoint; the export keeps them
/// let mut backup = Vec::new();
/// revy_seaorm::lifecycle::prune().keep_last(1).export(&mut backup).exec(&db).await?;
/// assert_eq!(revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?.len(), 2);
///
/// let report = revy_seaorm::lifecycle::import(backup.as_slice()).exec(&db).await?;
/// assert_eq!(report.checkpoints_replaced, 1);
/// assert_eq!(revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?.len(), 3);
/// let first = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?.pop().unwrap();
/// assert_eq!(ObjectSnapshot::<user::Entity>::at(first.id).one(&db).await?, Some(ann));
/// # Ok(()) }
/// ```
pub fn import<R: BufRead>(reader: R) -> Import<R> {
    Import { reader }
}

/// What [`import`] makes: nothing happens until
/// [`.exec(db)`](Import::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct Import<R: BufRead> {
    reader: R,
}

impl<R: BufRead> Import<R> {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<ImportReport, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let Self { reader } = self;
        let mut report = ImportReport::default();
        let mut touched = BTreeSet::new();
        let result = import_lines(db, reader, &mut report, &mut touched).await;
        // ids were written as they were: make the next ones come after them
        let moved = move_sequences(db).await;
        // the imported objects' checkpoints, written again from their first
        // deltas (an imported delta may land anywhere in an object's history)
        let checkpoints = rebuild_checkpoints(db, &touched).await;
        result.and(moved).and(checkpoints).map(|()| report)
    }
}

/// Objects per transaction of [`rebuild_checkpoints`].
const OBJECTS_PER_REBUILD: usize = 200;

/// Writes the checkpoints of the imported objects again, 200 objects a
/// transaction. Until it runs, those objects have none past their imported
/// deltas (`import_line` clears them), which reads the same, only slower.
async fn rebuild_checkpoints<C>(db: &C, touched: &BTreeSet<(String, String)>) -> Result<(), Error>
where
    C: ConnectionTrait + TransactionTrait,
{
    let objects: Vec<&(String, String)> = touched.iter().collect();
    for chunk in objects.chunks(OBJECTS_PER_REBUILD) {
        let mut which = Condition::any();
        for (content_type, content_id) in chunk {
            which = which.add(
                Condition::all()
                    .add(object_delta::Column::ContentType.eq(content_type.as_str()))
                    .add(object_delta::Column::ContentId.eq(content_id.as_str())),
            );
        }
        let txn = begin(db).await?;
        let result = crate::record::checkpoint::rebuild(&txn, which).await;
        finish(txn, result).await?;
    }
    Ok(())
}

async fn import_lines<C, R>(
    db: &C,
    reader: R,
    report: &mut ImportReport,
    touched: &mut BTreeSet<(String, String)>,
) -> Result<(), Error>
where
    C: ConnectionTrait + TransactionTrait,
    R: BufRead,
{
    for (n, text) in (1u64..).zip(reader.lines()) {
        let at_line = |reason: String| Error::from(LifecycleError::Import { line: n, reason });
        let text = text.map_err(|e| at_line(e.to_string()))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text)
            .map_err(|e| at_line(format!("not a line of a revy export: {e}")))?;
        if line.format > FORMAT {
            return Err(at_line(format!(
                "the line is in export format {}, newer than this revy reads ({FORMAT}): \
                 import it with a newer revy",
                line.format
            )));
        }
        let txn = begin(db).await?;
        let result = import_line(&txn, line, report, touched).await;
        finish(txn, result).await.map_err(|e| match e {
            Error::Db(db) => at_line(db.to_string()),
            other => other,
        })?;
    }
    Ok(())
}

async fn import_line<C: ConnectionTrait>(
    txn: &C,
    line: Line,
    report: &mut ImportReport,
    touched: &mut BTreeSet<(String, String)>,
) -> Result<(), Error> {
    let Line {
        revision,
        object_deltas,
        ..
    } = line;
    let line_revision = revision.id;
    let incoming_checkpoint = revision.kind() == RevisionKind::Checkpoint;
    let mut revision = Some(revision);
    let mut emptied = Vec::new();
    for delta in object_deltas {
        let found = object_delta::Entity::find_by_id(delta.id)
            .one(txn)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        if let Some(found) = found {
            match judge(txn, &found, &delta, line_revision, incoming_checkpoint).await? {
                Held::Already => {
                    report.skipped += 1;
                    continue;
                }
                Held::Checkpoint => {}
                Held::Other => {
                    return Err(LifecycleError::ImportConflict {
                        id: delta.id,
                        content_type: delta.content_type,
                        content_id: delta.content_id,
                    }
                    .into());
                }
            }
            // the checkpoint that folded this history gives way to it
            object_delta::Entity::delete_by_id(found.id)
                .exec(txn)
                .await
                .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
            emptied.push(found.revision_id);
            report.checkpoints_replaced += 1;
        }
        if let Some(row) = revision.take() {
            insert_revision(txn, row, report).await?;
        }
        let object = (delta.content_type.clone(), delta.content_id.clone());
        let id = delta.id;
        insert_object_delta(txn, delta, line_revision, report).await?;
        clear_checkpoints_after(txn, &object, id).await?;
        touched.insert(object);
    }
    remove_empty_revisions(txn, &emptied).await?;
    Ok(())
}

/// Clears the object's checkpoints after an imported delta: they folded
/// its history without it. [`rebuild_checkpoints`] writes them again.
async fn clear_checkpoints_after<C: ConnectionTrait>(
    txn: &C,
    (content_type, content_id): &(String, String),
    id: i64,
) -> Result<(), Error> {
    use object_delta::Column as D;
    object_delta::Entity::update_many()
        .col_expr(D::State, Expr::value(Option::<String>::None))
        .filter(D::ContentType.eq(content_type.as_str()))
        .filter(D::ContentId.eq(content_id.as_str()))
        .filter(D::Id.gt(id))
        .filter(D::State.is_not_null())
        .exec(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(())
}

/// What the journal holds under an imported object delta's id.
enum Held {
    /// The same delta, or more than it (the delta in full, where the
    /// export has its checkpoint): nothing to import.
    Already,
    /// A checkpoint that folded this very delta: the delta replaces it.
    Checkpoint,
    /// Another delta: a journal whose ids were reused since the export.
    Other,
}

/// Compares the journal's delta under an imported delta's id with the
/// imported one. Ids alone prove nothing: a journal dropped and installed
/// again numbers its new deltas from 1, for the same rows and revisions,
/// so only the content tells a delta imported before from another one.
async fn judge<C: ConnectionTrait>(
    txn: &C,
    found: &object_delta::Model,
    delta: &ObjectDeltaRow,
    line_revision: i64,
    incoming_checkpoint: bool,
) -> Result<Held, Error> {
    if found.content_type != delta.content_type || found.content_id != delta.content_id {
        return Ok(Held::Other);
    }
    if same_delta(found, delta, line_revision)? {
        return Ok(Held::Already);
    }
    // a checkpoint keeps the time, version and chain link of the delta it
    // replaced; another delta of the same row with the same id has another
    // time (ids are only reused by a journal installed again)
    let same_moment = found.created_at == delta.created_at
        && delta.version.is_none_or(|v| v == found.version)
        && found.hash == delta.hash;
    if !same_moment {
        return Ok(Held::Other);
    }
    if incoming_checkpoint {
        // the export holds the checkpoint of a delta the journal holds in
        // full: it is the journal's own history only if it folds to it
        return Ok(if folds_to(txn, delta).await? {
            Held::Already
        } else {
            Held::Other
        });
    }
    Ok(if is_checkpoint(txn, found.revision_id).await? {
        Held::Checkpoint
    } else {
        Held::Other
    })
}

/// Whether the journal's delta `found` and its attribute deltas are, field
/// for field, the imported delta (a line imported before).
fn same_delta(
    found: &object_delta::Model,
    delta: &ObjectDeltaRow,
    line_revision: i64,
) -> Result<bool, Error> {
    let same_row = found.revision_id == line_revision
        && found.actor_type == delta.actor_type
        && found.actor_id == delta.actor_id
        && found.action == delta.action
        && found.description == delta.description
        && found.created_at == delta.created_at
        && delta.version.is_none_or(|v| v == found.version)
        && found.hash == delta.hash
        && found.seal == delta.seal
        && found.salt == delta.salt;
    if !same_row {
        return Ok(false);
    }
    // the entries in order: the journal's inline ones against the line's
    // (a format 1 line lists them by id, which is their order)
    let held = found.attribute_deltas()?;
    let mut incoming: Vec<_> = delta.attribute_deltas.iter().collect();
    incoming.sort_by_key(|a| a.id);
    Ok(held.len() == incoming.len()
        && held
            .iter()
            .zip(incoming)
            .all(|(h, a)| *h == a.to_attribute_delta()))
}

/// Whether the journal's history of the imported checkpoint's row, up to
/// and including the checkpoint's id, folds to the checkpoint's state.
async fn folds_to<C: ConnectionTrait>(txn: &C, checkpoint: &ObjectDeltaRow) -> Result<bool, Error> {
    let mut state = fold(
        txn,
        &checkpoint.content_type,
        &checkpoint.content_id,
        checkpoint.id,
    )
    .await?;
    let mut incoming: Vec<(&str, &serde_json::Value)> = checkpoint
        .attribute_deltas
        .iter()
        .map(|a| (a.field_name.as_str(), &a.new_value))
        .collect();
    state.sort_by(|a, b| a.0.cmp(&b.0));
    incoming.sort_by(|a, b| a.0.cmp(b.0));
    Ok(state.len() == incoming.len()
        && state
            .iter()
            .zip(incoming)
            .all(|((field, value), (f, v))| field == f && value == v))
}

async fn is_checkpoint<C: ConnectionTrait>(txn: &C, revision_id: i64) -> Result<bool, Error> {
    let found = revision::Entity::find_by_id(revision_id)
        .one(txn)
        .await
        .map_err(|e| Error::from_journal("revy_revisions", e))?;
    Ok(found.is_some_and(|r| r.kind() == RevisionKind::Checkpoint))
}

/// Writes the line's revision unless the journal has it (an earlier line
/// of the same revision, from another chunk).
async fn insert_revision<C: ConnectionTrait>(
    txn: &C,
    row: RevisionRow,
    report: &mut ImportReport,
) -> Result<(), Error> {
    let journal = |e| Error::from_journal("revy_revisions", e);
    if let Some(found) = revision::Entity::find_by_id(row.id)
        .one(txn)
        .await
        .map_err(journal)?
    {
        if found.created_at == row.created_at && found.description == row.description {
            return Ok(());
        }
        return Err(LifecycleError::ImportRevisionConflict {
            id: row.id,
            created_at: row.created_at,
            journal_created_at: found.created_at,
        }
        .into());
    }
    revision::Entity::insert(revision::ActiveModel {
        id: Set(row.id),
        description: Set(row.description),
        meta: Set(row.meta),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(txn)
    .await
    .map_err(journal)?;
    report.revisions += 1;
    Ok(())
}

async fn insert_object_delta<C: ConnectionTrait>(
    txn: &C,
    delta: ObjectDeltaRow,
    revision_id: i64,
    report: &mut ImportReport,
) -> Result<(), Error> {
    let ObjectDeltaRow {
        id,
        actor_type,
        actor_id,
        action,
        description,
        content_type,
        content_id,
        created_at,
        version,
        hash,
        seal,
        salt,
        attribute_deltas,
    } = delta;
    // an export written before object versions existed: number the
    // object's deltas as they come (the import goes in id order)
    let version = match version {
        Some(v) => v,
        None => {
            crate::versions::newest(txn, &content_type, &content_id)
                .await?
                .unwrap_or(0)
                + 1
        }
    };
    let object_actor = crate::journal::actor_from_columns(actor_type.clone(), actor_id.clone());
    let inline: Vec<AttributeChange> = attribute_deltas
        .iter()
        .map(|a| AttributeChange {
            field_name: a.field_name.clone(),
            old_value: a.old_value.clone(),
            new_value: a.new_value.clone(),
            actor: crate::journal::actor_from_columns(a.actor_type.clone(), a.actor_id.clone()),
            description: a.description.clone(),
        })
        .collect();
    let changes = encode_entries(&inline, &object_actor, &description);
    let entry_count = inline.len() as u64;
    object_delta::Entity::insert(object_delta::ActiveModel {
        id: Set(id),
        revision_id: Set(revision_id),
        actor_type: Set(actor_type),
        actor_id: Set(actor_id),
        action: Set(action),
        description: Set(description),
        content_type: Set(content_type.clone()),
        content_id: Set(content_id.clone()),
        created_at: Set(created_at),
        version: Set(version),
        hash: Set(hash),
        seal: Set(seal),
        salt: Set(salt),
        changes: Set(changes),
        state: sea_orm::ActiveValue::NotSet,
    })
    .exec_without_returning(txn)
    .await
    .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    report.object_deltas += 1;
    report.attribute_deltas += entry_count;
    Ok(())
}

/// On PostgreSQL, moves each journal table's id sequence past the largest
/// id, which rows written with their own ids do not do (MySQL's
/// AUTO_INCREMENT and SQLite's AUTOINCREMENT follow by themselves).
async fn move_sequences<C: ConnectionTrait>(db: &C) -> Result<(), Error> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in [
        revision::Entity.table_name(),
        object_delta::Entity.table_name(),
    ] {
        let sequence = || {
            Expr::from(
                Func::cust("pg_get_serial_sequence").args([Expr::val(table), Expr::val("id")]),
            )
        };
        let next_free = Query::select()
            .expr(
                Expr::from(Func::coalesce([
                    Expr::from(Func::max(Expr::col(Alias::new("id")))),
                    Expr::val(0i64),
                ]))
                .add(1i64),
            )
            .from(Alias::new(table))
            .to_owned();
        let set = Query::select()
            .expr(Func::cust("setval").args([
                sequence(),
                Expr::from(Func::greatest([
                    Expr::from(Func::cust("nextval").arg(sequence())),
                    Expr::SubQuery(None, Box::new(next_free.into())),
                ])),
                Expr::val(false),
            ]))
            .to_owned();
        db.query_one_raw(db.get_database_backend().build(&set))
            .await
            .map_err(Error::Db)?;
    }
    Ok(())
}
