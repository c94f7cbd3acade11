//! The `vmem-cli` binary: a thin `clap` front end over the `vmem_cli`
//! library (see its documentation and `docs/cli.md`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vmem_cli::{table::plural, walk::TypeFilter, CliError};

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
        after_help = "Example:\n  vmem-cli walk vmem-cli/scenarios/demo.vmem --arena heap --types alloc,free\n\nTYPE is span (span* when imported from the source), alloc, free or rotor (the\nnext-fit rotor, size 0, at the place it holds); SEG is the segment's position\nin the arena's list. A `print` in the script adds a walk at\nthat point before the final one."
    )]
    Walk {
        /// The scenario file.
        script: PathBuf,
        /// Show only this arena.
        #[arg(long, value_name = "NAME")]
        arena: Option<String>,
        /// Segment types to show, comma-separated: span, alloc, free, rotor.
        #[arg(long, value_name = "LIST", default_value = "span,alloc,free,rotor")]
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
        after_help = "Example:\n  vmem-cli gen-trace --ops 2000000 -o /tmp/trace.vmem\n  vmem-cli replay /tmp/trace.vmem --compare-policies\n\nThe trace is streamed: each line is parsed and run before the next is read,\nso memory does not grow with its length, and SECONDS covers reading and\nparsing too. FRAG is 1 - largest free segment / total free at the end. A\nprogress bar (bytes of the trace read, per pass) is drawn on stderr when it is\na terminal."
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
        after_help = "Example:\n  vmem-cli map vmem-cli/scenarios/fragment.vmem -o fragment.svg\n  vmem-cli map vmem-cli/scenarios/demo.vmem --range 0x100000..0x101000 -o - | display\n\nWhen a band holds more segments than pixels, each pixel column is shaded by\nthe fraction of its bytes allocated, so millions of segments stay readable."
    )]
    Map {
        /// The scenario file.
        script: PathBuf,
        /// Where to write the SVG (`-`: standard output, with no summary
        /// line; `./-` for a file named `-`).
        #[arg(short, long, value_name = "FILE.svg")]
        output: PathBuf,
        /// Draw only this arena (default: all).
        #[arg(long, value_name = "NAME")]
        arena: Option<String>,
        /// Width of the address bars in pixels.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(100..=20000))]
        width: u32,
        /// Draw only addresses in [START, END): spans outside are left out,
        /// the others cut to it (numbers as in scenarios: 0x1000..64K).
        #[arg(long, value_name = "START..END", value_parser = vmem_cli::map::parse_range)]
        range: Option<(usize, usize)>,
        /// `band`: every band is the full width; `arena`: one scale per
        /// arena, so its spans compare by length.
        #[arg(long, value_name = "band|arena", default_value = "band", value_parser = vmem_cli::map::Scale::parse)]
        scale: vmem_cli::map::Scale,
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
        /// Live allocations the trace hovers around (the arena is sized to
        /// hold them).
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

    let passes = if compare { 4 } else { 1 };
    let size = std::fs::metadata(trace)
        .map_err(|error| CliError::Io {
            path: trace.display().to_string(),
            error,
        })?
        .len();
    let target = if no_progress || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    // Progress is in bytes of the trace read, parsing and running included,
    // so the rate (and the estimate) is that of the whole job.
    let bar = ProgressBar::with_draw_target(Some((size * passes).max(1)), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}, eta {eta}",
        )
        .expect("a valid template"),
    );
    let result = vmem_cli::replay::replay_file(trace, policy, compare, &|pass, bytes| {
        bar.set_message(format!("pass {}/{passes}", pass + 1));
        bar.set_position(pass as u64 * size + bytes.min(size));
    });
    bar.finish_and_clear();
    let replay = result?;
    Ok(format!(
        "trace {}: {} statements, {} bytes, streamed {}\n{}",
        trace.display(),
        replay.statements,
        replay.bytes,
        if passes == 1 {
            "once".to_string()
        } else {
            format!("{passes} times")
        },
        vmem_cli::replay::render(&replay.results)
    ))
}

/// `vmem-cli map`: the SVG to the file, or to standard output for `-`.
fn map(
    script: &std::path::Path,
    output: &std::path::Path,
    arena: Option<&str>,
    options: vmem_cli::map::MapOptions,
) -> Result<String, CliError> {
    if output.as_os_str() == "-" {
        let (svg, _) = vmem_cli::map_svg(script, arena, options)?;
        return Ok(svg);
    }
    let summary = vmem_cli::map_file(script, output, arena, options)?;
    Ok(format!(
        "wrote {}: {}, {} drawn one by one, {} aggregated into {}\n",
        output.display(),
        plural(summary.bands, "band"),
        plural(summary.segment_rects, "segment"),
        summary.aggregated_segments,
        plural(summary.aggregate_rects, "pixel run")
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
            range,
            scale,
        } => map(
            &script,
            &output,
            arena.as_deref(),
            vmem_cli::map::MapOptions {
                width,
                range,
                scale,
            },
        )?,
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

/// Exit status: 0 on success, 1 when the script, the trace or a file
/// fails, 2 for a bad command line (`clap`'s errors exit 2 too).
fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
