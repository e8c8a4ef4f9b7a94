//! Reading the history: one object's deltas ([`of`]), a row as it was
//! ([`as_of`], [`ObjectSnapshot`], [`with_snapshot`](SelectSnapshotExt::with_snapshot)),
//! the difference between two states ([`diff`]), who set each column
//! ([`blame`]), entries a UI can show ([`HistoryEntry`]), revisions newest
//! first ([`revisions`], [`revision_summaries`], [`revision_actors`],
//! [`revision_deltas`]), the trash ([`deleted`]) and a whole table as it was
//! ([`table_as_of`]).

mod blame;
mod entry;
pub(crate) mod field_value;
pub(crate) mod revisions;
pub(crate) mod snapshot;
pub(crate) mod time_travel;
pub(crate) mod trash;

pub use crate::error::HistoryError;
pub use crate::journal::attribute_delta::AttributeDelta;
pub use blame::{Blame, ColumnBlame, blame};
pub use entry::{FieldChange, HistoryEntry};
pub use field_value::FieldValue;
pub use revisions::{RevisionSummary, Revisions, revision_summaries, revisions};
pub use snapshot::{ObjectSnapshot, SelectSnapshotExt, SnapshotSelect};
pub use time_travel::{DEFAULT_PAGE_SIZE, Moment, Page, TableAsOf, table_as_of};
pub use trash::{DeletedRow, Trash, deleted};

use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PrimaryKeyTrait, QueryFilter, QueryOrder, QuerySelect, TryIntoModel, sea_query::IntoValueTuple,
};

use crate::db::keys;
use crate::db::values;
use crate::error::Error;
use crate::journal::object_delta;

/// The distinct actors of a revision, object deltas' and attribute deltas'
/// together, in the order they first appear; `None` is the system.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// assert!(revy_seaorm::history::revision_actors(1).all(&db).await?.is_empty());
/// # Ok(()) }
/// ```
pub fn revision_actors(revision_id: i64) -> RevisionActors {
    RevisionActors { revision_id }
}

/// What [`revision_actors`] makes: nothing happens until
/// [`.all(db)`](RevisionActors::all).
#[must_use = "nothing happens until `.all(db)`"]
pub struct RevisionActors {
    revision_id: i64,
}

impl RevisionActors {
    /// Runs the query on `db`.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<Option<Actor>>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let Self { revision_id } = self;
        let objects = object_delta::Entity::find()
            .filter(object_delta::Column::RevisionId.eq(revision_id))
            .order_by_asc(object_delta::Column::Id)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let mut out: Vec<Option<Actor>> = Vec::new();
        for delta in objects {
            let actors = std::iter::once(delta.actor())
                .chain(delta.attribute_deltas()?.into_iter().map(|a| a.actor));
            for actor in actors {
                if !out.contains(&actor) {
                    out.push(actor);
                }
            }
        }
        Ok(out)
    }
}
/// The object deltas of a revision, in the order they were written.
pub fn revision_deltas(revision_id: i64) -> RevisionDeltas {
    RevisionDeltas { revision_id }
}

/// What [`revision_deltas`] makes: nothing happens until
/// [`.all(db)`](RevisionDeltas::all).
#[must_use = "nothing happens until `.all(db)`"]
pub struct RevisionDeltas {
    revision_id: i64,
}

impl RevisionDeltas {
    /// Runs the query on `db`.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<object_delta::Model>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let Self { revision_id } = self;
        object_delta::Entity::find()
            .filter(object_delta::Column::RevisionId.eq(revision_id))
            .order_by_asc(object_delta::Column::Id)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))
    }
}

/// The history of one row: a query of its object deltas, newest first.
/// Made by [`of`].
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Action, Actor, Context};
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let mut ann = Context::via_actor(Some(Actor::new("users", 1)))
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// for i in 0..5 {
///     let mut am = ann.into_active_model();
///     am.name = Set(format!("Ann {i}"));
///     ann = Context::via_actor(Some(Actor::new("users", 2))).scope(am.update(&db)).await?;
/// }
/// let page = revy_seaorm::history::of::<user::Entity>(ann.id).limit(4).all(&db).await?;
/// assert_eq!(page.len(), 4); // newest first
/// let rest = revy_seaorm::history::of::<user::Entity>(ann.id)
///     .before(page[3].id) // keyset pagination: the page after it
///     .all(&db)
///     .await?;
/// assert_eq!(rest.len(), 2);
/// let created = revy_seaorm::history::of::<user::Entity>(ann.id)
///     .action(Action::Create)
///     .actor(Some(Actor::new("users", 1)))
///     .all(&db)
///     .await?;
/// assert_eq!(created.len(), 1);
/// # Ok(()) }
/// ```
#[must_use = "a history query does nothing until .all(&db) or .entries(&db) runs it"]
pub struct History<E> {
    content_id: Result<String, Error>,
    limit: Option<u64>,
    before: Option<i64>,
    action: Option<Action>,
    actor: Option<Option<Actor>>,
    between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    changed: Option<Result<Vec<String>, Error>>,
    entity: PhantomData<E>,
}

