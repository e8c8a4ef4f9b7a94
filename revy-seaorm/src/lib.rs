//! SeaORM integration of revy: the journal tables, the active-model hooks
//! that fill them, and the queries that read them back.
//!
//! Most users depend on the `revy` facade crate, which re-exports this one.
#![deny(missing_docs)]

mod actor;
mod blame;
mod bulk;
pub mod cascade;
pub mod codec;
mod deletion;
mod doc_fixture;
mod draft;
mod dyn_conn;
mod erase;
mod error;
mod export;
pub mod feed;
mod field_value;
pub mod guard;
mod history;
mod history_entry;
pub mod hooks;
mod import;
mod journal;
mod keys;
mod keyset;
pub mod policy;
mod prune;
mod record;
mod restore;
mod returning;
mod revisions;
pub mod schema_change;
mod snapshot;
mod tag;
pub mod tamper;
mod time_travel;
mod track;
pub mod transaction;
mod trash;
mod undo;
mod values;
mod version;

pub use actor::ActorExt;
pub use blame::{Blame, ColumnBlame, blame};
pub use bulk::{
    DeleteMany, InsertMany, UpdateMany, Where, delete_by_id, delete_many, insert_many, update_many,
};
pub use bulk::{DeleteOne, InsertOne, UpdateOne, delete_one, insert_one, update_one};
pub use cascade::{register_child_policies, reset_foreign_keys};
pub use deletion::{
    ChildPolicy, DEFAULT_CHUNK_SIZE, DeletionPolicies, MAX_DEPTH, OnDelete, delete,
    delete_in_chunks,
};
pub use draft::Tracked;
pub use erase::{ERASE_CHUNK_SIZE, ERASURES, Erase, Erased, Erasure, erase, erase_all, is_erased};
pub use error::Error;
pub use field_value::FieldValue;
pub use guard::{
    Guarded, GuardedTransaction, RevyTransaction, UntrackedWrites, reset_untracked_writes,
    untracked_writes,
};
pub use history::{History, as_of, diff, history, revision_actors, revision_deltas};
pub use history_entry::{FieldChange, HistoryEntry};
pub use import::{ImportReport, import};
pub use journal::attribute_delta::AttributeDelta;
pub use journal::revision::RevisionKind;
pub use journal::{CONTENT_ID_LEN, CONTENT_TYPE_LEN, FIELD_NAME_LEN, TAG_NAME_LEN, install};
pub use keys::content_type;
pub use policy::{Policy, TrackingPolicy, is_redacted};
pub use prune::{CHECKPOINT_DESCRIPTION, PRUNE_CHUNK_SIZE, Prune, PruneReport, prune};
pub use restore::{TrackedEntity, restore, restore_latest, revert};
pub use revisions::{RevisionSummary, Revisions, revision_summaries, revisions};
pub use schema_change::{RENAME_CHUNK_SIZE, rename_table, rename_table_in_chunks};
pub use snapshot::{ObjectSnapshot, SelectSnapshotExt, SnapshotSelect};
pub use tag::{as_of_tag, find_tag, tag, tags, undo_to_tag};
pub use tamper::{Verified, verify};
pub use time_travel::{DEFAULT_PAGE_SIZE, Moment, Page, TableAsOf, table_as_of};
pub use transaction::{Transaction, begin, transaction};
pub use trash::{DeletedRow, Trash, deleted};
pub use undo::{register, undo_revision};
pub use version::{delete_at_version, update_at_version, version_of};

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
    pub use crate::{ActorExt, SelectSnapshotExt};
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
