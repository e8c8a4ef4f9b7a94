//! Frames: building them, and pushing them for a future or a closure.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::stack::{Pushed, Values};
use crate::{Actor, LazyRevision};

/// A frame of the context: values for some keys, pushed onto the stack for
/// the life of a future ([`Frame::scope`]) or a closure ([`Frame::sync_scope`]).
///
/// Made by [`Context::new`](crate::Context::new) or any `Context::via_*` /
/// `Context::as_*` constructor; its setters chain.
///
/// As a builder:
///
/// ```
/// use revy_core::{Actor, Context};
///
/// let frame = Context::new()
///     .actor(Some(Actor::new("users", 7)))
///     .revision_description("Imported from CSV")
///     .meta(serde_json::json!({"request_id": "r-1"}));
/// ```
///
/// Around async work:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use revy_core::{Actor, Context};
///
/// let who = Context::via_actor(Some(Actor::new("users", 7)))
///     .scope(async {
///         tokio::task::yield_now().await;
///         Context::actor()
///     })
///     .await;
/// assert_eq!(who, Some(Actor::new("users", 7)));
/// assert_eq!(Context::actor(), None); // popped when the scope ended
/// # }
/// ```
///
/// Around sync work:
///
/// ```
/// use revy_core::Context;
///
/// Context::via_revision_description("nightly").sync_scope(|| {
///     assert_eq!(Context::revision_description(), "nightly");
/// });
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a frame does nothing until it is pushed with .scope(..) or .sync_scope(..)"]
pub struct Frame {
    values: Values,
}

impl Frame {
    pub(crate) fn empty() -> Self {
        Frame::default()
    }

    /// Sets the actor; `None` is the system.
    pub fn actor(mut self, actor: Option<Actor>) -> Self {
        self.values.actor = Some(actor);
        self
    }

    /// Sets the revision that tracked operations write into. `None` shadows
    /// an outer revision, so each operation gets its own again.
    pub fn revision(mut self, revision: impl Into<Option<LazyRevision>>) -> Self {
        self.values.revision = Some(revision.into());
        self
    }

    /// Sets the description given to revisions created in this frame.
    pub fn revision_description(mut self, description: impl Into<String>) -> Self {
        self.values.revision_description = Some(description.into());
        self
    }

    /// Sets the description given to object deltas.
    pub fn object_delta_description(mut self, description: impl Into<String>) -> Self {
        self.values.object_delta_description = Some(description.into());
        self
    }

    /// Sets the description given to attribute deltas.
    pub fn attribute_delta_description(mut self, description: impl Into<String>) -> Self {
        self.values.attribute_delta_description = Some(description.into());
        self
    }

    /// Sets the description given to the deltas of rows a deletion policy changes.
    pub fn deletion_description(mut self, description: impl Into<String>) -> Self {
        self.values.deletion_description = Some(description.into());
        self
    }

    /// Sets the disabled flag: `true` stops tracking in this frame and its
    /// children, `false` turns it back on under a disabled parent.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.values.disabled = Some(disabled);
        self
    }

    /// Sets the metadata stored with revisions created in this frame
    /// (usually a JSON object, e.g. a request id).
    pub fn meta(mut self, meta: serde_json::Value) -> Self {
        self.values.meta = Some(meta);
        self
    }

    /// Pushes this frame while `future` runs: the frame is on the stack
    /// during each poll of the future and off it in between, so other tasks
    /// on the same thread never see it, and two scopes joined in one task
    /// each see their own frame.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            frames: Frames::One(self.values),
            future: Some(future),
        }
    }

    /// Pushes this frame while `f` runs, from sync or async code. The frame
    /// is popped when `f` returns or panics.
    pub fn sync_scope<R>(mut self, f: impl FnOnce() -> R) -> R {
        let _pushed = Pushed::new(std::slice::from_mut(&mut self.values));
        f()
    }
}

/// The frames a [`Scoped`] future pushes around each poll.
#[derive(Debug)]
enum Frames {
    One(Values),
    Many(Vec<Values>),
}

impl Frames {
    fn as_mut_slice(&mut self) -> &mut [Values] {
        match self {
            Frames::One(values) => std::slice::from_mut(values),
            Frames::Many(values) => values,
        }
    }
}

pin_project! {
    /// A future running inside context frames: returned by [`Frame::scope`]
    /// and [`CapturedContext::scope`]. It is `Send` when the inner future is.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    ///
    /// The inner future is also dropped inside the frames, as tokio's
    /// `TaskLocalFuture` does: a `Drop` that reads the context (a guard held
    /// across an `.await`, a cancelled scope) sees the scope's values, not
    /// the caller's.
    pub struct Scoped<F> {
        frames: Frames,
        // `Some` until dropped, so the drop below can run it in the frames
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let _pushed = Pushed::new(this.frames.as_mut_slice());
            // drops the future in place, which pinning allows
            let mut future = this.future;
            future.set(None);
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _pushed = Pushed::new(this.frames.as_mut_slice());
        match this.future.as_pin_mut() {
            Some(future) => future.poll(cx),
            // `None` only during the drop above, which no poll follows
            None => Poll::Pending,
        }
    }
}

/// A copy of the context stack, to carry into a spawned task.
///
/// A task spawned with `tokio::spawn` starts with no context. Capture the
/// current one and wrap the task's future in it:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use revy_core::{Actor, Context};
///
/// Context::via_actor(Some(Actor::new("users", 7)))
///     .scope(async {
///         let captured = Context::capture().expect("inside a scope");
///         let seen = tokio::spawn(captured.scope(async { Context::actor() }))
///             .await
///             .unwrap();
///         assert_eq!(seen, Some(Actor::new("users", 7)));
///     })
///     .await;
/// # }
/// ```
///
/// The task's own `set_*`/`unset_*` change its copy only. A
/// [`LazyRevision`] in the copy is shared, so the task's saves land in the
/// same revision as the parent's.
#[derive(Clone, Debug)]
pub struct CapturedContext {
    frames: Vec<Values>,
}

impl CapturedContext {
    pub(crate) fn new(frames: Vec<Values>) -> Self {
        CapturedContext { frames }
    }

    /// Runs `future` inside the captured frames.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            frames: Frames::Many(self.frames),
            future: Some(future),
        }
    }

    /// Runs `f` inside the captured frames, e.g. on a thread of its own.
    pub fn sync_scope<R>(mut self, f: impl FnOnce() -> R) -> R {
        let _pushed = Pushed::new(&mut self.frames);
        f()
    }
}
