//! Randomized model tests: long sequences of `add`, `alloc`, `xalloc`,
//! `free`, `extend_alloc` and `contains` run against a simple reference
//! model (the allocated ranges and the spans), checking after every step the
//! arena's invariants, every result's constraints, the exact segment and
//! span lists, the size and stats counters, and that an allocation fails
//! only when no free segment could have held it.
//!
//! Two drivers feed the same steps to the same checks: a seeded loop
//! (`fastrand`, a fixed seed per test) whose choices follow the arena's
//! state, and a `proptest` strategy of step sequences that shrinks a failing
//! sequence to a short one. Together they run about 10^5 steps per policy
//! in release builds, fewer in debug builds and a handful under Miri.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};
use vmem_core::{
    AllocFlags, Arena, ArenaName, Constraints, Error, Policy, SegmentKind, SegmentTypes,
};

/// Steps per seeded run.
fn ops() -> usize {
    if cfg!(miri) {
        60
    } else if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    }
}

/// Proptest cases per policy, and the longest sequence of one case.
fn prop_budget() -> (u32, usize) {
    if cfg!(miri) {
        (1, 12)
    } else if cfg!(debug_assertions) {
        (8, 150)
    } else {
        (32, 300)
    }
}

/// `true` with the given chance, in percent.
fn chance(rng: &mut fastrand::Rng, percent: usize) -> bool {
    rng.usize(..100) < percent
}

const POLICIES: [Policy; 4] = [
    Policy::InstantFit,
    Policy::BestFit,
    Policy::FirstFit,
    Policy::NextFit,
];

fn round_up(x: usize, q: usize) -> usize {
    x.div_ceil(q) * q
}

fn highbit(x: usize) -> u32 {
    usize::BITS - x.leading_zeros()
}

/// One xalloc request, with the quantum already applied to `align`.
#[derive(Clone, Copy, Debug)]
struct Req {
    size: usize,
    align: usize,
    phase: usize,
    nocross: usize,
    min: usize,
    max: usize,
}

impl Req {
    fn plain(size: usize, q: usize) -> Req {
        Req {
            size,
            align: q,
            phase: 0,
            nocross: 0,
            min: 0,
            max: 0,
        }
    }

    fn constraints(&self) -> Constraints {
        Constraints::new()
            .align(self.align)
            .phase(self.phase)
            .nocross(self.nocross)
            .min(self.min)
            .max(self.max)
    }

    fn satisfied_by(&self, addr: usize) -> bool {
        let end = addr as u128 + self.size as u128;
        let max = if self.max == 0 {
            1u128 << 64
        } else {
            self.max as u128
        };
        addr % self.align == self.phase
            && (self.nocross == 0 || addr / self.nocross == (end as usize - 1) / self.nocross)
            && addr >= self.min
            && end <= max
    }

    /// Whether some address in the free range `[start, end)` satisfies the
    /// request (computed independently of the arena: lowest candidate,
    /// hopping one nocross boundary if needed).
    fn fits_in(&self, start: usize, end: usize) -> bool {
        let lo = start.max(self.min) as u128;
        let hi = if self.max == 0 {
            end as u128
        } else {
            (end as u128).min(self.max as u128)
        };
        let align = self.align as u128;
        let phase = self.phase as u128;
        let size = self.size as u128;
        let phase_up = |x: u128| {
            let base = x - x % align + phase;
            if base >= x {
                base
            } else {
                base + align
            }
        };
        let mut a = phase_up(lo);
        if self.nocross != 0 {
            let nc = self.nocross as u128;
            if a / nc != (a + size - 1) / nc {
                a = phase_up((a / nc + 1) * nc);
            }
        }
        a + size <= hi
    }
}

/// The reference model: live allocations and spans.
struct Model {
    quantum: usize,
    /// addr -> size as allocated.
    live: BTreeMap<usize, usize>,
    /// Spans as `(start, end)`, in the arena's list order.
    spans: Vec<(usize, usize)>,
    /// Spans are kept in address order (an arena without a source).
    ordered: bool,
}

impl Model {
    fn inuse(&self) -> usize {
        self.live.values().sum()
    }

    fn total(&self) -> usize {
        self.spans.iter().map(|&(s, e)| e - s).sum()
    }

