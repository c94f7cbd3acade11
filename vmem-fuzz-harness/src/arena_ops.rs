//! The `arena_ops` fuzz target: arbitrary operation sequences against four
//! arenas, each step compared with a reference model.
//!
//! The arenas of one run, all drawing tags from this thread's private pool:
//!
//! - `A`, a plain arena whose spans come from `add` and `extend_alloc`
//!   (anywhere, up to the top of the address space). It is the one whose
//!   failures are judged too: an allocation that fails must have had no
//!   free segment able to hold it.
//! - `P`, a parent with one initial span, and `C`, a child importing from
//!   it through `Arena::builder(..).source(P)`.
//! - `Q`, a `vmem_slab::CachedArena` whose small sizes go to its quantum
//!   caches.
//!
//! After every step: `check()` on every arena; the model's live
//! allocations do not overlap and lie inside the spans; each arena's
//! allocated segments are exactly the model's (for `P` plus the spans `C`
//! imported; for `Q` plus its caches' slabs, which hold every cached
//! object); constrained results honour their constraints; every error has
//! the type the arguments call for. At the end everything is freed, every
//! arena is back to zero in use, and once all are dropped no tag and no
//! page has leaked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use vmem_core::{
    AllocFlags, Arena, Constraints, Error, Policy, Segment, SegmentKind, SegmentTypes, Wait,
};
use vmem_slab::{quantum_slab_size, CachedArena, SlabError};

use crate::pages::PrivatePool;

/// A number as the fuzzer sees it: mostly structured, sometimes raw.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Num {
    /// Zero.
    Zero,
    /// A multiple of the arena's quantum.
    Quanta(u16),
    /// A power of two.
    Pow2(u8),
    /// A quantum-aligned value below the top of the address space.
    NearTop(u16),
    /// Any value.
    Raw(u64),
}

impl Num {
    fn value(self, quantum: usize) -> usize {
        match self {
            Num::Zero => 0,
            Num::Quanta(n) => usize::from(n).wrapping_mul(quantum),
            Num::Pow2(k) => 1usize << (k % usize::BITS as u8),
            Num::NearTop(n) => {
                usize::MAX.wrapping_sub(usize::from(n).wrapping_mul(quantum)) & !(quantum - 1)
            }
            Num::Raw(x) => x as usize,
        }
    }
}

/// A size: usually small and plausible.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Size {
    /// 1 to 256 units, not rounded to anything.
    Units(u8),
    /// 1 to 64 quanta.
    Quanta(u8),
    /// Anything [`Num`] gives, up to `usize::MAX`.
    Any(Num),
}

impl Size {
    fn value(self, quantum: usize) -> usize {
        match self {
            Size::Units(n) => usize::from(n) + 1,
            Size::Quanta(n) => (usize::from(n % 64) + 1) * quantum,
            Size::Any(n) => n.value(quantum),
        }
    }
}

/// How a bad free is made up.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum BadFree {
    /// Free something already freed.
    Double,
    /// Free a live allocation with another size.
    WrongSize,
    /// Free an address of the fuzzer's choice.
    Foreign,
    /// Free a live allocation's address plus a little.
    Misaligned,
}

