//! Running a [`Script`] against real arenas.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vmem_core::{AllocFlags, Arena, Policy, Segment, SegmentKind, SegmentTypes, Stats};
use vmem_slab::{CacheStats, CachedArena, SlabError};

use super::{AllocOp, ArenaDecl, ExtendOp, Label, Op, Script, ScriptError, Statement};

/// Statements between two calls of the progress callback.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// How to run a script.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Use this policy for every allocation, whatever the script says
    /// (`replay --policy`, `--compare-policies`).
    pub policy: Option<Policy>,
    /// Replay mode: an allocation that fails is counted, not an error, and a
    /// later free of its label is skipped.
    pub lenient: bool,
    /// Called every [`PROGRESS_EVERY`] statements with the number done.
    pub progress: Option<&'a dyn Fn(u64)>,
    /// Keep no `print` snapshots (replay has no use for them).
    pub skip_prints: bool,
}

/// What became of a label.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Never allocated (or its allocation failed in lenient mode).
    Empty,
    /// Allocated and not freed yet.
    Live(Live),
    /// Freed at this line.
    Freed(u32),
}

#[derive(Clone, Copy, Debug)]
struct Live {
    arena: u32,
    addr: usize,
    size: usize,
    how: How,
    line: u32,
}

/// Which call frees an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// `alloc`: `CachedArena::free` (through the quantum caches).
    Alloc,
    /// `xalloc`: `CachedArena::xfree`.
    XAlloc,
    /// `extend`: the arena's own `free`.
    Extend,
}

/// One arena of a running scenario.
pub struct ArenaState {
    /// Its declaration.
    pub decl: ArenaDecl,
    /// The arena and its quantum caches (none when `qcache_max` is 0).
    pub cached: Arc<CachedArena>,
}

/// Everything a walk or stat prints about one arena, captured at one moment.
#[derive(Clone, Debug)]
pub struct ArenaView {
    /// The arena's name.
    pub name: String,
    /// Its quantum.
    pub quantum: usize,
    /// The arena it imports from, if any.
    pub source: Option<String>,
    /// Its `qcache_max` as declared.
    pub qcache_max: usize,
    /// Spans, allocated and free segments: spans in address order, each
    /// followed by its segments in address order.
    pub segments: Vec<Segment>,
    /// The arena's counters.
    pub stats: Stats,
    /// The largest free segment.
    pub max_free: usize,
    /// Per quantum cache counters, smallest size first.
    pub qcaches: Vec<QCacheView>,
}

/// One quantum cache's counters.
pub type QCacheView = CacheStats;

impl ArenaView {
    /// Free bytes (total less in use).
    pub fn free_bytes(&self) -> usize {
        self.stats.mem_total - self.stats.mem_inuse
    }

    /// `1 - largest free segment / total free`: 0 when all free space is in
    /// one segment (or there is none), close to 1 when it is in crumbs.
    pub fn fragmentation(&self) -> f64 {
        let free = self.free_bytes();
        if free == 0 {
            0.0
        } else {
            1.0 - self.max_free as f64 / free as f64
        }
    }
}

/// A `print` statement's output.
#[derive(Clone, Debug)]
pub struct Printed {
    /// The line of the `print`.
    pub line: u32,
    /// The arenas walked.
    pub views: Vec<ArenaView>,
}

/// The arenas after a run, and what `print` recorded on the way.
pub struct World {
    /// The arenas, in declaration order (created ones only).
    pub arenas: Vec<ArenaState>,
    /// Snapshots taken by `print`, in order.
    pub prints: Vec<Printed>,
    /// Figures of the run.
    pub report: RunReport,
}

/// Figures of one run.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Statements executed.
    pub ops: u64,
    /// Allocations that failed (lenient mode, or `expect-fail`).
    pub failed_allocs: u64,
    /// Frees skipped because their allocation had failed (lenient mode).
    pub skipped_frees: u64,
    /// Per arena, the most bytes in use at once (sampled after every
    /// allocation).
    pub peak_in_use: Vec<usize>,
    /// Time spent executing statements.
    pub elapsed: Duration,
}

