//! Grouping several operations into one revision.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use std::sync::Mutex;

use tokio::sync::Mutex as AsyncMutex;

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
/// The id is cached once the revision row is inserted. A revision created
/// inside a `revy::transaction` (or `revy::begin`) that rolls back is
/// forgotten again, so a retried request under the same context creates it
/// anew. A plain sea-orm transaction cannot tell revy that it rolled back:
/// there revy re-creates the revision row under the same id when the next
/// save needs it (see `revy::transaction` for the whole story).
#[derive(Clone, Default)]
pub struct LazyRevision {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The id, once created (or named).
    id: Mutex<Option<i64>>,
    /// Held while the revision is being created, so concurrent callers wait
    /// for one creation.
    creating: AsyncMutex<()>,
    /// Whether the id was named by the caller ([`LazyRevision::from_id`])
    /// rather than created by revy.
    named: bool,
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
            inner: Arc::new(Inner {
                id: Mutex::new(Some(id)),
                creating: AsyncMutex::new(()),
                named: true,
            }),
        }
    }

    /// The revision's id, if it has been created.
    pub fn id(&self) -> Option<i64> {
        *self.inner.id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when the id was named with [`LazyRevision::from_id`], false
    /// when revy creates (or created) the revision.
    pub fn is_named(&self) -> bool {
        self.inner.named
    }

    /// True when both values share one cell (clones of one another).
    pub fn same_as(&self, other: &LazyRevision) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Returns the id, running `create` to make the revision if there is none
    /// yet. Concurrent callers wait for one creation; if `create` fails, the
    /// next caller tries again.
    pub async fn get_or_try_create<E, F, Fut>(&self, create: F) -> Result<i64, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<i64, E>>,
    {
        if let Some(id) = self.id() {
            return Ok(id);
        }
        let _creating = self.inner.creating.lock().await;
        if let Some(id) = self.id() {
            return Ok(id);
        }
        let id = create().await?;
        self.set(id);
        Ok(id)
    }

    /// Records `id` as the revision's, unless one is already recorded;
    /// returns the id recorded.
    #[doc(hidden)]
    pub fn set_if_unset(&self, id: i64) -> i64 {
        *self
            .inner
            .id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(id)
    }

    fn set(&self, id: i64) {
        *self.inner.id.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
    }

    /// Forgets the id if it is still `id` and revy created it: the
    /// transaction that inserted the revision rolled back, so the next save
    /// creates it anew. A named id ([`LazyRevision::from_id`]) is kept.
    #[doc(hidden)]
    pub fn forget(&self, id: i64) {
        if self.inner.named {
            return;
        }
        let mut slot = self.inner.id.lock().unwrap_or_else(|e| e.into_inner());
        if *slot == Some(id) {
            *slot = None;
        }
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

    #[tokio::test]
    async fn a_forgotten_revision_is_created_anew_but_a_named_one_stays() {
        let lazy = LazyRevision::new();
        let clone = lazy.clone();
        let a: Result<i64, ()> = lazy.get_or_try_create(|| async { Ok(5) }).await;
        assert_eq!(a, Ok(5));
        clone.forget(4); // not its id: kept
        assert_eq!(lazy.id(), Some(5));
        clone.forget(5);
        assert_eq!(lazy.id(), None);
        let b: Result<i64, ()> = lazy.get_or_try_create(|| async { Ok(6) }).await;
        assert_eq!((b, clone.id()), (Ok(6), Some(6)));
        assert_eq!(clone.set_if_unset(9), 6);

        let named = LazyRevision::from_id(7);
        named.forget(7);
        assert_eq!(named.id(), Some(7));
        assert!(named.is_named() && !lazy.is_named());
    }
}
