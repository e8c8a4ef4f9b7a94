//! Listing revisions: the journal's revisions newest first, filtered by who
//! acted in them, which table or row they touched and when, a page at a
//! time. What a history page or an audit screen lists.

use chrono::{DateTime, Utc};
use revy_core::Actor;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::Error;
use crate::journal::{object_delta, revision};

/// A query of revisions, newest first. Made by [`revisions`].
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use sea_orm::{ActiveModelTrait, Set};
///
/// for (who, name) in [(1, "Ann"), (2, "Bob"), (1, "Cy")] {
///     Context::via_actor(Some(Actor::new("users", who)))
///         .scope(user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db))
///         .await?;
/// }
/// let by_one = revy_seaorm::revisions()
///     .actor(Some(Actor::new("users", 1)))
///     .limit(1)
///     .all(&db)
///     .await?;
/// assert_eq!(by_one.len(), 1); // the newest: Cy's
/// let older = revy_seaorm::revisions()
///     .actor(Some(Actor::new("users", 1)))
///     .before(by_one[0].id) // keyset pagination: the page after it
///     .all(&db)
///     .await?;
/// assert_eq!(older.len(), 1); // Ann's
/// assert_eq!(revy_seaorm::revisions().table("users").row("users", "2").all(&db).await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a revisions query does nothing until .all(&db) runs it"]
pub struct Revisions {
    limit: Option<u64>,
    before: Option<i64>,
    actor: Option<Option<Actor>>,
    table: Option<String>,
    row: Option<(String, String)>,
    between: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Every revision of the journal, newest first; narrow it with the
/// [`Revisions`] methods.
pub fn revisions() -> Revisions {
    Revisions::default()
}

impl Revisions {
    /// At most `n` revisions.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Only revisions older than revision `id` (the next page after it).
    pub fn before(mut self, id: i64) -> Self {
        self.before = Some(id);
        self
    }

    /// Only revisions with an object delta by this actor (`None`: the system).
    pub fn actor(mut self, actor: Option<Actor>) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Only revisions that changed a row of this table (its
    /// [`content_type`](crate::content_type)).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Only revisions that changed this row: its table and its key text as
    /// the journal writes it (`7`, or `[7,"a"]` for a composite key).
    pub fn row(mut self, table: impl Into<String>, key: impl Into<String>) -> Self {
        self.row = Some((table.into(), key.into()));
        self
    }

    /// Only revisions created at or after `from` and before `to`.
    pub fn between(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.between = Some((from, to));
        self
    }

    /// The revisions holding an object delta that matches the filters on
    /// deltas, or `None` when there are none.
    fn delta_filter(&self) -> Option<SelectStatement> {
        if self.actor.is_none() && self.table.is_none() && self.row.is_none() {
            return None;
        }
        let mut q = Query::select();
        q.column(object_delta::Column::RevisionId)
            .from(object_delta::Entity);
        match &self.actor {
            Some(Some(actor)) => {
                q.and_where(object_delta::Column::ActorType.eq(actor.kind.clone()))
                    .and_where(object_delta::Column::ActorId.eq(actor.id.clone()));
            }
            Some(None) => {
                q.and_where(object_delta::Column::ActorType.is_null());
            }
            None => {}
        }
        if let Some(table) = &self.table {
            q.and_where(object_delta::Column::ContentType.eq(table.clone()));
        }
        if let Some((table, key)) = &self.row {
            q.and_where(object_delta::Column::ContentType.eq(table.clone()))
                .and_where(object_delta::Column::ContentId.eq(key.clone()));
        }
        Some(q)
    }

    /// Runs the query: the matching revisions, newest first.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<revision::Model>, Error> {
        let mut q = revision::Entity::find();
        if let Some(deltas) = self.delta_filter() {
            q = q.filter(revision::Column::Id.in_subquery(deltas));
        }
        if let Some(before) = self.before {
            q = q.filter(revision::Column::Id.lt(before));
        }
        if let Some((from, to)) = self.between {
            q = q
                .filter(revision::Column::CreatedAt.gte(from))
                .filter(revision::Column::CreatedAt.lt(to));
        }
        q = q.order_by_desc(revision::Column::Id);
        if let Some(n) = self.limit {
            q = q.limit(n);
        }
        q.all(db)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))
    }
}
