//! The queued transaction's side channels: its queue, found by asking the
//! connection for its backend ([`QueueProbe`]), and the mark that a hook's
//! own read must leave the queue alone ([`exempt_next_statement`]).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use sea_orm::ConnectionTrait;

thread_local! {
    /// Set while [`QueueProbe::ask`] asks a connection for its backend.
    static PROBING: Cell<bool> = const { Cell::new(false) };
    /// Where a queued transaction answers the probe.
    static PROBE: RefCell<Option<Arc<dyn Any + Send + Sync>>> = const { RefCell::new(None) };
    /// Set right before a hook's own read of the journal is sent through a
    /// queued transaction: that read must not flush the queue.
    static EXEMPT: Cell<bool> = const { Cell::new(false) };
}

/// The queue of a [queued transaction](crate::queued::Transaction), for the
/// hooks, which are handed the transaction only as a generic
/// `C: ConnectionTrait` (possibly wrapped, e.g. by a
/// [`Guarded`](crate::guard::Guarded) one) and cannot name its type.
///
/// - Asked by the hooks ([`QueueProbe::ask`]): the connection is asked for
///   its backend, and a queued transaction answers ([`QueueProbe::answer`])
///   on this thread and before the call returns, with its queue.
/// - Lives only during that call: nothing else runs in between, the
///   answer is cleared before each probe and taken by it, and a connection
///   that is not a queued transaction leaves it empty. An error or a panic
///   cannot leave an answer behind for another probe.
pub(crate) struct QueueProbe;

impl QueueProbe {
    /// The queue of `db` when it is a queued transaction (or wraps one)
    /// whose queue is a `Q`.
    pub(crate) fn ask<Q: Any + Send + Sync>(
        db: &(impl ConnectionTrait + ?Sized),
    ) -> Option<Arc<Q>> {
        PROBE.with(|p| p.borrow_mut().take());
        PROBING.with(|p| p.set(true));
        let _ = db.get_database_backend();
        PROBING.with(|p| p.set(false));
        PROBE
            .with(|p| p.borrow_mut().take())
            .and_then(|q| q.downcast::<Q>().ok())
    }

    /// A queued transaction's side of [`QueueProbe::ask`]: called whenever it
    /// is asked for its backend.
    pub(crate) fn answer<Q: Any + Send + Sync>(queue: &Arc<Q>) {
        // the outermost queued transaction answers first; a queued
        // transaction it wraps does not overwrite the answer
        if PROBING.with(|p| p.get()) {
            PROBE.with(|p| {
                p.borrow_mut()
                    .get_or_insert_with(|| queue.clone() as Arc<dyn Any + Send + Sync>);
            });
        }
    }
}

/// Marks the next statement sent through a queued transaction as a hook's
/// own read, which leaves the queue alone.
///
/// - Left by `before_save` and `before_delete` right before they send their
///   locked read of the row, and only when [`QueueProbe::ask`] found a
///   queue.
/// - Taken by the queued transaction ([`take_exemption`]) when it starts
///   that statement, before anything else runs on this thread, so it
///   cannot reach another statement; an error or a panic in between cannot
///   come before the statement starts.
pub(crate) fn exempt_next_statement() {
    EXEMPT.with(|e| e.set(true));
}

/// A queued transaction's side of [`exempt_next_statement`]: whether the
/// statement it starts is exempt.
pub(crate) fn take_exemption() -> bool {
    EXEMPT.with(|e| e.replace(false))
}
