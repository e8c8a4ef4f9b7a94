//! [`TamperScope`]: tamper evidence on or off for one task.

use std::future::Future;

tokio::task_local! {
    static SCOPED: bool;
}

/// Tamper evidence on or off for the task running a
/// [`tamper::scope`](crate::tamper::scope), whatever the process's setting,
/// for the journal writes inside it, however deep below sea-orm's calls.
///
/// - Set by `tamper::scope` ([`TamperScope::run`]) around its future.
/// - Read by every journal write ([`TamperScope::get`], through
///   `tamper::is_enabled`).
/// - Gone when the future completes or is dropped, also by a panic; tasks
///   the future spawns do not inherit it.
pub(crate) struct TamperScope;

impl TamperScope {
    /// Runs `work` with tamper evidence `enabled`.
    pub(crate) async fn run<F: Future>(enabled: bool, work: F) -> F::Output {
        SCOPED.scope(enabled, work).await
    }

    /// The setting of the innermost [`TamperScope::run`] around this task,
    /// if any.
    pub(crate) fn get() -> Option<bool> {
        SCOPED.try_with(|on| *on).ok()
    }
}
