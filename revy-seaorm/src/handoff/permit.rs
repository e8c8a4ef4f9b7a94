//! What makes a write to a tracked table revy's own, for the guard: a
//! [`Permit`] for one hook's statement, [`own_writes`] for the statements
//! of a multi-statement path, and [`AppliedPolicies`] for a delete whose
//! children's policies were applied first.

use std::any::TypeId;
use std::cell::RefCell;
use std::future::Future;

use revy_core::Context;

use super::polled;

/// Leave to write one statement to `table`, for a
/// [`Guarded`](crate::guard::Guarded) connection: the statement sea-orm
/// sends right after a `before_*` hook of entity `E` is revy's own, and is
/// neither warned about nor refused.
///
/// - Left by `before_save` and `before_delete` ([`Permit::leave`]) as their
///   last step, in the innermost context frame. Outside any frame nothing
///   is left: the guard checks context-less writes without looking for
///   permits.
/// - Taken by the guard ([`Permit::take`]) when it sees a write to `table`;
///   when no guard is in use, `after_save` and `after_delete` take back the
///   one nobody used ([`Permit::withdraw`]), so permits never pile up in the
///   stash, whose frames keep only [`Context::STASH_LIMIT`] values.
/// - Dropped if nobody takes it (the statement failed, or a panic unwound
///   before `after_*`) with its frame, or earlier as the oldest value of a
///   full frame.
pub(crate) struct Permit {
    entity: TypeId,
    table: String,
}

impl Permit {
    /// Permits the next statement that writes `table`, the table of `E` (a
    /// hook's own).
    pub(crate) fn leave<E: 'static>(table: String) {
        // outside a frame there is nothing to permit: the guard checks
        // context-less writes without looking for permits
        let _ = Context::stash(Permit {
            entity: TypeId::of::<E>(),
            table,
        });
    }

    /// Takes back a permit for `E` that no guard used.
    pub(crate) fn withdraw<E: 'static>() {
        let entity = TypeId::of::<E>();
        Context::take_stashed::<Permit>(|p| p.entity == entity);
    }

    /// Takes a permit to write `table`: whether there was one.
    pub(crate) fn take(table: &str) -> bool {
        Context::take_stashed::<Permit>(|p| p.table == table).is_some()
    }
}

thread_local! {
    /// The tables the [`own_writes`] futures being polled on this thread permit.
    static OWN_WRITES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The policies the deletes being polled on this thread apply, by parent
    /// table: see [`AppliedPolicies`].
    static APPLIED: RefCell<Vec<AppliedPolicies>> = const { RefCell::new(Vec::new()) };
}

/// Runs `fut` with its writes to `table` counted as revy's own: a guarded
/// connection neither warns about them nor refuses them, however many
/// statements `fut` sends. Wrap each statement (or group of statements) of
/// a revy path that writes a tracked table without its active-model hooks,
/// e.g. a bulk `UPDATE` whose rows the path journals itself.
///
/// What code inside `fut` sees of the context is unchanged: no frame is
/// pushed, so [`Context::is_active`] and [`Context::is_enabled`] answer as
/// outside, and hooks stash where they would have. Like a context scope, the
/// permission holds during each poll of `fut` on the polling thread, so it
/// does not leak into other tasks, nor into tasks `fut` spawns.
///
/// A write made with no context at all is reported by a guard built with
/// `report_without_context()` even inside `own_writes`: with no context,
/// nothing journals it.
///
/// Read by the guard ([`is_own_write`]); the permission ends when `fut`
/// completes or is dropped, also by a panic.
pub(crate) async fn own_writes<T>(table: &str, fut: impl Future<Output = T>) -> T {
    polled::holding(&OWN_WRITES, table.to_owned(), fut).await
}

/// Whether an [`own_writes`] future being polled on this thread permits
/// writes to `table`.
pub(crate) fn is_own_write(table: &str) -> bool {
    OWN_WRITES
        .try_with(|own| own.borrow().iter().any(|t| t == table))
        .unwrap_or(false)
}

/// A parent table, and the (child table, column) pairs whose deletion
/// policies its delete applied before the `DELETE`: a guard seeing that
/// `DELETE` does not report the foreign keys they cover.
///
/// - Held by a tracked delete ([`AppliedPolicies::during`], through
///   `deletion::cascade::applying`) during each poll of the delete, on the
///   polling thread.
/// - Read by the guard ([`AppliedPolicies::of`]) when it looks at the
///   foreign keys pointing at a table a `DELETE` empties.
/// - Gone when the delete completes or is dropped, also by a panic.
pub(crate) struct AppliedPolicies {
    parent: String,
    keys: Vec<(String, &'static str)>,
}

impl AppliedPolicies {
    /// Runs `fut`, a delete of `parent`'s rows, as one that has applied the
    /// policies for the (child table, column) pairs `keys`.
    pub(crate) async fn during<T>(
        parent: String,
        keys: Vec<(String, &'static str)>,
        fut: impl Future<Output = T>,
    ) -> T {
        polled::holding(&APPLIED, AppliedPolicies { parent, keys }, fut).await
    }

    /// The (child table, column) pairs the deletes being polled apply for
    /// `parent`.
    pub(crate) fn of(parent: &str) -> Vec<(String, &'static str)> {
        APPLIED
            .try_with(|a| {
                a.borrow()
                    .iter()
                    .filter(|p| p.parent == parent)
                    .flat_map(|p| p.keys.iter().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn own_writes_permits_its_table_only_while_polled() {
        assert!(!is_own_write("a"));
        let seen = own_writes("a", async {
            tokio::task::yield_now().await;
            (is_own_write("a"), is_own_write("b"))
        })
        .await;
        assert_eq!(seen, (true, false));
        assert!(!is_own_write("a"));
    }

    #[tokio::test]
    async fn own_writes_leaves_the_context_alone() {
        let inside = own_writes("a", async { (Context::is_active(), Context::is_enabled()) }).await;
        assert_eq!(inside, (false, false));
        let inside = Context::as_disabled()
            .scope(own_writes("a", async {
                (Context::is_active(), Context::is_enabled())
            }))
            .await;
        assert_eq!(inside, (true, false));
    }

    #[tokio::test]
    async fn applied_policies_hold_only_while_polled() {
        assert!(AppliedPolicies::of("unit_parent").is_empty());
        let inside = AppliedPolicies::during("unit_parent".into(), vec![], async {
            tokio::task::yield_now().await;
            APPLIED.with(|a| a.borrow().len())
        })
        .await;
        assert_eq!(inside, 1);
        assert_eq!(APPLIED.with(|a| a.borrow().len()), 0);
    }

    struct E;

    #[test]
    fn permits_do_not_pile_up() {
        Context::new().sync_scope(|| {
            for _ in 0..200 {
                Permit::leave::<E>("t".into());
                Permit::withdraw::<E>();
            }
            Context::stash(7_u8).unwrap();
            for _ in 0..200 {
                Permit::leave::<E>("t".into());
                assert!(Permit::take("t"));
            }
            assert_eq!(Context::take_stashed::<u8>(|_| true), Some(7));
        });
    }
}