    fn in_one_span(&self, addr: usize, size: usize) -> bool {
        self.spans
            .iter()
            .any(|&(s, e)| addr >= s && addr as u128 + size as u128 <= e as u128)
    }

    /// Whether `[addr, addr + round_up(size))` overlaps a live range.
    fn overlaps_live(&self, addr: usize, size: usize) -> bool {
        let q = self.quantum;
        let end = addr + round_up(size, q);
        if let Some((&a, &s)) = self.live.range(..end).next_back() {
            if a + round_up(s, q) > addr {
                return true;
            }
        }
        false
    }

    fn first_overlapping_span(&self, base: usize, size: usize) -> Option<(usize, usize)> {
        self.spans
            .iter()
            .copied()
            .find(|&(s, e)| base < e && s < base + size)
    }

    /// Records `[base, base + size)` the way `extend_alloc` merges it.
    fn extend(&mut self, base: usize, end: usize) {
        let below = self.spans.iter().position(|&(_, e)| e == base);
        let above = self.spans.iter().position(|&(s, _)| s == end);
        match (below, above) {
            (Some(b), Some(a)) => {
                let new_end = self.spans[a].1;
                self.spans[b].1 = new_end;
                self.spans.remove(a);
            }
            (Some(b), None) => self.spans[b].1 = end,
            (None, Some(a)) => self.spans[a].0 = base,
            (None, None) => self.add(base, end),
        }
    }

    fn add(&mut self, base: usize, end: usize) {
        if self.ordered {
            let at = self.spans.partition_point(|&(s, _)| s < base);
            self.spans.insert(at, (base, end));
        } else {
            self.spans.push((base, end));
        }
    }
}

/// What a walk of the arena shows.
#[derive(Default)]
struct Seen {
    spans: Vec<(usize, usize)>,
    imported: Vec<(usize, usize)>,
    allocs: Vec<(usize, usize)>,
    frees: Vec<(usize, usize)>,
}

fn look(arena: &Arena) -> Seen {
    let mut seen = Seen::default();
    arena.walk(SegmentTypes::ALL, |s| match s.kind {
        SegmentKind::Span => seen.spans.push((s.start, s.start + s.size)),
        SegmentKind::ImportedSpan => seen.imported.push((s.start, s.start + s.size)),
        SegmentKind::Alloc => seen.allocs.push((s.start, s.size)),
        SegmentKind::Free => seen.frees.push((s.start, s.start + s.size)),
        _ => unreachable!(),
    });
    seen
}

/// Checks the arena against the model; returns the walk for further use.
fn verify(arena: &Arena, model: &Model, step: usize) -> Seen {
    if let Err(e) = arena.check() {
        panic!("step {step}: {e}");
    }
    let seen = look(arena);
    let live: Vec<(usize, usize)> = model.live.iter().map(|(&a, &s)| (a, s)).collect();
    let mut allocs = seen.allocs.clone();
    allocs.sort_unstable();
    assert_eq!(allocs, live, "step {step}: allocated segments");
    assert_eq!(seen.spans, model.spans, "step {step}: spans");
    let inuse = model.inuse();
    let total = model.total();
    assert_eq!(arena.size(SegmentTypes::ALLOC), inuse, "step {step}");
    assert_eq!(arena.size(SegmentTypes::FREE), total - inuse, "step {step}");
    let st = arena.stats();
    assert_eq!(st.mem_inuse, inuse);
    assert_eq!(st.mem_total, total);
    assert_eq!(st.alloc - st.free, model.live.len() as u64);
    assert_eq!(st.segments_allocated, model.live.len());
    let max_free = seen.frees.iter().map(|&(s, e)| e - s).max().unwrap_or(0);
    assert_eq!(arena.max_free(), max_free, "step {step}: max_free");
    seen
}

/// Free segments the search of `policy` looks at for `size` (libumem's
/// choice of the first freelist): instant-fit skips the list of `size`
/// itself when a larger list is non-empty.
fn searched(policy: Policy, size: usize, frees: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let all = frees.to_vec();
    if size.is_power_of_two() || matches!(policy, Policy::BestFit | Policy::FirstFit) {
        return all;
    }
    let hb = highbit(size);
    if hb >= usize::BITS {
        return all;
    }
    let big: Vec<_> = all
        .iter()
        .copied()
        .filter(|&(s, e)| e - s >= 1 << hb)
        .collect();
    if big.is_empty() {
        all
    } else {
        big
    }
}

