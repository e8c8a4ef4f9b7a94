//! Erasure: removing a person's values from a row's whole history (GDPR
//! article 17), keeping the fact of every change.
//!
//! [`erase`] replaces the chosen columns' values in every object delta of
//! one row with the marker `{"revy":"erased"}` ([`is_erased`]): old and
//! new values of its entries, a draft's intermediate values, a baseline's,
//! a checkpoint's whole state and a pruned checkpoint's entries alike. Who
//! changed what, when, and in which revision stays. The erasure is
//! recorded too: a revision of its own (its description says why) and a
//! row in `revy_erasures` ([`entity::erasure`](crate::entity::erasure))
//! naming the erasing actor, the row and the columns, never the values.
//!
//! # What readers see afterwards
//!
//! An erased value reads like a redacted one:
//! - [`history`](crate::history()) entries and
//!   [`attribute_deltas`](crate::entity::object_delta::Model::attribute_deltas)
//!   give the marker ([`FieldValue::Erased`](crate::FieldValue::Erased) in
//!   a [`HistoryEntry`](crate::HistoryEntry));
//! - a snapshot takes the live row's value when the row exists, else the
//!   column's default, else NULL when nullable, else it fails with
//!   [`Error::NotRecorded`] naming the column as erased;
//!   [`restore`](crate::restore) and [`revert`](crate::revert) follow
//!   from the snapshot;
//! - [`blame`](crate::blame()) still names who set the column and when.
//!
//! # Tamper evidence
//!
//! With tamper evidence on, every value entered its delta's hash as a
//! salted digest; the erasure keeps the erased values' digests and drops
//! their salts (see [`tamper`](crate::tamper)), so
//! [`verify`](crate::verify()) still passes after it and still names a
//! value changed by hand.
//!
//! # Concurrent writes
//!
//! The erasure runs in one transaction: on PostgreSQL and MySQL it first
//! locks the live row (a tracked write of it waits, and an erasure waits
//! for a write in progress), then locks and rewrites the row's deltas; on
//! SQLite it takes the write lock before its first read. A write that
//! follows it records the row as it then is: **clear or delete the live
//! row's personal values before you erase them**, or the next checkpoint
//! records them again.
//!
//! # What it cannot reach
//!
//! Exports made before the erasure, backups, replicas that do not apply
//! it, and the database's own write-ahead log and free pages hold the old
//! values until they are rotated out (PostgreSQL: `VACUUM`; SQLite:
//! `VACUUM` or `secure_delete`). An [`import`](crate::import()) of an
//! export taken before the erasure is refused for the rewritten deltas,
//! which no longer match.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use revy_core::{Action, Context};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable,
    PrimaryKeyTrait, QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::Value;

use crate::Error;
use crate::journal::attribute_delta::{AttributeDelta, encode};
use crate::journal::{erasure, object_delta};
use crate::keys::{self, content_type};
use crate::policy::{TrackingPolicy, is_redacted, rules};
use crate::record::Seal;
use crate::record::insert::Row;
use crate::record::rows::{AttributeChange, actor_columns, now};
use crate::tamper::Salts;

const MARKER_KEY: &str = "revy";
const MARKER: &str = "erased";

/// Whether a journal value is the marker an [`erase`] left in place of a
/// value: `{"revy": "erased"}`.
///
/// ```
/// use serde_json::json;
/// assert!(revy_seaorm::is_erased(&json!({"revy": "erased"})));
/// assert!(!revy_seaorm::is_erased(&json!("erased")));
/// assert!(!revy_seaorm::is_erased(&json!({"revy": "redacted"})));
/// ```
pub fn is_erased(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.get(MARKER_KEY).and_then(|v| v.as_str()) == Some(MARKER))
}

pub(crate) fn marker() -> Value {
    serde_json::json!({ MARKER_KEY: MARKER })
}

/// Whether an erasure has a value to remove here: not NULL (it says
/// nothing), not a marker already.
fn holds_value(value: &Value) -> bool {
    !value.is_null() && !is_erased(value) && !is_redacted(value)
}

/// Erases values of the row `key` of `E` from the journal: see the
/// [module](self).
///
/// Which columns: those given to [`columns`](Erase::columns); else the
/// columns the policy names [`personal`](crate::Policy::personal); else
/// every column but the primary key (which names the row in every journal
/// row and cannot be erased). Entries a column had under a name it was
/// [`renamed`](crate::Policy::renamed) from are erased with it.
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
///     .scope(revy_seaorm::erase::<user::Entity>(ann.id)
///         .columns([user::Column::Name])
///         .reason("request 4711")
///         .exec(&db))
///     .await?;
/// // "Ann" as the create's new value and the update's old one, and the
/// // update's new value: every value of the column goes
/// assert_eq!(done.values, 3);
///
/// let history = revy_seaorm::history::<user::Entity>(ann.id).all(&db).await?;
/// for delta in &history {
///     for entry in delta.attribute_deltas()? {
///         if entry.field_name == "name" && entry.old_value != serde_json::Value::Null {
///             assert!(revy_seaorm::is_erased(&entry.old_value));
///         }
///     }
/// }
/// # Ok(()) }
/// ```
pub fn erase<E: TrackingPolicy>(key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType) -> Erase<E> {
    Erase {
        key: crate::history::key_text::<E>(key),
        columns: None,
        reason: None,
        entity: PhantomData,
    }
}

/// An erasure being set up; see [`erase`].
#[must_use = "an erasure does nothing until `.exec(&db)`"]
pub struct Erase<E: EntityTrait> {
    key: Result<String, Error>,
    columns: Option<Vec<E::Column>>,
    reason: Option<String>,
    entity: PhantomData<fn() -> E>,
}

