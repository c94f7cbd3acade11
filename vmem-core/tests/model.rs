//! Seeded randomized model tests: long random sequences of `add`, `alloc`,
//! `xalloc`, `free` and `extend_alloc` run against a simple reference model
//! (the allocated ranges and the spans), checking after every step the
//! arena's invariants, every result's constraints, the exact segment and
//! span lists, the size and stats counters, and that an allocation fails
//! only when no free segment could have held it.

use std::collections::BTreeMap;
use std::sync::Arc;

use vmem_core::{
    AllocFlags, Arena, ArenaName, Constraints, Error, Policy, SegmentKind, SegmentTypes,
};

/// Operations per randomized run.
fn ops() -> usize {
    if cfg!(miri) {
        60
    } else if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    }
}

/// splitmix64: a tiny deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

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

fn random_req(rng: &mut Rng, q: usize, model: &Model) -> Req {
    let size = if rng.chance(10) {
        rng.range(1, 0x40 * q)
    } else {
        rng.range(1, 4 * q)
    };
    let align = if rng.chance(30) { q } else { q << rng.below(9) };
    let phase = if rng.chance(50) {
        0
    } else {
        rng.below(align / q) * q
    };
    let mut nocross = 0;
    if rng.chance(40) {
        let n = align << rng.below(7);
        if round_up(phase + size, align) <= n {
            nocross = n;
        }
    }
    let (mut min, mut max) = (0, 0);
    if rng.chance(20) && !model.spans.is_empty() {
        let (s, e) = model.spans[rng.below(model.spans.len())];
        min = s + rng.below((e - s) / q) * q;
        if rng.chance(60) {
            max = min + size + rng.below(0x100 * q);
        }
        if rng.chance(30) {
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

const SPAN_REGION: usize = 0x1000_0000;

fn run(cfg: Config) {
    let q = cfg.quantum;
    let mut rng = Rng(cfg.seed);
    let slot = 0x400 * q;
    let first = (SPAN_REGION, SPAN_REGION + 16 * slot);
    let arena = Arena::new("model", first.0, first.1 - first.0, q).unwrap();
    let mut model = Model {
        quantum: q,
        live: BTreeMap::new(),
        spans: vec![first],
        ordered: true,
    };
    let name = ArenaName::new("model");
    let mut failures = 0usize;
    let mut successes = 0usize;
    verify(&arena, &model, 0);
    let n = ops() / cfg.divisor;
    for step in 1..=n {
        let policy = cfg.policy.unwrap_or(
            [
                Policy::InstantFit,
                Policy::BestFit,
                Policy::FirstFit,
                Policy::NextFit,
            ][rng.below(4)],
        );
        let from_end = policy != Policy::NextFit && rng.chance(10);
        let flags = AllocFlags::new().policy(policy).from_end(from_end);
        let roll = rng.below(100);
        let want_free = model.live.len() > 250 || (model.live.len() > 20 && roll < 45);
        if want_free && !model.live.is_empty() {
            // free a random live segment
            let k = rng.below(model.live.len());
            let (&addr, &size) = model.live.iter().nth(k).unwrap();
            if rng.chance(3) {
                // a bad free: wrong size, or an address inside the segment
                let bad = if round_up(size, q) > q && rng.chance(50) {
                    arena.free(addr + q, size)
                } else {
                    arena.free(addr, size + 1)
                };
                match bad {
                    Err(Error::WrongSize(bad)) => assert_eq!(bad.expected, size),
                    Err(Error::NotAllocated(bad)) => assert_eq!(bad.addr, addr + q),
                    other => panic!("step {step}: bad free gave {other:?}"),
                }
            } else {
                if rng.chance(50) {
                    arena.free(addr, size).unwrap();
                } else {
                    arena.xfree(addr, size).unwrap();
                }
                model.live.remove(&addr);
            }
            verify(&arena, &model, step);
            continue;
        }
        if cfg.spans && roll >= 95 && model.spans.len() < 40 {
            let size = rng.range(1, 0x200) * q;
            if roll >= 98 {
                // add at a random place: may overlap
                let base = SPAN_REGION + rng.below(256) * slot / 2;
                match arena.add(base, size) {
                    Ok(()) => {
                        assert!(model.first_overlapping_span(base, size).is_none());
                        model.add(base, base + size);
                    }
                    Err(Error::OverlappingSpan(overlap)) => {
                        assert_eq!(
                            model.first_overlapping_span(base, size),
                            Some((overlap.existing_start, overlap.existing_end)),
                            "step {step}"
                        );
                    }
                    Err(e) => panic!("step {step}: add: {e}"),
                }
            } else {
                // extend next to an existing span, or somewhere new
                let (s, e) = model.spans[rng.below(model.spans.len())];
                let base = match rng.below(3) {
                    0 => e,
                    1 if s > size => s - size,
                    _ => SPAN_REGION + rng.below(256) * slot / 2,
                };
                let alloc = rng.range(1, size / q) * q;
                match arena.extend_alloc(base, size, alloc) {
                    Ok(addr) => {
                        assert!(model.first_overlapping_span(base, size).is_none());
                        assert!(addr <= base, "step {step}: extend_alloc above the range");
                        assert_eq!(addr % q, 0);
                        model.extend(base, base + size);
                        assert!(model.in_one_span(addr, alloc), "step {step}");
                        assert!(!model.overlaps_live(addr, alloc), "step {step}");
                        model.live.insert(addr, alloc);
                    }
                    Err(Error::OverlappingSpan(_)) => {
                        assert!(model.first_overlapping_span(base, size).is_some());
                    }
                    Err(e) => panic!("step {step}: extend_alloc: {e}"),
                }
            }
            verify(&arena, &model, step);
            continue;
        }
        if roll >= 92 {
            // contains
            let (s, e) = model.spans[rng.below(model.spans.len())];
            let addr = s + rng.below(e - s + q);
            let size = rng.range(1, 4 * q);
            assert_eq!(
                arena.contains(addr, size),
                model.in_one_span(addr, size),
                "step {step}: contains({addr:#x}, {size:#x})"
            );
            continue;
        }
        let constrained = cfg.xalloc && roll >= 65;
        let req = if constrained {
            random_req(&mut rng, q, &model)
        } else {
            let size = if rng.chance(5) {
                rng.range(1, 0x400 * q)
            } else {
                rng.range(1, 8 * q)
            };
            Req::plain(size, q)
        };
        let result = if constrained {
            arena.xalloc(req.size, &req.constraints(), flags)
        } else {
            arena.alloc(req.size, flags)
        };
        match result {
            Ok(addr) => {
                successes += 1;
                assert!(
                    req.satisfied_by(addr),
                    "step {step}: {addr:#x} violates {req:?}"
                );
                assert_eq!(addr % q, 0);
                assert!(
                    model.in_one_span(addr, round_up(req.size, q)),
                    "step {step}"
                );
                assert!(
                    !model.overlaps_live(addr, req.size),
                    "step {step}: {addr:#x}+{:#x} handed out twice",
                    req.size
                );
                model.live.insert(addr, req.size);
                verify(&arena, &model, step);
            }
            Err(Error::WouldBlock { arena: n, size }) => {
                failures += 1;
                assert_eq!((n, size), (name, req.size));
                let seen = verify(&arena, &model, step);
                let candidates = if constrained {
                    searched(policy, req.size, &seen.frees)
                } else {
                    seen.frees.clone()
                };
                let fit = candidates.iter().find(|&&(s, e)| req.fits_in(s, e));
                assert!(
                    fit.is_none(),
                    "step {step}: {policy:?} {req:?} failed but {fit:?} fits"
                );
            }
            Err(Error::NeverFits(never)) => {
                failures += 1;
                assert_eq!(
                    (never.size, never.min, never.max),
                    (req.size, req.min, req.max)
                );
                assert!(
                    !req.fits_in(0, usize::MAX),
                    "step {step}: {req:?} refused as never fitting"
                );
                verify(&arena, &model, step);
            }
            Err(e) => panic!("step {step}: unexpected {e}"),
        }
    }
    assert!(successes > n / 4, "{successes} successes");
    failures += fill_until_failure(&arena, &mut model, &mut rng, cfg.policy);
    // Free everything; the arena must be back to its spans, wholly free.
    for (&addr, &size) in &model.live {
        arena.free(addr, size).unwrap();
    }
    model.live.clear();
    let seen = verify(&arena, &model, usize::MAX);
    let free: usize = seen.frees.iter().map(|&(s, e)| e - s).sum();
    assert_eq!(free, model.total());
    eprintln!(
        "seed {}: {successes} allocations, {failures} failures, {} spans at the end",
        cfg.seed,
        model.spans.len()
    );
    assert!(failures > 0);
}

/// Allocates large segments until one fails, checking every result, so every
/// profile (the short debug and Miri runs too) sees the arena full and checks
/// that the failure means no free segment could have held the request.
fn fill_until_failure(
    arena: &Arena,
    model: &mut Model,
    rng: &mut Rng,
    policy: Option<Policy>,
) -> usize {
    let q = model.quantum;
    for step in 0..4096 {
        let size = rng.range(0x40 * q, 0x400 * q);
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

/// A child arena importing from a parent: after every step both arenas are
/// consistent, the child's imported spans are exactly the parent's
/// allocated segments, and the parent's in-use equals the child's imports.
#[test]
fn model_importing_child() {
    let mut rng = Rng(99);
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
        let policy = policies[rng.below(4)];
        let flags = AllocFlags::new().policy(policy);
        if live.len() > 200 || (!live.is_empty() && rng.chance(45)) {
            let k = rng.below(live.len());
            let (&addr, &size) = live.iter().nth(k).unwrap();
            child.free(addr, size).unwrap();
            live.remove(&addr);
        } else {
            let mut req = Req::plain(rng.range(1, 0x300), q);
            let res = if rng.chance(30) {
                let a = random_req(
                    &mut rng,
                    q,
                    &Model {
                        quantum: q,
                        live: BTreeMap::new(),
                        spans: Vec::new(),
                        ordered: false,
                    },
                );
                req = a;
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