/// What one model run exercises.
#[derive(Clone, Copy)]
struct Config {
    seed: u64,
    quantum: usize,
    /// Policy of every allocation, or `None` for a random one each time.
    policy: Option<Policy>,
    xalloc: bool,
    spans: bool,
    /// Fraction of `ops()` to run (1 = all).
    divisor: usize,
}

/// One step of a model run, as drawn. Every choice that depends on the
/// arena's state (which live segment, which span, where in it) is a plain
/// number, resolved against the state when the step runs, so any sequence
/// of steps is valid and a shrunk sequence still means something.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Free the `pick`-th live segment (counted modulo the live count).
    Free { pick: usize, how: FreeHow },
    /// `add` a span of `quanta` quanta at slot `slot` of the span region
    /// (it may overlap one already there).
    Add { slot: usize, quanta: usize },
    /// `extend_alloc` next to the `pick`-th span (`place` 0: after it, 1:
    /// before it) or at slot `slot` (`place` 2), allocating `alloc`
    /// (modulo the size) + 1 quanta of it.
    Extend {
        pick: usize,
        place: u8,
        slot: usize,
        quanta: usize,
        alloc: usize,
    },
    /// `contains` at `offset` (modulo its size plus a quantum) into the
    /// `pick`-th span.
    Contains {
        pick: usize,
        offset: usize,
        size: usize,
    },
    /// An `alloc` or `xalloc`.
    Alloc {
        policy: Policy,
        from_end: bool,
        request: Draw,
    },
}

/// How a `Step::Free` frees.
#[derive(Clone, Copy, Debug)]
enum FreeHow {
    Free,
    Xfree,
    /// A bad free one quantum into the segment (a wrong size instead, for a
    /// segment of one quantum).
    Inside,
    /// A bad free with the size plus one.
    WrongSize,
}

/// An allocation request as drawn.
#[derive(Clone, Copy, Debug)]
enum Draw {
    /// `alloc(size)`.
    Plain { size: usize },
    /// `xalloc` with the constraints drawn.
    Constrained(ReqDraw),
}

/// Constraints as drawn; [`ReqDraw::resolve`] makes a [`Req`] of them.
#[derive(Clone, Copy, Debug)]
struct ReqDraw {
    size: usize,
    /// `align = quantum << shift` (`None`: the quantum).
    align_shift: Option<u32>,
    /// The phase, in quanta modulo the alignment's (`None`: 0).
    phase: Option<usize>,
    /// `nocross = align << shift`, when the request fits in one block.
    nocross_shift: Option<u32>,
    window: Option<WindowDraw>,
}

/// A `[min, max)` window inside one of the arena's spans.
#[derive(Clone, Copy, Debug)]
struct WindowDraw {
    /// Which span (modulo the span count).
    span: usize,
    /// Where in it `min` starts, in quanta (modulo the span's).
    offset: usize,
    /// `max = min + size + extra` (`None`: no upper bound).
    max_extra: Option<usize>,
    /// Drop `min` again (keep only `max`).
    no_min: bool,
}

impl ReqDraw {
    /// The request against an arena of quantum `q` with `spans`.
    fn resolve(&self, q: usize, spans: &[(usize, usize)]) -> Req {
        let size = self.size;
        let align = self.align_shift.map_or(q, |k| q << k);
        let phase = self.phase.map_or(0, |p| p % (align / q) * q);
        let nocross = self
            .nocross_shift
            .map(|k| align << k)
            .filter(|&n| round_up(phase + size, align) <= n)
            .unwrap_or(0);
        let (mut min, mut max) = (0, 0);
        if let (Some(w), false) = (self.window, spans.is_empty()) {
            let (s, e) = spans[w.span % spans.len()];
            min = s + w.offset % ((e - s) / q) * q;
            if let Some(extra) = w.max_extra {
                max = min + size + extra;
            }
            if w.no_min {
                min = 0;
            }
        }
        Req {
            size,
            align,
            phase,
            nocross,
            min,
            max,
        }
    }
}

