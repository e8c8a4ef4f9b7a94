//! revy's examples, runnable with `cargo run -p revy-examples --example
//! <name>`: see `examples/` and the README. This library is empty; the
//! package exists so that an example builds revy with only the drivers and
//! integrations it names in its features.