/// One step.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `alloc` (or the cached arena's).
    Alloc {
        /// Which arena (modulo 4: A, P, C, Q).
        arena: u8,
        /// Requested size.
        size: Size,
        /// Policy (modulo 4).
        policy: u8,
        /// Place at the high end.
        from_end: bool,
        /// `SleepFor(0)` instead of no-sleep.
        sleep: bool,
    },
    /// `xalloc` with any constraints, valid or not.
    XAlloc {
        /// Which arena.
        arena: u8,
        /// Requested size.
        size: Size,
        /// Alignment.
        align: Num,
        /// Phase.
        phase: Num,
        /// Boundary not to cross.
        nocross: Num,
        /// Window start.
        min: Num,
        /// Window end.
        max: Num,
        /// Policy (modulo 4).
        policy: u8,
        /// Place at the high end.
        from_end: bool,
        /// `SleepFor(0)` instead of no-sleep.
        sleep: bool,
    },
    /// Free a live allocation, chosen by index.
    Free {
        /// Which arena.
        arena: u8,
        /// Index into the live allocations.
        pick: u16,
    },
    /// A free that must be refused.
    BadFree {
        /// Which arena.
        arena: u8,
        /// How to make it bad.
        how: BadFree,
        /// Index into the live or freed allocations.
        pick: u16,
        /// Address for `Foreign`.
        addr: Num,
        /// Size for `Foreign` and `WrongSize`.
        size: Size,
    },
    /// `add`, anywhere.
    Add {
        /// Which arena.
        arena: u8,
        /// Base.
        base: Num,
        /// Size.
        size: Num,
    },
    /// `extend_alloc`, anywhere.
    ExtendAlloc {
        /// Which arena.
        arena: u8,
        /// Base.
        base: Num,
        /// Size of the range added.
        size: Num,
        /// Size allocated from it.
        alloc: Num,
    },
    /// A walk; a reentrant one allocates and frees from its callback.
    Walk {
        /// Which arena.
        arena: u8,
        /// `walk_reentrant` instead of `walk`.
        reentrant: bool,
    },
    /// `contains`.
    Contains {
        /// Which arena.
        arena: u8,
        /// Address.
        addr: Num,
        /// Size.
        size: Size,
    },
    /// Reap the quantum caches.
    Reap,
    /// `update` (hash rescale, cache working sets).
    Update {
        /// Which arena.
        arena: u8,
    },
    /// The page source refuses (or stops refusing).
    RefusePages(bool),
    /// Fault injection on one arena (modulo 8; 0 is off).
    Mtbf {
        /// Which arena.
        arena: u8,
        /// Mean time between failures.
        mtbf: u8,
    },
    /// The child's import limit, in 4 KiB units (0: none).
    ChildLimit(u8),
}

/// The shape of the arenas.
#[derive(Arbitrary, Debug, Clone)]
pub struct Config {
    a_quantum: u8,
    p_quantum: u8,
    p_span: u8,
    c_quantum: u8,
    c_import_quantum: Option<u8>,
    q_quantum: u8,
    q_span: u8,
    q_caches: u8,
}

/// A whole run.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    /// The arenas.
    pub config: Config,
    /// The steps.
    pub ops: Vec<Op>,
}

