//! Many threads driving arenas through many tag refills at once, all from
//! the process tag pool (and so from `vmem_seg`, which takes its own tags
//! from the bootstrap pool): no deadlock, no unbounded recursion, and no
//! failure while the heap has room. Then process-wide update and reap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, SegmentTypes};
use vmem_slab::CachedArena;
use vmem_umem::populate::{
    populate_stats, PopulateStats, IMPORTS_PER_LEVEL, MAX_ARENA_OPS_PER_REFILL,
    MAX_BOOTSTRAP_MAPPINGS_PER_REFILL, MAX_IMPORTS_PER_REFILL, MAX_POPULATE_DEPTH,
};
use vmem_umem::registry;

/// Asserts one thread's populates stayed within the bound of
/// `vmem_umem::populate`.
fn within_the_bound(stats: &PopulateStats) {
    assert!(stats.max_depth <= MAX_POPULATE_DEPTH, "{stats:?}");
    assert!(
        stats.max_imports_per_level <= IMPORTS_PER_LEVEL,
        "{stats:?}"
    );
    assert!(stats.max_imports <= MAX_IMPORTS_PER_REFILL, "{stats:?}");
    assert!(stats.max_arena_ops <= MAX_ARENA_OPS_PER_REFILL, "{stats:?}");
    assert!(
        stats.max_bootstrap_mappings <= MAX_BOOTSTRAP_MAPPINGS_PER_REFILL,
        "{stats:?}"
    );
}

#[test]
fn concurrent_refills_never_fail_or_deadlock() {
    let world = vmem_umem::get();
    let threads = 8;
    let per_thread = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let shared = Arc::new(
        Arena::builder("shared")
            .quantum(8)
            .span(1 << 44, 1 << 40)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
    );
    let populates = AtomicU64::new(0);
    let deepest = AtomicU64::new(0);
    // The most imports, arena operations and bootstrap mappings any one
    // populate of any thread made: not zero, or the bound went untested.
    let most = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let pages_before = vmem_umem::tag_pool().stats().pages;
    std::thread::scope(|s| {
        for t in 0..threads {
            let shared = shared.clone();
            let (populates, deepest, most) = (&populates, &deepest, &most);
            s.spawn(move || {
                let own = Arena::builder("own")
                    .quantum(8)
                    .span((t + 1) << 36, 1 << 34)
                    .tag_pool(vmem_umem::tag_pool())
                    .build()
                    .unwrap();
                let mut live = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    let arena = if i % 2 == 0 { &own } else { &*shared };
                    live.push((
                        i % 2,
                        arena.alloc(8 * (1 + i % 5), AllocFlags::new()).unwrap(),
                    ));
                }
                for (i, (which, addr)) in live.into_iter().enumerate() {
                    let arena = if which == 0 { &own } else { &*shared };
                    arena.free(addr, 8 * (1 + i % 5)).unwrap();
                }
                own.check().unwrap();
                // Churn: the hash table of a fresh arena grows through every
                // size and shrinks back each round, one page request to
                // `vmem_seg` (a populate) per step, and `vmem_seg` gives
                // its spans back once they are free, so later populates
                // import again down the hierarchy.
                let rounds = if cfg!(debug_assertions) { 40 } else { 150 };
                for round in 0..rounds {
                    let churn = Arena::builder("churn")
                        .quantum(8)
                        .span((t + 1) << 36 | 1 << 35, 1 << 30)
                        .tag_pool(vmem_umem::tag_pool())
                        .build()
                        .unwrap();
                    let n = 1000 + 100 * (round % 10);
                    let addrs: Vec<usize> = (0..n)
                        .map(|_| churn.alloc(8, AllocFlags::new()).unwrap())
                        .collect();
                    for addr in addrs {
                        churn.free(addr, 8).unwrap();
                    }
                    churn.check().unwrap();
                }
                let stats = populate_stats();
                within_the_bound(&stats);
                populates.fetch_add(stats.populates, Ordering::Relaxed);
                deepest.fetch_max(stats.max_depth as u64, Ordering::Relaxed);
                let seen = [
                    stats.max_imports,
                    stats.max_arena_ops,
                    stats.max_bootstrap_mappings,
                ];
                for (most, seen) in most.iter().zip(seen) {
                    most.fetch_max(seen as u64, Ordering::Relaxed);
                }
            });
        }
    });
    shared.check().unwrap();
    assert_eq!(shared.size(SegmentTypes::ALLOC), 0);
    let pool = vmem_umem::tag_pool().stats();
    assert!(pool.pages > 100, "{pool:?}");
    let populates = populates.into_inner();
    let refills = (pool.pages - pages_before) / vmem_core::GROW_PAGES;
    let deepest = deepest.into_inner();
    let [imports, ops, growths] = most.map(AtomicU64::into_inner);
    eprintln!(
        "{threads} threads: {populates} populates ({refills} tag refills, the rest hash-table pages), \
         nesting at most {deepest}; the worst one: {imports} imports, {ops} arena operations, {growths} bootstrap mappings"
    );
    assert!(
        imports >= 1 && ops >= 2,
        "some populate went down the hierarchy"
    );
    assert!(populates >= 1000, "thousands of populates: {populates}");
    assert_eq!(deepest, MAX_POPULATE_DEPTH as u64);
    for arena in world.own_arenas() {
        arena.arena().check().unwrap();
    }
}

#[test]
fn update_and_reap_reach_every_registered_arena() {
    vmem_umem::get();
    let cached = Box::new(CachedArena::new(
        Arena::builder("maintained")
            .quantum(16)
            .span(1 << 41, 1 << 30)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
        64,
    ));
    let p: *const dyn registry::Managed = &*cached;
    // SAFETY: `cached` outlives its registration (unregistered below).
    unsafe { registry::register(p) };
    let objects: Vec<usize> = (0..1000)
        .map(|_| cached.alloc(32, AllocFlags::new()).unwrap())
        .collect();
    for &a in &objects {
        cached.free(a, 32).unwrap();
    }
    assert!(cached.arena().size(SegmentTypes::ALLOC) > 0, "cached slabs");
    vmem_umem::update();
    vmem_umem::reap();
    assert_eq!(cached.arena().size(SegmentTypes::ALLOC), 0, "reaped");
    assert!(registry::unregister(p.cast()));
}
