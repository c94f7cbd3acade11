#![no_main]
//! Fuzz target `c_api`: the logic lives in vmem_fuzz_harness::c_api, shared
//! with the corpus replay test of plain `cargo test`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmem_fuzz_harness::c_api::run(data));
