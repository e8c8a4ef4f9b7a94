//! Erasure: a person's values out of a row's whole history; the guide is
//! [`erase`]'s documentation.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use revy_core::{Action, Context};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable, PrimaryKeyTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;

use crate::db::keys::{self, content_type};
use crate::error::{Error, JournalError};
use crate::journal::attribute_delta::{AttributeDelta, encode};
use crate::journal::revision::RevisionKind;
use crate::journal::{erasure, object_delta};
use crate::policy::{TrackingPolicy, is_redacted, rules};
use crate::record::Seal;
use crate::record::insert::Row;
use crate::record::rows::{AttributeChange, actor_columns, now};
use crate::tamper::Salts;

pub(crate) use crate::policy::erased as marker;
pub use crate::policy::is_erased;

/// Whether an erasure has a value to remove here: not NULL (it says
/// nothing), not a marker already.
fn holds_value(value: &Value) -> bool {
    !value.is_null() && !is_erased(value) && !is_redacted(value)
}

/// Erasure: removing a person's values from a row's whole history (GDPR
/// article 17), keeping the fact of every change.
///
/// [`erase`] replaces the chosen columns' values in every object delta of
/// one row with the marker `{"revy":"erased"}` ([`is_erased`]): old and
/// new values of its entries, a draft's intermediate values, a baseline's,
/// a checkpoint's whole state and a pruned checkpoint's entries alike. Who
/// changed what, when, and in which revision stays. The erasure is
/// recorded too: a revision of its own (its description says why), a row
/// in `revy_erasures` ([`entity::erasure`](crate::entity::erasure)) naming
/// the erasing actor, the row and the columns, never the values, and an
/// object delta of content type [`ERASURES`] that the change feed and the
/// NATS relay carry to replicas ([`Erasure`]). [`erase_all`] erases many
/// rows, [`ERASE_CHUNK_SIZE`] per transaction.
///
/// # What readers see afterwards
///
/// An erased value reads like a redacted one:
/// - [`history`](crate::history::of()) entries and
///   [`attribute_deltas`](crate::entity::object_delta::Model::attribute_deltas)
///   give the marker ([`FieldValue::Erased`](crate::history::FieldValue::Erased) in
///   a [`HistoryEntry`](crate::history::HistoryEntry));
/// - a snapshot takes the live row's value when the row exists, else the
///   column's default, else NULL when nullable, else it fails with
///   [`HistoryError::ErasedValue`](crate::history::HistoryError::ErasedValue) naming the column;
///   [`restore`](crate::rollback::restore) and [`revert`](crate::rollback::revert) follow
///   from the snapshot;
/// - [`blame`](crate::history::blame()) still names who set the column and when.
///
/// # Tamper evidence
///
/// With tamper evidence on, every value entered its delta's hash as a
/// salted digest; the erasure keeps the erased values' digests and drops
/// their salts (see [`tamper`](crate::tamper)), so
/// [`verify`](crate::tamper::verify()) still passes after it and still names a
/// value changed by hand.
///
/// # Concurrent writes
///
/// The erasure runs in one transaction: on PostgreSQL and MySQL it first
/// locks the live row (a tracked write of it waits, and an erasure waits
/// for a write in progress), then locks and rewrites the row's deltas; on
/// SQLite it takes the write lock before its first read. A write that
/// follows it records the row as it then is: **clear or delete the live
/// row's personal values before you erase them**, or the next checkpoint
/// records them again.
///
/// # What it cannot reach
///
/// Exports made before the erasure, backups, replicas that do not apply
/// it, and the database's own write-ahead log and free pages hold the old
/// values until they are rotated out (PostgreSQL: `VACUUM`; SQLite:
/// `VACUUM` or `secure_delete`). An [`import`](crate::lifecycle::import()) of an
/// export taken before the erasure is refused for the rewritten deltas,
/// which no longer match.
///
/// # Which columns
///
/// Those given to [`columns`](Erase::columns); else the
/// columns the policy names [`personal`](crate::policy::Policy::personal); else
/// every column but the primary key (which names the row in every journal
/// row and cannot be erased). Entries a column had under a name it was
/// [`renamed`](crate::policy::Policy::renamed) from are erased with it.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Context};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// // first the live row forgets, then the journal
/// let mut am = ann.clone().into_active_model();
/// am.name = Set("(forgotten)".into());
/// Context::new().scope(am.update(&db)).await?;
///
/// let done = Context::new()
///     .scope(revy_seaorm::lifecycle::erase::<user::Entity>(ann.id)
///         .columns([user::Column::Name])
///         .reason("request 4711")
///         .exec(&db))
///     .await?;
/// // "Ann" as the create's new value and the update's old one, and the
/// // update's new value: every value of the column goes
/// assert_eq!(done.values, 3);
///
/// let history = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?;
/// for delta in &history {
///     for entry in delta.attribute_deltas()? {
///         if entry.field_name == "name" && entry.old_value != serde_json::Value::Null {
///             assert!(revy_seaorm::lifecycle::is_erased(&entry.old_value));
///         }
///     }
/// }
/// # Ok(()) }
/// ```
pub fn erase<E: TrackingPolicy>(key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType) -> Erase<E> {
    Erase {
        keys: crate::history::key_text::<E>(key).map(|k| vec![k]),
        columns: None,
        reason: None,
        chunk: ERASE_CHUNK_SIZE,
        entity: PhantomData,
    }
}

