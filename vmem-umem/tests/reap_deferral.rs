//! The caches' automatic reaps obey reap deferral: started inside a
//! populate, they are deferred through the reap gate the world installs in
//! `vmem-slab`, and run when the outermost populate ends; never skipped.

use std::sync::{Mutex, MutexGuard};

use vmem_core::{AllocFlags, Arena, SegmentTypes};
use vmem_slab::CachedArena;
use vmem_umem::{registry, Options};

/// Sets the world up with no maintenance thread, and runs the tests of
/// this file one at a time: the reap at the end of one test's populate is
/// process-wide and would reach the arena of another test still inside
/// its own.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _ = vmem_umem::init(Options {
        update_interval: None,
        ..Options::default()
    });
    assert!(vmem_umem::get().options().update_interval.is_none());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A quantum-cached arena on the process's list (so the process-wide reap
/// at the end of a populate reaches it), unregistered when dropped.
struct Registered(Box<CachedArena>);

impl Registered {
    fn new(arena: Arena, qcache_max: usize) -> Registered {
        let cached = Box::new(CachedArena::new(arena, qcache_max));
        let p: *const dyn registry::Managed = &*cached;
        // SAFETY: the box outlives its registration: `drop` unregisters it
        // before the box goes.
        unsafe { registry::register(p) };
        Registered(cached)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let p: *const dyn registry::Managed = &*self.0;
        assert!(registry::unregister(p.cast()));
    }
}

impl core::ops::Deref for Registered {
    type Target = CachedArena;
    fn deref(&self) -> &CachedArena {
        &self.0
    }
}

#[test]
fn the_world_installs_the_gate() {
    let _serial = serial();
    let gate = vmem_slab::reap_gate().expect("installed by World::start");
    assert!(!gate(), "outside a populate: reap now");
    assert!(vmem_umem::populating(gate), "inside: defer");
}

#[test]
fn a_shortage_reap_inside_a_populate_runs_when_it_ends() {
    let _serial = serial();
    // Quantum 1, sizes up to 4 cached in slabs of 16, 32 units: two
    // cached slabs fill the arena, and a third size needs one of them back.
    let ca = Registered::new(
        Arena::builder("deferred-shortage")
            .quantum(1)
            .span(0, 32)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
        4,
    );
    let a = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
    let b = ca.alloc(2, AllocFlags::NOSLEEP).unwrap();
    ca.free(a, 1).unwrap();
    ca.free(b, 2).unwrap();
    assert_eq!(ca.arena().size(SegmentTypes::FREE), 0);
    let (got, cached, owed) = vmem_umem::populating(|| {
        // The reclaim hook and the cache's shortage reap are both
        // automatic: deferred, so no room is made and the allocation fails.
        let got = ca.alloc(3, AllocFlags::NOSLEEP);
        let cached: usize = ca.cache_stats().iter().map(|s| s.objects_cached).sum();
        (got, cached, ca.caches()[2].reap_owed())
    });
    assert!(got.is_err(), "no reap ran inside the populate");
    assert_eq!(cached, 2, "both cached objects stayed");
    assert!(owed);
    // The populate ended: the deferred reap ran.
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0, "reaped at the end");
    assert!(ca.caches().iter().all(|c| !c.reap_owed()), "paid");
    let c = ca.alloc(3, AllocFlags::NOSLEEP).unwrap();
    ca.free(c, 3).unwrap();
    ca.arena().check().unwrap();
}

#[test]
fn the_depots_working_set_reap_inside_a_populate_runs_when_it_ends() {
    let _serial = serial();
    let ca = Registered::new(
        Arena::builder("deferred-ws")
            .quantum(16)
            .span(1 << 40, 1 << 30)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
        16,
    );
    let cache = &ca.caches()[0];
    // 400 objects back in the cache: most sit in full depot magazines.
    let objects: Vec<usize> = (0..400)
        .map(|_| ca.alloc(16, AllocFlags::NOSLEEP).unwrap())
        .collect();
    for &o in &objects {
        ca.free(o, 16).unwrap();
    }
    // Start a working-set interval: those magazines are the list's level.
    ca.update();
    let before = cache.stats();
    let (deferred_inside, cached_inside) = vmem_umem::populating(|| {
        // Small bursts, far below the depot's level, until the depot counts
        // an interval's worth of exchanges (`UPDATE_INTERVAL`) and updates
        // by itself: the idle magazines are excess, and their reap is
        // automatic, so the gate defers it.
        let mut burst = Vec::with_capacity(40);
        let exchanges = |s: vmem_slab::CacheStats| s.depot_allocs + s.depot_frees;
        while exchanges(cache.stats()) - exchanges(before) < 2 * vmem_slab::UPDATE_INTERVAL as u64 {
            burst.extend((0..40).map(|_| ca.alloc(16, AllocFlags::NOSLEEP).unwrap()));
            for o in burst.drain(..) {
                ca.free(o, 16).unwrap();
            }
        }
        (cache.reap_owed(), cache.stats().objects_cached)
    });
    assert!(deferred_inside, "the automatic update's reap was deferred");
    assert!(cached_inside >= 300, "idle magazines kept: {cached_inside}");
    assert!(!cache.reap_owed(), "paid when the populate ended");
    assert_eq!(cache.stats().objects_cached, 0, "reaped");
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    ca.arena().check().unwrap();
}
