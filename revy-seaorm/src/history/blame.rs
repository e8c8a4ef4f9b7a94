//! Blame: for each column of one row, who set its current value, when, in
//! which revision and why.
//!
//! The answer for a column is its newest entry (at or before an object
//! delta, when asked "as of" one), the same a snapshot reads its value
//! from. The row's deltas are read from its newest checkpoint at or before
//! that point, with their revisions, and folded; a checkpoint names the
//! delta that set each column, so a column set before it is answered by
//! that delta, read in the same statement by primary key from the ids the
//! checkpoint's `state` holds (the backend's JSON table function lists
//! them). One statement, of index seeks only: the cost does not grow with
//! the row's history.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use sea_orm::sea_query::SelectStatement;
use sea_orm::sea_query::{Expr, ExprTrait, JoinType, UnionType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, PrimaryKeyTrait, QueryFilter, QueryTrait,
};
use serde::Serialize;

use crate::db::keys::content_type;
use crate::db::limits::Literal;
use crate::error::{Error, JournalError};
use crate::history::field_value::{self, FieldValue};
use crate::history::key_text;
use crate::history::snapshot::inline::{RANGE, RANGE_START, range_start, range_start_table};
use crate::journal::attribute_delta::AttributeDelta;
use crate::journal::state::State;
use crate::journal::{object_delta, revision};
use crate::policy::{self, TrackingPolicy};

/// Who set one column's current value, and when, and why: one entry of
/// [`Blame::all`].
///
/// Serializes (with serde, or [`to_json`](Self::to_json)) to an object with
/// its fields under their own names, `value` in revy's JSON encoding as
/// [`FieldValue`] gives it (a redacted value is `{"revy": "redacted"}`),
/// `actor` as `{"kind": .., "id": ..}` or `null`, `at` RFC 3339 in UTC.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ColumnBlame {
    /// The column's name.
    pub column: String,
    /// Its value (as the snapshot has it), decoded to the column's type.
    pub value: FieldValue,
    /// Who set it: `None` is the system (e.g. a key the database filled).
    pub actor: Option<Actor>,
    /// When it was set.
    pub at: DateTime<Utc>,
    /// `Set`, or `Unset` when the value is NULL.
    pub action: Action,
    /// The object delta (the save) that set it.
    pub object_delta_id: i64,
    /// The revision it belongs to.
    pub revision_id: i64,
    /// The revision's description (`""` when none).
    pub revision_description: String,
    /// The entry's description (`""` when none): the object delta's,
    /// unless a [draft](crate::hooks::draft::Tracked)'s entry says otherwise.
    pub description: String,
}