/// Constraints drawn with the seeded generator.
fn random_req(rng: &mut fastrand::Rng, q: usize) -> ReqDraw {
    let size = if chance(rng, 10) {
        rng.usize(1..=0x40 * q)
    } else {
        rng.usize(1..=4 * q)
    };
    ReqDraw {
        size,
        align_shift: (!chance(rng, 30)).then(|| rng.u32(..9)),
        phase: (!chance(rng, 50)).then(|| rng.usize(..)),
        nocross_shift: chance(rng, 40).then(|| rng.u32(..7)),
        window: chance(rng, 20).then(|| WindowDraw {
            span: rng.usize(..),
            offset: rng.usize(..),
            max_extra: chance(rng, 60).then(|| rng.usize(..0x100 * q)),
            no_min: chance(rng, 30),
        }),
    }
}

/// The next step of a seeded run: frees become likelier as the arena
/// fills, so it hovers between empty and full.
fn random_step(rng: &mut fastrand::Rng, cfg: &Config, model: &Model) -> Step {
    let q = cfg.quantum;
    let policy = cfg.policy.unwrap_or(POLICIES[rng.usize(..4)]);
    let from_end = policy != Policy::NextFit && chance(rng, 10);
    let roll = rng.usize(..100);
    let live = model.live.len();
    if (live > 250 || (live > 20 && roll < 45)) && live != 0 {
        let how = if chance(rng, 3) {
            if chance(rng, 50) {
                FreeHow::Inside
            } else {
                FreeHow::WrongSize
            }
        } else if chance(rng, 50) {
            FreeHow::Free
        } else {
            FreeHow::Xfree
        };
        return Step::Free {
            pick: rng.usize(..),
            how,
        };
    }
    if cfg.spans && roll >= 95 && model.spans.len() < 40 {
        let quanta = rng.usize(1..=0x200);
        if roll >= 98 {
            return Step::Add {
                slot: rng.usize(..256),
                quanta,
            };
        }
        return Step::Extend {
            pick: rng.usize(..),
            place: rng.u8(..3),
            slot: rng.usize(..256),
            quanta,
            alloc: rng.usize(..),
        };
    }
    if roll >= 92 {
        return Step::Contains {
            pick: rng.usize(..),
            offset: rng.usize(..),
            size: rng.usize(1..=4 * q),
        };
    }
    let request = if cfg.xalloc && roll >= 65 {
        Draw::Constrained(random_req(rng, q))
    } else if chance(rng, 5) {
        Draw::Plain {
            size: rng.usize(1..=0x400 * q),
        }
    } else {
        Draw::Plain {
            size: rng.usize(1..=8 * q),
        }
    };
    Step::Alloc {
        policy,
        from_end,
        request,
    }
}

/// The proptest strategy of one step for `cfg`: the seeded loop's mix of
/// operations, without its dependence on the arena's state.
fn step_strategy(cfg: Config) -> impl Strategy<Value = Step> {
    let q = cfg.quantum;
    let policy = match cfg.policy {
        Some(p) => Just(p).boxed(),
        None => proptest::sample::select(POLICIES.to_vec()).boxed(),
    };
    let free = (
        any::<usize>(),
        prop_oneof![
            16 => Just(FreeHow::Free),
            16 => Just(FreeHow::Xfree),
            1 => Just(FreeHow::Inside),
            1 => Just(FreeHow::WrongSize),
        ],
    )
        .prop_map(|(pick, how)| Step::Free { pick, how });
    let window = (
        any::<usize>(),
        any::<usize>(),
        proptest::option::weighted(0.6, 0..0x100 * q),
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(span, offset, max_extra, no_min)| WindowDraw {
            span,
            offset,
            max_extra,
            no_min,
        });
    let constrained = (
        prop_oneof![9 => 1..=4 * q, 1 => 1..=0x40 * q],
        proptest::option::weighted(0.7, 0u32..9),
        proptest::option::weighted(0.5, any::<usize>()),
        proptest::option::weighted(0.4, 0u32..7),
        proptest::option::weighted(0.2, window),
    )
        .prop_map(|(size, align_shift, phase, nocross_shift, window)| {
            Draw::Constrained(ReqDraw {
                size,
                align_shift,
                phase,
                nocross_shift,
                window,
            })
        });
    let plain =
        prop_oneof![19 => 1..=8 * q, 1 => 1..=0x400 * q].prop_map(|size| Draw::Plain { size });
    let request = if cfg.xalloc {
        prop_oneof![2 => plain, 1 => constrained].boxed()
    } else {
        plain.boxed()
    };
    let alloc =
        (policy, proptest::bool::weighted(0.1), request).prop_map(|(policy, from_end, request)| {
            Step::Alloc {
                policy,
                from_end: from_end && policy != Policy::NextFit,
                request,
            }
        });
    let contains = (any::<usize>(), any::<usize>(), 1..=4 * q)
        .prop_map(|(pick, offset, size)| Step::Contains { pick, offset, size });
    let mut steps: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (40, free.boxed()),
        (50, alloc.boxed()),
        (5, contains.boxed()),
    ];
    if cfg.spans {
        let add =
            (0usize..256, 1usize..=0x200).prop_map(|(slot, quanta)| Step::Add { slot, quanta });
        let extend = (
            any::<usize>(),
            0u8..3,
            0usize..256,
            1usize..=0x200,
            any::<usize>(),
        )
            .prop_map(|(pick, place, slot, quanta, alloc)| Step::Extend {
                pick,
                place,
                slot,
                quanta,
                alloc,
            });
        steps.push((2, add.boxed()));
        steps.push((3, extend.boxed()));
    }
    proptest::strategy::Union::new_weighted(steps)
}

