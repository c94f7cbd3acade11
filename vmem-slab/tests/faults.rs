//! Fault injection through the object-cache layer: quantum-cached arenas
//! and object caches under the process-wide injected failures
//! (`set_global_mtbf`, so this file is a test binary of its own), per-arena
//! ones, a child arena whose source (a cached arena) fails at random, and a
//! constructor that refuses at random, all seeded.
//!
//! Every failure must surface as a `SlabError` (an arena shortage or a
//! constructor refusal), never a panic; at the end, after freeing all that
//! succeeded and reaping, every arena is back to zero in use, `check()`
//! passes, no cache holds an object, and the private tag pool has every
//! tag back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vmem_core::{
    set_global_mtbf, AllocFlags, Arena, Constraints, Error, SegmentTypes, Source, SystemPages,
    TagPool, Wait, TAGS_PER_PAGE,
};
use vmem_slab::{CachedArena, ObjectCache, SlabError};

fn ops(release: usize) -> usize {
    if cfg!(miri) {
        60
    } else if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A tag pool of its own per test (a static: a leaked box would be a leak
/// to Miri).
macro_rules! private_pool {
    () => {{
        static POOL: TagPool = TagPool::new(&SystemPages);
        &POOL
    }};
}

fn assert_pool_whole(pool: &TagPool) {
    let s = pool.stats();
    assert_eq!(s.spare_tags, s.pages * TAGS_PER_PAGE, "tags leaked");
}

fn shortage(err: &SlabError) -> bool {
    matches!(
        err,
        SlabError::Arena {
            source: Error::WouldBlock { .. }
                | Error::Exhausted { .. }
                | Error::OutOfTags { .. }
                | Error::TimedOut { .. },
            ..
        }
    )
}

/// A seeded mix on a cached arena: cached and uncached sizes, xalloc,
/// frees, reaps and updates. Returns the failures seen.
fn workload(ca: &CachedArena, seed: u64, steps: usize) -> u64 {
    let mut rng = Rng(seed | 1);
    let q = ca.quantum();
    let mut live: BTreeMap<usize, (usize, bool)> = BTreeMap::new();
    let mut failures = 0;
    for _ in 0..steps {
        let roll = if live.len() >= 2048 { 6 } else { rng.below(12) };
        match roll {
            0..=4 => {
                let size = if rng.below(4) == 0 {
                    ca.qcache_max() + q * (1 + rng.below(64) as usize)
                } else {
                    q * (1 + rng.below((ca.qcache_max() / q).max(1) as u64) as usize)
                };
                match ca.alloc(size, AllocFlags::NOSLEEP) {
                    Ok(a) => assert!(live.insert(a, (size, false)).is_none(), "{a:#x} twice"),
                    Err(e) => {
                        assert!(shortage(&e), "alloc({size:#x}): {e}");
                        failures += 1;
                    }
                }
            }
            5 => {
                let size = q * (1 + rng.below(8) as usize);
                let c = Constraints::new().align(q << rng.below(3));
                match ca.xalloc(size, &c, AllocFlags::NOSLEEP) {
                    Ok(a) => assert!(live.insert(a, (size, true)).is_none()),
                    Err(e) => {
                        assert!(shortage(&e), "xalloc: {e}");
                        failures += 1;
                    }
                }
            }
            6..=9 if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let (&a, &(size, x)) = live.iter().nth(i).unwrap();
                if x {
                    ca.xfree(a, size).unwrap();
                } else {
                    ca.free(a, size).unwrap();
                }
                live.remove(&a);
            }
            10 => ca.reap(),
            _ if rng.below(8) == 0 => {
                ca.update();
                ca.arena().check().unwrap();
            }
            _ => {}
        }
    }
    for (a, (size, x)) in live {
        if x {
            ca.xfree(a, size).unwrap();
        } else {
            ca.free(a, size).unwrap();
        }
    }
    failures
}

fn assert_empty(ca: &CachedArena) {
    ca.reap();
    ca.arena().check().unwrap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0, "in use after reap");
    for s in ca.cache_stats() {
        assert_eq!(s.objects_outstanding, 0, "{}", s.name);
        assert_eq!(s.slabs, 0, "{}", s.name);
        assert_eq!(s.late_bad_frees, 0, "{}", s.name);
    }
}

#[test]
fn cached_arena_under_global_and_local_faults() {
    set_global_mtbf(11);
    let pool: &'static TagPool = private_pool!();
    for (i, (quantum, qmax)) in [(1usize, 16usize), (16, 256), (4096, 8 * 4096)]
        .into_iter()
        .enumerate()
    {
        let arena = Arena::builder("qfaulty")
            .quantum(quantum)
            .span(quantum, quantum << 16)
            .tag_pool(pool)
            .build()
            .unwrap();
        arena.set_mtbf(7 + i as u32);
        let ca = CachedArena::new(arena, qmax);
        let failures = workload(&ca, 0x51ab ^ i as u64, ops(80_000));
        assert!(cfg!(miri) || failures > 0, "faults were injected");
        assert_empty(&ca);
    }
    assert_pool_whole(pool);
}