impl ColumnBlame {
    /// The entry as JSON (see the type's docs for the shape).
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::{Actor, Context};
    /// use sea_orm::{ActiveModelTrait, Set};
    /// use serde_json::json;
    ///
    /// let ann = Context::via_actor(Some(Actor::new("users", 1)))
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// let blame = revy_seaorm::history::blame::<user::Entity>(ann.id).all(&db).await?;
    /// let name = blame.iter().find(|c| c.column == "name").unwrap().to_json()?;
    /// assert_eq!(name["value"], json!("Ann"));
    /// assert_eq!(name["actor"], json!({"kind": "users", "id": "1"}));
    /// // left unset, the e-mail is SQL NULL, the database's doing
    /// let email = blame.iter().find(|c| c.column == "email").unwrap().to_json()?;
    /// assert_eq!((&email["value"], &email["actor"]), (&json!(null), &json!(null)));
    /// # Ok(()) }
    /// ```
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// Blame of one row: made by [`blame`], run by [`Blame::all`]. A query,
/// not a value: its rows, [`ColumnBlame`], serialize.
#[must_use = "a blame query does nothing until .all(&db) runs it"]
pub struct Blame<E> {
    content_id: Result<String, Error>,
    at: Option<i64>,
    entity: PhantomData<E>,
}

/// Blame of the row of `E` whose primary key is `key`: per column, the
/// current value and who set it, when, in which revision and why.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use revy_seaorm::history::FieldValue;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set, Value};
///
/// let ann = Context::via_actor(Some(Actor::new("users", 1)))
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let mut am = ann.into_active_model();
/// am.email = Set(Some("ann@example.com".into()));
/// let ann = Context::via_actor(Some(Actor::new("users", 2)))
///     .revision_description("Add the e-mail")
///     .scope(am.update(&db))
///     .await?;
///
/// let blame = revy_seaorm::history::blame::<user::Entity>(ann.id).all(&db).await?;
/// let email = blame.iter().find(|c| c.column == "email").unwrap();
/// assert_eq!(email.actor, Some(Actor::new("users", 2)));
/// assert_eq!(email.revision_description, "Add the e-mail");
/// assert_eq!(email.value, FieldValue::Value(Value::String(Some("ann@example.com".into()))));
/// let name = blame.iter().find(|c| c.column == "name").unwrap();
/// assert_eq!(name.actor, Some(Actor::new("users", 1)));
/// # Ok(()) }
/// ```
pub fn blame<E: EntityTrait>(key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType) -> Blame<E> {
    Blame {
        content_id: key_text::<E>(key),
        at: None,
        entity: PhantomData,
    }
}

impl<E> Blame<E>
where
    E: TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    /// Blame as of the object delta `object_delta_id` (the row's state
    /// right after it, as its snapshot): later deltas are ignored.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::{Actor, Context};
    /// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    ///
    /// let ann = Context::via_actor(Some(Actor::new("users", 1)))
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// let created = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?[0].id;
    /// let mut am = ann.into_active_model();
    /// am.name = Set("Annie".into());
    /// let ann = Context::via_actor(Some(Actor::new("users", 2))).scope(am.update(&db)).await?;
    ///
    /// let then = revy_seaorm::history::blame::<user::Entity>(ann.id).at(created).all(&db).await?;
    /// let name = then.iter().find(|c| c.column == "name").unwrap();
    /// assert_eq!(name.actor, Some(Actor::new("users", 1)));
    /// # Ok(()) }
    /// ```
    pub fn at(mut self, object_delta_id: i64) -> Self {
        self.at = Some(object_delta_id);
        self
    }

