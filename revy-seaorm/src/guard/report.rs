//! Deciding whether a write is revy's own, and reporting the ones that are not.
//!
//! Two kinds of permission make a write to a tracked table revy's own, both
//! side channels of [`handoff`]:
//!
//! - a [`Permit`](handoff::Permit) that a `before_*` hook leaves in the
//!   context's stash right before sea-orm sends the hook's statement; the
//!   guard takes it when it sees that statement, and the `after_*` hook
//!   takes back one left unused (when no guard is in use);
//! - [`own_writes`](handoff::own_writes), around the statements of revy's
//!   multi-statement paths (deletion policies, bulk writes).

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use revy_core::Context;
use sea_orm::DbBackend;

use super::sql::{self, WriteKind};
use crate::error::Error;
use crate::guard::GuardError;
use crate::handoff;

/// What a guard does with an untracked write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Settings {
    /// Off: the guard looks at nothing (revy's own plain transactions).
    pub(crate) on: bool,
    pub(crate) strict: bool,
    pub(crate) without_context: bool,
}

impl Settings {
    pub(crate) const OFF: Settings = Settings {
        on: false,
        strict: false,
        without_context: false,
    };
}

/// Looks at `sql` before it runs: every write to a tracked table that is
/// not revy's own is counted, and warned about or refused. Returns the
/// tracked tables whose rows revy's own statement deletes, whose foreign
/// keys the guard looks at next ([`super::cascade`]).
pub(crate) fn check(
    settings: Settings,
    backend: DbBackend,
    sql: &str,
) -> Result<Vec<String>, Error> {
    let mut deletes = Vec::new();
    if !settings.on {
        return Ok(deletes);
    }
    let active = Context::is_active();
    if active && Context::is_disabled() {
        return Ok(deletes);
    }
    if !active && !settings.without_context {
        return Ok(deletes);
    }
    for write in sql::written_tables(sql, backend) {
        let Some(table) = crate::registry::tracked_table(|t| write.table.matches(t)) else {
            continue;
        };
        if active && (handoff::is_own_write(&table) || handoff::Permit::take(&table)) {
            if write.kind == WriteKind::Delete {
                deletes.push(table);
            }
            continue;
        }
        report(&table, write.kind, active, settings.strict)?;
    }
    Ok(deletes)
}

/// Counts one untracked write of `table` made by the database itself (a
/// cascade), which [`super::cascade`] warns about per key.
pub(crate) fn count_untracked(table: &str) {
    if let Ok(mut seen) = SEEN.lock() {
        seen.entry(table.to_owned()).or_default().count += 1;
    }
}

/// How many untracked writes each table had, and whether it was warned of.
#[derive(Default)]
struct Seen {
    count: u64,
    warned: bool,
}

static SEEN: LazyLock<Mutex<BTreeMap<String, Seen>>> = LazyLock::new(Default::default);

fn report(table: &str, kind: WriteKind, in_context: bool, strict: bool) -> Result<(), Error> {
    let first = match SEEN.lock() {
        Ok(mut seen) => {
            let entry = seen.entry(table.to_owned()).or_default();
            entry.count += 1;
            !std::mem::replace(&mut entry.warned, true)
        }
        Err(_) => false,
    };
    let reason = reason(kind, in_context);
    // strict mode warns too: an app that turns the refusal into a bare 500
    // would otherwise show nothing of it
    if first {
        tracing::warn!(
            table,
            statement = kind.keyword(),
            strict,
            "revy: untracked {} on table {table}: {reason} (warned once per table; \
             revy::guard::untracked_writes() counts every one)",
            kind.keyword(),
        );
    }
    if strict {
        return Err(GuardError::UntrackedWrite {
            table: table.to_owned(),
            statement: kind.keyword(),
            reason,
        }
        .into());
    }
    Ok(())
}

