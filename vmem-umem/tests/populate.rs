//! Many threads driving arenas through many tag refills at once, all from
//! the process tag pool (and so from `vmem_seg`, which takes its own tags
//! from the bootstrap pool): no deadlock, no unbounded recursion, and no
//! failure while the heap has room. Then process-wide update and reap.

use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, SegmentTypes};
use vmem_slab::CachedArena;
use vmem_umem::registry;

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
    std::thread::scope(|s| {
        for t in 0..threads {
            let shared = shared.clone();
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
            });
        }
    });
    shared.check().unwrap();
    assert_eq!(shared.size(SegmentTypes::ALLOC), 0);
    let pool = vmem_umem::tag_pool().stats();
    assert!(pool.pages > 100, "{pool:?}");
    world.seg_arena().check().unwrap();
    world.internal_arena().check().unwrap();
    world.heap().check().unwrap();
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