#[test]
fn two_threads_on_one_faulty_cached_arena() {
    set_global_mtbf(11);
    let pool: &'static TagPool = private_pool!();
    let arena = Arena::builder("q2")
        .quantum(8)
        .span(0, 1 << 24)
        .tag_pool(pool)
        .build()
        .unwrap();
    arena.set_mtbf(5);
    let ca = Arc::new(CachedArena::new(arena, 16 * 8));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let ca = ca.clone();
            std::thread::spawn(move || workload(&ca, 0x7_51ab ^ t, ops(60_000)))
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap() > 0 || cfg!(miri));
    }
    assert_empty(&ca);
    drop(ca);
    assert_pool_whole(pool);
}

/// A source over a cached arena that refuses one import in `every`.
struct Flaky {
    inner: Arc<CachedArena>,
    rng: Mutex<Rng>,
    every: u64,
    out: AtomicUsize,
    refused: AtomicU64,
}

impl Source for Flaky {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        if self.rng.lock().unwrap().below(self.every) == 0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let got = self.inner.import(size, align, wait)?;
        self.out.fetch_add(got.1, Ordering::Relaxed);
        Some(got)
    }

    fn release(&self, start: usize, size: usize) {
        self.out.fetch_sub(size, Ordering::Relaxed);
        self.inner.release(start, size);
    }

    fn quantum(&self) -> usize {
        self.inner.quantum()
    }
}

#[test]
fn child_of_a_cached_arena_with_flaky_imports() {
    set_global_mtbf(11);
    let pool: &'static TagPool = private_pool!();
    let parent = Arc::new(CachedArena::new(
        Arena::builder("qparent")
            .quantum(64)
            .span(0x10000, 1 << 26)
            .tag_pool(pool)
            .build()
            .unwrap(),
        8 * 64,
    ));
    let flaky = Arc::new(Flaky {
        inner: parent.clone(),
        rng: Mutex::new(Rng(0xf1a4)),
        every: 3,
        out: AtomicUsize::new(0),
        refused: AtomicU64::new(0),
    });
    // The child imports small spans (cached in the parent) and large ones.
    let child = CachedArena::new(
        Arena::builder("qchild")
            .quantum(16)
            .source(flaky.clone())
            .tag_pool(pool)
            .build()
            .unwrap(),
        4 * 16,
    );
    let failures = workload(&child, 0xc411d, ops(60_000));
    assert!(cfg!(miri) || failures > 0);
    assert!(cfg!(miri) || flaky.refused.load(Ordering::Relaxed) > 0);
    assert_empty(&child);
    drop(child);
    assert_eq!(flaky.out.load(Ordering::Relaxed), 0, "every span went back");
    assert_empty(&parent);
    drop(flaky);
    drop(Arc::try_unwrap(parent).expect("the child is gone"));
    assert_pool_whole(pool);
}

#[test]
fn object_cache_with_a_constructor_that_refuses_at_random() {
    set_global_mtbf(11);
    let pool: &'static TagPool = private_pool!();
    let arena = Arc::new(
        Arena::builder("ctor")
            .quantum(32)
            .span(0, 1 << 22)
            .tag_pool(pool)
            .build()
            .unwrap(),
    );
    arena.set_mtbf(6);
    let constructed = Arc::new(AtomicUsize::new(0));
    let rng = Arc::new(Mutex::new(Rng(0xc7_02)));
    let (c, d, r) = (constructed.clone(), constructed.clone(), rng.clone());
    let cache = ObjectCache::builder("ctor96", 96, arena.clone())
        .constructor(move |_| {
            let ok = r.lock().unwrap().below(9) != 0;
            if ok {
                c.fetch_add(1, Ordering::Relaxed);
            }
            ok
        })
        .destructor(move |_| {
            d.fetch_sub(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let mut live = Vec::new();
    let (mut refused, mut short) = (0, 0);
    let mut pick = Rng(0x9_1c4);
    for _ in 0..ops(80_000) {
        if pick.below(3) != 0 || live.is_empty() {
            match cache.alloc() {
                Ok(o) => live.push(o),
                Err(SlabError::ConstructorFailed { .. }) => refused += 1,
                Err(e) if shortage(&e) => short += 1,
                Err(e) => panic!("unexpected: {e}"),
            }
        } else {
            let i = pick.below(live.len() as u64) as usize;
            cache.free(live.swap_remove(i)).unwrap();
        }
        if pick.below(500) == 0 {
            cache.update();
        }
    }
    assert!(
        cfg!(miri) || (refused > 0 && short > 0),
        "both kinds of failure were seen"
    );
    for o in live {
        cache.free(o).unwrap();
    }
    cache.reap();
    assert_eq!(
        constructed.load(Ordering::Relaxed),
        0,
        "every object destroyed"
    );
    assert_eq!(cache.stats().objects_outstanding, 0);
    drop(cache);
    assert_eq!(arena.stats().mem_inuse, 0);
    arena.check().unwrap();
    drop(Arc::try_unwrap(arena).unwrap());
    assert_pool_whole(pool);
}
