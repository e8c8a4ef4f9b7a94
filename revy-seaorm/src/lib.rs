//! SeaORM integration of revy: the journal tables, the active-model hooks
//! that fill them, and the queries that read them back.
//!
//! Most users depend on the `revy` facade crate, which re-exports this one
//! module for module. The root holds what every application touches; each
//! area is a module:
//!
//! | module | for |
//! |---|---|
//! | [`hooks`] | the hooks `track!` expands to, [`Tracked`] drafts |
//! | [`policy`] | what is recorded per entity |
//! | [`registry`] | [`TrackedEntity`](registry::TrackedEntity), content types |
//! | [`entity`] | the journal's tables as sea-orm entities |
//! | [`history`] | reading: history, snapshots, blame, revisions, trash, time travel |
//! | [`rollback`] | restore, revert, undo |
//! | [`versions`] | versions and saves that require one |
//! | [`tags`] | names for revisions |
//! | [`bulk`] | tracked `insert_many`, `update_many`, `delete_many` |
//! | [`guard`] | writes that bypass revy, reported or refused |
//! | [`deletion`] | tracked deletion policies and database cascades |
//! | [`queued`] | a transaction whose journal is written at commit |
//! | [`feed`] | the change feed |
//! | [`lifecycle`] | prune, export and import, erasure, renamed tables |
//! | [`tamper`] | hash-chained journal entries and their check |
//! | [`codec`] | values to JSON and back |
//! | [`error`] | [`Error`] and every area's error |
//!
//! An area's failures are its own error type ([`tags::TagError`],
//! [`rollback::RollbackError`], ...), which [`Error`] boxes under a kind of
//! its own; the [`error`] module holds them all, with
//! [`JournalError`](error::JournalError), which every area can meet.
#![deny(missing_docs)]

pub mod bulk;
pub mod codec;
mod db;
pub mod deletion;
mod doc_fixture;
pub mod error;
pub mod feed;
pub mod guard;
mod handoff;
pub mod history;
pub mod hooks;
mod journal;
pub mod lifecycle;
pub mod policy;
pub mod queued;
mod record;
pub mod registry;
pub mod rollback;
pub mod tags;
pub mod tamper;
pub mod versions;

pub use error::Error;
pub use hooks::draft::Tracked;
pub use journal::install;
pub use policy::{Policy, TrackingPolicy};
pub use queued::{begin, transaction};

/// The journal as a sea-orm-migration step (cargo feature `migration`).
#[cfg(feature = "migration")]
pub mod migration {
    pub use crate::journal::migration::Migration;
}

/// The journal's SeaORM entities, to query with plain sea-orm.
pub mod entity {
    pub use crate::journal::{attribute_delta, erasure, object_delta, revision, tag};
}

/// Extension traits: `use revy::prelude::*`.
pub mod prelude {
    pub use crate::history::SelectSnapshotExt;
    pub use crate::hooks::actor::ActorExt;
}

#[doc(hidden)]
pub mod __private {
    pub use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait};

    /// Writes the checkpoints of these objects of `content_type` again
    /// (the benchmarks' seeds write journal rows straight to the tables).
    pub async fn rebuild_checkpoints<C: ConnectionTrait>(
        db: &C,
        content_type: &str,
        content_ids: &[String],
    ) -> Result<(), crate::Error> {
        use crate::journal::object_delta::Column as D;
        use sea_orm::ColumnTrait;
        for part in content_ids.chunks(500) {
            let which = sea_orm::sea_query::Condition::all()
                .add(D::ContentType.eq(content_type))
                .add(D::ContentId.is_in(part.iter().map(String::as_str)));
            crate::record::checkpoint::rebuild(db, which).await?;
        }
        Ok(())
    }
}