fn reason(kind: WriteKind, in_context: bool) -> String {
    if !in_context {
        return "it ran with no revy context, so nothing journals it; run it inside \
                Context::new().scope(..), or carry the caller's context into a spawned task \
                with Context::capture()"
            .to_owned();
    }
    let fix = match kind {
        WriteKind::Insert => {
            "insert through an ActiveModel's insert/save, revy::bulk::insert_one(am).exec(..) \
             or revy::bulk::insert_many::<E>(..) instead of E::insert(..).exec(..) or \
             E::insert_many(..)"
        }
        WriteKind::Update => {
            "update through an ActiveModel's update/save, revy::bulk::update_one(am).exec(..) \
             or revy::bulk::update_many::<E>() instead of E::update(..).exec(..) or \
             E::update_many()"
        }
        WriteKind::Delete => {
            "delete through an ActiveModel's delete, revy::bulk::delete_one(am).exec(..), \
             revy::deletion::delete(model).exec(&db), revy::bulk::delete_many::<E>() or \
             revy::bulk::delete_by_id::<E>(..) instead of \
             E::delete_many(), E::delete_by_id(..) or E::delete(..).exec(..)"
        }
        WriteKind::Truncate => {
            "a TRUNCATE cannot be journaled row by row; use revy::bulk::delete_many::<E>()"
        }
    };
    format!(
        "it bypasses revy's hooks, so the journal misses it; {fix} (E = the entity of this table)"
    )
}

/// How many writes to each tracked table bypassed revy, as seen by guarded
/// connections ([`Guarded`](crate::guard::Guarded)) since the process started or
/// [`reset_untracked_writes`] was last called. Writes a strict guard refused
/// count too. Made by [`untracked_writes`].
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{EntityTrait, sea_query::Expr};
///
/// revy_seaorm::registry::register::<user::Entity>();
/// let db = revy_seaorm::guard::Guarded::new(db);
/// let before = revy_seaorm::guard::untracked_writes().get("users");
/// Context::new()
///     .scope(user::Entity::update_many().col_expr(user::Column::Name, Expr::value("x")).exec(&db))
///     .await?;
/// assert_eq!(revy_seaorm::guard::untracked_writes().get("users"), before + 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UntrackedWrites {
    counts: BTreeMap<String, u64>,
}

impl UntrackedWrites {
    /// The count of one table (its [`content_type`](crate::registry::content_type)), 0 if none.
    pub fn get(&self, table: &str) -> u64 {
        self.counts.get(table).copied().unwrap_or(0)
    }

    /// Every table's count, by table name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|(t, n)| (t.as_str(), *n))
    }

    /// The count of all tables together.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// True when no untracked write was seen.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The untracked writes guarded connections have seen so far in this
/// process, per table: see [`UntrackedWrites`]. Export it to your metrics
/// to see which code paths still bypass revy.
///
/// ```
/// for (table, count) in revy_seaorm::guard::untracked_writes().iter() {
///     println!("{table}: {count} untracked writes");
/// }
/// ```
pub fn untracked_writes() -> UntrackedWrites {
    let counts = SEEN
        .lock()
        .map(|seen| {
            seen.iter()
                .filter(|(_, s)| s.count > 0)
                .map(|(t, s)| (t.clone(), s.count))
                .collect()
        })
        .unwrap_or_default();
    UntrackedWrites { counts }
}

/// Sets every count of [`untracked_writes`] back to zero, and lets each
/// table warn once more, as if the process had just started. For tests;
/// tests that run in parallel should compare counts of tables of their own
/// before and after instead.
///
/// ```
/// revy_seaorm::guard::reset_untracked_writes();
/// assert!(revy_seaorm::guard::untracked_writes().is_empty());
/// ```
pub fn reset_untracked_writes() {
    if let Ok(mut seen) = SEEN.lock() {
        seen.clear();
    }
    super::cascade::forget_warnings();
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Counts the warnings sent to it (the guard's tests share it).
    pub(in crate::guard) struct Warnings(
        pub(in crate::guard) std::sync::Arc<std::sync::atomic::AtomicUsize>,
    );

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn each_table_warns_once_and_counts_every_write() {
        let warnings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = Warnings(warnings.clone());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                report("unit_warn_a", WriteKind::Update, true, false).unwrap();
            }
            report("unit_warn_b", WriteKind::Delete, true, false).unwrap();
            // strict: refused every time, warned once per table too
            for _ in 0..3 {
                let refused = report("unit_warn_c", WriteKind::Insert, true, true).unwrap_err();
                assert!(
                    refused.to_string().contains("revy::bulk::insert_many"),
                    "{refused}"
                );
            }
            report("unit_warn_d", WriteKind::Delete, false, true).unwrap_err();
        });
        assert_eq!(warnings.load(std::sync::atomic::Ordering::SeqCst), 4);
        let counts = untracked_writes();
        assert_eq!(counts.get("unit_warn_a"), 3);
        assert_eq!(counts.get("unit_warn_b"), 1);
        assert_eq!(counts.get("unit_warn_c"), 3);
        assert_eq!(counts.get("unit_warn_d"), 1);
    }
}
