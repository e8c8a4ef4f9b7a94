//! Blame: for each column of one row, who set its current value, when, in
//! which revision and why.
//!
//! The answer for a column is its newest attribute delta (at or before an
//! object delta, when asked "as of" one), the same row a snapshot reads its
//! value from. Each column's delta is found by one seek of the journal's
//! snapshot index (content type, content id, field, object delta), and all
//! of them, with their revisions, come back in one statement: the cost does
//! not grow with the row's history.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, UnionType};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    PrimaryKeyTrait,
};
use serde::Serialize;

use crate::Error;
use crate::field_value::{self, FieldValue};
use crate::history::key_text;
use crate::journal::{attribute_delta, revision};
use crate::keys::content_type;

/// The alias of the revision description in blame's statement.
const PICKED_ID: &str = "revy_picked_id";

const REVISION_DESCRIPTION: &str = "revy_revision_description";

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
    /// The attribute delta that set it.
    pub attribute_delta_id: i64,
    /// The object delta (the save) it belongs to.
    pub object_delta_id: i64,
    /// The revision it belongs to.
    pub revision_id: i64,
    /// The revision's description (`""` when none).
    pub revision_description: String,
    /// The attribute delta's description (`""` when none).
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
    /// let blame = revy_seaorm::blame::<user::Entity>(ann.id).all(&db).await?;
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
/// use revy_seaorm::FieldValue;
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
/// let blame = revy_seaorm::blame::<user::Entity>(ann.id).all(&db).await?;
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
    E: EntityTrait,
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
    /// let created = revy_seaorm::history::<user::Entity>(ann.id).all(&db).await?[0].id;
    /// let mut am = ann.into_active_model();
    /// am.name = Set("Annie".into());
    /// let ann = Context::via_actor(Some(Actor::new("users", 2))).scope(am.update(&db)).await?;
    ///
    /// let then = revy_seaorm::blame::<user::Entity>(ann.id).at(created).all(&db).await?;
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
    /// history). One statement.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<ColumnBlame>, Error> {
        let table = content_type::<E>();
        let content_id = self.content_id?;
        // one row per column: the id of its newest attribute delta, each
        // picked from the end of its index range; the attribute deltas and
        // their revisions are then read by id, so the statement never looks
        // at the older history (MariaDB, given the ids as an OR of
        // subqueries in the WHERE, scanned it)
        let mut picked: Option<sea_orm::sea_query::SelectStatement> = None;
        for col in E::Column::iter() {
            let mut one = Query::select();
            one.column(attribute_delta::Column::Id)
                .from(attribute_delta::Entity)
                .and_where(Expr::col(attribute_delta::Column::ContentType).eq(table.as_str()))
                .and_where(Expr::col(attribute_delta::Column::ContentId).eq(content_id.as_str()))
                .and_where(Expr::col(attribute_delta::Column::FieldName).eq(col.as_str()));
            if let Some(at) = self.at {
                one.and_where(Expr::col(attribute_delta::Column::ObjectDeltaId).lte(at));
            }
            one.order_by(attribute_delta::Column::ObjectDeltaId, Order::Desc)
                .order_by(attribute_delta::Column::Id, Order::Desc)
                .limit(1);
            let row = Query::select()
                .expr_as(
                    Expr::SubQuery(None, Box::new(one.into())),
                    Alias::new(PICKED_ID),
                )
                .to_owned();
            picked = Some(match picked {
                None => row,
                Some(mut all) => {
                    all.union(UnionType::All, row);
                    all
                }
            });
        }
        let Some(picked) = picked else {
            return Ok(Vec::new());
        };
        let mut select = Query::select();
        for col in attribute_delta::Column::iter() {
            select.column((attribute_delta::Entity, col));
        }
        select
            .expr_as(
                Expr::col((revision::Entity, revision::Column::Description)),
                Alias::new(REVISION_DESCRIPTION),
            )
            .from_subquery(picked, Alias::new("revy_picked"))
            .inner_join(
                attribute_delta::Entity,
                Expr::col((attribute_delta::Entity, attribute_delta::Column::Id))
                    .equals((Alias::new("revy_picked"), Alias::new(PICKED_ID))),
            )
            .inner_join(
                revision::Entity,
                Expr::col((revision::Entity, revision::Column::Id))
                    .equals((attribute_delta::Entity, attribute_delta::Column::RevisionId)),
            )
            .order_by(
                (attribute_delta::Entity, attribute_delta::Column::Id),
                Order::Asc,
            );
        let statement = db.get_database_backend().build(&select);
        let rows = db
            .query_all_raw(statement)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let delta = attribute_delta::Model::from_query_result(row, "")?;
            let revision_description: String = row.try_get("", REVISION_DESCRIPTION)?;
            out.push(ColumnBlame {
                value: field_value::decode::<E>(&delta.field_name, &delta.new_value)?,
                actor: delta.actor(),
                column: delta.field_name,
                at: delta.created_at,
                action: delta.action,
                attribute_delta_id: delta.id,
                object_delta_id: delta.object_delta_id,
                revision_id: delta.revision_id,
                revision_description,
                description: delta.description,
            });
        }
        let position = |name: &str| E::Column::iter().position(|c| c.as_str() == name);
        out.sort_by_key(|c| position(&c.column));
        Ok(out)
    }
}