/// What an [`erase`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erased {
    /// The revision that records the erasure.
    pub revision_id: i64,
    /// Its row in `revy_erasures`.
    pub erasure_id: i64,
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

    /// Why: the erasure revision's description (by default the context's
    /// revision description, else `"erasure"`).
    pub fn reason(mut self, why: impl Into<String>) -> Self {
        self.reason = Some(why.into());
        self
    }

    /// Erases, in one transaction: all of it or, on any error, nothing.
    /// The actor is the context's.
    pub async fn exec<C>(self, db: &C) -> Result<Erased, Error>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let content_id = self.key?;
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
            return Err(Error::Policy {
                table,
                column: (*k).to_owned(),
                problem: "is part of the primary key, which names the row in every \
                          journal row: it cannot be erased (delete the row instead)",
            });
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
        let txn = crate::prune::begin(db).await?;
        let done = run::<E, _>(&txn, &table, &content_id, columns, description).await?;
        txn.commit().await?;
        Ok(done)
    }
}

async fn run<E: EntityTrait, C: ConnectionTrait>(
    txn: &C,
    table: &str,
    content_id: &str,
    columns: Vec<String>,
    description: String,
) -> Result<Erased, Error> {
    // first a write: SQLite's write lock (the transaction is IMMEDIATE
    // already), and the revision the erasure belongs to
    let revision_id = crate::record::write::insert_revision(
        txn,
        description,
        serde_json::json!({ "revy": "erasure" }),
    )
    .await?;
    let backend = txn.get_database_backend();
    if backend != DbBackend::Sqlite {
        // the live row's lock orders the erasure with tracked writes of it
        let values = keys::key_values_from_id::<E::ActiveModel>(content_id)?;
        E::find()
            .filter(crate::keyset::key_in::<E>(&[values]))
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    let (rewritten, values) = erase_deltas(txn, table, content_id, &columns).await?;
    let actor = Context::actor();
    let (actor_type, actor_id) = actor_columns(&actor);
    let names = serde_json::to_string(&columns).unwrap_or_else(|_| "[]".into());
    let row = erasure::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        revision_id: Set(revision_id),
        actor_type: Set(actor_type),
        actor_id: Set(actor_id),
        content_type: Set(table.to_owned()),
        content_id: Set(content_id.to_owned()),
        columns: Set(names),
        deltas: Set(i64::try_from(rewritten).unwrap_or(i64::MAX)),
        created_at: Set(now()),
    };
    let erasure_id = erasure::Entity::insert(row)
        .exec(txn)
        .await
        .map_err(|e| Error::from_journal("revy_erasures", e))?
        .last_insert_id;
    record_for_the_feed(
        txn,
        revision_id,
        &actor,
        erasure_id,
        &Erasure {
            content_type: table.to_owned(),
            content_id: content_id.to_owned(),
            columns: columns.clone(),
        },
        rewritten,
    )
    .await?;
    Ok(Erased {
        revision_id,
        erasure_id,
        columns,
        deltas: rewritten,
        values,
    })
}

/// Rewrites the deltas of one object with the values of `columns`
/// erased: how many deltas, and how many values.
async fn erase_deltas<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    content_id: &str,
    columns: &[String],
) -> Result<(u64, u64), Error> {
    use object_delta::Column as D;
    let deltas = object_delta::Entity::find()
        .filter(D::ContentType.eq(table))
        .filter(D::ContentId.eq(content_id))
        .order_by_asc(D::Id)
        .lock_exclusive()
        .all(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let mut rewritten = 0u64;
    let mut values = 0u64;
    for delta in deltas {
        let Some(change) = rewrite(&delta, columns)? else {
            continue;
        };
        values += change.values;
        rewritten += 1;
        let mut update = Query::update();
        update
            .table(object_delta::Entity)
            .value(D::Changes, change.changes)
            .value(D::Salt, change.salt)
            .value(D::State, change.state)
            .and_where(Expr::col(D::Id).eq(delta.id));
        txn.execute(&update)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    }
    Ok((rewritten, values))
}

/// The erasure's own object delta, of the object `revy_erasures` /
/// `erasure_id`: so that the change feed, the NATS relay and exports carry
/// it in order with everything else, and tamper evidence chains it.
async fn record_for_the_feed<C: ConnectionTrait>(
    txn: &C,
    revision_id: i64,
    actor: &Option<revy_core::Actor>,
    erasure_id: i64,
    what: &Erasure,
    deltas: u64,
) -> Result<(), Error> {
    let seal = Seal::current();
    let changes = what.entries(deltas, actor);
    let content_id = erasure_id.to_string();
    let row = Row {
        revision_id,
        actor,
        action: Action::Create,
        description: "",
        content_type: ERASURES,
        content_id: &content_id,
        created_at: now(),
        changes: &changes,
    };
    let link = match seal {
        Seal::On => Some(crate::record::sealed::link_of(&row, 1, None)?),
        Seal::Off => None,
    };
    let insert = crate::record::insert::values([(row, 1, link)], seal)?;
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
///         if let Some(erasure) = revy_seaorm::Erasure::of(&delta.object)? {
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
        let bad = |reason: &str| Error::BadEntries {
            object_delta_id: delta.id,
            reason: format!("not an erasure: {reason}"),
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
        let (_, values) =
            erase_deltas(db, &self.content_type, &self.content_id, &self.columns).await?;
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
            let (state, n) = erase_state(text, &erasing).map_err(|reason| Error::BadEntries {
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