    /// Runs the query: one entry per column of `E` the journal holds a
    /// value for, in the entity's column order (empty when the row has no
    /// history). One statement, whatever the row's history: the row's
    /// deltas from its newest checkpoint, and the older deltas that
    /// checkpoint names as setters.
    ///
    /// A column a migration renamed (declared with
    /// [`Policy::renamed`](crate::policy::Policy::renamed)) is answered by its
    /// newest entry under either name, and named as the entity names it
    /// now; columns the entity no longer has are left out; values go
    /// through the policy's [conversion](crate::policy::Policy::convert).
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<ColumnBlame>, Error> {
        let rules = policy::rules::<E>()?;
        let table = content_type::<E>();
        let content_id = self.content_id?;
        let backend = db.get_database_backend();
        let at = self.at.unwrap_or(i64::MAX);
        let one_row = match backend {
            DbBackend::Sqlite => sqlite_rows(db, &table, &content_id, at).await?,
            _ => None,
        };
        let mut rows: Vec<BlameRow> = match one_row {
            Some(rows) => rows,
            None => BlameRow::find_by_statement(backend.build(&select(
                backend,
                &table,
                &content_id,
                at,
            )))
            .all(&Literal(db))
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?,
        };
        rows.sort_by_key(|row| row.id);
        // the range starts at the newest checkpoint or create (or, in a
        // journal without them, at the first delta): the setters read
        // with it are all older
        let start = rows
            .iter()
            .rposition(|row| row.state.is_some() || row.action == Action::Create)
            .unwrap_or(0);
        let mut state = State::default();
        for (i, row) in rows.iter().skip(start).enumerate() {
            state.step_columns(row.id, &row.changes, row.state.as_deref(), i == 0)?;
        }
        let setters: HashMap<i64, BlameRow> = rows.into_iter().map(|row| (row.id, row)).collect();
        // each setter's entries, decoded once however many columns it set
        let mut entries: HashMap<i64, Vec<AttributeDelta>> = HashMap::new();
        let mut out = Vec::new();
        for col in E::Column::iter() {
            let Some(name) = rules
                .schema
                .held_name(col, |name| state.get(name).map(|(_, id)| *id))
            else {
                continue;
            };
            let Some((_, setter)) = state.get(name) else {
                continue;
            };
            let Some(delta) = setters.get(setter) else {
                return Err(Error::Db(sea_orm::DbErr::RecordNotFound(format!(
                    "object delta {setter} of revy_object_deltas, which set column {} of {table} \
                     {content_id}, was removed while its blame was read (a concurrent prune?); \
                     read the blame again",
                    col.as_str()
                ))));
            };
            let held = match entries.entry(delta.id) {
                Entry::Occupied(held) => held.into_mut(),
                Entry::Vacant(slot) => slot.insert(delta.attribute_deltas()?),
            };
            // the column's newest entry in the delta that set it
            let Some(entry) = held.iter().rev().find(|e| e.field_name == name) else {
                return Err(JournalError::BadEntries {
                    object_delta_id: delta.id,
                    reason: format!(
                        "a checkpoint names it as the setter of column {name}, which it has \
                         no entry for"
                    ),
                }
                .into());
            };
            out.push(ColumnBlame {
                value: field_value::decode_recorded(&rules, name, &entry.new_value, delta.id)?,
                actor: entry.actor.clone(),
                column: col.as_str().to_owned(),
                at: delta.created_at,
                action: entry.action,
                object_delta_id: delta.id,
                revision_id: delta.revision_id,
                revision_description: delta.revision_description.clone().unwrap_or_default(),
                description: entry.description.clone(),
            });
        }
        Ok(out)
    }
}

/// What blame reads of an object delta and its revision: the columns of
/// [`select`], under [`BLAME_COLUMNS`]' names.
#[derive(FromQueryResult)]
struct BlameRow {
    id: i64,
    revision_id: i64,
    actor_type: Option<String>,
    actor_id: Option<String>,
    action: Action,
    description: String,
    created_at: DateTime<Utc>,
    changes: String,
    state: Option<String>,
    /// The revision's description (`None` when the revision is gone:
    /// read as `""`).
    revision_description: Option<String>,
}

impl BlameRow {
    /// The delta's entries, as
    /// [`Model::attribute_deltas`](object_delta::Model::attribute_deltas)
    /// decodes them.
    fn attribute_deltas(&self) -> Result<Vec<AttributeDelta>, Error> {
        let actor =
            crate::journal::actor_from_columns(self.actor_type.clone(), self.actor_id.clone());
        crate::journal::attribute_delta::decode_entries(&self.changes, &actor, &self.description)
            .map_err(|reason| {
                JournalError::BadEntries {
                    object_delta_id: self.id,
                    reason,
                }
                .into()
            })
    }
}

/// The columns [`select`] reads: the delta's, then its revision's
/// description, each under the name of [`BlameRow`]'s field, in
/// [`JsonBlameRow`]'s order.
const BLAME_COLUMNS: [(object_delta::Column, &str); 9] = [
    (object_delta::Column::Id, "id"),
    (object_delta::Column::RevisionId, "revision_id"),
    (object_delta::Column::ActorType, "actor_type"),
    (object_delta::Column::ActorId, "actor_id"),
    (object_delta::Column::Action, "action"),
    (object_delta::Column::Description, "description"),
    (object_delta::Column::CreatedAt, "created_at"),
    (object_delta::Column::Changes, "changes"),
    (object_delta::Column::State, "state"),
];
const REVISION_DESCRIPTION: &str = "revision_description";

