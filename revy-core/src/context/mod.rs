//! The context: who is acting, why, and whether tracking is on.
//!
//! A context is a stack of frames. Each frame may hold a value for each key
//! (actor, revision, the four descriptions, the disabled flag, meta); reading
//! a key gives the value of the innermost frame that holds it. Frames are
//! pushed by [`Frame::scope`] around a future or by [`Frame::sync_scope`]
//! around a closure, and popped when those end, also on panic or when the
//! future is dropped.
//!
//! # Why a stack per poll, not a global
//!
//! A web backend runs thousands of requests on a few threads; each request
//! has its own actor. A [`Scoped`] future pushes its frames onto a
//! thread-local stack at the start of each poll and takes them back off at
//! the end, the mechanism behind tokio's `task_local!`. So a value is visible
//! exactly to the code that runs inside its scope, on whatever worker thread
//! the task happens to be polled: never to another task, and never to a task
//! spawned from inside the scope unless it is carried there with
//! [`Context::capture`]. Because each scope swaps its own frames, two scopes
//! joined in one task (`tokio::join!`) each see their own values.
//!
//! # Semantics
//!
//! - Getters return the innermost value; string getters return `""` and
//!   [`Context::actor`] returns `None` when no frame holds one.
//! - `set_*` writes into the innermost frame; `unset_*` removes the value
//!   from the nearest frame holding it, so an outer value shows again;
//!   `reset_*` removes it from every frame. Outside any frame they return
//!   [`ContextError::NoActiveContext`].
//! - Tracking is disabled outside any frame, or when the nearest `disabled`
//!   value is true. [`Context::enable`] removes the flag from the innermost
//!   frame only; [`Context::as_enabled`] pushes an explicit "enabled" that
//!   overrides outer frames.
//!
//! ```
//! use revy_core::{Actor, Context};
//!
//! Context::via_actor(Some(Actor::new("users", 1))).sync_scope(|| {
//!     Context::via_actor(Some(Actor::new("users", 2))).sync_scope(|| {
//!         assert_eq!(Context::actor(), Some(Actor::new("users", 2)));
//!         Context::unset_actor().unwrap(); // removes 2, the outer 1 shows
//!         assert_eq!(Context::actor(), Some(Actor::new("users", 1)));
//!     });
//!     assert_eq!(Context::actor(), Some(Actor::new("users", 1)));
//! });
//! assert_eq!(Context::actor(), None);
//! assert!(Context::is_disabled()); // no context, no tracking
//! ```

mod frame;
mod stack;

pub use frame::{CapturedContext, Frame, Scoped};

use crate::{Actor, ContextError, LazyRevision};

/// The entry point to the context: constructors of frames, and getters and
/// setters that act on the current stack.
///
/// See the [module documentation](self) for the model. Every method is an
/// associated function; there is nothing to instantiate.
#[derive(Debug, Clone, Copy)]
pub struct Context;

/// Runs `f` on the innermost frame, or fails when there is none.
fn on_innermost(f: impl FnOnce(&mut stack::Stack, u32)) -> Result<(), ContextError> {
    stack::write(|s| {
        if s.depth == 0 {
            Err(ContextError::NoActiveContext)
        } else {
            let depth = s.depth;
            f(s, depth);
            Ok(())
        }
    })
    .unwrap_or(Err(ContextError::NoActiveContext))
}

macro_rules! string_key {
    ($key:ident, $via:ident, $set:ident, $unset:ident, $reset:ident, $what:literal) => {
        #[doc = concat!("A frame holding only the ", $what, ".")]
        pub fn $via(description: impl Into<String>) -> Frame {
            Frame::empty().$key(description)
        }

        #[doc = concat!("The ", $what, " of the innermost frame holding one, or `\"\"`.")]
        pub fn $key() -> String {
            stack::read(|s| s.$key.top().cloned())
                .flatten()
                .unwrap_or_default()
        }

        #[doc = concat!("Writes the ", $what, " into the innermost frame.")]
        pub fn $set(description: impl Into<String>) -> Result<(), ContextError> {
            let description = description.into();
            on_innermost(|s, d| s.$key.set(d, description))
        }

        #[doc = concat!("Removes the ", $what, " from the nearest frame holding one.")]
        pub fn $unset() -> Result<(), ContextError> {
            on_innermost(|s, _| s.$key.unset())
        }

        #[doc = concat!("Removes the ", $what, " from every frame.")]
        pub fn $reset() -> Result<(), ContextError> {
            on_innermost(|s, _| s.$key.reset())
        }
    };
}