const SPAN_REGION: usize = 0x1000_0000;

/// An arena and its model, and the steps that drive both.
struct ModelRun {
    arena: Arena,
    model: Model,
    name: ArenaName,
    /// Distance between the span region's slots.
    slot: usize,
    successes: usize,
    failures: usize,
}

impl ModelRun {
    /// An arena of quantum `q` with one span of 16 slots.
    fn new(q: usize) -> ModelRun {
        let slot = 0x400 * q;
        let first = (SPAN_REGION, SPAN_REGION + 16 * slot);
        let arena = Arena::new("model", first.0, first.1 - first.0, q).unwrap();
        let model = Model {
            quantum: q,
            live: BTreeMap::new(),
            spans: vec![first],
            ordered: true,
        };
        verify(&arena, &model, 0);
        ModelRun {
            arena,
            model,
            name: ArenaName::new("model"),
            slot,
            successes: 0,
            failures: 0,
        }
    }

    /// Runs `step` (number `n`) on the arena and checks it against the model.
    fn apply(&mut self, n: usize, step: &Step) {
        let q = self.model.quantum;
        let arena = &self.arena;
        let model = &mut self.model;
        match *step {
            Step::Free { pick, how } => {
                if model.live.is_empty() {
                    return;
                }
                let (&addr, &size) = model.live.iter().nth(pick % model.live.len()).unwrap();
                let bad = match how {
                    FreeHow::Free => {
                        arena.free(addr, size).unwrap();
                        None
                    }
                    FreeHow::Xfree => {
                        arena.xfree(addr, size).unwrap();
                        None
                    }
                    FreeHow::Inside if round_up(size, q) > q => Some(arena.free(addr + q, size)),
                    FreeHow::Inside | FreeHow::WrongSize => Some(arena.free(addr, size + 1)),
                };
                match bad {
                    None => {
                        model.live.remove(&addr);
                    }
                    Some(Err(Error::WrongSize(bad))) => assert_eq!(bad.expected, size),
                    Some(Err(Error::NotAllocated(bad))) => assert_eq!(bad.addr, addr + q),
                    Some(other) => panic!("step {n}: bad free gave {other:?}"),
                }
                verify(arena, model, n);
            }
            Step::Add { slot, quanta } => {
                if model.spans.len() >= 40 {
                    return;
                }
                let size = quanta * q;
                let base = SPAN_REGION + slot % 256 * self.slot / 2;
                match arena.add(base, size) {
                    Ok(()) => {
                        assert!(model.first_overlapping_span(base, size).is_none());
                        model.add(base, base + size);
                    }
                    Err(Error::OverlappingSpan(overlap)) => {
                        assert_eq!(
                            model.first_overlapping_span(base, size),
                            Some((overlap.existing_start, overlap.existing_end)),
                            "step {n}"
                        );
                    }
                    Err(e) => panic!("step {n}: add: {e}"),
                }
                verify(arena, model, n);
            }
            Step::Extend {
                pick,
                place,
                slot,
                quanta,
                alloc,
            } => {
                if model.spans.len() >= 40 {
                    return;
                }
                let size = quanta * q;
                let (s, e) = model.spans[pick % model.spans.len()];
                let base = match place {
                    0 => e,
                    1 if s > size => s - size,
                    _ => SPAN_REGION + slot % 256 * self.slot / 2,
                };
                let alloc = (alloc % (size / q) + 1) * q;
                match arena.extend_alloc(base, size, alloc) {
                    Ok(addr) => {
                        assert!(model.first_overlapping_span(base, size).is_none());
                        assert!(addr <= base, "step {n}: extend_alloc above the range");
                        assert_eq!(addr % q, 0);
                        model.extend(base, base + size);
                        assert!(model.in_one_span(addr, alloc), "step {n}");
                        assert!(!model.overlaps_live(addr, alloc), "step {n}");
                        model.live.insert(addr, alloc);
                    }
                    Err(Error::OverlappingSpan(_)) => {
                        assert!(model.first_overlapping_span(base, size).is_some());
                    }
                    Err(e) => panic!("step {n}: extend_alloc: {e}"),
                }
                verify(arena, model, n);
            }
            Step::Contains { pick, offset, size } => {
                let (s, e) = model.spans[pick % model.spans.len()];
                let addr = s + offset % (e - s + q);
                assert_eq!(
                    arena.contains(addr, size),
                    model.in_one_span(addr, size),
                    "step {n}: contains({addr:#x}, {size:#x})"
                );
            }
            Step::Alloc {
                policy,
                from_end,
                request,
            } => {
                let flags = AllocFlags::new().policy(policy).from_end(from_end);
                let (req, constrained) = match request {
                    Draw::Plain { size } => (Req::plain(size, q), false),
                    Draw::Constrained(draw) => (draw.resolve(q, &model.spans), true),
                };
                let result = if constrained {
                    arena.xalloc(req.size, &req.constraints(), flags)
                } else {
                    arena.alloc(req.size, flags)
                };
                match result {
                    Ok(addr) => {
                        self.successes += 1;
                        assert!(
                            req.satisfied_by(addr),
                            "step {n}: {addr:#x} violates {req:?}"
                        );
                        assert_eq!(addr % q, 0);
                        assert!(model.in_one_span(addr, round_up(req.size, q)), "step {n}");
                        assert!(
                            !model.overlaps_live(addr, req.size),
                            "step {n}: {addr:#x}+{:#x} handed out twice",
                            req.size
                        );
                        model.live.insert(addr, req.size);
                        verify(arena, model, n);
                    }
                    Err(Error::WouldBlock { arena: name, size }) => {
                        self.failures += 1;
                        assert_eq!((name, size), (self.name, req.size));
                        let seen = verify(arena, model, n);
                        let candidates = if constrained {
                            searched(policy, req.size, &seen.frees)
                        } else {
                            seen.frees.clone()
                        };
                        let fit = candidates.iter().find(|&&(s, e)| req.fits_in(s, e));
                        assert!(
                            fit.is_none(),
                            "step {n}: {policy:?} {req:?} failed but {fit:?} fits"
                        );
                    }
                    Err(Error::NeverFits(never)) => {
                        self.failures += 1;
                        assert_eq!(
                            (never.size, never.min, never.max),
                            (req.size, req.min, req.max)
                        );
                        assert!(
                            !req.fits_in(0, usize::MAX),
                            "step {n}: {req:?} refused as never fitting"
                        );
                        verify(arena, model, n);
                    }
                    Err(e) => panic!("step {n}: unexpected {e}"),
                }
            }
        }
    }

