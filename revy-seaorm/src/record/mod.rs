//! The journal's writer: every path that journals a change (the hooks,
//! drafts, baselines, bulk chunks, deletion policies, a queued
//! transaction's flush, import and prune's checkpoints) builds its rows
//! here, with the backend SQL in this module alone. [`journal`](crate::journal)
//! keeps the tables, their schema and their row types.
//!
//! - [`insert`]: the one builder of `INSERT`s into the journal, which
//!   every writer below describes its rows to (with [`recordset`],
//!   PostgreSQL's statement for many rows);
//! - [`write::record`]: one object delta with its attribute deltas (the
//!   hooks, drafts, a single baseline);
//! - [`batch`]: many rows of one table at once (bulk writes, deletion
//!   policies, baselines);
//! - [`flush`]: a queued transaction's journal at commit;
//! - [`checkpoint`]: every so many versions of an object, its whole state
//!   in its delta;
//! - [`numbering`]: the versions a writer names on MySQL;
//! - [`sealed`]: the chain links a writer computes with tamper evidence on.
//!
//! Whether a write is sealed is a [`Seal`] the caller passes, read once
//! from the task's setting where an operation begins.

pub(crate) mod batch;
pub(crate) mod checkpoint;
pub(crate) mod flush;
pub(crate) mod insert;
pub(crate) mod numbering;
mod recordset;
pub(crate) mod rows;
pub(crate) mod sealed;
pub(crate) mod write;

/// Whether the deltas a write journals carry their object's chain link
/// (tamper evidence, see [`tamper`](crate::tamper)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seal {
    /// No link: `hash` stays NULL.
    Off,
    /// Each delta carries the link of its object's hash chain.
    On,
}

impl Seal {
    /// The task's setting now ([`tamper::enable`](crate::tamper::enable),
    /// [`tamper::scope`](crate::tamper::scope)): what an operation reads
    /// once where it begins and hands to the writer.
    pub(crate) fn current() -> Self {
        if crate::tamper::is_enabled() {
            Seal::On
        } else {
            Seal::Off
        }
    }

    pub(crate) fn is_on(self) -> bool {
        self == Seal::On
    }
}