/// [`erase`] of many rows of `E` (all of a person's orders, say): in
/// transactions of [`ERASE_CHUNK_SIZE`] rows, each recorded as a revision
/// of its own with a row in `revy_erasures` per erased row. A failure
/// leaves the chunks before it erased and the rest untouched; run it
/// again to finish (a row erased already has nothing left to erase).
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// let mut ids = Vec::new();
/// for name in ["Ann", "Bob"] {
///     let row = Context::new()
///         .scope(user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db))
///         .await?;
///     ids.push(row.id);
/// }
/// let done = revy_seaorm::lifecycle::erase_all::<user::Entity>(ids)
///     .columns([user::Column::Name])
///     .exec(&db)
///     .await?;
/// assert_eq!((done.objects, done.values), (2, 2));
/// # Ok(()) }
/// ```
pub fn erase_all<E: TrackingPolicy>(
    keys: impl IntoIterator<Item = <E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
) -> Erase<E> {
    Erase {
        keys: keys
            .into_iter()
            .map(crate::history::key_text::<E>)
            .collect(),
        columns: None,
        reason: None,
        chunk: ERASE_CHUNK_SIZE,
        entity: PhantomData,
    }
}

/// Rows [`erase_all`] erases per transaction.
pub const ERASE_CHUNK_SIZE: usize = 500;

/// An erasure being set up; see [`erase`].
#[must_use = "an erasure does nothing until `.exec(&db)`"]
pub struct Erase<E: EntityTrait> {
    keys: Result<Vec<String>, Error>,
    columns: Option<Vec<E::Column>>,
    reason: Option<String>,
    chunk: usize,
    entity: PhantomData<fn() -> E>,
}

/// What an [`erase`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erased {
    /// The revisions that record the erasure: one per transaction.
    pub revision_ids: Vec<i64>,
    /// Its rows in `revy_erasures`, one per erased row, in key order.
    pub erasure_ids: Vec<i64>,
    /// Rows erased.
    pub objects: u64,
    /// The erased columns, with the names they had before a rename.
    pub columns: Vec<String>,
    /// Object deltas that held an erased value (and were rewritten).
    pub deltas: u64,
    /// Values removed: old and new values of entries, and checkpoint
    /// states' values.
    pub values: u64,
}

impl<E: TrackingPolicy> Erase<E> {
    /// Erases these columns (instead of the policy's personal ones).
    /// Calling it again adds to the list.
    pub fn columns(mut self, columns: impl IntoIterator<Item = E::Column>) -> Self {
        self.columns.get_or_insert_with(Vec::new).extend(columns);
        self
    }

    /// Rows per transaction of an [`erase_all`] (at least 1).
    pub fn chunk_size(mut self, n: usize) -> Self {
        self.chunk = n.max(1);
        self
    }

