//! Talking to the database where sea-orm leaves a gap: keys and values as the
//! journal stores them, keyset pages, `RETURNING` by backend, the foreign
//! keys the catalog holds, one object-safe connection type, and a
//! statement's rows as one row on SQLite.

pub(crate) mod dyn_conn;
pub(crate) mod foreign_keys;
pub(crate) mod keys;
pub(crate) mod keyset;
pub(crate) mod limits;
pub(crate) mod one_row;
pub(crate) mod returning;
pub(crate) mod values;
