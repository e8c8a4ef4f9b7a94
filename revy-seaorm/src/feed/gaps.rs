//! Whether a gap in the journal's ids is final: no transaction that could
//! still fill it is running (see the [feed](super) module).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::Error;

/// The gaps the feed waits at, if any: the frontier stops at the first,
/// and one look at the running transactions decides every gap below the
/// highest id visible when it was taken.
#[derive(Debug)]
pub(super) struct Gaps {
    grace: Duration,
    waiting: Option<Gap>,
}

#[derive(Debug)]
struct Gap {
    /// The first missing id.
    start: i64,
    /// The highest id visible when the gap was first seen: every id below
    /// it had been handed out by then, to a transaction in `running` or
    /// one that had ended, so the look at `running` decides every gap up
    /// to here, not only the first.
    upto: i64,
    since: Instant,
    /// The transactions running when the gap was first seen.
    running: Running,
    /// Whether they had all ended when last asked, before a read of ids.
    ended: bool,
}

#[derive(Debug)]
enum Running {
    /// `pg_current_snapshot()` as text.
    Postgres(String),
    /// InnoDB transactions, as `thread@started`.
    MySql(HashSet<String>),
}

impl Gaps {
    pub(super) fn new(grace: Duration) -> Self {
        Gaps {
            grace,
            waiting: None,
        }
    }

    /// Whether the feed waits at a gap whose fate is not known yet.
    #[cfg_attr(not(feature = "feed-postgres"), allow(dead_code))]
    pub(super) fn waiting(&self) -> bool {
        self.waiting.as_ref().is_some_and(|gap| !gap.ended)
    }

    /// Asks, before the feed reads the ids, whether the transactions the
    /// waiting gap depends on have ended. Asking after the read would race
    /// with a commit landing between the two: the read would miss the row
    /// and the check would call its gap final.
    pub(super) async fn refresh<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), Error> {
        if let Some(gap) = &mut self.waiting
            && !gap.ended
            && gap.since.elapsed() >= self.grace
        {
            gap.ended = ended(db, &gap.running).await?;
        }
        Ok(())
    }

    /// Whether the ids from `start` up to the next visible one will never
    /// be filled, as of the last [`refresh`](Self::refresh); `visible` is
    /// the highest id the feed's read saw.
    pub(super) async fn is_final<C: ConnectionTrait>(
        &mut self,
        db: &C,
        start: i64,
        visible: i64,
    ) -> Result<bool, Error> {
        if db.get_database_backend() == DbBackend::Sqlite {
            // one writer at a time: an id below a committed one was given
            // to a transaction that has ended
            return Ok(true);
        }
        match &self.waiting {
            // the gap first seen, or one after it below what was visible
            // then: decided by the same look
            Some(gap) if gap.start <= start && start <= gap.upto => Ok(gap.ended),
            _ => {
                // first seen now: whoever holds the missing ids is running
                // now or has ended since the ids were read
                self.waiting = Some(Gap {
                    start,
                    upto: visible,
                    since: Instant::now(),
                    running: running(db).await?,
                    ended: false,
                });
                Ok(false)
            }
        }
    }
}

async fn running<C: ConnectionTrait>(db: &C) -> Result<Running, Error> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT pg_current_snapshot()::text AS s",
            ))
            .await?;
        let snapshot: String = match row {
            Some(row) => row.try_get("", "s")?,
            None => String::new(),
        };
        return Ok(Running::Postgres(snapshot));
    }
    // the first look must start after the ids were read
    Ok(Running::MySql(look(db, Instant::now()).await?))
}

/// How far apart this process reads `information_schema.innodb_trx`.
/// MariaDB serves that table from a cache it refreshes only when nobody
/// read it in the last 100 ms (MySQL bug #48883): read every 20 ms, it kept
/// listing a transaction committed seconds before, so every feed waited at
/// its gap for good (2026-12-05, MariaDB 10.11.19, measured with one
/// client reading every 20 ms and every 200 ms). Feeds in several
/// processes on one server can still keep it stale; see the feed module.
const LOOK_SPACING: Duration = Duration::from_millis(150);

/// This process's newest read of `innodb_trx`, shared by its feeds.
struct Look {
    at: Instant,
    running: HashSet<String>,
}

static LAST_LOOK: std::sync::Mutex<Option<Look>> = std::sync::Mutex::new(None);

/// The InnoDB transactions running as of a read started at or after
/// `not_before`: another feed's read when there is one, else a read of
/// this feed's own once [`LOOK_SPACING`] has passed since the last.
async fn look<C: ConnectionTrait>(db: &C, not_before: Instant) -> Result<HashSet<String>, Error> {
    loop {
        let wait = {
            let last = LAST_LOOK.lock().unwrap_or_else(|e| e.into_inner());
            match &*last {
                Some(l) if l.at >= not_before => return Ok(l.running.clone()),
                Some(l) => (l.at + LOOK_SPACING).saturating_duration_since(Instant::now()),
                None => Duration::ZERO,
            }
        };
        if wait.is_zero() {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    let at = Instant::now();
    let running = innodb_transactions(db).await?;
    let mut last = LAST_LOOK.lock().unwrap_or_else(|e| e.into_inner());
    if last.as_ref().is_none_or(|l| l.at < at) {
        *last = Some(Look {
            at,
            running: running.clone(),
        });
    }
    Ok(running)
}

/// Whether every transaction in `running` has ended.
async fn ended<C: ConnectionTrait>(db: &C, running: &Running) -> Result<bool, Error> {
    match running {
        Running::Postgres(snapshot) => {
            let backend = db.get_database_backend();
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT NOT EXISTS (SELECT 1 FROM pg_snapshot_xip($1::text::pg_snapshot) AS x(xid) \
                     WHERE pg_xact_status(x.xid) = 'in progress') AS done",
                    [snapshot.clone().into()],
                ))
                .await?;
            Ok(match row {
                Some(row) => row.try_get("", "done")?,
                None => false,
            })
        }
        Running::MySql(before) => {
            // any read of the last spacing will do: the newest read is
            // never older than the one `before` came from (reads are kept
            // newest first), so a transaction missing from it has ended
            let recent = Instant::now()
                .checked_sub(LOOK_SPACING)
                .unwrap_or_else(Instant::now);
            let now = look(db, recent).await?;
            Ok(before.is_disjoint(&now))
        }
    }
}

/// The InnoDB transactions running now, each named by its connection and
/// start time (its `trx_id` changes when it first writes, so the id cannot
/// name it), leaving out this connection and single autocommit reads, which
/// hold no ids. A transaction that ends and another that starts on the
/// same connection within the same second look alike: the feed then waits
/// a little longer, never less. A transaction whose connection has gone
/// is left out too: it can no longer commit, and a stale `innodb_trx`
/// (see [`LOOK_SPACING`]) was seen listing such transactions for minutes.
/// Empty without the `PROCESS` privilege (the grace period then decides
/// alone).
async fn innodb_transactions<C: ConnectionTrait>(db: &C) -> Result<HashSet<String>, Error> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CONCAT(trx_mysql_thread_id, '@', CAST(trx_started AS CHAR)) AS id \
             FROM information_schema.innodb_trx \
             WHERE trx_mysql_thread_id <> CONNECTION_ID() AND trx_autocommit_non_locking = 0 \
             AND trx_mysql_thread_id IN (SELECT id FROM information_schema.processlist)",
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String>("", "id")?))
        .collect()
}
