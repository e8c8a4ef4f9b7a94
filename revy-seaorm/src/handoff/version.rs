//! [`RequiredVersion`] and [`VersionConflict`]: optimistic concurrency
//! across the hooks.

use std::any::TypeId;

use revy_core::{Context, ContextError};

/// A version a save or delete of one row of entity `E` requires, for the
/// hooks that check it: sea-orm's `update` and `delete` take no such
/// argument.
///
/// - Left by [`update_at_version`](crate::versions::update_at_version),
///   [`delete_at_version`](crate::versions::delete_at_version) and a
///   [`Tracked`](crate::hooks::draft::Tracked) draft with an expected
///   version ([`RequiredVersion::leave`]), in a frame of their own pushed
///   around that one save.
/// - Taken by `before_save` and `before_delete` ([`RequiredVersion::take`])
///   when they read the row, matched by entity and key; `before_save` first
///   looks ([`RequiredVersion::peek`]) so that an update of ignored
///   columns still reads the row.
/// - Dropped if nobody takes it (tracking is off, or the save failed or
///   panicked before the read) with that frame, at the end of the save.
pub(crate) struct RequiredVersion {
    entity: TypeId,
    content_id: String,
    version: i64,
}

impl RequiredVersion {
    /// Requires `version` of the next save or delete of row `content_id` of
    /// `E` in the current frame.
    pub(crate) fn leave<E: 'static>(content_id: String, version: i64) -> Result<(), ContextError> {
        Context::stash(RequiredVersion {
            entity: TypeId::of::<E>(),
            content_id,
            version,
        })
    }

    /// Takes the version required of this save of row `content_id` of `E`.
    pub(crate) fn take<E: 'static>(content_id: &str) -> Option<i64> {
        let entity = TypeId::of::<E>();
        Context::take_stashed::<RequiredVersion>(|r| {
            r.entity == entity && r.content_id == content_id
        })
        .map(|r| r.version)
    }

    /// Whether a save of some row of `E` requires a version, without taking
    /// it.
    pub(crate) fn peek<E: 'static>() -> bool {
        let entity = TypeId::of::<E>();
        Context::peek_stashed::<RequiredVersion, _>(|r| (r.entity == entity).then_some(()))
            .is_some()
    }
}

/// The structured conflict the hooks found, for the caller that left the
/// [`RequiredVersion`]: the hooks can only return a `DbErr`, so revy's
/// `VersionError::VersionConflict` (the `T` here) travels back beside it.
///
/// - Left by the hooks ([`VersionConflict::leave`], through
///   `versions::conflict`) when the row, or the journal, is at another
///   version. Outside any frame nothing is left.
/// - Taken by the caller ([`VersionConflict::take`], through
///   `versions::settle`) when the save returns: in place of the `DbErr` on
///   failure, and thrown away on success.
/// - Dropped if nobody takes it with its frame.
pub(crate) struct VersionConflict<T>(T);

impl<T: Send + 'static> VersionConflict<T> {
    /// Leaves the conflict the hooks found, for their caller.
    pub(crate) fn leave(error: T) {
        // outside any frame there is no one to hand it to
        let _ = Context::stash(VersionConflict(error));
    }

    /// Takes the conflict the hooks found in this frame, if any.
    pub(crate) fn take() -> Option<T> {
        Context::take_stashed::<VersionConflict<T>>(|_| true).map(|c| c.0)
    }
}