/// The history of the row of `E` whose primary key is `key` (a value for a
/// single key, a tuple for a composite one).
pub fn of<E: EntityTrait>(key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType) -> History<E> {
    History {
        content_id: key_text::<E>(key),
        limit: None,
        before: None,
        action: None,
        actor: None,
        between: None,
        changed: None,
        entity: PhantomData,
    }
}

/// The journal's key text of a primary key value.
pub(crate) fn key_text<E: EntityTrait>(
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
) -> Result<String, Error> {
    let cols = keys::key_columns::<E>()?;
    let values: Vec<_> = cols.into_iter().zip(key.into_value_tuple()).collect();
    keys::content_id_of::<E>(&values)
}

impl<E: EntityTrait> History<E> {
    /// At most `n` deltas.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Only deltas older than the object delta `id` (the next page after it).
    pub fn before(mut self, id: i64) -> Self {
        self.before = Some(id);
        self
    }

    /// Only deltas with this action.
    pub fn action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    /// Only deltas by this actor (`None`: by the system).
    pub fn actor(mut self, actor: Option<Actor>) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Only deltas written at or after `from` and before `to`.
    pub fn between(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.between = Some((from, to));
        self
    }

    /// Only deltas that changed `column`: every change of one column,
    /// asked of the inline attribute deltas by the database's own JSON
    /// functions (the object's deltas are found by the journal's index,
    /// then each one's entries are looked into).
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    ///
    /// let ann = Context::new()
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// let mut am = ann.clone().into_active_model();
    /// am.email = Set(Some("ann@example.com".into()));
    /// let ann = Context::new().scope(am.update(&db)).await?;
    /// let mut am = ann.into_active_model();
    /// am.name = Set("Annie".into());
    /// let ann = Context::new().scope(am.update(&db)).await?;
    ///
    /// // the create and the rename; not the e-mail's update
    /// let renames = revy_seaorm::history::of::<user::Entity>(ann.id)
    ///     .changed(user::Column::Name)
    ///     .all(&db)
    ///     .await?;
    /// assert_eq!(renames.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// A column a migration renamed (declared with
    /// [`Policy::renamed`](crate::policy::Policy::renamed)) matches its changes
    /// under its former names too.
    pub fn changed(mut self, column: E::Column) -> Self
    where
        E: crate::policy::TrackingPolicy,
    {
        let names = crate::policy::rules::<E>().map(|rules| {
            std::iter::once(column.as_str().to_owned())
                .chain(rules.schema.old_names(column).iter().cloned())
                .collect()
        });
        self.changed = Some(names);
        self
    }

    /// Runs the query: the matching object deltas, newest first.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<object_delta::Model>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        self.select(db.get_database_backend())?
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))
    }

    /// The query [`all`](Self::all) runs.
    pub(crate) fn select(
        self,
        backend: sea_orm::DbBackend,
    ) -> Result<sea_orm::Select<object_delta::Entity>, Error> {
        let mut q = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq(keys::content_type::<E>()))
            .filter(object_delta::Column::ContentId.eq(self.content_id?));
        if let Some(before) = self.before {
            q = q.filter(object_delta::Column::Id.lt(before));
        }
        if let Some(action) = self.action {
            q = q.filter(object_delta::Column::Action.eq(action));
        }
        match self.actor {
            Some(Some(actor)) => {
                q = q
                    .filter(object_delta::Column::ActorType.eq(actor.kind))
                    .filter(object_delta::Column::ActorId.eq(actor.id));
            }
            Some(None) => q = q.filter(object_delta::Column::ActorType.is_null()),
            None => {}
        }
        if let Some((from, to)) = self.between {
            q = q
                .filter(object_delta::Column::CreatedAt.gte(from))
                .filter(object_delta::Column::CreatedAt.lt(to));
        }
        if let Some(names) = self.changed {
            let mut any = sea_orm::Condition::any();
            for name in names? {
                any = any.add(changed_column(backend, name));
            }
            q = q.filter(any);
        }
        q = q.order_by_desc(object_delta::Column::Id);
        if let Some(n) = self.limit {
            q = q.limit(n);
        }
        Ok(q)
    }
}

