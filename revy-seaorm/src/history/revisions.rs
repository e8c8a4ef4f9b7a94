//! Listing revisions: the journal's revisions newest first, filtered by who
//! acted in them, which table or row they touched and when, a page at a
//! time. What a history page or an audit screen lists.

use chrono::{DateTime, Utc};
use revy_core::Actor;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::Error;
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
/// let by_one = revy_seaorm::history::revisions()
///     .actor(Some(Actor::new("users", 1)))
///     .limit(1)
///     .all(&db)
///     .await?;
/// assert_eq!(by_one.len(), 1); // the newest: Cy's
/// let older = revy_seaorm::history::revisions()
///     .actor(Some(Actor::new("users", 1)))
///     .before(by_one[0].id) // keyset pagination: the page after it
///     .all(&db)
///     .await?;
/// assert_eq!(older.len(), 1); // Ann's
/// assert_eq!(revy_seaorm::history::revisions().table("users").row("users", "2").all(&db).await?.len(), 1);
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
    /// [`content_type`](crate::registry::content_type)).
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
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let mut q = revision::Entity::find();
        if let Some(mut deltas) = self.delta_filter() {
            if self.row.is_some() {
                // a row's deltas come from the history index: collect them
                q = q.filter(revision::Column::Id.in_subquery(deltas));
            } else {
                // an actor or a table: walk the revisions newest first and
                // look into each one's deltas by the revision index, so a
                // page stops after its last match instead of reading every
                // delta of the journal
                deltas.and_where(
                    Expr::col((object_delta::Entity, object_delta::Column::RevisionId))
                        .equals((revision::Entity, revision::Column::Id)),
                );
                q = q.filter(Expr::exists(deltas));
            }
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

/// What a list of revisions shows of each one: its actors, how many object
/// deltas it holds and the first few of them. Made by
/// [`revision_summaries`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RevisionSummary {
    /// The revision.
    pub revision_id: i64,
    /// Its distinct actors, object deltas' and inline entries' together, in
    /// the order they first appear (as [`revision_actors`](crate::history::revision_actors)
    /// gives them); `None` is the system.
    pub actors: Vec<Option<Actor>>,
    /// How many object deltas the revision holds.
    pub delta_count: u64,
    /// Its first object deltas, in the order they were written, at most as
    /// many as asked for.
    pub deltas: Vec<object_delta::Model>,
}

/// What a delta's inline entries hold when one of them names an actor of
/// its own (a `LIKE` pattern; a JSON value with a key "a" matches too,
/// which only costs a read).
const OWN_ACTOR: &str = "%\"a\":%";

/// A summary of each of `revision_ids` (a page of a revisions list), in the
/// order given, with at most `shown` object deltas each: three statements
/// whatever the number of revisions (a fourth when one of them holds more
/// than `shown` deltas and entries by an actor other than their delta's,
/// as drafts and database-filled columns write), where
/// [`revision_actors`](crate::history::revision_actors) and
/// [`revision_deltas`](crate::history::revision_deltas) take two per revision and
/// read all of its deltas. A revision without deltas, or not in the
/// journal, gets an empty summary.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context, LazyRevision};
/// use sea_orm::{ActiveModelTrait, Set};
///
/// Context::via_actor(Some(Actor::new("users", 1)))
///     .revision(LazyRevision::new()) // the three saves in one revision
///     .scope(async {
///         for name in ["Ann", "Bob", "Cy"] {
///             user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db).await?;
///         }
///         Ok::<_, sea_orm::DbErr>(())
///     })
///     .await?;
/// let page = revy_seaorm::history::revisions().limit(20).all(&db).await?;
/// let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
/// let summaries = revy_seaorm::history::revision_summaries(&ids, 2).all(&db).await?;
/// assert_eq!(summaries[0].delta_count, 3);
/// assert_eq!(summaries[0].deltas.len(), 2); // the first two of three
/// // the user, and the system: the keys the database chose are its values
/// assert_eq!(summaries[0].actors, [Some(Actor::new("users", 1)), None]);
/// # Ok(()) }
/// ```
pub fn revision_summaries(revision_ids: &[i64], shown: u64) -> RevisionSummaries {
    RevisionSummaries {
        revision_ids: revision_ids.to_vec(),
        shown,
    }
}

/// What [`revision_summaries`] makes: nothing happens until
/// [`.all(db)`](RevisionSummaries::all).
#[must_use = "nothing happens until `.all(db)`"]
pub struct RevisionSummaries {
    revision_ids: Vec<i64>,
    shown: u64,
}