    /// Why: the erasure revision's description (by default the context's
    /// revision description, else `"erasure"`).
    pub fn reason(mut self, why: impl Into<String>) -> Self {
        self.reason = Some(why.into());
        self
    }

    /// Erases, in one transaction per chunk of rows (one for [`erase`]):
    /// all of a chunk or, on any error, nothing of it. The actor is the
    /// context's.
    pub async fn exec<C>(self, db: &C) -> Result<Erased, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let content_ids = self.keys?;
        let table = content_type::<E>();
        let rules = rules::<E>()?;
        let key: Vec<&'static str> = keys::key_columns::<E>()?
            .into_iter()
            .map(|c| c.as_str())
            .collect();
        let chosen: Vec<&'static str> = match &self.columns {
            Some(columns) => columns.iter().map(|c| c.as_str()).collect(),
            None if !rules.personal().is_empty() => rules.personal().to_vec(),
            None => E::Column::iter()
                .map(|c| c.as_str())
                .filter(|c| !key.contains(c))
                .collect(),
        };
        if let Some(k) = chosen.iter().find(|c| key.contains(c)) {
            return Err(JournalError::Policy {
                table,
                column: (*k).to_owned(),
                problem: "is part of the primary key, which names the row in every \
                          journal row: it cannot be erased (delete the row instead)",
            }
            .into());
        }
        // a column's entries written before a rename carry its old name
        let mut columns: Vec<String> = Vec::new();
        for c in chosen {
            let old = E::Column::iter()
                .find(|col| col.as_str() == c)
                .map_or(&[][..], |col| rules.schema.old_names(col));
            for name in std::iter::once(c).chain(old.iter().map(String::as_str)) {
                if !columns.iter().any(|x| x == name) {
                    columns.push(name.to_owned());
                }
            }
        }
        let description = self.reason.unwrap_or_else(|| {
            let d = Context::revision_description();
            if d.is_empty() {
                "erasure".to_owned()
            } else {
                d
            }
        });
        let mut done = Erased {
            revision_ids: Vec::new(),
            erasure_ids: Vec::new(),
            objects: 0,
            columns,
            deltas: 0,
            values: 0,
        };
        for chunk in content_ids.chunks(self.chunk) {
            let txn = crate::lifecycle::prune::begin(db).await?;
            // a failed chunk rolls back before the error returns: dropping
            // the transaction would only schedule it, and its locks would
            // stay until the connection is used again
            let result = run::<E, _>(&txn, &table, chunk, &description, &mut done).await;
            crate::record::write::finish(txn, result).await?;
        }
        Ok(done)
    }
}