    /// Fills the arena until an allocation fails, then frees everything:
    /// the arena must be back to its spans, wholly free.
    fn finish(&mut self, rng: &mut fastrand::Rng, policy: Option<Policy>) {
        self.failures += fill_until_failure(&self.arena, &mut self.model, rng, policy);
        for (&addr, &size) in &self.model.live {
            self.arena.free(addr, size).unwrap();
        }
        self.model.live.clear();
        let seen = verify(&self.arena, &self.model, usize::MAX);
        let free: usize = seen.frees.iter().map(|&(s, e)| e - s).sum();
        assert_eq!(free, self.model.total());
        assert!(self.failures > 0);
    }
}

/// A seeded run of `ops() / cfg.divisor` steps.
fn run(cfg: Config) {
    let mut rng = fastrand::Rng::with_seed(cfg.seed);
    let mut run = ModelRun::new(cfg.quantum);
    let n = ops() / cfg.divisor;
    for step in 1..=n {
        let next = random_step(&mut rng, &cfg, &run.model);
        run.apply(step, &next);
    }
    assert!(run.successes > n / 4, "{} successes", run.successes);
    run.finish(&mut rng, cfg.policy);
    eprintln!(
        "seed {}: {} allocations, {} failures, {} spans at the end",
        cfg.seed,
        run.successes,
        run.failures,
        run.model.spans.len()
    );
}