impl RevisionSummaries {
    /// Runs the query on `db`.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<RevisionSummary>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let Self {
            revision_ids,
            shown,
        } = self;
        let revision_ids = revision_ids.as_slice();
        let mut out: Vec<RevisionSummary> = revision_ids
            .iter()
            .map(|&revision_id| RevisionSummary {
                revision_id,
                actors: Vec::new(),
                delta_count: 0,
                deltas: Vec::new(),
            })
            .collect();
        if revision_ids.is_empty() {
            return Ok(out);
        }
        let ids: Vec<i64> = revision_ids.to_vec();
        let journal = |e| Error::from_journal("revy_object_deltas", e);
        // 1. per revision and actor of its object deltas: how many, the first
        //    delta by that actor, and how many may hold inline entries by an
        //    actor of their own (only an entry whose actor differs from its
        //    delta's carries one, under "a"; drafts write them)
        // (revision, actor kind, actor id, deltas, first delta, deltas whose
        // entries may name an actor of their own)
        type Group = (i64, Option<String>, Option<String>, i64, i64, i64);
        let groups: Vec<Group> = object_delta::Entity::find()
            .select_only()
            .column(object_delta::Column::RevisionId)
            .column(object_delta::Column::ActorType)
            .column(object_delta::Column::ActorId)
            .expr(Expr::col(object_delta::Column::Id).count())
            .expr(Expr::col(object_delta::Column::Id).min())
            .expr(Expr::cust(format!(
                "COUNT(CASE WHEN changes LIKE '{OWN_ACTOR}' THEN 1 END)"
            )))
            .filter(object_delta::Column::RevisionId.is_in(ids.clone()))
            .group_by(object_delta::Column::RevisionId)
            .group_by(object_delta::Column::ActorType)
            .group_by(object_delta::Column::ActorId)
            .into_tuple()
            .all(db)
            .await
            .map_err(journal)?;
        // 2. the ids of the first `shown` deltas of each revision: a window
        //    over the revision index. Asked apart from the rows, so that no
        //    planner joins the window back to the whole journal (PostgreSQL
        //    misjudges its size and scans the table; MariaDB copies whole rows
        //    into the window's temporary table)
        let mut numbered = Query::select();
        numbered
            .column(object_delta::Column::Id)
            .expr_as(
                Expr::cust("ROW_NUMBER() OVER (PARTITION BY revision_id ORDER BY id)"),
                "revy_rank",
            )
            .from(object_delta::Entity)
            .and_where(object_delta::Column::RevisionId.is_in(ids.clone()));
        let mut first = Query::select();
        first
            .column("id")
            .from_subquery(numbered, "revy_numbered")
            .and_where(Expr::col("revy_rank").lte(i64::try_from(shown).unwrap_or(i64::MAX)));
        let backend = db.get_database_backend();
        let mut first_ids = Vec::new();
        for row in db
            .query_all_raw(backend.build(&first))
            .await
            .map_err(journal)?
        {
            first_ids.push(row.try_get::<i64>("", "id").map_err(Error::Db)?);
        }
        // 3. those deltas, by primary key
        let mut rows = Vec::new();
        if !first_ids.is_empty() {
            rows = object_delta::Entity::find()
                .filter(object_delta::Column::Id.is_in(first_ids.clone()))
                .order_by_asc(object_delta::Column::Id)
                .all(db)
                .await
                .map_err(journal)?;
        }
        // 4. only for revisions with entries by an actor of their own past
        //    the deltas shown: those deltas, for their entries' actors
        let mut flagged: Vec<i64> = Vec::new();
        for &(revision_id, _, _, _, _, own) in &groups {
            let total: i64 = groups
                .iter()
                .filter(|g| g.0 == revision_id)
                .map(|g| g.3)
                .sum();
            let past_shown = u64::try_from(total).unwrap_or(0) > shown;
            if own > 0 && past_shown && !flagged.contains(&revision_id) {
                flagged.push(revision_id);
            }
        }
        let mut beyond = Vec::new();
        if !flagged.is_empty() {
            beyond = object_delta::Entity::find()
                .filter(object_delta::Column::RevisionId.is_in(flagged))
                .filter(object_delta::Column::Id.is_not_in(first_ids))
                .filter(object_delta::Column::Changes.like(OWN_ACTOR))
                .order_by_asc(object_delta::Column::Id)
                .all(db)
                .await
                .map_err(journal)?;
        }
        let index = |revision_id: i64| ids.iter().position(|&id| id == revision_id);
        // (first delta id, place within it, actor) of every actor seen
        let mut seen: Vec<Vec<(i64, usize, Option<Actor>)>> = vec![Vec::new(); out.len()];
        for (revision_id, kind, id, count, first_id, _) in groups {
            let Some(at) = index(revision_id) else {
                continue;
            };
            let actor = match (kind, id) {
                (Some(kind), Some(id)) => Some(Actor { kind, id }),
                _ => None,
            };
            seen[at].push((first_id, 0, actor));
            out[at].delta_count += u64::try_from(count).unwrap_or(0);
        }
        let mut kept: Vec<Vec<object_delta::Model>> = vec![Vec::new(); out.len()];
        let shown_rows = rows.into_iter().map(|d| (d, true));
        for (delta, shown) in shown_rows.chain(beyond.into_iter().map(|d| (d, false))) {
            let Some(at) = index(delta.revision_id) else {
                continue;
            };
            for (place, entry) in delta.attribute_deltas()?.into_iter().enumerate() {
                seen[at].push((delta.id, place + 1, entry.actor));
            }
            if shown {
                kept[at].push(delta);
            }
        }
        for ((summary, mut actors), deltas) in out.iter_mut().zip(seen).zip(kept) {
            actors.sort_by_key(|(id, place, _)| (*id, *place));
            for (_, _, actor) in actors {
                if !summary.actors.contains(&actor) {
                    summary.actors.push(actor);
                }
            }
            summary.deltas = deltas;
        }
        Ok(out)
    }
}
