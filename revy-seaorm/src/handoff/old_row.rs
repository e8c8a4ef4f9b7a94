//! [`OldRow`]: what a `before_*` hook read, for its `after_*` twin.

use std::any::TypeId;

use revy_core::{Context, ContextError};

/// What `before_save` or `before_delete` read of a row of entity `E` (the
/// context's values, and the row as it was before an update or delete, or
/// the values an insert gives), for the matching `after_save` or
/// `after_delete`: sea-orm hands the `after_*` hook only the new model, not
/// the old row. `T` is the hooks' own record of it.
///
/// - Left by `before_save` and `before_delete` ([`OldRow::leave`]), in the
///   innermost context frame, right before sea-orm sends the statement.
/// - Taken by `after_save` and `after_delete` ([`OldRow::take`]), matched
///   by entity and by what the hooks know of the row (its key, or for an
///   insert the values it was given).
/// - Dropped if nobody takes it (the statement failed, or a panic unwound
///   between the hooks): with its frame when the frame's scope ends, or
///   earlier as the oldest value of a frame holding
///   [`Context::STASH_LIMIT`] values. Outside any frame nothing is left,
///   and the `after_*` hook records nothing.
pub(crate) struct OldRow<T> {
    entity: TypeId,
    value: T,
}

impl<T: Send + 'static> OldRow<T> {
    /// Leaves what a `before_*` hook read of a row of `E`.
    pub(crate) fn leave<E: 'static>(value: T) -> Result<(), ContextError> {
        Context::stash(OldRow {
            entity: TypeId::of::<E>(),
            value,
        })
    }

    /// Takes the newest read of a row of `E` that `matches`, innermost
    /// frame first.
    pub(crate) fn take<E: 'static>(mut matches: impl FnMut(&T) -> bool) -> Option<T> {
        let entity = TypeId::of::<E>();
        Context::take_stashed::<OldRow<T>>(|o| o.entity == entity && matches(&o.value))
            .map(|o| o.value)
    }
}
