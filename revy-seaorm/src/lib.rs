//! SeaORM integration of revy.
#![deny(missing_docs)]

pub mod codec;
