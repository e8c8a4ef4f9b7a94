//! Tamper evidence: every object delta carries a hash chained to the
//! object's delta before it, and [`verify`](crate::tamper::verify()) walks the
//! journal and names the first entry that is not as revy wrote it.
//!
//! It is off by default; [`enable`] turns it on for the process (at
//! start-up, before the first tracked write, in every process that writes
//! the journal).
//!
//! # What each delta carries
//!
//! `revy_object_deltas.hash` is SHA-256 over the delta's own fields
//! (revision, actor, action, description, key, time, version), all its
//! attribute deltas (each value as a salted digest, see below) and the
//! hash of the object's delta before it. One chain per object: writers of
//! different rows never wait on each other for it, and writers of one row
//! are already ordered by the row's lock. The writer knows the hash before
//! it writes (the hooks' locked read fetches it with the version), so a
//! tracked write makes no extra round trip; when what it read is stale (a
//! concurrent writer, a key with an older history), the journal statement
//! writes nothing, and the writer reads the newest link and writes again.
//!
//! [`prune`](crate::lifecycle::prune()) folds an object's old history into a
//! checkpoint that keeps the chain link of the newest delta it replaces,
//! so the deltas after it still verify, and seals the checkpoint's own
//! contents in `revy_object_deltas.seal`.
//!
//! # Salted value digests, and erasure
//!
//! A value enters the hash as `SHA-256(salt, value)`, not as itself. Each
//! delta stores a random seed (`revy_object_deltas.salt`) its values'
//! salts derive from. [`erase`](crate::lifecycle::erase()) replaces an erased value
//! with the marker `{"revy":"erased"}` and the seed with every kept
//! value's salt and every erased value's digest: the chain still verifies,
//! and with the salt gone nobody can test guesses of the erased value
//! against its digest. A value changed by hand, or a marker without the
//! digest of the value it replaced, still fails [`verify`](crate::tamper::verify()).
//!
//! The table is not hashed (a chain is one object's already), so
//! [`rename_table`](crate::lifecycle::rename_table) keeps every chain whole.
//!
//! # What `verify` finds
//!
//! Per object, in id order: a changed field or value of any delta or
//! attribute delta ([`Finding::Altered`]), a missing delta (a version gap,
//! or a first delta that is neither version 1 nor a checkpoint:
//! [`Finding::Missing`]), deltas whose order was changed
//! ([`Finding::OutOfOrder`]), and a delta added without a valid link
//! ([`Finding::Inserted`]).
//!
//! # What it does not protect against
//!
//! The hashes are not keyed: anyone who can write the journal and knows
//! this scheme can rewrite an object's chain from the changed delta to its
//! newest one, and removing an object's newest deltas (or all of them)
//! leaves a shorter chain that verifies. Only something kept outside the
//! database finds those: [`Verified::root`] is a digest of every object's
//! newest link, and an object's link at a version is in its journal row.
//! Store them where the database's writers cannot change them (a signed
//! log, another system, a printed report); a chain rewritten below a
//! stored link no longer reaches that link at that version. Deltas written
//! while tamper evidence was off carry no hash: they are counted as
//! unsealed, not checked.
//!
//! See [`verify`](crate::tamper::verify()) for an example.

mod chain;
mod verify;

use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::error::TamperError;
pub(crate) use chain::{DeltaFields, Encoder, Salts};
pub use verify::{Finding, VERIFY_CHUNK_SIZE, Verified, verify, verify_in_chunks};

use crate::handoff;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns tamper evidence on for this process: from now on every journal
/// write hashes what it writes.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Turns tamper evidence off for this process: journal writes from now on
/// carry no hash, and [`verify`](crate::tamper::verify()) reports an object's later
/// deltas as inserted once its chain has begun.
pub fn disable() {
    ENABLED.store(false, Ordering::SeqCst);
}

/// Whether journal writes in this task hash what they write: the
/// [`scope`] around it if any, else the process's setting.
pub fn is_enabled() -> bool {
    handoff::TamperScope::get().unwrap_or_else(|| ENABLED.load(Ordering::SeqCst))
}

/// Runs `work` with tamper evidence on or off whatever the process's
/// setting: for tests, and for processes where only some tasks write a
/// sealed journal. Tasks `work` spawns do not inherit it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let on = revy_seaorm::tamper::scope(true, async { revy_seaorm::tamper::is_enabled() }).await;
/// assert!(on);
/// # }
/// ```
pub async fn scope<F: std::future::Future>(enabled: bool, work: F) -> F::Output {
    handoff::TamperScope::run(enabled, work).await
}
