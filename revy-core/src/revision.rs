//! Grouping several operations into one revision.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::OnceCell;

/// A revision that is created the first time a tracked operation needs it,
/// then shared by every later operation that sees it in the context.
///
/// Put one in the context to group several saves into one revision:
///
/// ```
/// use revy_core::{Context, LazyRevision};
///
/// let lazy = LazyRevision::new();
/// Context::via_revision(lazy.clone()).sync_scope(|| {
///     // every tracked save here lands in the same revision
///     assert!(Context::revision().unwrap().same_as(&lazy));
/// });
/// assert_eq!(lazy.id(), None); // nothing was saved, so nothing was created
/// ```
///
/// Clones share the same cell, so a clone carried into a spawned task (see
/// [`Context::capture`](crate::Context::capture)) writes into the same revision.
/// An already existing revision is named with [`LazyRevision::from_id`].
///
/// The id is cached once the revision row is inserted. If the transaction
/// that inserted it rolls back, the cached id names a row that no longer
/// exists, and later saves under this value fail on the journal's foreign
/// key: open a new `LazyRevision` for each unit of work.
#[derive(Clone, Default)]
pub struct LazyRevision {
    cell: Arc<OnceCell<i64>>,
}

impl LazyRevision {
    /// A revision not created yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An existing revision, named by its id in `revy_revisions`.
    ///
    /// ```
    /// use revy_core::LazyRevision;
    /// assert_eq!(LazyRevision::from_id(42).id(), Some(42));
    /// ```
    pub fn from_id(id: i64) -> Self {
        LazyRevision {
            cell: Arc::new(OnceCell::new_with(Some(id))),
        }
    }

    /// The revision's id, if it has been created.
    pub fn id(&self) -> Option<i64> {
        self.cell.get().copied()
    }

    /// True when both values share one cell (clones of one another).
    pub fn same_as(&self, other: &LazyRevision) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }

    /// Returns the id, running `create` to make the revision if there is none
    /// yet. Concurrent callers wait for one creation; if `create` fails, the
    /// next caller tries again.
    pub async fn get_or_try_create<E, F, Fut>(&self, create: F) -> Result<i64, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<i64, E>>,
    {
        self.cell.get_or_try_init(create).await.copied()
    }
}

impl fmt::Debug for LazyRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            Some(id) => write!(f, "LazyRevision({id})"),
            None => f.write_str("LazyRevision(<not created>)"),
        }
    }
}

impl From<i64> for LazyRevision {
    fn from(id: i64) -> Self {
        LazyRevision::from_id(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn created_once_then_reused() {
        let lazy = LazyRevision::new();
        let clone = lazy.clone();
        let a: Result<i64, ()> = lazy.get_or_try_create(|| async { Ok(5) }).await;
        let b: Result<i64, ()> = clone.get_or_try_create(|| async { Ok(9) }).await;
        assert_eq!((a, b), (Ok(5), Ok(5)));
        assert_eq!(clone.id(), Some(5));
        assert!(lazy.same_as(&clone));
        assert!(!lazy.same_as(&LazyRevision::from_id(5)));
    }

    #[tokio::test]
    async fn failed_creation_is_retried() {
        let lazy = LazyRevision::new();
        let a: Result<i64, &str> = lazy.get_or_try_create(|| async { Err("down") }).await;
        assert_eq!(a, Err("down"));
        assert_eq!(lazy.id(), None);
        let b: Result<i64, &str> = lazy.get_or_try_create(|| async { Ok(3) }).await;
        assert_eq!(b, Ok(3));
    }
}
