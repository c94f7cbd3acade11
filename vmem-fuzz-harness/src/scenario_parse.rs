//! The `scenario_parse` fuzz target: any bytes through the scenario parser;
//! a script that parses is run, and a world that runs is rendered the ways
//! the CLI renders it.
//!
//! Nothing may panic, every error must carry its `file:line:col` position,
//! and a script that parses must also run, or fail with a positioned error.

use vmem_cli::scenario::{self, number_value, RunOptions};
use vmem_cli::walk::TypeFilter;

const FILE: &str = "fuzz.vmem";

/// Scripts that expand to more statements than this are skipped: the
/// parser's own cap (16M) is tested by the CLI's tests, and running that
/// many statements per input would only slow the fuzzer down.
pub const STATEMENT_BUDGET: usize = 20_000;

/// The parser's look-ahead, with the fuzzer's smaller budget.
fn expands_past_budget(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let mut total = 0usize;
    for raw in text.lines() {
        let mut words = raw.split('#').next().unwrap_or("").split_whitespace();
        let Some(mut first) = words.next() else {
            continue;
        };
        if first == "expect-fail" {
            first = words.next().unwrap_or("");
        }
        let count = match first {
            "repeat" => words.next().and_then(|n| number_value(n).ok()).unwrap_or(1),
            _ => 1,
        };
        total = total.saturating_add(count.max(1));
        if total > STATEMENT_BUDGET {
            return true;
        }
    }
    false
}

fn assert_located(err: &scenario::ScriptError) {
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{FILE}:{}:{}: ", err.line, err.col)) && err.line >= 1,
        "error without a position: {text}"
    );
}

/// Runs the target on raw fuzzer bytes.
pub fn run(data: &[u8]) {
    if expands_past_budget(data) {
        return;
    }
    let script = match scenario::parse_bytes(FILE, data) {
        Ok(script) => script,
        Err(err) => return assert_located(&err),
    };
    for options in [
        RunOptions::default(),
        RunOptions {
            policy: Some(vmem_core::Policy::BestFit),
            lenient: true,
            progress: None,
            skip_prints: true,
        },
    ] {
        match scenario::run(&script, &options) {
            Ok(world) => {
                let _ = vmem_cli::walk::render(&world, FILE, None, TypeFilter::default());
                let views = world.views();
                let _ = vmem_cli::stat::render(&views);
                let all: Vec<&scenario::ArenaView> = views.iter().collect();
                let _ = vmem_cli::map::render(&all, vmem_cli::map::MapOptions::default());
            }
            Err(err) => assert_located(&err),
        }
    }
}