/// "The object delta's inline attribute deltas name `column`": each entry
/// is an array whose first element is the column's name (see
/// `attribute_delta::encode_entries`). Rows whose `changes` is empty (a
/// journal upgraded in place) name none.
fn changed_column(backend: sea_orm::DbBackend, column: String) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::Expr;
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "EXISTS (SELECT 1 FROM json_array_elements(CAST(NULLIF(\"revy_object_deltas\".\"changes\", '') AS json)) AS \"revy_e\" \
             WHERE \"revy_e\" ->> 0 = $1)"
        }
        sea_orm::DbBackend::MySql => {
            "JSON_CONTAINS(JSON_EXTRACT(NULLIF(`revy_object_deltas`.`changes`, ''), '$[*][0]'), JSON_QUOTE(?))"
        }
        _ => {
            "EXISTS (SELECT 1 FROM json_each(NULLIF(\"revy_object_deltas\".\"changes\", '')) AS \"revy_e\" \
             WHERE json_extract(\"revy_e\".\"value\", '$[0]') = ?)"
        }
    };
    Expr::cust_with_values(sql, [column])
}

/// The row of `E` with primary key `key` as it was at `at`: `None` if it did
/// not exist then (not created yet, or deleted).
pub fn as_of<E: crate::policy::TrackingPolicy>(
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    at: DateTime<Utc>,
) -> AsOf<E> {
    AsOf {
        key,
        at,
        _entity: PhantomData,
    }
}

/// What [`as_of`] makes: nothing happens until
/// [`.one(db)`](AsOf::one).
#[must_use = "nothing happens until `.one(db)`"]
pub struct AsOf<E: crate::policy::TrackingPolicy> {
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    at: DateTime<Utc>,
    _entity: PhantomData<fn() -> E>,
}

impl<E: crate::policy::TrackingPolicy> AsOf<E> {
    /// Runs the query on `db`.
    pub async fn one(self, db: &impl ConnectionTrait) -> Result<Option<E::Model>, Error>
    where
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    {
        let Self { key, at, .. } = self;
        let newest = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq(keys::content_type::<E>()))
            .filter(object_delta::Column::ContentId.eq(key_text::<E>(key)?))
            .filter(object_delta::Column::CreatedAt.lte(at))
            .order_by_desc(object_delta::Column::Id)
            .with_snapshot::<E>()
            .one(db)
            .await?;
        Ok(match newest {
            Some((delta, _)) if delta.action == Action::Delete => None,
            Some((_, snapshot)) => snapshot,
            None => None,
        })
    }
}

/// The columns whose values differ between two states of a row, with the
/// old and new value in the journal's encoding. `None` stands for "no row":
/// every column is then `null` on that side.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let before = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let mut am = before.clone().into_active_model();
/// am.email = Set(Some("ann@example.com".into()));
/// let after = Context::new().scope(am.update(&db)).await?;
///
/// let changes = revy_seaorm::history::diff(Some(&before), Some(&after))?;
/// assert_eq!(changes.len(), 1);
/// assert_eq!(changes["email"], (serde_json::json!(null), serde_json::json!("ann@example.com")));
/// # Ok(()) }
/// ```
pub fn diff<M: ModelTrait>(
    old: Option<&M>,
    new: Option<&M>,
) -> Result<BTreeMap<String, (serde_json::Value, serde_json::Value)>, Error> {
    let mut out = BTreeMap::new();
    for col in <M::Entity as EntityTrait>::Column::iter() {
        let encode = |m: Option<&M>| match m {
            Some(m) => values::encode::<M::Entity>(col, &m.get(col)),
            None => Ok(serde_json::Value::Null),
        };
        let (a, b) = (encode(old)?, encode(new)?);
        if !values::identical(&a, &b) {
            out.insert(col.as_str().to_owned(), (a, b));
        }
    }
    Ok(out)
}