/// Proptest runs of step sequences for `cfg`, from a fixed seed so that CI
/// is repeatable; a failure is shrunk to a short sequence and reported.
fn run_proptest(cfg: Config) {
    let (cases, longest) = prop_budget();
    let config = PropConfig {
        cases,
        // No regression files: Miri cannot write them, and a failure is
        // reported with its shrunk steps, to be pinned as a seeded test.
        failure_persistence: None,
        ..PropConfig::default()
    };
    let seed = cfg.seed.to_le_bytes().repeat(4);
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let steps = proptest::collection::vec(step_strategy(cfg), 1..=longest);
    let result = runner.run(&steps, |steps| {
        let mut run = ModelRun::new(cfg.quantum);
        for (n, step) in steps.iter().enumerate() {
            run.apply(n + 1, step);
        }
        run.finish(&mut fastrand::Rng::with_seed(cfg.seed), cfg.policy);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
/// Allocates large segments until one fails, checking every result, so every
/// profile (the short debug and Miri runs too) sees the arena full and checks
/// that the failure means no free segment could have held the request.
fn fill_until_failure(
    arena: &Arena,
    model: &mut Model,
    rng: &mut fastrand::Rng,
    policy: Option<Policy>,
) -> usize {
    let q = model.quantum;
    for step in 0..4096 {
        let size = rng.usize(0x40 * q..=0x400 * q);
        let flags = AllocFlags::new().policy(policy.unwrap_or(Policy::InstantFit));
        match arena.alloc(size, flags) {
            Ok(addr) => {
                assert_eq!(addr % q, 0);
                assert!(model.in_one_span(addr, round_up(size, q)), "fill {step}");
                assert!(!model.overlaps_live(addr, size), "fill {step}");
                model.live.insert(addr, size);
                verify(arena, model, step);
            }
            Err(Error::WouldBlock { size: failed, .. }) => {
                assert_eq!(failed, size);
                let seen = verify(arena, model, step);
                let req = Req::plain(size, q);
                let fit = seen.frees.iter().find(|&&(s, e)| req.fits_in(s, e));
                assert!(
                    fit.is_none(),
                    "fill {step}: {size:#x} failed but {fit:?} fits"
                );
                return 1;
            }
            Err(e) => panic!("fill {step}: unexpected {e}"),
        }
    }
    panic!("the arena never filled up");
}

#[test]
fn model_instant_fit() {
    run(Config {
        seed: 1,
        quantum: 0x10,
        policy: Some(Policy::InstantFit),
        xalloc: false,
        spans: false,
        divisor: 1,
    });
}

#[test]
fn model_best_fit() {
    run(Config {
        seed: 2,
        quantum: 0x10,
        policy: Some(Policy::BestFit),
        xalloc: false,
        spans: false,
        divisor: 1,
    });
}

#[test]
fn model_first_fit() {
    run(Config {
        seed: 3,
        quantum: 0x10,
        policy: Some(Policy::FirstFit),
        xalloc: false,
        spans: false,
        divisor: 1,
    });
}

#[test]
fn model_next_fit() {
    run(Config {
        seed: 4,
        quantum: 1,
        policy: Some(Policy::NextFit),
        xalloc: false,
        spans: false,
        divisor: 1,
    });
}

#[test]
fn model_each_policy_with_xalloc_and_spans() {
    for (i, policy) in [
        Policy::InstantFit,
        Policy::BestFit,
        Policy::FirstFit,
        Policy::NextFit,
    ]
    .into_iter()
    .enumerate()
    {
        run(Config {
            seed: 10 + i as u64,
            quantum: 0x100,
            policy: Some(policy),
            xalloc: true,
            spans: true,
            divisor: 4,
        });
    }
}

#[test]
fn model_mixed_policies_xalloc_and_extend() {
    run(Config {
        seed: 20,
        quantum: 0x1000,
        policy: None,
        xalloc: true,
        spans: true,
        divisor: 1,
    });
}

/// Shrinking runs: proptest sequences of steps for each policy, plain and
/// constrained, with spans added and extended.
#[test]
fn proptest_each_policy() {
    for (i, policy) in POLICIES.into_iter().enumerate() {
        run_proptest(Config {
            seed: 30 + i as u64,
            quantum: 0x10,
            policy: Some(policy),
            xalloc: true,
            spans: true,
            divisor: 1,
        });
    }
}

/// Shrinking runs with a random policy per allocation and a large quantum.
#[test]
fn proptest_mixed_policies() {
    run_proptest(Config {
        seed: 40,
        quantum: 0x1000,
        policy: None,
        xalloc: true,
        spans: true,
        divisor: 1,
    });
}

/// A child arena importing from a parent: after every step both arenas are
/// consistent, the child's imported spans are exactly the parent's
/// allocated segments, and the parent's in-use equals the child's imports.
#[test]
fn model_importing_child() {
    let mut rng = fastrand::Rng::with_seed(99);
    let pq = 0x1000;
    let q = 0x10;
    let parent = Arc::new(Arena::new("parent", SPAN_REGION, 0x1000_0000, pq).unwrap());
    let child = Arena::builder("child")
        .quantum(q)
        .source(parent.clone())
        .build()
        .unwrap();
    let mut live: BTreeMap<usize, usize> = BTreeMap::new();
    let policies = [
        Policy::InstantFit,
        Policy::BestFit,
        Policy::FirstFit,
        Policy::NextFit,
    ];
    let n = ops() / 2;
    for step in 1..=n {
        let policy = policies[rng.usize(..4)];
        let flags = AllocFlags::new().policy(policy);
        if live.len() > 200 || (!live.is_empty() && chance(&mut rng, 45)) {
            let k = rng.usize(..live.len());
            let (&addr, &size) = live.iter().nth(k).unwrap();
            child.free(addr, size).unwrap();
            live.remove(&addr);
        } else {
            let mut req = Req::plain(rng.usize(1..=0x300), q);
            let res = if chance(&mut rng, 30) {
                // No spans to draw a window from: the request is unbounded.
                req = random_req(&mut rng, q).resolve(q, &[]);
                child.xalloc(req.size, &req.constraints(), flags)
            } else {
                child.alloc(req.size, flags)
            };
            match res {
                Ok(addr) => {
                    assert!(req.satisfied_by(addr), "step {step}: {addr:#x} {req:?}");
                    let end = addr + round_up(req.size, q);
                    if let Some((&a, &s)) = live.range(..end).next_back() {
                        assert!(a + round_up(s, q) <= addr, "step {step}: overlap");
                    }
                    live.insert(addr, req.size);
                }
                Err(e) => panic!("step {step}: {req:?} {policy:?}: {e}"),
            }
        }
        child.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
        parent
            .check()
            .unwrap_or_else(|e| panic!("step {step}: {e}"));
        let seen = look(&child);
        let mut allocs = seen.allocs.clone();
        allocs.sort_unstable();
        assert_eq!(
            allocs,
            live.iter().map(|(&a, &s)| (a, s)).collect::<Vec<_>>()
        );
        assert!(seen.spans.is_empty());
        let mut imported: Vec<(usize, usize)> =
            seen.imported.iter().map(|&(s, e)| (s, e - s)).collect();
        imported.sort_unstable();
        let mut given = look(&parent).allocs;
        given.sort_unstable();
        assert_eq!(
            imported, given,
            "step {step}: imports vs parent allocations"
        );
        let cs = child.stats();
        assert_eq!(parent.size(SegmentTypes::ALLOC), cs.mem_import);
        assert_eq!(cs.mem_import, cs.mem_total);
        assert_eq!(cs.imports - cs.releases, imported.len() as u64);
        assert_eq!(
            child.size(SegmentTypes::ALLOC),
            live.values().sum::<usize>()
        );
    }
    for (&addr, &size) in &live {
        child.free(addr, size).unwrap();
    }
    child.check().unwrap();
    // Only a span the next-fit rotor sits in can stay behind.
    assert!(look(&child).imported.len() <= 1);
    assert_eq!(parent.size(SegmentTypes::ALLOC), child.stats().mem_import);
    drop(child);
    parent.check().unwrap();
}