impl World {
    /// A snapshot of the arena at `index`.
    pub fn view(&self, index: usize) -> ArenaView {
        let state = &self.arenas[index];
        view(&self.arenas, state)
    }

    /// Snapshots of every arena, in declaration order.
    pub fn views(&self) -> Vec<ArenaView> {
        self.arenas.iter().map(|a| view(&self.arenas, a)).collect()
    }
}

fn view(all: &[ArenaState], state: &ArenaState) -> ArenaView {
    let arena = state.cached.arena();
    let mut groups: Vec<Vec<Segment>> = Vec::new();
    arena.walk(SegmentTypes::ALL, |seg| {
        if matches!(seg.kind, SegmentKind::Span | SegmentKind::ImportedSpan) || groups.is_empty() {
            groups.push(Vec::new());
        }
        groups.last_mut().expect("a group").push(seg);
    });
    // An importing arena lists spans in arrival order; print by address.
    groups.sort_by_key(|g| g[0].start);
    ArenaView {
        name: state.decl.name.clone(),
        quantum: arena.quantum(),
        source: state.decl.source.map(|i| all[i].decl.name.clone()),
        qcache_max: state.decl.qcache_max,
        segments: groups.into_iter().flatten().collect(),
        stats: arena.stats(),
        max_free: arena.max_free(),
        qcaches: state.cached.cache_stats(),
    }
}

/// Pins the calling thread to the CPU it is on, so quantum caches (created
/// after this) see one CPU and use a single magazine slot: the addresses
/// they hand out then do not depend on scheduling.
fn pin_to_one_cpu() {
    #[cfg(target_os = "linux")]
    // SAFETY: `sched_getcpu` has no preconditions; `set` is a zeroed
    // `cpu_set_t` owned by this frame, `CPU_SET` writes inside it, and
    // `sched_setaffinity` only reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu >= 0 {
            let mut set: libc::cpu_set_t = core::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut set);
            libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