/// Blame's rows on SQLite as one row (see [`crate::db::one_row`]): for
/// blame's 10 to 30 rows, handing them over one at a time was most of the
/// call.
///
/// `None` when a row does not decode here (a time or an action in a form
/// revy does not write): the caller then reads the rows as rows, whose
/// decoding is the one that answers, with its errors.
async fn sqlite_rows<C: ConnectionTrait>(
    db: &C,
    table: &str,
    content_id: &str,
    at: i64,
) -> Result<Option<Vec<BlameRow>>, Error> {
    let statement = DbBackend::Sqlite.build(&select(DbBackend::Sqlite, table, content_id, at));
    let columns: Vec<&str> = BLAME_COLUMNS
        .iter()
        .map(|(_, name)| *name)
        .chain([REVISION_DESCRIPTION])
        .collect();
    let text = crate::db::one_row::json_rows(&Literal(db), statement, &columns)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let Ok(rows) = serde_json::from_str::<Vec<JsonBlameRow>>(&text) else {
        return Ok(None);
    };
    Ok(rows.into_iter().map(JsonBlameRow::into_row).collect())
}

/// One row of [`sqlite_rows`]'s array, in [`BLAME_COLUMNS`]' order.
#[derive(serde::Deserialize)]
struct JsonBlameRow(
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl JsonBlameRow {
    /// The row, when its action and time are in the forms revy writes
    /// (an action the journal knows, a time in RFC 3339).
    fn into_row(self) -> Option<BlameRow> {
        let JsonBlameRow(
            id,
            revision_id,
            actor_type,
            actor_id,
            action,
            description,
            created_at,
            changes,
            state,
            revision_description,
        ) = self;
        Some(BlameRow {
            id,
            revision_id,
            actor_type,
            actor_id,
            action: Action::ALL.into_iter().find(|a| a.as_str() == action)?,
            description,
            created_at: DateTime::parse_from_rfc3339(&created_at)
                .ok()?
                .with_timezone(&Utc),
            changes,
            state,
            revision_description,
        })
    }
}

/// The statement of [`Blame::all`], each delta with its revision: the
/// object's deltas from its newest checkpoint or create at or before `at`
/// to `at` (the range a snapshot folds, by the object's index), and, by
/// primary key, the older deltas that checkpoint's `state` names as
/// setters. No order: a `UNION`'s `ORDER BY` names no table, which
/// sea-orm's columns do; the caller sorts.
fn select(backend: DbBackend, table: &str, content_id: &str, at: i64) -> SelectStatement {
    use object_delta::Column as D;
    // The range's lower bound is given twice, for two planners. As the
    // subquery in the WHERE, PostgreSQL seeks the object's index from it;
    // MariaDB does not (a subquery is no bound of its index seeks) and read
    // the object's whole history in the index. As the column of a one-row
    // derived table (kept one, and apart, by its `LIMIT`), MariaDB reads
    // the table first, as a constant, and seeks from it; PostgreSQL
    // estimates a bound from a joined table at a third of the object's
    // deltas and, at a long history, read them all.
    let range = object_delta::Entity::find()
        .filter(D::ContentType.eq(table))
        .filter(D::ContentId.eq(content_id))
        .filter(Expr::col((object_delta::Entity, D::Id)).gte(range_start(table, content_id, at)))
        .filter(D::Id.lte(at))
        .find_also_related(revision::Entity);
    let setters = object_delta::Entity::find()
        .filter(named_setter(backend, range_start(table, content_id, at)))
        .find_also_related(revision::Entity);
    let mut setters = setters.into_query();
    let mut range = range.into_query();
    range
        .join_subquery(
            JoinType::InnerJoin,
            range_start_table(table, content_id, at),
            RANGE,
            Expr::col((object_delta::Entity, D::Id)).gte(Expr::col((RANGE, RANGE_START))),
        )
        .union(UnionType::All, blame_columns(&mut setters).to_owned());
    blame_columns(&mut range).to_owned()
}

/// `query` (a delta joined to its revision) reading only [`BLAME_COLUMNS`].
fn blame_columns(query: &mut SelectStatement) -> &mut SelectStatement {
    query.clear_selects();
    for (column, name) in BLAME_COLUMNS {
        query.expr_as(Expr::col((object_delta::Entity, column)), name);
    }
    query.expr_as(
        Expr::col((revision::Entity, revision::Column::Description)),
        REVISION_DESCRIPTION,
    )
}

/// "The object delta is one that the checkpoint whose id is `checkpoint`
/// names as the setter of a column, and older than it": the ids are read
/// out of the checkpoint's `state` (`{column: [value, setter], ..}`) with
/// the backend's JSON table function, which sea-query does not write, and
/// each is looked up by primary key. A `checkpoint` that is a create (no
/// `state`) or no delta at all names none.
fn named_setter(backend: DbBackend, checkpoint: Expr) -> Expr {
    let sql = match backend {
        DbBackend::Postgres => {
            "\"revy_object_deltas\".\"id\" IN (SELECT CAST(\"revy_s\".\"value\" ->> 1 AS bigint) \
             FROM \"revy_object_deltas\" AS \"revy_c\", json_each(CAST(\"revy_c\".\"state\" AS json)) AS \"revy_s\" \
             WHERE \"revy_c\".\"id\" = $1 AND CAST(\"revy_s\".\"value\" ->> 1 AS bigint) < \"revy_c\".\"id\")"
        }
        DbBackend::MySql => {
            "`revy_object_deltas`.`id` IN (SELECT `revy_s`.`setter` \
             FROM `revy_object_deltas` AS `revy_c`, \
             JSON_TABLE(`revy_c`.`state`, '$.*' COLUMNS (`setter` BIGINT PATH '$[1]')) AS `revy_s` \
             WHERE `revy_c`.`id` = ? AND `revy_s`.`setter` < `revy_c`.`id`)"
        }
        _ => {
            "\"revy_object_deltas\".\"id\" IN (SELECT json_extract(\"revy_s\".\"value\", '$[1]') \
             FROM \"revy_object_deltas\" AS \"revy_c\", json_each(\"revy_c\".\"state\") AS \"revy_s\" \
             WHERE \"revy_c\".\"id\" = ? AND json_extract(\"revy_s\".\"value\", '$[1]') < \"revy_c\".\"id\")"
        }
    };
    Expr::cust_with_exprs(sql, [checkpoint])
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    /// One statement on each backend: the range, bounded below both by the
    /// derived table and by the subquery (see `select`), and the
    /// checkpoint's setters by the backend's JSON table function; the
    /// values bound, never in the SQL.
    #[test]
    fn one_statement_reads_the_range_and_the_named_setters() {
        for (backend, function) in [
            (DbBackend::Sqlite, "json_each("),
            (DbBackend::Postgres, "json_each(CAST("),
            (DbBackend::MySql, "JSON_TABLE("),
        ] {
            let statement = backend.build(&super::select(backend, "accounts", "7", 42));
            let sql = &statement.sql;
            assert_eq!(sql.matches(" UNION ALL ").count(), 1, "{backend:?}: {sql}");
            assert!(sql.contains(function), "{backend:?}: {sql}");
            assert!(sql.contains("revy_range"), "{backend:?}: {sql}");
            // the walk back to the checkpoint: in the derived table, the
            // range's WHERE and the setters' checkpoint
            assert_eq!(sql.matches(" DESC LIMIT ").count(), 3, "{backend:?}: {sql}");
            assert!(!sql.contains("'7'"), "{backend:?}: values are bound: {sql}");
        }
    }
}
