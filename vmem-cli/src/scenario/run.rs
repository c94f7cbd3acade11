//! Running a [`Script`] against real arenas.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vmem_core::{
    AllocFlags, Arena, Policy, Segment, SegmentKind, SegmentTypes, Source, Stats, Wait,
};
use vmem_slab::{CacheStats, CachedArena, SlabError};

use super::{AllocOp, ArenaDecl, ExtendOp, Label, Names, Op, Script, ScriptError, Statement};

/// Magazine slots of every quantum cache a scenario makes: one, so that
/// runs are reproducible (see `CachedArena::with_slots`).
const DETERMINISTIC_SLOTS: usize = 1;

/// Statements between two calls of the progress callback.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// How to run a script.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Use this policy for every allocation, whatever the script says
    /// (`replay --policy`, `--compare-policies`).
    pub policy: Option<Policy>,
    /// Replay mode: an allocation that fails is counted, not an error, and a
    /// later free of its label is skipped (a free of a label that was never
    /// allocated is still an error).
    pub lenient: bool,
    /// Called every [`PROGRESS_EVERY`] statements with the number done.
    pub progress: Option<&'a dyn Fn(u64)>,
    /// Keep no `print` snapshots (replay has no use for them).
    pub skip_prints: bool,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("policy", &self.policy)
            .field("lenient", &self.lenient)
            .field("progress", &self.progress.is_some())
            .field("skip_prints", &self.skip_prints)
            .finish()
    }
}

/// What became of a label.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Never allocated.
    Empty,
    /// Its allocation failed in lenient mode: a later free
    /// of it is skipped.
    Failed,
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

/// An allocation the script made itself, found by its address (what
/// `free NAME ADDR SIZE` may free).
#[derive(Clone, Copy, Debug)]
struct Direct {
    live: Live,
    label: Option<Label>,
}

/// One arena of a running scenario.
#[derive(Debug)]
pub struct ArenaState {
    /// Its declaration.
    pub decl: ArenaDecl,
    /// The arena and its quantum caches (none when `qcache_max` is 0); an
    /// empty arena of the same name once destroyed.
    pub cached: Arc<CachedArena>,
    /// The spans its next imports return, for an `imports=trace` arena.
    script: Option<Arc<ScriptedSource>>,
    /// The line of its `destroy`, once destroyed.
    pub destroyed: Option<u32>,
}

/// The source of an `imports=trace` arena: each import returns the next
/// span an `import` statement queued (or fails when none is queued), and
/// a release gives nothing back (in a recorded trace, the source's own
/// frees are statements of their own).
#[derive(Debug)]
struct ScriptedSource {
    quantum: usize,
    spans: Mutex<VecDeque<(usize, usize)>>,
}

impl Source for ScriptedSource {
    fn import(&self, _size: usize, _align: usize, _wait: Wait) -> Option<(usize, usize)> {
        self.spans.lock().expect("not poisoned").pop_front()
    }

    fn release(&self, _start: usize, _size: usize) {}

    fn quantum(&self) -> usize {
        self.quantum
    }
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
    /// Spans, allocated and free segments and the next-fit rotor: spans
    /// in address order, each followed by its segments in address order
    /// (the rotor, which has no address of its own in the core, carries the
    /// address of the place it holds in the list, and size 0).
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
    /// The snapshot as a row of the stat table.
    pub fn report(&self) -> vmem_umem::report::ArenaReport {
        let spans = self.segments.iter().filter(|s| is_span(s.kind)).count();
        vmem_umem::report::ArenaReport {
            name: self.name.clone(),
            quantum: self.quantum,
            qcache_max: self.qcache_max,
            spans,
            stats: self.stats,
            max_free: self.max_free,
            qcaches: self.qcaches.clone(),
        }
    }

    /// Free bytes (total less in use).
    pub fn free_bytes(&self) -> usize {
        self.stats.mem_total - self.stats.mem_inuse
    }