/// The input the fuzzer's bytes decode to, for reading a crash.
pub fn decode(data: &[u8]) -> Option<Input> {
    Input::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// Runs the target on raw fuzzer bytes.
pub fn run(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run_input(&input);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    Alloc,
    XAlloc,
    Extend,
}

#[derive(Clone, Copy, Debug)]
struct Live {
    size: usize,
    how: How,
    /// A quantum-cache object (Q only).
    cached: bool,
}

/// What the model knows of one arena.
#[derive(Default)]
struct Model {
    quantum: usize,
    live: BTreeMap<usize, Live>,
    freed: Vec<(usize, usize, How)>,
    /// Merged ranges the arena was given (`add`, `extend_alloc`, initial).
    spans: Vec<(u128, u128)>,
    mtbf: bool,
}

impl Model {
    fn rsize(&self, size: usize) -> u128 {
        (size as u128).div_ceil(self.quantum as u128) * self.quantum as u128
    }

    fn add_span(&mut self, base: usize, size: usize) {
        self.spans.push((base as u128, base as u128 + size as u128));
        self.spans.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for &(s, e) in &self.spans {
            match merged.last_mut() {
                Some(last) if last.1 >= s => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.spans = merged;
    }

    fn in_spans(&self, addr: usize, size: usize) -> bool {
        let (s, e) = (addr as u128, addr as u128 + self.rsize(size));
        self.spans.iter().any(|&(a, b)| a <= s && e <= b)
    }

    fn overlaps_span(&self, base: usize, size: usize) -> bool {
        let (s, e) = (base as u128, base as u128 + size as u128);
        self.spans.iter().any(|&(a, b)| s < b && a < e)
    }

    /// Records a new allocation, checking it against the others.
    fn insert(&mut self, name: &str, addr: usize, live: Live) {
        assert_eq!(
            addr % self.quantum,
            0,
            "{name}: {addr:#x} not quantum aligned"
        );
        let end = addr as u128 + self.rsize(live.size);
        assert!(
            end <= 1u128 << usize::BITS,
            "{name}: [{addr:#x}, +{:#x}) wraps",
            live.size
        );
        if let Some((&prev, p)) = self.live.range(..=addr).next_back() {
            assert!(
                prev as u128 + self.rsize(p.size) <= addr as u128,
                "{name}: {addr:#x} (+{:#x}) overlaps live {prev:#x} (+{:#x})",
                live.size,
                p.size
            );
        }
        if let Some((&next, n)) = self.live.range(addr..).next() {
            assert!(
                end <= next as u128,
                "{name}: {addr:#x} (+{:#x}) overlaps live {next:#x} (+{:#x})",
                live.size,
                n.size
            );
        }
        self.live.insert(addr, live);
    }

    fn nth_live(&self, pick: u16) -> Option<(usize, Live)> {
        if self.live.is_empty() {
            return None;
        }
        let i = usize::from(pick) % self.live.len();
        self.live.iter().nth(i).map(|(&a, &l)| (a, l))
    }

    fn remember_freed(&mut self, addr: usize, size: usize, how: How) {
        if self.freed.len() == 16 {
            self.freed.remove(0);
        }
        self.freed.push((addr, size, how));
    }
}

/// `vmem_core`'s rules for `xalloc` arguments, written out again from the
/// documentation: true when the request must be refused as invalid.
pub fn xalloc_is_invalid(size: usize, quantum: usize, c: &Constraints) -> bool {
    let align = if c.get_align() == 0 {
        quantum
    } else {
        c.get_align()
    };
    let (phase, nocross) = (c.get_phase(), c.get_nocross());
    if size == 0 || (phase != 0 && phase >= align) {
        return true;
    }
    if !align.is_power_of_two() || (nocross != 0 && !nocross.is_power_of_two()) {
        return true;
    }
    if [align, phase, nocross].iter().any(|v| v % quantum != 0) {
        return true;
    }
    if nocross != 0 {
        if align > nocross {
            return true;
        }
        let need = phase as u128 + size as u128;
        let rounded = need.div_ceil(align as u128) * align as u128;
        if rounded > nocross as u128 {
            return true;
        }
    }
    false
}

/// Whether `addr` (of `size` bytes) honours the constraints.
pub fn honours(addr: usize, size: usize, quantum: usize, c: &Constraints) -> bool {
    let align = if c.get_align() == 0 {
        quantum
    } else {
        c.get_align()
    };
    let (a, s) = (addr as u128, size as u128);
    let phase_ok = addr % align == c.get_phase();
    let nocross_ok = c.get_nocross() == 0 || {
        let n = c.get_nocross() as u128;
        a / n == (a + s - 1) / n
    };
    let window_ok = addr >= c.get_min() && (c.get_max() == 0 || a + s <= c.get_max() as u128);
    phase_ok && nocross_ok && window_ok
}

/// Whether the free range `[start, end)` holds some address that satisfies
/// the request: an independent search in 128-bit arithmetic.
pub fn admits(start: usize, end: usize, size: usize, quantum: usize, c: &Constraints) -> bool {
    let align = if c.get_align() == 0 {
        quantum
    } else {
        c.get_align()
    } as u128;
    let (size, phase) = (size as u128, c.get_phase() as u128);
    let lo = (start as u128).max(c.get_min() as u128);
    let hi = if c.get_max() == 0 {
        end as u128
    } else {
        (end as u128).min(c.get_max() as u128)
    };
    // The first address at `phase` past an `align` multiple, at or above lo.
    let mut addr = (lo.saturating_sub(phase)).div_ceil(align) * align + phase;
    if addr < lo {
        addr += align;
    }
    let nocross = c.get_nocross() as u128;
    if nocross != 0 && addr / nocross != (addr + size - 1) / nocross {
        let boundary = (addr / nocross + 1) * nocross;
        addr = (boundary.saturating_sub(phase)).div_ceil(align) * align + phase;
        if addr < boundary {
            addr += align;
        }
        if addr / nocross != (addr + size - 1) / nocross {
            return false;
        }
    }
    addr + size <= hi
}

fn policy(p: u8) -> Policy {
    [
        Policy::InstantFit,
        Policy::BestFit,
        Policy::FirstFit,
        Policy::NextFit,
    ][usize::from(p % 4)]
}

fn flags(p: u8, from_end: bool, sleep: bool) -> AllocFlags {
    let flags = AllocFlags::new().policy(policy(p)).from_end(from_end);
    if sleep {
        flags.wait(Wait::SleepFor(Duration::ZERO))
    } else {
        flags
    }
}

/// The arena-layer error inside a cached arena's error.
fn core_error(err: &SlabError) -> Option<&Error> {
    match err {
        SlabError::Arena { source, .. } => Some(source),
        _ => None,
    }
}

fn is_invalid(err: &Error) -> bool {
    matches!(err, Error::InvalidArgument { .. })
}

fn is_bad_free(err: &Error) -> bool {
    matches!(err, Error::NotAllocated { .. } | Error::WrongSize { .. })
}

const NAMES: [&str; 4] = ["A", "P", "C", "Q"];

struct World {
    pool: PrivatePool,
    a: Arena,
    p: Arc<Arena>,
    c: Arena,
    q: CachedArena,
    models: [Model; 4],
    slab_size: usize,
}

fn walk_all(arena: &Arena, types: SegmentTypes) -> Vec<Segment> {
    let mut segs = Vec::new();
    arena.walk(types, |s| segs.push(s));
    segs
}

impl World {
    fn new(config: &Config, pool: PrivatePool) -> World {
        let q = |x: u8, max: u8| 1usize << (x % max);
        let build =
            |name: &str, quantum: usize| Arena::builder(name).quantum(quantum).tag_pool(pool.pool);
        let a = build("A", q(config.a_quantum, 13)).build().expect("A");
        let pq = q(config.p_quantum, 13);
        let p_size = 1usize << (12 + config.p_span % 9);
        let p = Arc::new(build("P", pq).span(0x1000_0000, p_size).build().expect("P"));
        let mut child = build("C", q(config.c_quantum, 10)).source(p.clone());
        if let Some(iq) = config.c_import_quantum {
            child = child.import_quantum(q(iq, 14));
        }
        let c = child.build().expect("C");
        let qq = q(config.q_quantum, 8);
        let q_size = 1usize << (10 + config.q_span % 10);
        let q_arena = build("Q", qq).span(0, q_size).build().expect("Q");
        let cached = CachedArena::new(q_arena, usize::from(config.q_caches % 17) * qq);
        let slab_size = quantum_slab_size(cached.qcache_max()).unwrap_or(0);
        let mut models: [Model; 4] = Default::default();
        for (m, arena) in models.iter_mut().zip([&a, &*p, &c, cached.arena()]) {
            m.quantum = arena.quantum();
        }
        models[1].add_span(0x1000_0000, p_size);
        models[3].add_span(0, q_size);
        World {
            pool,
            a,
            p,
            c,
            q: cached,
            models,
            slab_size,
        }
    }

    fn arena(&self, t: usize) -> &Arena {
        match t {
            0 => &self.a,
            1 => &self.p,
            2 => &self.c,
            _ => self.q.arena(),
        }
    }

    fn is_cached_size(&self, size: usize) -> bool {
        size.wrapping_sub(1) < self.q.qcache_max()
    }

    /// Whether failures of `t` can be judged: A with no injected faults.
    fn judge_failures(&self, t: usize) -> bool {
        t == 0 && !self.models[0].mtbf && !self.pool.pages.refusing()
    }

    fn alloc(&mut self, t: usize, size: usize, f: AllocFlags) {
        let result = if t == 3 {
            self.q.alloc(size, f).map_err(|e| {
                core_error(&e)
                    .cloned()
                    .unwrap_or_else(|| panic!("Q alloc: {e}"))
            })
        } else {
            self.arena(t).alloc(size, f)
        };
        match result {
            Ok(addr) => {
                assert!(size != 0, "{}: size 0 allocated", NAMES[t]);
                let cached = t == 3 && self.is_cached_size(size);
                self.models[t].insert(
                    NAMES[t],
                    addr,
                    Live {
                        size,
                        how: How::Alloc,
                        cached,
                    },
                );
            }
            Err(err) => {
                assert_eq!(
                    is_invalid(&err),
                    size == 0,
                    "{}: alloc({size:#x}) -> {err}",
                    NAMES[t]
                );
                if size != 0 && self.judge_failures(t) {
                    self.assert_nothing_fits(size, &Constraints::new(), f.get_policy(), &err);
                }
            }
        }
    }

    fn xalloc(&mut self, t: usize, size: usize, c: &Constraints, f: AllocFlags) {
        let result = if t == 3 {
            self.q.xalloc(size, c, f).map_err(|e| {
                core_error(&e)
                    .cloned()
                    .unwrap_or_else(|| panic!("Q xalloc: {e}"))
            })
        } else {
            self.arena(t).xalloc(size, c, f)
        };
        let quantum = self.models[t].quantum;
        let invalid = xalloc_is_invalid(size, quantum, c);
        match result {
            Ok(addr) => {
                assert!(
                    !invalid,
                    "{}: invalid xalloc({size:#x}, {c:?}) succeeded",
                    NAMES[t]
                );
                assert!(
                    honours(addr, size, quantum, c),
                    "{}: xalloc({size:#x}, {c:?}) -> {addr:#x} breaks the constraints",
                    NAMES[t]
                );
                self.models[t].insert(
                    NAMES[t],
                    addr,
                    Live {
                        size,
                        how: How::XAlloc,
                        cached: false,
                    },
                );
            }
            Err(err) => {
                assert_eq!(
                    is_invalid(&err),
                    invalid,
                    "{}: xalloc({size:#x}, {c:?}) -> {err}",
                    NAMES[t]
                );
                if !invalid && self.judge_failures(t) {
                    self.assert_nothing_fits(size, c, f.get_policy(), &err);
                }
            }
        }
    }

    /// The failure oracle: best- and first-fit search every free segment
    /// that might hold the request; instant-fit (and next-fit's fallback)
    /// at least every one of the next power of two or more.
    fn assert_nothing_fits(&self, size: usize, c: &Constraints, policy: Policy, err: &Error) {
        let quantum = self.models[0].quantum;
        let floor = match policy {
            Policy::BestFit | Policy::FirstFit => 0,
            _ => match size.checked_next_power_of_two() {
                Some(p) => p,
                None => return,
            },
        };
        for seg in walk_all(&self.a, SegmentTypes::FREE) {
            if seg.size >= floor && admits(seg.start, seg.start + seg.size, size, quantum, c) {
                panic!(
                    "A: {policy:?} request of {size:#x} under {c:?} failed ({err}) although free segment [{:#x}, +{:#x}) holds it",
                    seg.start, seg.size
                );
            }
        }
    }

    fn free_live(&mut self, t: usize, addr: usize, live: Live) {
        let result = match (t, live.how) {
            (3, How::Alloc) => self.q.free(addr, live.size),
            (3, _) => self.q.xfree(addr, live.size),
            (_, How::XAlloc) => self.arena(t).xfree(addr, live.size).map_err(wrap),
            _ => self.arena(t).free(addr, live.size).map_err(wrap),
        };
        if let Err(err) = result {
            panic!(
                "{}: free of live {addr:#x} (+{:#x}): {err}",
                NAMES[t], live.size
            );
        }
        self.models[t].live.remove(&addr);
        self.models[t].remember_freed(addr, live.size, live.how);
    }

    /// A free that must fail: tried only when the arena really has no
    /// allocated segment of exactly that address and size (else it is not
    /// a bad free the arena can know of, e.g. one of the child's spans).
    fn bad_free(&mut self, t: usize, addr: usize, size: usize, how: How) {
        let quantum_cached = t == 3 && how == How::Alloc && self.is_cached_size(size);
        if quantum_cached {
            // A live object freed with another size of the same cache is
            // indistinguishable from a good free (libumem's caches cannot
            // tell either): not a bad free to try.
            let quantum = self.models[3].quantum;
            if self.models[3]
                .live
                .get(&addr)
                .is_some_and(|l| (l.size - 1) / quantum == (size - 1) / quantum)
            {
                return;
            }
            match self.q.free(addr, size) {
                Err(SlabError::BadFree { .. }) => {}
                other => panic!("Q: cached bad free of {addr:#x} (+{size:#x}) -> {other:?}"),
            }
            return;
        }
        let arena = self.arena(t);
        let segs = walk_all(arena, SegmentTypes::ALLOC);
        if segs.iter().any(|s| s.start == addr && s.size == size) {
            return;
        }
        let result = if t == 3 {
            self.q.xfree(addr, size).map_err(|e| {
                core_error(&e)
                    .cloned()
                    .unwrap_or_else(|| panic!("Q xfree: {e}"))
            })
        } else {
            arena.free(addr, size)
        };
        match result {
            Err(err) if is_bad_free(&err) => {}
            other => panic!(
                "{}: bad free of {addr:#x} (+{size:#x}) -> {other:?}",
                NAMES[t]
            ),
        }
    }

    /// Whether `[base, base + size)` overlaps a span of `t`: one the model
    /// gave it, or (for the child) one it imported.
    fn overlaps_span(&self, t: usize, base: usize, size: usize) -> bool {
        let (s, e) = (base as u128, base as u128 + size as u128);
        self.models[t].overlaps_span(base, size)
            || (t == 2
                && walk_all(&self.c, SegmentTypes::SPAN)
                    .iter()
                    .any(|x| s < x.start as u128 + x.size as u128 && (x.start as u128) < e))
    }

    fn add(&mut self, t: usize, base: usize, size: usize) {
        let quantum = self.models[t].quantum;
        let valid = size != 0
            && base.checked_add(size).is_some()
            && base % quantum == 0
            && size % quantum == 0;
        let overlap = valid && self.overlaps_span(t, base, size);
        match self.arena(t).add(base, size) {
            Ok(()) => {
                assert!(
                    valid && !overlap,
                    "{}: add({base:#x}, {size:#x}) accepted",
                    NAMES[t]
                );
                self.models[t].add_span(base, size);
            }
            Err(Error::OutOfTags { .. }) if valid && self.pool.pages.refusing() => {}
            Err(err) => {
                let expect_invalid = !valid;
                assert_eq!(
                    is_invalid(&err),
                    expect_invalid,
                    "{}: add({base:#x}, {size:#x}) -> {err}",
                    NAMES[t]
                );
                if valid {
                    assert!(
                        overlap && matches!(err, Error::OverlappingSpan { .. }),
                        "{}: add({base:#x}, {size:#x}) -> {err}",
                        NAMES[t]
                    );
                }
            }
        }
    }

    fn extend_alloc(&mut self, t: usize, base: usize, size: usize, alloc: usize) {
        let quantum = self.models[t].quantum;
        let valid = size != 0
            && base.checked_add(size).is_some()
            && base % quantum == 0
            && size % quantum == 0
            && alloc != 0
            && alloc <= size
            && alloc % quantum == 0;
        let overlap = valid && self.overlaps_span(t, base, size);
        match self.arena(t).extend_alloc(base, size, alloc) {
            Ok(addr) => {
                assert!(
                    valid && !overlap,
                    "{}: extend_alloc({base:#x}, {size:#x}, {alloc:#x}) accepted",
                    NAMES[t]
                );
                self.models[t].add_span(base, size);
                assert!(
                    addr as u128 + alloc as u128 <= base as u128 + size as u128,
                    "{}: extend_alloc result {addr:#x} runs past the range",
                    NAMES[t]
                );
                self.models[t].insert(
                    NAMES[t],
                    addr,
                    Live {
                        size: alloc,
                        how: How::Extend,
                        cached: false,
                    },
                );
            }
            Err(Error::OutOfTags { .. }) if valid && self.pool.pages.refusing() => {}
            Err(err) => {
                assert_eq!(
                    is_invalid(&err),
                    !valid,
                    "{}: extend_alloc({base:#x}, {size:#x}, {alloc:#x}) -> {err}",
                    NAMES[t]
                );
                if valid {
                    assert!(
                        overlap && matches!(err, Error::OverlappingSpan { .. }),
                        "{}: extend_alloc -> {err}",
                        NAMES[t]
                    );
                }
            }
        }
    }

    fn walk(&self, t: usize, reentrant: bool) {
        let arena = self.arena(t);
        let mut seen = 0usize;
        if reentrant {
            let q = arena.quantum();
            arena.walk_reentrant(SegmentTypes::ALL, |_| {
                seen += 1;
                // The callback may use the arena: allocate and give back.
                if let Ok(x) = arena.alloc(q, AllocFlags::new()) {
                    arena.free(x, q).expect("free from a reentrant walk");
                }
            });
        } else {
            arena.walk(SegmentTypes::ALL, |_| seen += 1);
            let spans = walk_all(arena, SegmentTypes::SPAN).len();
            assert!(seen >= spans, "{}: a locked walk missed spans", NAMES[t]);
        }
    }

    /// Everything that must hold after every step.
    fn verify(&self) {
        for t in 0..4 {
            if let Err(err) = self.arena(t).check() {
                panic!("check failed: {err}");
            }
        }
        // A: exactly the model, inside its spans.
        self.exact(0, &[]);
        // C: exactly the model, each allocation inside one of its spans,
        // each imported span an allocated segment of P.
        self.exact(2, &[]);
        let c_spans = walk_all(&self.c, SegmentTypes::SPAN);
        for (&addr, live) in &self.models[2].live {
            let end = addr as u128 + self.models[2].rsize(live.size);
            assert!(
                c_spans
                    .iter()
                    .any(|s| s.start <= addr && end <= s.start as u128 + s.size as u128),
                "C: {addr:#x} (+{:#x}) outside every span",
                live.size
            );
        }
        let imported: Vec<(usize, usize)> = c_spans
            .iter()
            .filter(|s| s.kind == SegmentKind::ImportedSpan)
            .map(|s| (s.start, s.size))
            .collect();
        // P: the model plus the child's imported spans.
        self.exact(1, &imported);
        // Q: the direct allocations, plus slabs that hold every cached object.
        let segs = walk_all(self.q.arena(), SegmentTypes::ALLOC);
        let model = &self.models[3];
        let mut slabs = Vec::new();
        for s in &segs {
            match model.live.get(&s.start) {
                Some(l) if !l.cached && l.size == s.size => {}
                _ => {
                    assert_eq!(
                        s.size, self.slab_size,
                        "Q: allocated segment [{:#x}, +{:#x}) is neither the model's nor a slab",
                        s.start, s.size
                    );
                    slabs.push((s.start, s.start + s.size));
                }
            }
        }
        let mut direct = 0;
        for (&addr, live) in &model.live {
            assert!(
                model.in_spans(addr, live.size),
                "Q: {addr:#x} outside the spans"
            );
            if live.cached {
                let end = addr + model.rsize(live.size) as usize;
                assert!(
                    slabs.iter().any(|&(s, e)| s <= addr && end <= e),
                    "Q: cached object {addr:#x} (+{:#x}) in no slab",
                    live.size
                );
            } else {
                direct += 1;
            }
        }
        assert_eq!(segs.len(), direct + slabs.len(), "Q: allocated segments");
    }

    /// The allocated segments of `t` are the model's plus `extra`, and the
    /// model's allocations lie inside the spans it was given.
    fn exact(&self, t: usize, extra: &[(usize, usize)]) {
        let model = &self.models[t];
        let mut want: Vec<(usize, usize)> = model
            .live
            .iter()
            .map(|(&a, l)| (a, l.size))
            .chain(extra.iter().copied())
            .collect();
        want.sort_unstable();
        let mut got: Vec<(usize, usize)> = walk_all(self.arena(t), SegmentTypes::ALLOC)
            .into_iter()
            .map(|s| (s.start, s.size))
            .collect();
        got.sort_unstable();
        assert_eq!(
            got, want,
            "{}: allocated segments differ from the model",
            NAMES[t]
        );
        if t != 2 {
            for (&addr, live) in &model.live {
                assert!(
                    model.in_spans(addr, live.size),
                    "{}: {addr:#x} (+{:#x}) outside the spans given",
                    NAMES[t],
                    live.size
                );
            }
        }
    }

    fn step(&mut self, op: &Op) {
        let t = |arena: &u8| usize::from(*arena % 4);
        match op {
            Op::Alloc {
                arena,
                size,
                policy,
                from_end,
                sleep,
            } => {
                let t = t(arena);
                let size = size.value(self.models[t].quantum);
                self.alloc(t, size, flags(*policy, *from_end, *sleep));
            }
            Op::XAlloc {
                arena,
                size,
                align,
                phase,
                nocross,
                min,
                max,
                policy,
                from_end,
                sleep,
            } => {
                let t = t(arena);
                let q = self.models[t].quantum;
                let c = Constraints::new()
                    .align(align.value(q))
                    .phase(phase.value(q))
                    .nocross(nocross.value(q))
                    .min(min.value(q))
                    .max(max.value(q));
                self.xalloc(t, size.value(q), &c, flags(*policy, *from_end, *sleep));
            }
            Op::Free { arena, pick } => {
                let t = t(arena);
                if let Some((addr, live)) = self.models[t].nth_live(*pick) {
                    self.free_live(t, addr, live);
                }
            }
            Op::BadFree {
                arena,
                how,
                pick,
                addr,
                size,
            } => {
                let t = t(arena);
                let q = self.models[t].quantum;
                let bad = match how {
                    BadFree::Double => {
                        let freed = &self.models[t].freed;
                        (!freed.is_empty()).then(|| freed[usize::from(*pick) % freed.len()])
                    }
                    BadFree::WrongSize => self.models[t].nth_live(*pick).and_then(|(a, l)| {
                        let other = size.value(q);
                        (other != l.size).then_some((a, other, l.how))
                    }),
                    BadFree::Foreign => Some((addr.value(q), size.value(q), How::Alloc)),
                    BadFree::Misaligned => self.models[t]
                        .nth_live(*pick)
                        .map(|(a, l)| (a.wrapping_add(1 + usize::from(*pick % 7)), l.size, l.how)),
                };
                if let Some((addr, size, how)) = bad {
                    // `bad_free` skips a free that is not bad after all (a
                    // freed range handed out again since, with that size).
                    self.bad_free(t, addr, size, how);
                }
            }
            Op::Add { arena, base, size } => {
                let t = t(arena);
                let q = self.models[t].quantum;
                self.add(t, base.value(q), size.value(q));
            }
            Op::ExtendAlloc {
                arena,
                base,
                size,
                alloc,
            } => {
                let t = t(arena);
                let q = self.models[t].quantum;
                self.extend_alloc(t, base.value(q), size.value(q), alloc.value(q));
            }
            Op::Walk { arena, reentrant } => self.walk(t(arena), *reentrant),
            Op::Contains { arena, addr, size } => {
                let t = t(arena);
                let q = self.models[t].quantum;
                let (addr, size) = (addr.value(q), size.value(q));
                let inside = self.arena(t).contains(addr, size);
                if t != 2 && inside {
                    let (s, e) = (addr as u128, addr as u128 + size as u128);
                    assert!(
                        self.models[t].spans.iter().any(|&(a, b)| a <= s && e <= b),
                        "{}: contains({addr:#x}, {size:#x}) outside the spans given",
                        NAMES[t]
                    );
                }
            }
            Op::Reap => self.q.reap(),
            Op::Update { arena } => match t(arena) {
                3 => self.q.update(),
                t => self.arena(t).update(),
            },
            Op::RefusePages(yes) => self.pool.pages.set_refusing(*yes),
            Op::Mtbf { arena, mtbf } => {
                let t = t(arena);
                let mtbf = u32::from(mtbf % 8);
                self.arena(t).set_mtbf(mtbf);
                self.models[t].mtbf = mtbf != 0;
            }
            Op::ChildLimit(units) => self.c.set_limit(usize::from(*units) * 4096),
        }
        self.verify();
    }

    /// Frees everything, checks every arena is empty, drops them all.
    fn finish(mut self) {
        self.pool.pages.set_refusing(false);
        for t in 0..4 {
            self.arena(t).set_mtbf(0);
            self.models[t].mtbf = false;
        }
        for t in [2, 0, 3, 1] {
            while let Some((addr, live)) = self.models[t].nth_live(0) {
                self.free_live(t, addr, live);
            }
        }
        self.q.reap();
        self.verify();
        for t in [0, 2, 3] {
            let stats = self.arena(t).stats();
            assert_eq!(
                stats.mem_inuse, 0,
                "{}: still in use after freeing all",
                NAMES[t]
            );
            assert_eq!(stats.segments_allocated, 0, "{}: segments left", NAMES[t]);
        }
        for cache in self.q.cache_stats() {
            assert_eq!(
                cache.objects_outstanding, 0,
                "{}: objects outstanding",
                cache.name
            );
            assert_eq!(cache.late_bad_frees, 0, "{}: late bad frees", cache.name);
        }
        let World {
            pool, a, p, c, q, ..
        } = self;
        drop(c);
        assert_eq!(
            p.stats().mem_inuse,
            0,
            "P: still in use once the child is gone"
        );
        p.check().expect("P after the child is gone");
        drop((a, q));
        let p = Arc::try_unwrap(p).expect("the child held the last other reference");
        drop(p);
        pool.assert_nothing_leaked();
    }
}

/// Runs one decoded input.
pub fn run_input(input: &Input) {
    let pool = PrivatePool::for_this_thread();
    pool.pages.set_refusing(false);
    let mut world = World::new(&input.config, pool);
    world.verify();
    for op in &input.ops {
        world.step(op);
    }
    world.finish();
}

fn wrap(err: Error) -> SlabError {
    SlabError::Arena {
        cache: vmem_core::ArenaName::new("?"),
        source: err,
    }
}
