//! Running revy for years: [`prune`] folds old history into checkpoints
//! (optionally exporting what it removes) and [`import`] reads an export
//! back; [`erase`] takes a person's values out of a row's whole history;
//! [`rename_table`] moves a renamed table's history.

pub(crate) mod erase;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod prune;
pub(crate) mod schema_change;

pub use crate::error::LifecycleError;
pub use erase::{ERASE_CHUNK_SIZE, ERASURES, Erase, Erased, Erasure, erase, erase_all, is_erased};
pub use import::{ImportReport, import};
pub use prune::{CHECKPOINT_DESCRIPTION, PRUNE_CHUNK_SIZE, Prune, PruneReport, prune};
pub use schema_change::{RENAME_CHUNK_SIZE, rename_table, rename_table_in_chunks};
