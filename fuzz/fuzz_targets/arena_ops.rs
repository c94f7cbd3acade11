#![no_main]
//! Fuzz target `arena_ops`: the logic lives in vmem_fuzz_harness::arena_ops, shared
//! with the corpus replay test of plain `cargo test`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmem_fuzz_harness::arena_ops::run(data));
