//! [`DraftEdits`]: a `Tracked` draft's per-column edits, for the hooks.

use std::any::TypeId;

use revy_core::{Context, ContextError};

/// The edits of a [`Tracked`](crate::hooks::draft::Tracked) draft of entity
/// `E` (each column's chain of values, with the actor and description of
/// each edit), for the `after_save` of the draft's save, which attributes
/// the attribute deltas to them. `T` is the draft's own record of them.
///
/// - Left by the draft's `insert`/`update` ([`DraftEdits::leave`]) in a
///   frame of its own, pushed around that one save.
/// - Taken by `after_save` ([`DraftEdits::take`]); when tracking is off the
///   hooks do not run, and the draft takes them back itself after the save.
/// - Dropped if nobody takes them (the save failed or panicked) with the
///   draft's frame, at the end of the save.
pub(crate) struct DraftEdits<T> {
    entity: TypeId,
    edits: T,
}

impl<T: Send + 'static> DraftEdits<T> {
    /// Leaves the edits of a draft of `E`, right before it is saved.
    pub(crate) fn leave<E: 'static>(edits: T) -> Result<(), ContextError> {
        Context::stash(DraftEdits {
            entity: TypeId::of::<E>(),
            edits,
        })
    }

    /// Takes the newest edits of a draft of `E`, innermost frame first.
    pub(crate) fn take<E: 'static>() -> Option<T> {
        let entity = TypeId::of::<E>();
        Context::take_stashed::<DraftEdits<T>>(|d| d.entity == entity).map(|d| d.edits)
    }
}
