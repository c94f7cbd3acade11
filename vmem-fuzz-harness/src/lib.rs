//! The logic of the fuzz targets in `fuzz/`, kept here so that plain
//! `cargo test` can replay every corpus file through exactly the same
//! checks without a nightly toolchain (see `tests/corpus.rs`).
//!
//! Each module has a `run(&[u8])` that a fuzz target calls with the
//! fuzzer's bytes; it panics on any disagreement with its model.
//!
//! - [`arena_ops`]: operation sequences on vmem-core arenas, a
//!   parent/child pair and a quantum-cached arena, against a model.
//! - [`scenario_parse`]: the CLI's scenario parser and runner on any bytes.
//! - [`c_api`]: the exported C functions, with the inputs libumem accepts.

pub mod arena_ops;
pub mod c_api;
pub mod pages;
pub mod scenario_parse;

/// A target's entry point.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name of their corpus directory.
pub const TARGETS: [(&str, Target); 3] = [
    ("arena_ops", arena_ops::run),
    ("scenario_parse", scenario_parse::run),
    ("c_api", c_api::run),
];
