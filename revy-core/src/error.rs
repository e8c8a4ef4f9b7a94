//! Errors of the core crate.

use thiserror::Error;

/// An operation on the context that needs an active frame was called outside one.
///
/// ```
/// use revy_core::{Context, ContextError};
///
/// // No scope is open here.
/// assert_eq!(Context::set_revision_description("x"), Err(ContextError::NoActiveContext));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A setter, `unset_*`, `reset_*`, `disable` or `enable` ran with no frame on the stack.
    #[error(
        "no revy context is active: open one with Context::new().scope(..) or .sync_scope(..) before setting values"
    )]
    NoActiveContext,
}

/// Text that does not spell an [`Actor`](crate::Actor) or an [`Action`](crate::Action).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text is not `kind:id` with a non-empty kind.
    #[error("`{0}` is not an actor: expected `kind:id`, e.g. `users:7`")]
    Actor(String),
    /// The text is not one of the action words.
    #[error("`{0}` is not an action: expected one of Create, Update, Delete, Set, Unset")]
    Action(String),
}
