//! The change feed: committed revisions, with their deltas, read from a
//! cursor the consumer keeps, never skipping one that commits late.
//!
//! # Why a cursor of ids is not enough
//!
//! Journal ids are handed out when a row is written, not when its
//! transaction commits. A PostgreSQL sequence gives 41 to one transaction
//! and 42 to another; 42 commits first. A reader that saw 42 and moved its
//! cursor past it would never see 41. Gaps are also permanent sometimes: a
//! transaction that rolls back leaves its ids unused forever.
//!
//! # How the feed reads
//!
//! The feed walks object delta ids in order from its cursor. The *frontier*
//! is the highest id up to which every id is either visible or a gap known
//! to be final. A gap is final when
//! - on **SQLite**: always; SQLite runs one writer at a time, so an id
//!   below a committed one belongs to a transaction that already ended;
//! - on **PostgreSQL**: every transaction that was in progress when the gap
//!   was first seen (the `xip` list of `pg_current_snapshot()`) has ended
//!   (`pg_xact_status`), and the gap has lasted the grace period;
//! - on **MySQL/MariaDB**: every InnoDB transaction listed in
//!   `information_schema.innodb_trx` when the gap was first seen has ended,
//!   and the gap has lasted the grace period (without the `PROCESS`
//!   privilege that table reads empty, and the grace period alone decides).
//!   MariaDB refreshes that table only when nobody read it in the last
//!   100 ms, so a process reads it at most every 150 ms; feeds in several
//!   processes polling one server that often can keep it stale, and then
//!   wait at a gap until they pause (run one feed per server, or give
//!   [`Subscription::poll_backoff`] a shortest wait of 100 ms or more).
//!
//! The grace period ([`Feed::gap_grace`], 2 s by default) covers the
//! instant between a writer taking an id and the database listing its
//! transaction; a gap shorter than it is never declared final. The same
//! stale-gap rule is what event stores on relational databases use.
//!
//! A revision is delivered once the frontier has passed its newest object
//! delta, with every object delta it has above the cursor, so a message
//! holds the whole of what one transaction wrote into it. Revisions are
//! delivered in the order of their newest object delta: if a transaction
//! changed a row after another committed a change of that row, it is
//! delivered after it, so **per row, deltas arrive in the order they were
//! made**. A revision written by several transactions (a context's revision
//! used across them) arrives in parts, one per time the frontier passes its
//! newest delta; [`FeedRevision::position`] tells the parts apart.
//!
//! The cursor ([`Feed::cursor`]) is a low watermark: every object delta at
//! or below it was delivered. Store it where your consumer commits its own
//! work; a feed restarted from it delivers everything after, and may deliver
//! again a revision already delivered above it: the pair (revision id,
//! position) is the idempotency key.
//!
//! # Waking a subscriber
//!
//! [`subscribe`] (or a [`Subscription`]) turns a feed into a stream that
//! reads again when there may be something new:
//! - on **PostgreSQL** with the `feed-postgres` feature, when a commit
//!   says so. [`install`](crate::journal::install) (and the migration) put a
//!   statement-level trigger on `revy_object_deltas` that calls
//!   `pg_notify('revy_feed', <schema>)` inside the writing transaction.
//!   PostgreSQL delivers a notification only when that transaction
//!   commits, drops it when it rolls back, and folds the identical ones of
//!   one transaction into one, so a commit that wrote a thousand deltas
//!   still wakes each subscriber once. The subscriber `LISTEN`s on a
//!   connection of its own (sqlx's `PgListener`, opened with the options
//!   of the `DatabaseConnection`'s pool, so it takes nothing from the
//!   application's pool) and reads when notified, or after
//!   [`NOTIFY_FALLBACK`] (1 s) without one: a notification sent while the
//!   listener reconnects is lost, and a gap in the ids becomes final
//!   without any commit, so while the feed waits at a gap it polls;
//! - everywhere else (SQLite, MySQL/MariaDB, PostgreSQL without the
//!   feature) by polling: 10 ms after an empty read, doubling up to 1 s,
//!   back to 10 ms once a read finds something.
//!
//! **A slow subscriber never slows a writer.** The writer's whole cost is
//! the trigger's one `pg_notify` per statement (measured in
//! `BENCHMARKS.md`). PostgreSQL keeps notifications in a queue shared by
//! the database cluster (8 GB by default) until every listening session
//! has read them; once it is full, a transaction that notifies fails at
//! commit. So the listening connection never waits for the consumer: a
//! task reads every notification the moment it arrives and folds it into
//! one pending wake-up, and that connection never opens a transaction.
//! The reads of the feed itself are ordinary statements on the pool, which
//! take no lock a writer waits for.
//!
//! ```
//! # revy_seaorm::__doc_fixture!();
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = setup().await?;
//! use revy_core::Context;
//! use revy_seaorm::feed::Feed;
//! use sea_orm::{ActiveModelTrait, Set};
//!
//! for name in ["Ann", "Bob"] {
//!     Context::new()
//!         .scope(user::ActiveModel { name: Set(name.into()), ..Default::default() }.insert(&db))
//!         .await?;
//! }
//! let mut feed = Feed::from_cursor(0);
//! let batch = feed.next_batch(&db).await?;
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch[0].deltas[0].object.content_type, "users");
//! let cursor = feed.cursor(); // store it; Feed::from_cursor(cursor) resumes
//! assert!(feed.next_batch(&db).await?.is_empty());
//! # let _ = cursor;
//! # Ok(()) }
//! ```

