//! # vmem-cli: see what a vmem arena is doing
//!
//! The userland counterpart of mdb's `::vmem` and `::vmem_seg` and of
//! FreeBSD's `show vmem`: scenarios written in a small line-oriented
//! language (see [`scenario`]; the source tree's `docs/cli.md` is the full
//! reference) create arenas from `vmem-core` (with quantum caches from
//! `vmem-slab`) and drive them; the subcommands then show the result.
//!
//! - [`walk`]: every segment of every arena in address order.
//! - [`stat`]: one line of counters per arena, and per quantum cache.
//! - [`replay`]: runs a large trace, reports ops/s, peak in use and
//!   fragmentation, optionally under every policy.
//! - [`map`]: an SVG picture of an arena's address space.
//!
//! The binary is a thin `clap` front end over this library, so tests call
//! the same functions.
//!
//! ```
//! let script = vmem_cli::scenario::parse(
//!     "inline.vmem",
//!     "arena heap base=0x1000 size=0x1000 quantum=0x10\nalloc heap 0x40 as a\n",
//! )?;
//! let world = vmem_cli::scenario::run(&script, &Default::default())?;
//! let text = vmem_cli::walk::render(&world, "inline.vmem", None, Default::default());
//! // SEG TYPE START END SIZE, aligned in columns (SEG 0 is the next-fit
//! // rotor, 1 the span).
//! let row = ["2", "alloc", "0x1000", "0x1040", "0x40"];
//! assert!(text.lines().any(|line| line.split_whitespace().eq(row)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod map;
pub mod replay;
pub mod scenario;
pub mod stat;
/// Column-aligned text tables (the process layer's, shared with its report).
pub use vmem_umem::report::table;
pub mod walk;

use std::path::Path;

pub use scenario::ScriptError;

/// Why a subcommand failed.
#[derive(Debug)]
pub enum CliError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What the system said.
        error: std::io::Error,
    },
    /// The scenario has a syntax error or failed while running.
    Script(Box<ScriptError>),
    /// A bad command-line value (an unknown arena, an empty type list...).
    Usage(String),
}

impl core::fmt::Display for CliError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CliError::Io { path, error } => write!(f, "{path}: {error}"),
            CliError::Script(err) => write!(f, "{err}"),
            CliError::Usage(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ScriptError> for CliError {
    fn from(err: ScriptError) -> Self {
        CliError::Script(Box::new(err))
    }
}

/// Reads and parses a scenario file (the file name in messages is `path` as
/// given). Text that is not UTF-8 is a script error with its position.
pub fn load(path: &Path) -> Result<scenario::Script, CliError> {
    let bytes = std::fs::read(path).map_err(|error| CliError::Io {
        path: path.display().to_string(),
        error,
    })?;
    Ok(scenario::parse_bytes(&path.display().to_string(), &bytes)?)
}

/// Checks that `arena`, if given, names an arena of the script.
pub fn check_arena(world: &scenario::World, arena: Option<&str>) -> Result<(), CliError> {
    match arena {
        Some(name) if !world.arenas.iter().any(|a| a.decl.name == name) => {
            Err(CliError::Usage(format!(
                "no arena named `{name}` in the scenario (arenas: {})",
                world
                    .arenas
                    .iter()
                    .map(|a| a.decl.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        _ => Ok(()),
    }
}

/// `vmem-cli walk`: loads and runs the scenario, returns the walk text.
pub fn walk_file(
    path: &Path,
    arena: Option<&str>,
    filter: walk::TypeFilter,
) -> Result<String, CliError> {
    let script = load(path)?;
    let world = scenario::run(&script, &scenario::RunOptions::default())?;
    check_arena(&world, arena)?;
    Ok(walk::render(&world, &script.file, arena, filter))
}

/// `vmem-cli stat`: loads and runs the scenario, returns the stat text.
pub fn stat_file(path: &Path, arena: Option<&str>) -> Result<String, CliError> {
    let script = load(path)?;
    let world = scenario::run(&script, &scenario::RunOptions::default())?;
    check_arena(&world, arena)?;
    let views = world.views();
    Ok(stat::render(
        views.iter().filter(|v| arena.is_none_or(|a| v.name == a)),
    ))
}

/// `vmem-cli map`: loads and runs the scenario, returns the SVG picture of
/// one arena (or all) and what it holds.
pub fn map_svg(
    path: &Path,
    arena: Option<&str>,
    options: map::MapOptions,
) -> Result<(String, map::MapSummary), CliError> {
    let script = load(path)?;
    let world = scenario::run(&script, &scenario::RunOptions::default())?;
    check_arena(&world, arena)?;
    let views = world.views();
    let chosen: Vec<&scenario::ArenaView> = views
        .iter()
        .filter(|v| arena.is_none_or(|a| v.name == a))
        .collect();
    let (document, summary) = map::render(&chosen, options);
    Ok((document.to_string(), summary))
}

/// `vmem-cli map -o FILE`: [`map_svg`], written to `out`.
pub fn map_file(
    path: &Path,
    out: &Path,
    arena: Option<&str>,
    options: map::MapOptions,
) -> Result<map::MapSummary, CliError> {
    let (svg, summary) = map_svg(path, arena, options)?;
    std::fs::write(out, svg).map_err(|error| CliError::Io {
        path: out.display().to_string(),
        error,
    })?;
    Ok(summary)
}

impl CliError {
    /// The process exit status for this error: 2 for a bad command line
    /// (as for `clap`'s own errors), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Io { .. } | CliError::Script(_) => 1,
        }
    }
}