impl Context {
    /// An empty frame, to fill with the chainable setters of [`Frame`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Frame {
        Frame::empty()
    }

    /// A frame holding only the actor (`None` = the system).
    pub fn via_actor(actor: Option<Actor>) -> Frame {
        Frame::empty().actor(actor)
    }

    /// A frame holding only the revision.
    pub fn via_revision(revision: impl Into<Option<LazyRevision>>) -> Frame {
        Frame::empty().revision(revision)
    }

    /// A frame holding only the metadata.
    pub fn via_meta(meta: serde_json::Value) -> Frame {
        Frame::empty().meta(meta)
    }

    /// A frame that disables tracking for its children.
    ///
    /// ```
    /// use revy_core::Context;
    /// Context::new().sync_scope(|| {
    ///     assert!(Context::is_enabled());
    ///     Context::as_disabled().sync_scope(|| assert!(Context::is_disabled()));
    ///     assert!(Context::is_enabled());
    /// });
    /// ```
    pub fn as_disabled() -> Frame {
        Frame::empty().disabled(true)
    }

    /// A frame that enables tracking, overriding a disabled parent.
    ///
    /// ```
    /// use revy_core::Context;
    /// Context::as_disabled().sync_scope(|| {
    ///     Context::as_enabled().sync_scope(|| assert!(Context::is_enabled()));
    /// });
    /// ```
    pub fn as_enabled() -> Frame {
        Frame::empty().disabled(false)
    }

    /// The actor of the innermost frame holding one; `None` when that actor is
    /// the system or when no frame holds one.
    pub fn actor() -> Option<Actor> {
        stack::read(|s| s.actor.top().cloned().flatten()).flatten()
    }

    /// Writes the actor into the innermost frame.
    pub fn set_actor(actor: Option<Actor>) -> Result<(), ContextError> {
        on_innermost(|s, d| s.actor.set(d, actor))
    }

    /// Removes the actor from the nearest frame holding one.
    pub fn unset_actor() -> Result<(), ContextError> {
        on_innermost(|s, _| s.actor.unset())
    }

    /// Removes the actor from every frame.
    pub fn reset_actor() -> Result<(), ContextError> {
        on_innermost(|s, _| s.actor.reset())
    }

    /// The revision of the innermost frame holding one (a clone sharing its cell).
    pub fn revision() -> Option<LazyRevision> {
        stack::read(|s| s.revision.top().cloned().flatten()).flatten()
    }

    /// Writes the revision into the innermost frame.
    pub fn set_revision(revision: impl Into<Option<LazyRevision>>) -> Result<(), ContextError> {
        let revision = revision.into();
        on_innermost(|s, d| s.revision.set(d, revision))
    }

    /// Removes the revision from the nearest frame holding one.
    pub fn unset_revision() -> Result<(), ContextError> {
        on_innermost(|s, _| s.revision.unset())
    }

    /// Removes the revision from every frame.
    pub fn reset_revision() -> Result<(), ContextError> {
        on_innermost(|s, _| s.revision.reset())
    }

    string_key!(
        revision_description,
        via_revision_description,
        set_revision_description,
        unset_revision_description,
        reset_revision_description,
        "revision description"
    );
    string_key!(
        object_delta_description,
        via_object_delta_description,
        set_object_delta_description,
        unset_object_delta_description,
        reset_object_delta_description,
        "object delta description"
    );
    string_key!(
        attribute_delta_description,
        via_attribute_delta_description,
        set_attribute_delta_description,
        unset_attribute_delta_description,
        reset_attribute_delta_description,
        "attribute delta description"
    );
    string_key!(
        deletion_description,
        via_deletion_description,
        set_deletion_description,
        unset_deletion_description,
        reset_deletion_description,
        "deletion description"
    );

    /// The metadata of the innermost frame holding some, or JSON `null`.
    pub fn meta() -> serde_json::Value {
        stack::read(|s| s.meta.top().cloned())
            .flatten()
            .unwrap_or_default()
    }

    /// Writes the metadata into the innermost frame.
    pub fn set_meta(meta: serde_json::Value) -> Result<(), ContextError> {
        on_innermost(|s, d| s.meta.set(d, meta))
    }

    /// Removes the metadata from the nearest frame holding some.
    pub fn unset_meta() -> Result<(), ContextError> {
        on_innermost(|s, _| s.meta.unset())
    }

    /// Removes the metadata from every frame.
    pub fn reset_meta() -> Result<(), ContextError> {
        on_innermost(|s, _| s.meta.reset())
    }

    /// Disables tracking in the innermost frame (and so in its children).
    pub fn disable() -> Result<(), ContextError> {
        on_innermost(|s, d| s.disabled.set(d, true))
    }

    /// Removes the disabled flag from the innermost frame only: a disabled
    /// outer frame still applies.
    pub fn enable() -> Result<(), ContextError> {
        on_innermost(|s, d| s.disabled.remove_at(d))
    }

    /// True outside any frame, or when the nearest `disabled` value is true.
    pub fn is_disabled() -> bool {
        stack::read(|s| s.depth == 0 || s.disabled.top().copied().unwrap_or(false)).unwrap_or(true)
    }

    /// The opposite of [`Context::is_disabled`]: tracked operations record.
    pub fn is_enabled() -> bool {
        !Context::is_disabled()
    }

    /// True inside at least one frame.
    pub fn is_active() -> bool {
        stack::read(|s| s.depth > 0).unwrap_or(false)
    }

    /// Keeps `value` in the innermost frame until [`Context::take_stashed`]
    /// takes it back: how an integration carries state from one hook to the
    /// next within a scope (revy's `before_save` leaves what it read for
    /// `after_save`). A frame keeps at most [`Context::STASH_LIMIT`] values;
    /// past that the oldest is dropped. Captured copies start empty.
    ///
    /// ```
    /// use revy_core::Context;
    /// Context::new().sync_scope(|| {
    ///     Context::stash(41_u32).unwrap();
    ///     assert_eq!(Context::take_stashed::<u32>(|v| *v == 41), Some(41));
    ///     assert_eq!(Context::take_stashed::<u32>(|_| true), None);
    /// });
    /// ```
    pub fn stash<T: std::any::Any + Send>(value: T) -> Result<(), ContextError> {
        on_innermost(|s, d| {
            if let Some(stash) = s.stash.at_mut(d) {
                if stash.0.len() >= Context::STASH_LIMIT {
                    stash.0.remove(0);
                }
                stash.0.push(Box::new(value));
            }
        })
    }

    /// The most values one frame's stash keeps.
    pub const STASH_LIMIT: usize = 64;

    /// Takes back the newest stashed value of type `T` for which `matches`
    /// is true, searching the innermost frame first.
    pub fn take_stashed<T: std::any::Any + Send>(mut matches: impl FnMut(&T) -> bool) -> Option<T> {
        stack::write(|s| {
            for stash in s.stash.iter_mut_innermost_first() {
                let found = stash
                    .0
                    .iter()
                    .rposition(|v| v.downcast_ref::<T>().is_some_and(&mut matches));
                if let Some(i) = found {
                    return stash.0.remove(i).downcast::<T>().ok().map(|b| *b);
                }
            }
            None
        })
        .flatten()
    }

    /// Looks at the stashed values of type `T`, newest first and the
    /// innermost frame first, without taking any: the first `Some` that
    /// `look` returns, or `None`. For an integration that must know whether
    /// something is stashed before the hook that takes it runs.
    ///
    /// ```
    /// use revy_core::Context;
    /// Context::new().sync_scope(|| {
    ///     Context::stash(41_u32).unwrap();
    ///     assert_eq!(Context::peek_stashed::<u32, _>(|v| Some(*v + 1)), Some(42));
    ///     assert_eq!(Context::take_stashed::<u32>(|_| true), Some(41));
    /// });
    /// ```
    pub fn peek_stashed<T: std::any::Any + Send, R>(
        mut look: impl FnMut(&T) -> Option<R>,
    ) -> Option<R> {
        stack::read(|s| {
            s.stash
                .iter_innermost_first()
                .flat_map(|stash| stash.0.iter().rev())
                .find_map(|v| v.downcast_ref::<T>().and_then(&mut look))
        })
        .flatten()
    }

    /// Copies the current stack, to carry it into a spawned task; `None`
    /// outside any frame.
    pub fn capture() -> Option<CapturedContext> {
        stack::read(|s| (s.depth > 0).then(|| CapturedContext::new(s.capture()))).flatten()
    }
}

#[cfg(test)]
mod tests;
