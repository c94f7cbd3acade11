//! Replays the `arena_ops` and `scenario_parse` corpora (and seeded random
//! inputs) through the fuzz targets' logic in plain `cargo test`, so a
//! regression on any input the fuzzer once found interesting fails CI.
//! `c_api` replays in its own binary (`c_api_corpus.rs`): it checks the
//! process-wide tag pool, which other tests here would share.

mod replay;

use vmem_fuzz_harness::{arena_ops, scenario_parse};

/// Random cases per target: fewer in debug builds and under Miri.
fn cases(release: usize) -> usize {
    if cfg!(miri) {
        2
    } else if cfg!(debug_assertions) {
        release / 8
    } else {
        release
    }
}

#[test]
fn arena_ops_corpus() {
    replay::replay("arena_ops", arena_ops::run, 1);
}

#[test]
fn arena_ops_random() {
    replay::random("arena_ops", arena_ops::run, 0xa110c, cases(4000), 2048);
}

#[test]
fn scenario_parse_corpus() {
    replay::replay("scenario_parse", scenario_parse::run, 1);
}

#[test]
fn scenario_parse_random() {
    replay::random(
        "scenario_parse",
        scenario_parse::run,
        0x5ce_7a10,
        cases(4000),
        512,
    );
}