/// The message of a quantum-cache error: the arena's own when the arena
/// refused (the cache adds nothing a reader needs).
fn slab_message(err: &SlabError) -> String {
    match err {
        SlabError::Arena { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

struct Runner<'s, 'o> {
    script: &'s Script,
    options: &'o RunOptions<'o>,
    arenas: Vec<ArenaState>,
    slots: Vec<Slot>,
    prints: Vec<Printed>,
    report: RunReport,
}

/// Runs `script`. The first statement that goes wrong (an allocation that
/// fails without `expect-fail`, a free of an unknown label, ...) stops the
/// run with an error naming its line.
pub fn run(script: &Script, options: &RunOptions<'_>) -> Result<World, ScriptError> {
    if script.arenas.iter().any(|a| a.qcache_max != 0) {
        pin_to_one_cpu();
    }
    let mut runner = Runner {
        script,
        options,
        arenas: Vec::with_capacity(script.arenas.len()),
        slots: vec![Slot::Empty; script.labels.len()],
        prints: Vec::new(),
        report: RunReport {
            peak_in_use: vec![0; script.arenas.len()],
            ..RunReport::default()
        },
    };
    let start = Instant::now();
    for (i, statement) in script.statements.iter().enumerate() {
        runner.statement(statement)?;
        let done = i as u64 + 1;
        if done % PROGRESS_EVERY == 0 {
            if let Some(progress) = options.progress {
                progress(done);
            }
        }
    }
    runner.report.elapsed = start.elapsed();
    runner.report.ops = script.statements.len() as u64;
    runner.report.peak_in_use.truncate(runner.arenas.len());
    Ok(World {
        arenas: runner.arenas,
        prints: runner.prints,
        report: runner.report,
    })
}

/// What a statement did, before `expect-fail` is taken into account.
enum Outcome {
    Ok,
    Failed(String),
}

impl Runner<'_, '_> {
    fn error(&self, st: &Statement, message: String, note: Option<String>) -> ScriptError {
        let text = self.script.line_text(st.line).map(str::to_string);
        let width = text
            .as_deref()
            .map(|t| {
                t.split('#')
                    .next()
                    .unwrap_or("")
                    .trim_end()
                    .chars()
                    .count()
                    .saturating_sub(st.col as usize - 1)
            })
            .unwrap_or(1) as u32;
        ScriptError {
            file: self.script.file.clone(),
            line: st.line,
            col: st.col,
            width,
            message,
            text,
            note,
        }
    }

    fn label_name(&self, label: Label) -> &str {
        &self.script.labels[label.0 as usize]
    }

    fn arena_name(&self, arena: usize) -> &str {
        &self.script.arenas[arena].name
    }

    fn statement(&mut self, st: &Statement) -> Result<(), ScriptError> {
        let outcome = self.execute(st)?;
        match (outcome, st.expect_fail) {
            (Outcome::Ok, false) => Ok(()),
            (Outcome::Failed(_), true) => {
                self.report.failed_allocs += u64::from(matches!(
                    st.op,
                    Op::Alloc(_) | Op::Quick { .. } | Op::Extend(_)
                ));
                Ok(())
            }
            (Outcome::Ok, true) => Err(self.error(
                st,
                "expected this to fail, but it succeeded".to_string(),
                None,
            )),
            (Outcome::Failed(message), false) => Err(self.error(
                st,
                message,
                Some("prefix the line with `expect-fail` if the failure is intended".to_string()),
            )),
        }
    }

    /// Claims `label` for a new allocation (it must not be live).
    fn check_label_free(&self, st: &Statement, label: Option<Label>) -> Result<(), ScriptError> {
        if let Some(label) = label {
            if let Slot::Live(live) = self.slots[label.0 as usize] {
                return Err(self.error(
                    st,
                    format!(
                        "label `{}` is still in use (allocated at line {}); free it first or pick another",
                        self.label_name(label),
                        live.line
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }

    fn record(&mut self, label: Option<Label>, live: Live) {
        let arena = live.arena as usize;
        let in_use = self.arenas[arena].cached.arena().size(SegmentTypes::ALLOC);
        let peak = &mut self.report.peak_in_use[arena];
        *peak = (*peak).max(in_use);
        if let Some(label) = label {
            self.slots[label.0 as usize] = Slot::Live(live);
        }
    }

    fn execute(&mut self, st: &Statement) -> Result<Outcome, ScriptError> {
        Ok(match &st.op {
            Op::Arena(index) => {
                let decl = &self.script.arenas[*index];
                match self.create(decl) {
                    Ok(cached) => {
                        self.arenas.push(ArenaState {
                            decl: decl.clone(),
                            cached,
                        });
                        Outcome::Ok
                    }
                    Err(err) => {
                        return Err(self.error(st, format!("cannot create arena: {err}"), None))
                    }
                }
            }
            Op::Add { arena, base, size } => {
                match self.arenas[*arena].cached.arena().add(*base, *size) {
                    Ok(()) => Outcome::Ok,
                    Err(err) => Outcome::Failed(format!("add failed: {err}")),
                }
            }
            Op::Alloc(op) => self.alloc(st, op)?,
            Op::Quick { size, label } => {
                let op = AllocOp {
                    arena: 0,
                    size: *size,
                    policy: None,
                    from_end: false,
                    constraints: None,
                    label: Some(*label),
                };
                self.alloc(st, &op)?
            }
            Op::Free(label) => match self.slots[label.0 as usize] {
                Slot::Live(live) => {
                    let cached = &self.arenas[live.arena as usize].cached;
                    let result = match live.how {
                        How::Alloc => cached.free(live.addr, live.size),
                        How::XAlloc => cached.xfree(live.addr, live.size),
                        How::Extend => {
                            cached.arena().free(live.addr, live.size).map_err(|source| {
                                SlabError::Arena {
                                    cache: *cached.arena().name(),
                                    source,
                                }
                            })
                        }
                    };
                    match result {
                        Ok(()) => {
                            self.slots[label.0 as usize] = Slot::Freed(st.line);
                            Outcome::Ok
                        }
                        Err(err) => Outcome::Failed(format!("free failed: {}", slab_message(&err))),
                    }
                }
                Slot::Freed(line) => {
                    return Err(self.error(
                        st,
                        format!(
                            "label `{}` was already freed at line {line}",
                            self.label_name(*label)
                        ),
                        None,
                    ))
                }
                Slot::Empty if self.options.lenient => {
                    self.report.skipped_frees += 1;
                    Outcome::Ok
                }
                Slot::Empty => {
                    return Err(self.error(
                        st,
                        format!(
                            "no allocation is labelled `{}` (label it with `as {}` first)",
                            self.label_name(*label),
                            self.label_name(*label)
                        ),
                        None,
                    ))
                }
            },
            Op::FreeAt { arena, addr, size } => {
                match self.arenas[*arena].cached.arena().free(*addr, *size) {
                    Ok(()) => Outcome::Ok,
                    Err(err) => Outcome::Failed(format!("free failed: {err}")),
                }
            }
            Op::Extend(op) => {
                let ExtendOp {
                    arena,
                    base,
                    size,
                    alloc,
                    label,
                } = **op;
                self.check_label_free(st, label)?;
                match self.arenas[arena]
                    .cached
                    .arena()
                    .extend_alloc(base, size, alloc)
                {
                    Ok(addr) => {
                        self.record(
                            label,
                            Live {
                                arena: arena as u32,
                                addr,
                                size: alloc,
                                how: How::Extend,
                                line: st.line,
                            },
                        );
                        Outcome::Ok
                    }
                    Err(err) => Outcome::Failed(format!("extend failed: {err}")),
                }
            }
            Op::Reap(arena) => {
                self.arenas[*arena].cached.reap();
                Outcome::Ok
            }
            Op::Print(which) => {
                if !self.options.skip_prints {
                    let views = match which {
                        Some(i) => vec![view(&self.arenas, &self.arenas[*i])],
                        None => self.arenas.iter().map(|a| view(&self.arenas, a)).collect(),
                    };
                    self.prints.push(Printed {
                        line: st.line,
                        views,
                    });
                }
                Outcome::Ok
            }
        })
    }

    fn alloc(&mut self, st: &Statement, op: &AllocOp) -> Result<Outcome, ScriptError> {
        self.check_label_free(st, op.label)?;
        let policy = self
            .options
            .policy
            .or(op.policy)
            .unwrap_or(Policy::InstantFit);
        let flags = AllocFlags::new().policy(policy).from_end(op.from_end);
        let cached = &self.arenas[op.arena].cached;
        let (result, how) = match &op.constraints {
            Some(c) => (cached.xalloc(op.size, c, flags), How::XAlloc),
            None => (cached.alloc(op.size, flags), How::Alloc),
        };
        match result {
            Ok(addr) => {
                self.record(
                    op.label,
                    Live {
                        arena: op.arena as u32,
                        addr,
                        size: op.size,
                        how,
                        line: st.line,
                    },
                );
                Ok(Outcome::Ok)
            }
            Err(err) => {
                if self.options.lenient && !st.expect_fail {
                    self.report.failed_allocs += 1;
                    if let Some(label) = op.label {
                        self.slots[label.0 as usize] = Slot::Empty;
                    }
                    return Ok(Outcome::Ok);
                }
                let call = if how == How::XAlloc {
                    "xalloc"
                } else {
                    "alloc"
                };
                Ok(Outcome::Failed(format!(
                    "{call} of {:#x} from `{}` failed: {}",
                    op.size,
                    self.arena_name(op.arena),
                    slab_message(&err)
                )))
            }
        }
    }

    fn create(&self, decl: &ArenaDecl) -> Result<Arc<CachedArena>, vmem_core::Error> {
        let mut builder = Arena::builder(&decl.name)
            .quantum(decl.quantum)
            .limit(decl.limit);
        if let Some(source) = decl.source {
            builder = builder.source(self.arenas[source].cached.clone());
        }
        if let Some(q) = decl.import_quantum {
            builder = builder.import_quantum(q);
        }
        if let Some((base, size)) = decl.span {
            builder = builder.span(base, size);
        }
        let arena = builder.build()?;
        Ok(Arc::new(CachedArena::new(arena, decl.qcache_max)))
    }
}