async fn run<E: EntityTrait, C: ConnectionTrait>(
    txn: &C,
    table: &str,
    content_ids: &[String],
    description: &str,
    done: &mut Erased,
) -> Result<(), Error> {
    // first a write: SQLite's write lock (the transaction is IMMEDIATE
    // already), and the revision the erasure belongs to
    let revision_id = crate::record::write::insert_revision(
        txn,
        description.to_owned(),
        RevisionKind::Erasure.meta(),
    )
    .await?;
    if txn.get_database_backend() != DbBackend::Sqlite {
        // the live rows' locks order the erasure with tracked writes of them
        let keys = content_ids
            .iter()
            .map(|id| keys::key_values_from_id::<E::ActiveModel>(id))
            .collect::<Result<Vec<_>, Error>>()?;
        E::find()
            .filter(crate::db::keyset::key_in::<E>(&keys))
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    let columns = done.columns.clone();
    let (per_object, values) = erase_deltas(txn, table, content_ids, &columns).await?;
    let actor = Context::actor();
    let (actor_type, actor_id) = actor_columns(&actor);
    let names = serde_json::to_string(&columns).unwrap_or_else(|_| "[]".into());
    let created_at = now();
    let mut insert = Query::insert();
    insert.into_table(erasure::Entity).columns([
        erasure::Column::RevisionId,
        erasure::Column::ActorType,
        erasure::Column::ActorId,
        erasure::Column::ContentType,
        erasure::Column::ContentId,
        erasure::Column::Columns,
        erasure::Column::Deltas,
        erasure::Column::CreatedAt,
    ]);
    for content_id in content_ids {
        let deltas = per_object.get(content_id.as_str()).copied().unwrap_or(0);
        insert
            .values([
                Expr::val(revision_id),
                Expr::val(actor_type.clone()),
                Expr::val(actor_id.clone()),
                Expr::val(table),
                Expr::val(content_id.as_str()),
                Expr::val(names.as_str()),
                Expr::val(i64::try_from(deltas).unwrap_or(i64::MAX)),
                Expr::val(created_at),
            ])
            // sea-query refused the statement revy built: a bug in revy,
            // with no fix a caller could make, so no typed error
            .map_err(|e| Error::Db(sea_orm::DbErr::Custom(format!("revy_erasures: {e}"))))?;
    }
    let erasure_ids =
        crate::record::flush::consecutive_ids(txn, insert, content_ids.len(), "revy_erasures")
            .await?;
    let records: Vec<(i64, Erasure, u64)> = erasure_ids
        .iter()
        .zip(content_ids)
        .map(|(id, content_id)| {
            let what = Erasure {
                content_type: table.to_owned(),
                content_id: content_id.clone(),
                columns: columns.clone(),
            };
            let deltas = per_object.get(content_id.as_str()).copied().unwrap_or(0);
            (*id, what, deltas)
        })
        .collect();
    record_for_the_feed(txn, revision_id, &actor, created_at, &records).await?;
    done.revision_ids.push(revision_id);
    done.erasure_ids.extend(erasure_ids);
    done.objects += content_ids.len() as u64;
    done.deltas += per_object.values().sum::<u64>();
    done.values += values;
    Ok(())
}

/// Rewrites the deltas of these objects of `table` with the values of
/// `columns` erased: per object, how many deltas were rewritten; and how
/// many values were removed in all.
async fn erase_deltas<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    content_ids: &[String],
    columns: &[String],
) -> Result<(std::collections::HashMap<String, u64>, u64), Error> {
    use object_delta::Column as D;
    let deltas = object_delta::Entity::find()
        .filter(D::ContentType.eq(table))
        .filter(D::ContentId.is_in(content_ids.iter().map(String::as_str)))
        .order_by_asc(D::Id)
        .lock_exclusive()
        .all(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let mut rewritten: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut values = 0u64;
    let mut changed: Vec<(i64, Rewritten)> = Vec::new();
    for delta in deltas {
        let Some(change) = rewrite(&delta, columns)? else {
            continue;
        };
        values += change.values;
        *rewritten.entry(delta.content_id.clone()).or_default() += 1;
        changed.push((delta.id, change));
    }
    for part in changed.chunks(ROWS_PER_UPDATE) {
        txn.execute(&update_of(part))
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    }
    Ok((rewritten, values))
}

/// Rewritten deltas per `UPDATE`: a statement per row cost PostgreSQL
/// about 85 µs a row more than plain sea-orm's own rewrite of as many rows
/// (`benches/erase.rs`); one per hundred, with a `CASE` on the id, does
/// not. Seven parameters a row, far under every backend's limit.
const ROWS_PER_UPDATE: usize = 100;

/// One `UPDATE` of these deltas' entries, salts and states, each by id.
fn update_of(part: &[(i64, Rewritten)]) -> sea_orm::sea_query::UpdateStatement {
    use object_delta::Column as D;
    use sea_orm::sea_query::CaseStatement;
    let case = |pick: &dyn Fn(&Rewritten) -> Expr, otherwise: D| {
        let mut case = CaseStatement::new();
        for (id, change) in part {
            case = case.case(Expr::col(D::Id).eq(*id), pick(change));
        }
        let case: Expr = case.finally(Expr::col(otherwise)).into();
        case
    };
    let mut update = Query::update();
    update
        .table(object_delta::Entity)
        .value(
            D::Changes,
            case(&|c| Expr::val(c.changes.clone()), D::Changes),
        )
        .value(D::Salt, case(&|c| Expr::val(c.salt.clone()), D::Salt))
        .value(D::State, case(&|c| Expr::val(c.state.clone()), D::State))
        .and_where(Expr::col(D::Id).is_in(part.iter().map(|(id, _)| *id)));
    update
}

/// Each erasure's own object delta, of the object `revy_erasures` /
/// its id there: so that the change feed, the NATS relay and exports carry
/// it in order with everything else, and tamper evidence chains it. One
/// statement for a chunk.
async fn record_for_the_feed<C: ConnectionTrait>(
    txn: &C,
    revision_id: i64,
    actor: &Option<revy_core::Actor>,
    created_at: chrono::DateTime<chrono::Utc>,
    records: &[(i64, Erasure, u64)],
) -> Result<(), Error> {
    if records.is_empty() {
        return Ok(());
    }
    let seal = Seal::current();
    let texts: Vec<(String, Vec<AttributeChange>)> = records
        .iter()
        .map(|(id, what, deltas)| (id.to_string(), what.entries(*deltas, actor)))
        .collect();
    let mut rows = Vec::with_capacity(texts.len());
    for (content_id, changes) in &texts {
        let row = Row {
            revision_id,
            actor,
            action: Action::Create,
            description: "",
            content_type: ERASURES,
            content_id,
            created_at,
            changes,
        };
        // a new object: version 1, the start of its chain
        let link = match seal {
            Seal::On => Some(crate::record::sealed::link_of(&row, 1, None)?),
            Seal::Off => None,
        };
        rows.push((row, 1, link));
    }
    let insert = crate::record::insert::values(rows, seal)?;
    txn.execute(&insert)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(())
}

/// The content type of erasures in the journal and the change feed: each
/// [`erase`] writes one object delta of it (a create, key: the erasure's
/// id in `revy_erasures`) that says what was erased, never a value. A
/// consumer that filters the feed by table ([`Feed::only`](crate::feed::Feed::only))
/// lists it to receive erasures.
pub const ERASURES: &str = "revy_erasures";

/// An erasure as the journal and the change feed carry it: which columns
/// of which row. A replica that copies the journal applies it to its copy
/// with [`apply`](Self::apply).
///
/// ```no_run
/// # async fn f(primary: &sea_orm::DatabaseConnection, replica: &sea_orm::DatabaseConnection) -> Result<(), revy_seaorm::Error> {
/// use revy_seaorm::feed::Feed;
///
/// let mut feed = Feed::from_cursor(0);
/// for delivered in feed.next_batch(primary).await? {
///     // ... copy the revision and its deltas to the replica, then:
///     for delta in &delivered.deltas {
///         if let Some(erasure) = revy_seaorm::lifecycle::Erasure::of(&delta.object)? {
///             erasure.apply(replica).await?;
///         }
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erasure {
    /// The erased row's table.
    pub content_type: String,
    /// The erased row's key text.
    pub content_id: String,
    /// The erased columns.
    pub columns: Vec<String>,
}

impl Erasure {
    /// The erasure an object delta records, if it is one (its content type
    /// is [`ERASURES`]); an error when it is one revy did not write.
    pub fn of(delta: &object_delta::Model) -> Result<Option<Erasure>, Error> {
        if delta.content_type != ERASURES {
            return Ok(None);
        }
        let bad = |reason: &str| {
            Error::from(JournalError::BadEntries {
                object_delta_id: delta.id,
                reason: format!("not an erasure: {reason}"),
            })
        };
        let entries = delta.attribute_deltas()?;
        let text = |name: &str| {
            entries
                .iter()
                .find(|e| e.field_name == name)
                .and_then(|e| e.new_value.as_str())
                .map(str::to_owned)
                .ok_or_else(|| bad(name))
        };
        let columns: Vec<String> =
            serde_json::from_str(&text("columns")?).map_err(|_| bad("columns"))?;
        Ok(Some(Erasure {
            content_type: text("content_type")?,
            content_id: text("content_id")?,
            columns,
        }))
    }

    /// Erases these columns from every delta of the row in `db`'s journal,
    /// as [`erase`] did at the source (a journal copied before the erasure
    /// is rewritten; one copied after holds nothing to erase): how many
    /// values were removed. It records nothing itself: the erasure's own
    /// revision and delta are copied like any other. Run it inside the
    /// transaction that copies the erasure's revision.
    pub async fn apply<C: ConnectionTrait>(&self, db: &C) -> Result<u64, Error> {
        let (_, values) = erase_deltas(
            db,
            &self.content_type,
            std::slice::from_ref(&self.content_id),
            &self.columns,
        )
        .await?;
        Ok(values)
    }

    fn entries(&self, deltas: u64, actor: &Option<revy_core::Actor>) -> Vec<AttributeChange> {
        let names = serde_json::to_string(&self.columns).unwrap_or_else(|_| "[]".into());
        let entry = |name: &str, value: Value| AttributeChange {
            field_name: name.to_owned(),
            old_value: Value::Null,
            new_value: value,
            actor: actor.clone(),
            description: String::new(),
        };
        vec![
            entry("content_type", Value::String(self.content_type.clone())),
            entry("content_id", Value::String(self.content_id.clone())),
            entry("columns", Value::String(names)),
            entry("deltas", Value::from(deltas)),
        ]
    }
}

/// A delta's columns after an erasure.
struct Rewritten {
    changes: String,
    salt: Option<String>,
    state: Option<String>,
    values: u64,
}

/// `delta` with the values of `columns` erased; `None` when it holds none.
fn rewrite(delta: &object_delta::Model, columns: &[String]) -> Result<Option<Rewritten>, Error> {
    let erasing = |name: &str| columns.iter().any(|c| c == name);
    let mut entries: Vec<AttributeDelta> = delta.attribute_deltas()?;
    let mut erased = BTreeSet::new();
    let mut all: Vec<Value> = Vec::with_capacity(entries.len() * 2);
    for (k, entry) in entries.iter().enumerate() {
        all.push(entry.old_value.clone());
        all.push(entry.new_value.clone());
        if erasing(&entry.field_name) {
            if holds_value(&entry.old_value) {
                erased.insert(2 * k);
            }
            if holds_value(&entry.new_value) {
                erased.insert(2 * k + 1);
            }
        }
    }
    let mut values = erased.len() as u64;
    let state = match &delta.state {
        Some(text) => {
            let (state, n) =
                erase_state(text, &erasing).map_err(|reason| JournalError::BadEntries {
                    object_delta_id: delta.id,
                    reason,
                })?;
            values += n;
            Some(state)
        }
        None => None,
    };
    if values == 0 {
        return Ok(None);
    }
    let salt = match Salts::parse(delta.salt.as_deref()) {
        // only a checkpoint's state changes, which the hash does not cover
        _ if erased.is_empty() => delta.salt.clone(),
        Ok(salts) => {
            let refs: Vec<&Value> = all.iter().collect();
            salts.erase(&refs, &erased).text()
        }
        // not what revy wrote: left for `verify` to report
        Err(()) => delta.salt.clone(),
    };
    for &position in &erased {
        if let Some(entry) = entries.get_mut(position / 2) {
            if position % 2 == 0 {
                entry.old_value = marker();
            } else {
                entry.new_value = marker();
            }
        }
    }
    Ok(Some(Rewritten {
        changes: encode(&entries, &delta.actor(), &delta.description),
        salt,
        state,
        values,
    }))
}

/// A checkpoint's state (a JSON object from column to `[value, setter]`)
/// with the values of erased columns replaced, and how many were.
fn erase_state(text: &str, erasing: &dyn Fn(&str) -> bool) -> Result<(String, u64), String> {
    let mut state: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| format!("checkpoint state: {e}"))?;
    let mut n = 0;
    for (column, pair) in state.iter_mut() {
        if !erasing(column) {
            continue;
        }
        if let Some(value) = pair.as_array_mut().and_then(|p| p.first_mut())
            && holds_value(value)
        {
            *value = marker();
            n += 1;
        }
    }
    Ok((Value::Object(state).to_string(), n))
}