    /// `1 - largest free segment / total free`: 0 when all free space is in
    /// one segment (or there is none), close to 1 when it is in crumbs.
    pub fn fragmentation(&self) -> f64 {
        vmem_umem::report::fragmentation(self.max_free, self.free_bytes())
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
#[derive(Debug)]
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

    /// Snapshots of every arena not destroyed, in declaration order.
    pub fn views(&self) -> Vec<ArenaView> {
        self.arenas
            .iter()
            .filter(|a| a.destroyed.is_none())
            .map(|a| view(&self.arenas, a))
            .collect()
    }
}

fn view(all: &[ArenaState], state: &ArenaState) -> ArenaView {
    let arena = state.cached.arena();
    ArenaView {
        name: state.decl.name.clone(),
        quantum: arena.quantum(),
        source: state.decl.source.map(|i| all[i].decl.name.clone()),
        qcache_max: state.decl.qcache_max,
        segments: segments(arena),
        stats: arena.stats(),
        max_free: arena.max_free(),
        qcaches: state.cached.cache_stats(),
    }
}

fn is_span(kind: SegmentKind) -> bool {
    matches!(kind, SegmentKind::Span | SegmentKind::ImportedSpan)
}

/// The arena's segments and its next-fit rotor: spans in address order,
/// each followed by what is inside it in list order.
fn segments(arena: &Arena) -> Vec<Segment> {
    let mut list = Vec::new();
    arena.walk(SegmentTypes::ALL | SegmentTypes::ROTOR, |seg| {
        list.push(seg)
    });
    for i in 0..list.len() {
        if list[i].kind == SegmentKind::Rotor {
            list[i].start = rotor_address(&list, i);
        }
    }
    // A group per span; what comes before the first span (the rotor of a
    // new arena) joins the first group, ahead of its span.
    let mut groups: Vec<Vec<Segment>> = Vec::new();
    let mut lead = Vec::new();
    for seg in list {
        if is_span(seg.kind) {
            lead.push(seg);
            groups.push(core::mem::take(&mut lead));
        } else if let Some(group) = groups.last_mut() {
            group.push(seg);
        } else {
            lead.push(seg);
        }
    }
    if !lead.is_empty() {
        groups.push(lead);
    }
    // An importing arena lists spans in arrival order; show them by address.
    groups.sort_by_key(|g| g.iter().find(|s| is_span(s.kind)).unwrap_or(&g[0]).start);
    groups.into_iter().flatten().collect()
}

/// Where the rotor at `list[i]` stands (the core keeps no address for it):
/// at the start of the segment after it in its span, else at the end of
/// its span, else (before any span) at the start of the next span.
fn rotor_address(list: &[Segment], i: usize) -> usize {
    if let Some(next) = list.get(i + 1).filter(|s| !is_span(s.kind)) {
        return next.start;
    }
    if let Some(span) = list[..i].iter().rev().find(|s| is_span(s.kind)) {
        return span.start + span.size;
    }
    list.get(i + 1).map_or(0, |s| s.start)
}

/// The message of a quantum-cache error: the arena's own when the arena
/// refused (the cache adds nothing a reader needs).
fn slab_message(err: &SlabError) -> String {
    match err {
        SlabError::Arena { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Executes statements one at a time against real arenas: what [`run`]
/// does for a whole [`Script`], and a streamed run for each line it reads.
pub(crate) struct Runner<'o> {
    options: &'o RunOptions<'o>,
    arenas: Vec<ArenaState>,
    slots: Vec<Slot>,
    /// Allocations by `(arena, address)`: every unlabelled one, and the
    /// labelled ones too once `indexed_labels` is set (by the first
    /// `free NAME ADDR SIZE`: a trace that never frees by address pays
    /// nothing for it).
    direct: HashMap<(u32, usize), Direct>,
    indexed_labels: bool,
    prints: Vec<Printed>,
    report: RunReport,
    started: Instant,
}

/// Runs `script`. The first statement that goes wrong (an allocation that
/// fails without `expect-fail`, a free of an unknown label, ...) stops the
/// run with an error naming its line.
pub fn run(script: &Script, options: &RunOptions<'_>) -> Result<World, ScriptError> {
    let mut runner = Runner::new(options);
    for statement in &script.statements {
        runner.step(script, statement)?;
    }
    Ok(runner.finish())
}

/// What a statement did, before `expect-fail` is taken into account.
enum Outcome {
    Ok,
    Failed(String),
}

impl<'o> Runner<'o> {
    /// A runner with no arena yet.
    pub(crate) fn new(options: &'o RunOptions<'o>) -> Runner<'o> {
        Runner {
            options,
            arenas: Vec::new(),
            slots: Vec::new(),
            direct: HashMap::new(),
            indexed_labels: false,
            prints: Vec::new(),
            report: RunReport::default(),
            started: Instant::now(),
        }
    }

    /// Runs one statement, then reports progress if it is time to.
    pub(crate) fn step(&mut self, names: &dyn Names, st: &Statement) -> Result<(), ScriptError> {
        if self.slots.len() < names.label_count() {
            self.slots.resize(names.label_count(), Slot::Empty);
        }
        self.statement(names, st)?;
        self.report.ops += 1;
        if self.report.ops % PROGRESS_EVERY == 0 {
            if let Some(progress) = self.options.progress {
                progress(self.report.ops);
            }
        }
        Ok(())
    }

    /// The arenas and figures at the end of the run.
    pub(crate) fn finish(mut self) -> World {
        self.report.elapsed = self.started.elapsed();
        World {
            arenas: self.arenas,
            prints: self.prints,
            report: self.report,
        }
    }

    fn error(
        &self,
        names: &dyn Names,
        st: &Statement,
        message: String,
        note: Option<String>,
    ) -> ScriptError {
        let text = names.line_text(st.line).map(str::to_string);
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
            file: names.file().to_string(),
            line: st.line,
            col: st.col,
            width,
            message,
            text,
            note,
        }
    }

    fn statement(&mut self, names: &dyn Names, st: &Statement) -> Result<(), ScriptError> {
        let outcome = self.execute(names, st)?;
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
                names,
                st,
                "expected this to fail, but it succeeded".to_string(),
                None,
            )),
            (Outcome::Failed(message), false) => Err(self.error(
                names,
                st,
                message,
                Some("prefix the line with `expect-fail` if the failure is intended".to_string()),
            )),
        }
    }

    /// Claims `label` for a new allocation (it must not be live).
    fn check_label_free(
        &self,
        names: &dyn Names,
        st: &Statement,
        label: Option<Label>,
    ) -> Result<(), ScriptError> {
        if let Some(label) = label {
            if let Slot::Live(live) = self.slots[label.0 as usize] {
                return Err(self.error(
                    names,
                    st,
                    format!(
                        "label `{}` is still in use (allocated at line {}); free it first or pick another",
                        names.label(label),
                        live.line
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }

    /// Notes a new allocation: the arena's peak, the label, the index.
    fn record(&mut self, label: Option<Label>, live: Live) {
        let arena = live.arena as usize;
        let in_use = self.arenas[arena].cached.arena().size(SegmentTypes::ALLOC);
        let peak = &mut self.report.peak_in_use[arena];
        *peak = (*peak).max(in_use);
        if let Some(label) = label {
            self.slots[label.0 as usize] = Slot::Live(live);
        }
        if label.is_none() || self.indexed_labels {
            self.direct
                .insert((live.arena, live.addr), Direct { live, label });
        }
    }

    /// One statement, by kind.
    fn execute(&mut self, names: &dyn Names, st: &Statement) -> Result<Outcome, ScriptError> {
        if let Some(arena) = st.op.arena() {
            if let Some(line) = self.arenas.get(arena).and_then(|a| a.destroyed) {
                let name = &self.arenas[arena].decl.name;
                return Err(self.error(
                    names,
                    st,
                    format!("arena `{name}` was destroyed at line {line}"),
                    None,
                ));
            }
        }
        match &st.op {
            Op::Arena(index) => self.create_arena(names, st, *index),
            Op::Add { arena, base, size } => Ok(self.add(*arena, *base, *size)),
            Op::Alloc(op) => self.alloc(names, st, op),
            Op::Quick { size, label } => self.quick(names, st, *size, *label),
            Op::Free(label) => self.free_label(names, st, *label),
            Op::FreeAt { arena, addr, size } => Ok(self.free_at(st, *arena, *addr, *size)),
            Op::Extend(op) => self.extend(names, st, op),
            Op::Reap(arena) => {
                self.arenas[*arena].cached.reap();
                Ok(Outcome::Ok)
            }
            Op::Import { arena, base, size } => {
                let script = self.arenas[*arena].script.as_ref();
                let script = script.expect("the parser lets only imports=trace arenas import");
                script
                    .spans
                    .lock()
                    .expect("not poisoned")
                    .push_back((*base, *size));
                Ok(Outcome::Ok)
            }
            Op::Destroy(arena) => Ok(self.destroy(st, *arena)),
            Op::Print(which) => {
                self.print(st, *which);
                Ok(Outcome::Ok)
            }
        }
    }

    /// `arena`: creates the arena with this index.
    fn create_arena(
        &mut self,
        names: &dyn Names,
        st: &Statement,
        index: usize,
    ) -> Result<Outcome, ScriptError> {
        let decl = names.arena(index);
        match self.create(decl) {
            Ok((cached, script)) => {
                self.arenas.push(ArenaState {
                    decl: decl.clone(),
                    cached,
                    script,
                    destroyed: None,
                });
                self.report.peak_in_use.push(0);
                Ok(Outcome::Ok)
            }
            Err(err) => Err(self.error(names, st, format!("cannot create arena: {err}"), None)),
        }
    }

    /// `destroy`: refused while a child that imports from it lives; then
    /// its caches are reaped and the arena dropped, which gives its wholly
    /// free imported spans back to its source. Allocations still in it are
    /// leaked, as `vmem_destroy` leaks them.
    fn destroy(&mut self, st: &Statement, arena: usize) -> Outcome {
        let name = self.arenas[arena].decl.name.clone();
        if let Some(child) = self
            .arenas
            .iter()
            .find(|a| a.decl.source == Some(arena) && a.destroyed.is_none())
        {
            return Outcome::Failed(format!(
                "destroy refused: arena `{}` still imports from `{name}`; destroy it first",
                child.decl.name
            ));
        }
        let empty = Arena::builder(&name)
            .quantum(self.arenas[arena].decl.quantum)
            .build()
            .expect("an arena with the quantum of one already built");
        let state = &mut self.arenas[arena];
        let destroyed = std::mem::replace(&mut state.cached, Arc::new(CachedArena::new(empty, 0)));
        state.destroyed = Some(st.line);
        state.script = None;
        destroyed.reap();
        drop(destroyed);
        Outcome::Ok
    }

    /// `add`.
    fn add(&self, arena: usize, base: usize, size: usize) -> Outcome {
        match self.arenas[arena].cached.arena().add(base, size) {
            Ok(()) => Outcome::Ok,
            Err(err) => Outcome::Failed(format!("add failed: {err}")),
        }
    }

    /// `a SIZE LABEL`: a plain allocation from the first arena.
    fn quick(
        &mut self,
        names: &dyn Names,
        st: &Statement,
        size: usize,
        label: Label,
    ) -> Result<Outcome, ScriptError> {
        let op = AllocOp {
            arena: 0,
            size,
            policy: None,
            from_end: false,
            constraints: None,
            label: Some(label),
        };
        self.alloc(names, st, &op)
    }

    /// Frees `live` with the call matching how it was allocated.
    fn release(&self, live: &Live) -> Result<(), SlabError> {
        let cached = &self.arenas[live.arena as usize].cached;
        match live.how {
            How::Alloc => cached.free(live.addr, live.size),
            How::XAlloc => cached.xfree(live.addr, live.size),
            How::Extend => {
                cached
                    .arena()
                    .free(live.addr, live.size)
                    .map_err(|source| SlabError::Arena {
                        cache: *cached.arena().name(),
                        source,
                    })
            }
        }
    }

    /// `free LABEL`. A label that was never allocated is an error in every
    /// mode; one whose allocation failed in lenient mode is skipped.
    fn free_label(
        &mut self,
        names: &dyn Names,
        st: &Statement,
        label: Label,
    ) -> Result<Outcome, ScriptError> {
        let name = names.label(label);
        match self.slots[label.0 as usize] {
            Slot::Live(live) if self.arenas[live.arena as usize].destroyed.is_some() => {
                let arena = &self.arenas[live.arena as usize];
                Err(self.error(
                    names,
                    st,
                    format!(
                        "label `{name}` was allocated from arena `{}`, destroyed at line {}",
                        arena.decl.name,
                        arena.destroyed.expect("checked")
                    ),
                    None,
                ))
            }
            Slot::Live(live) => Ok(match self.release(&live) {
                Ok(()) => {
                    self.slots[label.0 as usize] = Slot::Freed(st.line);
                    if self.indexed_labels {
                        self.direct.remove(&(live.arena, live.addr));
                    }
                    Outcome::Ok
                }
                Err(err) => Outcome::Failed(format!("free failed: {}", slab_message(&err))),
            }),
            Slot::Failed => {
                self.report.skipped_frees += 1;
                Ok(Outcome::Ok)
            }
            Slot::Freed(line) => Err(self.error(
                names,
                st,
                format!("label `{name}` was already freed at line {line}"),
                None,
            )),
            Slot::Empty => Err(self.error(
                names,
                st,
                format!("no allocation is labelled `{name}` (label it with `as {name}` first)"),
                None,
            )),
        }
    }

    /// Puts every live labelled allocation in the address index (once).
    fn index_labels(&mut self) {
        if self.indexed_labels {
            return;
        }
        self.indexed_labels = true;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Slot::Live(live) = *slot {
                let label = Some(Label(i as u32));
                self.direct
                    .insert((live.arena, live.addr), Direct { live, label });
            }
        }
    }

    /// `free NAME ADDR SIZE`: only an allocation the script made on that
    /// arena, with its exact address and size. Anything else (a slab of a
    /// quantum cache, a span a child imported, a wrong size) is refused
    /// here: the library would take it and panic later.
    fn free_at(&mut self, st: &Statement, arena: usize, addr: usize, size: usize) -> Outcome {
        self.index_labels();
        let key = (arena as u32, addr);
        let Some(direct) = self.direct.get(&key).copied() else {
            return Outcome::Failed(self.foreign_range(st, arena, addr, size));
        };
        if direct.live.size != size {
            return Outcome::Failed(format!(
                "free refused: the allocation at {addr:#x} in `{}` was made with size {:#x} (line {}), not {size:#x}",
                self.arenas[arena].decl.name, direct.live.size, direct.live.line
            ));
        }
        match self.release(&direct.live) {
            Ok(()) => {
                self.direct.remove(&key);
                if let Some(label) = direct.label {
                    self.slots[label.0 as usize] = Slot::Freed(st.line);
                }
                Outcome::Ok
            }
            Err(err) => Outcome::Failed(format!("free failed: {}", slab_message(&err))),
        }
    }

    /// Why `[addr, addr + size)` of `arena` is not the script's to free.
    /// (Worked out by walking, at most once per run but for `expect-fail`,
    /// whose message nobody reads.)
    fn foreign_range(&self, st: &Statement, arena: usize, addr: usize, size: usize) -> String {
        let name = &self.arenas[arena].decl.name;
        let range = format!("[{addr:#x}, +{size:#x})");
        if st.expect_fail {
            return format!("free of {range} refused");
        }
        let contains = |s: &Segment| s.start <= addr && addr - s.start < s.size.max(1);
        for child in self.arenas.iter().filter(|a| a.decl.source == Some(arena)) {
            let mut imported = false;
            child.cached.arena().walk(SegmentTypes::SPAN, |s| {
                imported |= s.kind == SegmentKind::ImportedSpan && contains(&s);
            });
            if imported {
                return format!(
                    "free refused: {range} is in a span that arena `{}` imported from `{name}`; it goes back to `{name}` when everything `{}` allocated in it is freed",
                    child.decl.name, child.decl.name
                );
            }
        }
        let cached = &self.arenas[arena].cached;
        let mut in_segment = false;
        cached
            .arena()
            .walk(SegmentTypes::ALLOC, |s| in_segment |= contains(&s));
        if in_segment && cached.qcache_max() > 0 {
            return format!(
                "free refused: {range} is in a slab of `{name}`'s quantum caches; free the objects allocated from it (by label or address) and `reap {name}` returns empty slabs"
            );
        }
        format!(
            "free refused: no allocation this script made on `{name}` starts at {addr:#x} (a free by address takes the address and size an `alloc`, `xalloc` or `extend` got)"
        )
    }

    /// `extend`.
    fn extend(
        &mut self,
        names: &dyn Names,
        st: &Statement,
        op: &ExtendOp,
    ) -> Result<Outcome, ScriptError> {
        let ExtendOp {
            arena,
            base,
            size,
            alloc,
            label,
        } = *op;
        self.check_label_free(names, st, label)?;
        let result = self.arenas[arena]
            .cached
            .arena()
            .extend_alloc(base, size, alloc);
        Ok(match result {
            Ok(addr) => {
                let live = Live {
                    arena: arena as u32,
                    addr,
                    size: alloc,
                    how: How::Extend,
                    line: st.line,
                };
                self.record(label, live);
                Outcome::Ok
            }
            Err(err) => Outcome::Failed(format!("extend failed: {err}")),
        })
    }

    /// `print`: a snapshot of one arena or all.
    fn print(&mut self, st: &Statement, which: Option<usize>) {
        if self.options.skip_prints {
            return;
        }
        let views = match which {
            Some(i) => vec![view(&self.arenas, &self.arenas[i])],
            None => self
                .arenas
                .iter()
                .filter(|a| a.destroyed.is_none())
                .map(|a| view(&self.arenas, a))
                .collect(),
        };
        self.prints.push(Printed {
            line: st.line,
            views,
        });
    }

    /// `alloc`, `xalloc` and `a`.
    fn alloc(
        &mut self,
        names: &dyn Names,
        st: &Statement,
        op: &AllocOp,
    ) -> Result<Outcome, ScriptError> {
        self.check_label_free(names, st, op.label)?;
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
                let live = Live {
                    arena: op.arena as u32,
                    addr,
                    size: op.size,
                    how,
                    line: st.line,
                };
                self.record(op.label, live);
                Ok(Outcome::Ok)
            }
            Err(_) if self.options.lenient && !st.expect_fail => {
                self.report.failed_allocs += 1;
                if let Some(label) = op.label {
                    self.slots[label.0 as usize] = Slot::Failed;
                }
                Ok(Outcome::Ok)
            }
            Err(err) => {
                let call = if how == How::XAlloc {
                    "xalloc"
                } else {
                    "alloc"
                };
                Ok(Outcome::Failed(format!(
                    "{call} of {:#x} from `{}` failed: {}",
                    op.size,
                    self.arenas[op.arena].decl.name,
                    slab_message(&err)
                )))
            }
        }
    }

    /// The arena of `decl`, and its scripted source if it has one.
    #[allow(
        clippy::type_complexity,
        reason = "the two halves of one new arena, used once"
    )]
    fn create(
        &self,
        decl: &ArenaDecl,
    ) -> Result<(Arc<CachedArena>, Option<Arc<ScriptedSource>>), vmem_core::Error> {
        let mut builder = Arena::builder(&decl.name)
            .quantum(decl.quantum)
            .limit(decl.limit);
        if let Some(source) = decl.source {
            builder = builder.source(self.arenas[source].cached.clone());
        }
        let script = decl.scripted.then(|| {
            Arc::new(ScriptedSource {
                quantum: decl.import_quantum.unwrap_or(decl.quantum),
                spans: Mutex::new(VecDeque::new()),
            })
        });
        if let Some(script) = &script {
            builder = builder.source(script.clone() as Arc<dyn Source>);
        }
        if let Some(q) = decl.import_quantum {
            builder = builder.import_quantum(q);
        }
        if let Some((base, size)) = decl.span {
            builder = builder.span(base, size);
        }
        let arena = builder.build()?;
        // One magazine slot per cache: the addresses the quantum caches hand
        // out then depend only on the script, never on the CPU it runs on.
        let cached = CachedArena::with_slots(arena, decl.qcache_max, DETERMINISTIC_SLOTS);
        Ok((Arc::new(cached), script))
    }
}
