//! `vmem-cli replay`: run a large trace and measure it; `gen-trace`: write a
//! synthetic one.
//!
//! A trace is a scenario (the same language, see [`crate::scenario`]),
//! usually in its compact form: `a SIZE LABEL` allocates from the first
//! arena, `f LABEL` frees. Unlike `walk`, a replay counts an allocation that
//! fails instead of stopping, and skips the later free of its label, so one
//! trace can be compared under every policy. A free of a label that was
//! never allocated is an error, as in `walk`.
//!
//! [`replay_file`] streams the trace: each line is parsed and run before
//! the next is read, so memory does not grow with the trace's length.

use std::io::{self, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use vmem_core::Policy;

use crate::scenario::{self, policy_name, RunOptions, Script, World, POLICIES};
use crate::stat::percent;
use crate::table::{hex, Align, Table};
use crate::CliError;

/// The figures of one replay of a trace.
#[derive(Clone, Debug)]
pub struct ReplayResult {
    /// The policy forced on every allocation (`None`: as written).
    pub policy: Option<Policy>,
    /// Statements executed.
    pub ops: u64,
    /// Time spent executing them.
    pub elapsed: Duration,
    /// Allocations that failed.
    pub failed_allocs: u64,
    /// Per arena (in declaration order) the final figures.
    pub arenas: Vec<ArenaResult>,
}

/// One arena's figures at the end of a replay.
#[derive(Clone, Debug)]
pub struct ArenaResult {
    /// Its name.
    pub name: String,
    /// Most bytes allocated at once.
    pub peak_in_use: usize,
    /// Bytes allocated at the end.
    pub in_use: usize,
    /// Free bytes at the end.
    pub free: usize,
    /// Largest free segment at the end.
    pub largest_free: usize,
    /// `1 - largest_free / free`.
    pub fragmentation: f64,
}

impl ReplayResult {
    /// Statements per second.
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn from_world(policy: Option<Policy>, world: &World) -> ReplayResult {
        let report = &world.report;
        ReplayResult {
            policy,
            ops: report.ops,
            elapsed: report.elapsed,
            failed_allocs: report.failed_allocs,
            arenas: world
                .views()
                .into_iter()
                .zip(&report.peak_in_use)
                .map(|(v, &peak)| ArenaResult {
                    fragmentation: v.fragmentation(),
                    name: v.name.clone(),
                    peak_in_use: peak,
                    in_use: v.stats.mem_inuse,
                    free: v.free_bytes(),
                    largest_free: v.max_free,
                })
                .collect(),
        }
    }
}

/// Replays `script` once with `policy` forced (or as written), calling
/// `progress` with the statements done now and then.
pub fn replay_once(
    script: &Script,
    policy: Option<Policy>,
    progress: Option<&dyn Fn(u64)>,
) -> Result<ReplayResult, CliError> {
    let options = RunOptions {
        policy,
        lenient: true,
        progress,
        skip_prints: true,
    };
    let world = scenario::run(script, &options)?;
    Ok(ReplayResult::from_world(policy, &world))
}

/// What [`replay_file`] found.
#[derive(Clone, Debug)]
pub struct FileReplay {
    /// Statements in the trace (one pass).
    pub statements: u64,
    /// Bytes in the trace.
    pub bytes: u64,
    /// One result per pass.
    pub results: Vec<ReplayResult>,
}

/// Replays the trace file at `path` once, or under every policy when
/// `compare` is set, reading it anew for each pass and running each line as
/// it is read. `progress(pass, bytes)` is called now and then with the
/// bytes of the file read so far in that pass. Each result's `elapsed` is
/// the whole pass: reading and parsing are interleaved with running.
pub fn replay_file(
    path: &Path,
    policy: Option<Policy>,
    compare: bool,
    progress: &dyn Fn(usize, u64),
) -> Result<FileReplay, CliError> {
    let file_name = path.display().to_string();
    let io_error = |error| CliError::Io {
        path: file_name.clone(),
        error,
    };
    let mut replay = FileReplay {
        statements: 0,
        bytes: 0,
        results: Vec::new(),
    };
    for (pass, p) in policies(policy, compare).into_iter().enumerate() {
        let file = std::fs::File::open(path).map_err(io_error)?;
        replay.bytes = file.metadata().map_err(io_error)?.len();
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let options = RunOptions {
            policy: p,
            lenient: true,
            progress: None,
            skip_prints: true,
        };
        let started = Instant::now();
        let mut world = scenario::run_reader(
            &file_name,
            &mut reader,
            &options,
            Some(&|bytes| progress(pass, bytes)),
        )?;
        world.report.elapsed = started.elapsed();
        replay.statements = world.report.ops;
        replay.results.push(ReplayResult::from_world(p, &world));
    }
    Ok(replay)
}

/// The policies of a replay: the one given (or none), or all of them.
fn policies(policy: Option<Policy>, compare: bool) -> Vec<Option<Policy>> {
    if compare {
        POLICIES.iter().copied().map(Some).collect()
    } else {
        vec![policy]
    }
}

/// A table of replays: one row per replay and arena.
pub fn render(results: &[ReplayResult]) -> String {
    let mut table = Table::new(&[
        ("POLICY", Align::Left),
        ("ARENA", Align::Left),
        ("OPS", Align::Right),
        ("SECONDS", Align::Right),
        ("OPS/S", Align::Right),
        ("FAILED", Align::Right),
        ("PEAK INUSE", Align::Right),
        ("INUSE", Align::Right),
        ("FREE", Align::Right),
        ("LARGEST FREE", Align::Right),
        ("FRAG", Align::Right),
    ]);
    for r in results {
        for a in &r.arenas {
            table.row(vec![
                r.policy.map_or("as written", policy_name).to_string(),
                a.name.clone(),
                r.ops.to_string(),
                format!("{:.3}", r.elapsed.as_secs_f64()),
                format!("{:.0}", r.ops_per_second()),
                r.failed_allocs.to_string(),
                hex(a.peak_in_use),
                hex(a.in_use),
                hex(a.free),
                hex(a.largest_free),
                percent(a.fragmentation),
            ]);
        }
    }
    table.render()
}

/// Replays `script` once, or under every policy when `compare` is set,
/// calling `progress(run, done)` now and then; returns the results.
pub fn replay(
    script: &Script,
    policy: Option<Policy>,
    compare: bool,
    progress: &dyn Fn(usize, u64),
) -> Result<Vec<ReplayResult>, CliError> {
    policies(policy, compare)
        .into_iter()
        .enumerate()
        .map(|(run, p)| replay_once(script, p, Some(&|done| progress(run, done))))
        .collect()
}

/// A small deterministic generator (xorshift64*), so traces are
/// reproducible from their seed without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Settings of a synthetic trace.
#[derive(Clone, Copy, Debug)]
pub struct TraceSpec {
    /// Operations (allocations plus frees).
    pub ops: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Live allocations the trace hovers around.
    pub live: u64,
}

impl Default for TraceSpec {
    fn default() -> Self {
        TraceSpec {
            ops: 1_000_000,
            seed: 1,
            live: 10_000,
        }
    }
}

/// The largest allocation a synthetic trace makes.
const MAX_TRACE_SIZE: u64 = 256 << 10;

/// How far above `live` the live count of a synthetic trace may wander
/// (past the target it drifts down: going 64 above it is a 1 in 10^11
/// event per step).
const LIVE_SLACK: u64 = 64;

/// The arena of a synthetic trace: room for `live` (at most `ops`) plus
/// 64 allocations all of the largest size (256 KiB), a power of two, at
/// least 1 GiB and at most 64 TiB. Real live sets are some 30 times
/// smaller than that bound, so no policy runs out of room however it
/// fragments.
pub fn trace_arena_size(spec: TraceSpec) -> u64 {
    let live = spec
        .live
        .max(1)
        .min(spec.ops.max(1))
        .saturating_add(LIVE_SLACK);
    let bytes = u128::from(live) * u128::from(MAX_TRACE_SIZE);
    let capped = bytes.next_power_of_two().clamp(1 << 30, 1 << 46);
    capped as u64
}

/// Writes a synthetic compact trace: one arena of 16-byte quanta (sized
/// by [`trace_arena_size`]), then `spec.ops` allocations and frees. Sizes
/// are mostly small (70% up to 256 bytes, 25% up to 8 KiB, 5% up to 256
/// KiB); frees pick a random live allocation; the live count hovers around
/// `spec.live`. Labels are slot numbers, reused once freed, so a trace of
/// millions of operations has few distinct labels.
pub fn generate(spec: TraceSpec, out: &mut dyn Write) -> io::Result<()> {
    let mut rng = Rng(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    writeln!(
        out,
        "# synthetic trace: {} ops, seed {}, about {} live (vmem-cli gen-trace)",
        spec.ops, spec.seed, spec.live
    )?;
    writeln!(
        out,
        "arena heap base=0x100000000 size={}G quantum=16",
        trace_arena_size(spec) >> 30
    )?;
    let mut live: Vec<u32> = Vec::new();
    let mut free_slots: Vec<u32> = Vec::new();
    let mut next_slot = 0u32;
    for _ in 0..spec.ops {
        let target = spec.live.max(1);
        // Allocate more often below the target, free more often above it.
        let p_alloc = if (live.len() as u64) < target { 60 } else { 40 };
        if live.is_empty() || rng.below(100) < p_alloc {
            let class = rng.below(100);
            let max = if class < 70 {
                256
            } else if class < 95 {
                8 << 10
            } else {
                MAX_TRACE_SIZE
            };
            let size = 16 * (1 + rng.below(max / 16));
            let slot = free_slots.pop().unwrap_or_else(|| {
                next_slot += 1;
                next_slot - 1
            });
            live.push(slot);
            writeln!(out, "a {size:#x} {slot}")?;
        } else {
            let i = rng.below(live.len() as u64) as usize;
            let slot = live.swap_remove(i);
            free_slots.push(slot);
            writeln!(out, "f {slot}")?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_trace_replays_under_every_policy() {
        let mut text = Vec::new();
        generate(
            TraceSpec {
                ops: 5000,
                seed: 7,
                live: 200,
            },
            &mut text,
        )
        .unwrap();
        let script = scenario::parse("gen", &String::from_utf8(text).unwrap()).unwrap();
        assert_eq!(script.statements.len(), 5001);
        let results = replay(&script, None, true, &|_, _| {}).unwrap();
        assert_eq!(results.len(), 4);
        for r in &results {
            assert_eq!(r.ops, 5001);
            assert_eq!(r.failed_allocs, 0);
            assert!(r.arenas[0].peak_in_use >= r.arenas[0].in_use);
        }
        let table = render(&results);
        assert_eq!(table.lines().count(), 5, "{table}");
    }

    #[test]
    fn the_arena_grows_with_the_live_set() {
        let spec = |live| TraceSpec {
            ops: 10_000_000,
            seed: 1,
            live,
        };
        assert_eq!(trace_arena_size(spec(1)), 1 << 30);
        for live in [10_000, 100_000, 1_000_000] {
            let size = trace_arena_size(spec(live));
            assert!(size >= (live + LIVE_SLACK) * MAX_TRACE_SIZE, "{live}");
            assert!(size.is_power_of_two());
        }
        // Fewer operations than the live target: the operations bound it.
        let small = TraceSpec {
            ops: 100,
            seed: 1,
            live: 1 << 40,
        };
        assert_eq!(trace_arena_size(small), 1 << 30);
        let huge = TraceSpec {
            ops: u64::MAX,
            seed: 1,
            live: u64::MAX - 1,
        };
        assert_eq!(trace_arena_size(huge), 1 << 46);
    }

    #[test]
    fn a_streamed_file_replays_like_a_parsed_one() {
        let path = std::env::temp_dir().join(format!("vmem-replay-{}.vmem", std::process::id()));
        let spec = TraceSpec {
            ops: 3000,
            seed: 5,
            live: 100,
        };
        generate(spec, &mut std::fs::File::create(&path).unwrap()).unwrap();
        let streamed = replay_file(&path, None, true, &|_, _| {}).unwrap();
        let script = crate::load(&path).unwrap();
        let parsed = replay(&script, None, true, &|_, _| {}).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(streamed.statements, 3001);
        assert_eq!(streamed.results.len(), 4);
        for (s, p) in streamed.results.iter().zip(&parsed) {
            assert_eq!(s.ops, p.ops);
            assert_eq!(s.failed_allocs, p.failed_allocs);
            assert_eq!(s.arenas[0].peak_in_use, p.arenas[0].peak_in_use);
            assert_eq!(s.arenas[0].largest_free, p.arenas[0].largest_free);
        }
    }
}