mod gaps;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::Error;
use crate::journal::attribute_delta::AttributeDelta;
use crate::journal::{object_delta, revision};
use gaps::Gaps;

/// One object delta of a delivered revision, with its attribute deltas.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedDelta {
    /// The object delta.
    pub object: object_delta::Model,
    /// Its attribute deltas, in the order they were recorded (values in
    /// the [codec](crate::codec)'s JSON).
    pub attributes: Vec<AttributeDelta>,
}

/// A committed revision (or part of one, see the [module](self)) as the
/// feed delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRevision {
    /// The revision.
    pub revision: revision::Model,
    /// Its object deltas above the cursor, in id order.
    pub deltas: Vec<FeedDelta>,
    /// The id of its newest object delta: with the revision id, the
    /// idempotency key of this delivery.
    pub position: i64,
}

/// A reader of committed revisions from a cursor. See the [module](self).
#[derive(Debug)]
pub struct Feed {
    cursor: i64,
    batch: u64,
    content_types: Option<HashSet<String>>,
    gaps: Gaps,
    /// Parts delivered above the cursor: (revision id, position).
    delivered: HashSet<(i64, i64)>,
}

/// Object deltas read per batch, unless [`Feed::batch_size`] says otherwise.
pub const DEFAULT_BATCH: u64 = 1000;

impl Feed {
    /// A feed that delivers every revision with an object delta above
    /// `cursor` (`0`: the whole journal).
    pub fn from_cursor(cursor: i64) -> Self {
        Feed {
            cursor,
            batch: DEFAULT_BATCH,
            content_types: None,
            gaps: Gaps::new(Duration::from_secs(2)),
            delivered: HashSet::new(),
        }
    }

    /// Object deltas read per batch (at least 1).
    pub fn batch_size(mut self, n: u64) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Delivers only the object deltas of these content types (tables,
    /// see [`content_type`](crate::registry::content_type)); revisions with none are
    /// skipped, and the cursor still moves past them.
    pub fn only(mut self, content_types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.content_types = Some(content_types.into_iter().map(Into::into).collect());
        self
    }

    /// How long a gap in the ids must last before it can be final (see the
    /// [module](self)).
    pub fn gap_grace(mut self, grace: Duration) -> Self {
        self.gaps = Gaps::new(grace);
        self
    }

    /// The low watermark: every object delta at or below it was delivered.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Whether the last read stopped at a gap in the ids that may still
    /// be filled: only time ends that wait, no commit announces it.
    #[cfg_attr(not(feature = "feed-postgres"), allow(dead_code))]
    pub(crate) fn waits_at_gap(&self) -> bool {
        self.gaps.waiting()
    }

    /// The revisions that are complete up to the frontier and not yet
    /// delivered, in the order of their newest object delta; empty when
    /// there is nothing new (or only ids whose fate is not known yet).
    pub async fn next_batch<C: ConnectionTrait>(
        &mut self,
        db: &C,
    ) -> Result<Vec<FeedRevision>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        self.gaps.refresh(db).await?;
        let ids: Vec<(i64, i64)> = object_delta::Entity::find()
            .select_only()
            .column(object_delta::Column::Id)
            .column(object_delta::Column::RevisionId)
            .filter(object_delta::Column::Id.gt(self.cursor))
            .order_by_asc(object_delta::Column::Id)
            .limit(self.batch)
            .into_tuple()
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let frontier = self.frontier(db, &ids).await?;
        if frontier <= self.cursor {
            return Ok(Vec::new());
        }
        // each revision seen up to the frontier, with its newest delta
        let seen: HashSet<i64> = ids
            .iter()
            .filter(|(id, _)| *id <= frontier)
            .map(|(_, r)| *r)
            .collect();
        let spans: Vec<(i64, i64, i64)> = object_delta::Entity::find()
            .select_only()
            .column(object_delta::Column::RevisionId)
            .column_as(object_delta::Column::Id.max(), "newest")
            .column_as(object_delta::Column::Id.min(), "oldest")
            .filter(object_delta::Column::RevisionId.is_in(seen.iter().copied()))
            .filter(object_delta::Column::Id.gt(self.cursor))
            .group_by(object_delta::Column::RevisionId)
            .into_tuple()
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let mut watermark = frontier;
        let mut ready: BTreeMap<i64, i64> = BTreeMap::new(); // position -> revision
        for (revision, newest, oldest) in spans {
            if newest > frontier {
                // not complete up to the frontier yet: the cursor stays
                // below its oldest delta, so a restart delivers it whole
                watermark = watermark.min(oldest - 1);
            } else if !self.delivered.contains(&(revision, newest)) {
                ready.insert(newest, revision);
            }
        }
        let out = self.load(db, &ready).await?;
        for (position, revision) in &ready {
            self.delivered.insert((*revision, *position));
        }
        self.cursor = watermark.max(self.cursor);
        let cursor = self.cursor;
        self.delivered.retain(|(_, position)| *position > cursor);
        Ok(out)
    }

