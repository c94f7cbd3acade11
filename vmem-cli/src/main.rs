//! The `vmem-cli` binary: a thin `clap` front end over the `vmem_cli`
//! library (see its documentation and `docs/cli.md`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vmem_cli::{walk::TypeFilter, CliError};

/// See what a vmem arena is doing: run a scenario and walk, count, replay or
/// draw its arenas.
#[derive(Parser)]
#[command(name = "vmem-cli", version, about, long_about = None)]
#[command(
    after_help = "Scenario language: docs/cli.md. Example:\n  vmem-cli walk vmem-cli/scenarios/demo.vmem"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print every arena's segments in address order
    /// (like mdb's `::walk vmem_seg | ::vmem_seg`).
    #[command(
        after_help = "Example:\n  vmem-cli walk vmem-cli/scenarios/demo.vmem --arena heap --types alloc,free\n\nTYPE is span (span* when imported from the source), alloc or free; SEG is the\nsegment's position in the arena's list. A `print` in the script adds a walk at\nthat point before the final one."
    )]
    Walk {
        /// The scenario file.
        script: PathBuf,
        /// Show only this arena.
        #[arg(long, value_name = "NAME")]
        arena: Option<String>,
        /// Segment types to show, comma-separated: span, alloc, free.
        #[arg(long, value_name = "LIST", default_value = "span,alloc,free")]
        types: String,
    },
    /// Run a scenario and print one line of counters per arena (like mdb's
    /// `::vmem`), then the counters of every quantum cache.
    #[command(
        after_help = "Example:\n  vmem-cli stat vmem-cli/scenarios/qcache.vmem\n\nSizes are hex; SUCCEED/FAIL count segment allocations (quantum-cache slab\nimports included); FRAG is 1 - largest free segment / total free."
    )]
    Stat {
        /// The scenario file.
        script: PathBuf,
        /// Show only this arena.
        #[arg(long, value_name = "NAME")]
        arena: Option<String>,
    },
    /// Replay a large trace (a scenario, usually in the compact `a SIZE
    /// LABEL` / `f LABEL` form) and report ops per second, peak in use and
    /// final fragmentation. A failing allocation is counted, not fatal.
    #[command(
        after_help = "Example:\n  vmem-cli gen-trace --ops 2000000 -o /tmp/trace.vmem\n  vmem-cli replay /tmp/trace.vmem --compare-policies\n\nFRAG is 1 - largest free segment / total free at the end. A progress bar is\ndrawn on stderr when it is a terminal."
    )]
    Replay {
        /// The trace file.
        trace: PathBuf,
        /// Force this policy on every allocation: instant, best, first or next.
        #[arg(long, value_parser = parse_policy, conflicts_with = "compare_policies")]
        policy: Option<vmem_core::Policy>,
        /// Replay the trace once under each policy and compare them.
        #[arg(long)]
        compare_policies: bool,
        /// Never draw the progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Run a scenario and draw an arena's address space as SVG: one band per
    /// span, allocated and free segments coloured, a legend and a scale.
    #[command(
        after_help = "Example:\n  vmem-cli map vmem-cli/scenarios/fragment.vmem -o fragment.svg\n\nWhen a band holds more segments than pixels, each pixel column is shaded by\nthe fraction of its bytes allocated, so millions of segments stay readable."
    )]
    Map {
        /// The scenario file.
        script: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long, value_name = "FILE.svg")]
        output: PathBuf,
        /// Draw only this arena (default: all).
        #[arg(long, value_name = "NAME")]
        arena: Option<String>,
        /// Width of the address bars in pixels.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(100..=20000))]
        width: u32,
    },
    /// Write a synthetic compact trace for `replay`.
    #[command(
        after_help = "Example:\n  vmem-cli gen-trace --ops 1000000 --seed 42 -o /tmp/trace.vmem"
    )]
    GenTrace {
        /// Where to write the trace (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Operations (allocations plus frees).
        #[arg(long, default_value_t = 1_000_000)]
        ops: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Live allocations the trace hovers around.
        #[arg(long, default_value_t = 10_000)]
        live: u64,
    },
}

fn parse_policy(text: &str) -> Result<vmem_core::Policy, String> {
    vmem_cli::scenario::parse_policy(text)
        .ok_or_else(|| format!("`{text}` is not a policy (instant, best, first or next)"))
}

fn replay(
    trace: &std::path::Path,
    policy: Option<vmem_core::Policy>,
    compare: bool,
    no_progress: bool,
) -> Result<String, CliError> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;

    let started = std::time::Instant::now();
    let script = vmem_cli::load(trace)?;
    let parse_time = started.elapsed();
    let runs = if compare { 4 } else { 1 };
    let per_run = script.statements.len() as u64;
    let target = if no_progress || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(per_run * runs), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ops, eta {eta}",
        )
        .expect("a valid template"),
    );
    let results = vmem_cli::replay::replay(&script, policy, compare, &|run, done| {
        bar.set_position(run as u64 * per_run + done);
    })?;
    bar.finish_and_clear();
    Ok(format!(
        "trace {}: {} statements, parsed in {:.3} s\n{}",
        script.file,
        per_run,
        parse_time.as_secs_f64(),
        vmem_cli::replay::render(&results)
    ))
}

fn run(cli: Cli) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    let text = match cli.command {
        Command::Walk {
            script,
            arena,
            types,
        } => {
            let filter = TypeFilter::parse(&types).map_err(CliError::Usage)?;
            vmem_cli::walk_file(&script, arena.as_deref(), filter)?
        }
        Command::Stat { script, arena } => vmem_cli::stat_file(&script, arena.as_deref())?,
        Command::Replay {
            trace,
            policy,
            compare_policies,
            no_progress,
        } => replay(&trace, policy, compare_policies, no_progress)?,
        Command::Map {
            script,
            output,
            arena,
            width,
        } => {
            let summary = vmem_cli::map_file(
                &script,
                &output,
                arena.as_deref(),
                vmem_cli::map::MapOptions { width },
            )?;
            format!(
                "wrote {}: {} bands, {} segments drawn one by one, {} aggregated into {} pixel runs\n",
                output.display(),
                summary.bands,
                summary.segment_rects,
                summary.aggregated_segments,
                summary.aggregate_rects
            )
        }
        Command::GenTrace {
            output,
            ops,
            seed,
            live,
        } => {
            let spec = vmem_cli::replay::TraceSpec { ops, seed, live };
            let io_error = |path: &str| {
                let path = path.to_string();
                move |error| CliError::Io { path, error }
            };
            match output {
                Some(path) => {
                    let shown = path.display().to_string();
                    let mut file = std::fs::File::create(&path).map_err(io_error(&shown))?;
                    vmem_cli::replay::generate(spec, &mut file).map_err(io_error(&shown))?;
                    String::new()
                }
                None => {
                    vmem_cli::replay::generate(spec, &mut stdout).map_err(io_error("stdout"))?;
                    String::new()
                }
            }
        }
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = stdout.write_all(text.as_bytes());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
