#![no_main]
//! Fuzz target `scenario_parse`: the logic lives in vmem_fuzz_harness::scenario_parse, shared
//! with the corpus replay test of plain `cargo test`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmem_fuzz_harness::scenario_parse::run(data));