    /// The highest id up to which every id after the cursor is visible or
    /// a final gap.
    async fn frontier<C: ConnectionTrait>(
        &mut self,
        db: &C,
        ids: &[(i64, i64)],
    ) -> Result<i64, Error> {
        let mut frontier = self.cursor;
        let visible = ids.last().map_or(frontier, |(id, _)| *id);
        for (id, _) in ids {
            if *id != frontier + 1 && !self.gaps.is_final(db, frontier + 1, visible).await? {
                break;
            }
            frontier = *id;
        }
        Ok(frontier)
    }

    /// The revisions at these positions, with their deltas above the cursor.
    async fn load<C: ConnectionTrait>(
        &self,
        db: &C,
        ready: &BTreeMap<i64, i64>,
    ) -> Result<Vec<FeedRevision>, Error> {
        if ready.is_empty() {
            return Ok(Vec::new());
        }
        let revision_ids: Vec<i64> = ready.values().copied().collect();
        let revisions: HashMap<i64, revision::Model> = revision::Entity::find()
            .filter(revision::Column::Id.is_in(revision_ids.clone()))
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let positions: HashMap<i64, i64> = ready.iter().map(|(p, r)| (*r, *p)).collect();
        let mut objects = object_delta::Entity::find()
            .filter(object_delta::Column::RevisionId.is_in(revision_ids))
            .filter(object_delta::Column::Id.gt(self.cursor))
            .order_by_asc(object_delta::Column::Id)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        objects.retain(|o| {
            positions.get(&o.revision_id).is_some_and(|p| o.id <= *p)
                && self
                    .content_types
                    .as_ref()
                    .is_none_or(|only| only.contains(&o.content_type))
        });
        let mut attributes = objects
            .iter()
            .map(|o| Ok((o.id, o.attribute_deltas()?)))
            .collect::<Result<HashMap<i64, Vec<AttributeDelta>>, Error>>()?;
        let mut by_revision: HashMap<i64, Vec<FeedDelta>> = HashMap::new();
        for object in objects {
            let attrs = attributes.remove(&object.id).unwrap_or_default();
            by_revision
                .entry(object.revision_id)
                .or_default()
                .push(FeedDelta {
                    object,
                    attributes: attrs,
                });
        }
        let mut out = Vec::with_capacity(ready.len());
        for (position, revision_id) in ready {
            let Some(deltas) = by_revision.remove(revision_id) else {
                continue; // nothing of the wanted content types
            };
            let Some(revision) = revisions.get(revision_id).cloned() else {
                return Err(Error::Db(sea_orm::DbErr::RecordNotFound(format!(
                    "revy_revisions: revision {revision_id} of object delta {position} is missing"
                ))));
            };
            out.push(FeedRevision {
                revision,
                deltas,
                position: *position,
            });
        }
        Ok(out)
    }
}

pub(crate) mod notify;
mod stream;
pub use notify::NOTIFY_CHANNEL;
pub use stream::{MAX_WAIT, MIN_WAIT, NOTIFY_FALLBACK, Subscription, subscribe};
