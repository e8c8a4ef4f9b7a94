//! The side channels between revy's own code and sea-orm's active-model
//! hooks.
//!
//! sea-orm calls `before_save(am, db, insert)`, `after_save(model, db,
//! insert)`, `before_delete(am, db)` and `after_delete(am, db)`: nothing in
//! those signatures is revy's, so what one hook learned, what revy's callers
//! want of a hook, and what a hook found for its caller travel beside the
//! calls: in the context's stash ([`OldRow`], [`Permit`],
//! [`RequiredVersion`], [`VersionConflict`], [`DraftEdits`]), in
//! thread-locals ([`QueueProbe`], [`exempt_next_statement`], [`own_writes`],
//! [`AppliedPolicies`]) and in a task-local ([`TamperScope`]). Each channel
//! is a type or function here with named operations, and its documentation
//! says who leaves a value, who takes it, and when it is dropped if nobody
//! does.
//!
//! Why, and what an error or a panic in between leaves behind: the guide,
//! `docs/handoff.md`, shown as the `revy::handoff` page of the facade.

mod draft;
mod old_row;
mod permit;
mod polled;
mod queue;
mod tamper;
mod version;

pub(crate) use draft::DraftEdits;
pub(crate) use old_row::OldRow;
pub(crate) use permit::{AppliedPolicies, Permit, is_own_write, own_writes};
pub(crate) use queue::{QueueProbe, exempt_next_statement, take_exemption};
pub(crate) use tamper::TamperScope;
pub(crate) use version::{RequiredVersion, VersionConflict};
