//! Replays the `c_api` corpus (and seeded random inputs) through the fuzz
//! target's logic. One test only: the target checks that the process-wide
//! tag pool has every tag back at the end of each input, which holds only
//! while no other test makes arenas in this process.

mod replay;

use vmem_fuzz_harness::c_api;

#[test]
fn c_api_corpus_and_random() {
    replay::replay("c_api", c_api::run, 1);
    let cases = if cfg!(debug_assertions) { 500 } else { 4000 };
    replay::random("c_api", c_api::run, 0xc0_a91, cases, 2048);
}
