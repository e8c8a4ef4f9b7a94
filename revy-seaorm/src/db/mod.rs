//! Talking to the database where sea-orm leaves a gap: keys and values as the
//! journal stores them, keyset pages, `RETURNING` by backend, the foreign
//! keys the catalog holds, and one object-safe connection type.

pub(crate) mod dyn_conn;
pub(crate) mod foreign_keys;
pub(crate) mod keys;
pub(crate) mod keyset;
pub(crate) mod limits;
pub(crate) mod returning;
pub(crate) mod values;
