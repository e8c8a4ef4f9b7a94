//! The journal: revisions, object deltas and attribute deltas, as SeaORM
//! entities, and the schema that holds them.

pub mod attribute_delta;
pub(crate) mod batch;
#[cfg(feature = "migration")]
pub mod migration;
pub mod object_delta;
mod one_query;
pub mod revision;
pub(crate) mod schema;
pub(crate) mod write;

pub use schema::{CONTENT_ID_LEN, CONTENT_TYPE_LEN, FIELD_NAME_LEN, install};
