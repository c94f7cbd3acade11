//! Arena benchmarks: the cost of one allocation plus one free, measured
//! against an uncontended pthread mutex lock/unlock pair.
//!
//! The project's speed metric is the ratio of an arena operation to that
//! mutex pair (the paper and libumem quote vmem in the same unit). Every
//! arena here is built once per benchmark, outside the timed loop, and the
//! timed loop leaves it as it found it, so the figures do not drift with the
//! iteration count.
//!
//! - `baseline/pthread_mutex_pair`: `pthread_mutex_lock` + `pthread_mutex_unlock`.
//! - `baseline/std_mutex_pair`: lock + unlock of `std::sync::Mutex`, a second
//!   reference point. It is not the arena's lock: an arena takes its
//!   `vmem_core::sync::Lock` (parking_lot's raw mutex with `std`) once per
//!   operation, twice per alloc+free pair.
//! - `alloc_free_pair/{instant,best,first,next}/N`: one alloc + free of 48
//!   bytes in an arena (quantum 16) holding N live segments of mixed sizes
//!   with a free hole of mixed size after each one.
//! - `free_old_segment/N`: free a randomly chosen old segment among N live
//!   ones, then allocate its replacement; `update()` is never called.
//! - `xalloc_fragmented`: `xalloc` with align 64, phase 16 and nocross 4096,
//!   then `xfree`, in a fragmented arena.
//!
//! Run with short times on shared machines, e.g.
//! `cargo bench -p vmem-core --bench arena -- --warm-up-time 1 --measurement-time 2`
//! (see `docs/performance.md`).

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use vmem_core::{AllocFlags, Arena, Constraints, Policy};

/// Quantum of the benchmark arenas: a small-object heap's granularity.
const QUANTUM: usize = 16;
/// Start of the single span; any non-zero, aligned value will do.
const BASE: usize = 0x1000_0000;
/// Size of the span: far more than the biggest fill needs, so the arena
/// never runs dry.
const SPAN: usize = 1 << 40;
/// The size allocated and freed by the timed pairs: not a power of two, so
/// the searching policies have to look at segments that may be too small.
const PAIR_SIZE: usize = 48;
/// Live-segment counts for the alloc+free pair.
const LIVE_COUNTS: [usize; 4] = [0, 1_000, 100_000, 1_000_000];

/// A size of 1 to 8 quanta, from a seeded generator so every run builds the
/// same arenas.
fn random_size(rng: &mut fastrand::Rng) -> usize {
    rng.usize(1..=8) * QUANTUM
}

fn new_arena(name: &str) -> Arena {
    Arena::new(name, BASE, SPAN, QUANTUM).expect("benchmark arena")
}

/// An arena holding `live` allocated segments of mixed sizes (16 to 128
/// bytes), each followed by a free hole of mixed size: allocate `2 * live`
/// segments, then free every other one. Returns the live segments.
fn fragmented(name: &str, live: usize, seed: u64) -> (Arena, Vec<(usize, usize)>) {
    let arena = new_arena(name);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut all = Vec::with_capacity(2 * live);
    for _ in 0..2 * live {
        let size = random_size(&mut rng);
        all.push((arena.alloc(size, AllocFlags::new()).expect("fill"), size));
    }
    let mut kept = Vec::with_capacity(live);
    for (i, (addr, size)) in all.into_iter().enumerate() {
        if i % 2 == 1 {
            arena.free(addr, size).expect("punch hole");
        } else {
            kept.push((addr, size));
        }
    }
    (arena, kept)
}

fn baseline(c: &mut Criterion) {
    let mutex = Box::new(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
    let ptr = mutex.get();
    c.bench_function("baseline/pthread_mutex_pair", |b| {
        b.iter(|| {
            let m = black_box(ptr);
            // SAFETY: `m` points to an initialised, unlocked mutex that
            // lives (boxed, never moved) until after the benchmark, and only
            // this thread uses it.
            unsafe {
                libc::pthread_mutex_lock(m);
                libc::pthread_mutex_unlock(m);
            }
        })
    });
    // SAFETY: the mutex is unlocked and nothing uses it any more.
    unsafe { libc::pthread_mutex_destroy(ptr) };

    // Another common lock to compare with; the arena's own is
    // `vmem_core::sync::Lock`, not this one.
    let std_mutex = std::sync::Mutex::new(0_usize);
    c.bench_function("baseline/std_mutex_pair", |b| {
        b.iter(|| {
            let guard = black_box(&std_mutex).lock().expect("never poisoned");
            drop(black_box(guard));
        })
    });
}

fn alloc_free_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_pair");
    let policies = [
        ("instant", Policy::InstantFit),
        ("best", Policy::BestFit),
        ("first", Policy::FirstFit),
        ("next", Policy::NextFit),
    ];
    for live in LIVE_COUNTS {
        // One arena per live count, shared by the four policies: every
        // pair gives back what it took, so the arena is the same for each.
        let (arena, segments) = fragmented("bench-pair", live, 0x5eed ^ live as u64);
        for (label, policy) in policies {
            let flags = AllocFlags::from(policy);
            group.bench_with_input(BenchmarkId::new(label, live), &live, |b, _| {
                b.iter(|| {
                    let addr = arena.alloc(black_box(PAIR_SIZE), flags).expect("alloc");
                    arena.free(black_box(addr), PAIR_SIZE).expect("free");
                })
            });
        }
        debug_assert!(arena.check().is_ok());
        drop(segments);
    }
    group.finish();
}

fn free_old_segment(c: &mut Criterion) {
    let mut group = c.benchmark_group("free_old_segment");
    for live in [10_000, 1_000_000] {
        let arena = new_arena("bench-old");
        let mut rng = fastrand::Rng::with_seed(0x01d ^ live as u64);
        let mut segments: Vec<(usize, usize)> = (0..live)
            .map(|_| {
                let size = random_size(&mut rng);
                (arena.alloc(size, AllocFlags::new()).expect("fill"), size)
            })
            .collect();
        group.bench_with_input(BenchmarkId::from_parameter(live), &live, |b, &live| {
            b.iter(|| {
                let slot = rng.usize(..live);
                let (addr, size) = segments[slot];
                arena.free(black_box(addr), size).expect("free old");
                segments[slot] = (arena.alloc(size, AllocFlags::new()).expect("replace"), size);
            })
        });
        debug_assert!(arena.check().is_ok());
    }
    group.finish();
}

fn xalloc_fragmented(c: &mut Criterion) {
    let (arena, segments) = fragmented("bench-xalloc", 100_000, 0xa11c);
    let constraints = Constraints::new()
        .align(4 * QUANTUM)
        .phase(QUANTUM)
        .nocross(4096);
    c.bench_function("xalloc_fragmented", |b| {
        b.iter(|| {
            let addr = arena
                .xalloc(black_box(PAIR_SIZE), &constraints, AllocFlags::new())
                .expect("xalloc");
            arena.xfree(black_box(addr), PAIR_SIZE).expect("xfree");
        })
    });
    debug_assert!(arena.check().is_ok());
    drop(segments);
}

fn config() -> Criterion {
    // Short runs: the machine is small and shared (see docs/performance.md);
    // command-line options still override these.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

// Written out rather than with `criterion_group!`, whose generated function
// has no doc comment and would trip the workspace's `missing_docs` lint.
fn main() {
    let mut c = config().configure_from_args();
    baseline(&mut c);
    alloc_free_pair(&mut c);
    free_old_segment(&mut c);
    xalloc_fragmented(&mut c);
    c.final_summary();
}
