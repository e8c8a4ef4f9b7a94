//! revy facade
