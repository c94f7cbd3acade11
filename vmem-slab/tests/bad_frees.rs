//! Every bad free of a cached size is refused when it happens, in the
//! default (magazine) mode, and changes nothing: no range ever has two
//! owners.

use std::collections::HashSet;

use vmem_core::{AllocFlags, Arena, SegmentTypes};
use vmem_slab::{BadFreeReason, CachedArena, ObjectCache, SlabError};

fn reason(err: SlabError) -> BadFreeReason {
    match err {
        SlabError::BadFree { reason, .. } => reason,
        other => panic!("expected a bad free, got {other}"),
    }
}

/// Quantum 0x10 and qcache_max 0x40, as the C report had it.
fn cached() -> CachedArena {
    CachedArena::new(Arena::new("q", 0x10000, 0x100000, 0x10).unwrap(), 0x40)
}

#[test]
fn double_free_of_a_cached_object_is_refused() {
    let ca = cached();
    let a = ca.alloc(0x10, AllocFlags::NOSLEEP).unwrap();
    ca.free(a, 0x10).unwrap();
    assert_eq!(
        reason(ca.free(a, 0x10).unwrap_err()),
        BadFreeReason::NotAllocated
    );
    // The next allocations are distinct: the address was cached once.
    let x = ca.alloc(0x10, AllocFlags::NOSLEEP).unwrap();
    let y = ca.alloc(0x10, AllocFlags::NOSLEEP).unwrap();
    assert_ne!(x, y);
    ca.free(x, 0x10).unwrap();
    ca.free(y, 0x10).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    ca.arena().check().unwrap();
    assert_eq!(ca.cache_stats()[0].late_bad_frees, 0);
}

#[test]
fn misaligned_and_foreign_frees_are_refused() {
    let ca = cached();
    let a = ca.alloc(0x20, AllocFlags::NOSLEEP).unwrap();
    // Inside the slab, not at an object's start.
    assert_eq!(
        reason(ca.free(a + 0x10, 0x20).unwrap_err()),
        BadFreeReason::Misaligned { object_size: 0x20 }
    );
    // Another object of the same slab that was never handed out.
    assert_eq!(
        reason(ca.free(a + 0x20, 0x20).unwrap_err()),
        BadFreeReason::NotAllocated
    );
    // Nowhere near a slab of this cache.
    assert_eq!(
        reason(ca.free(0x90000, 0x20).unwrap_err()),
        BadFreeReason::NotFromCache
    );
    // A 0x10 object freed as a 0x20 one: the 0x20 cache never had it.
    let b = ca.alloc(0x10, AllocFlags::NOSLEEP).unwrap();
    assert!(ca.free(b, 0x20).is_err());
    ca.free(b, 0x10).unwrap();
    ca.free(a, 0x20).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    ca.arena().check().unwrap();
}

#[test]
fn a_free_after_the_slab_went_back_is_refused() {
    let ca = cached();
    let a = ca.alloc(0x30, AllocFlags::NOSLEEP).unwrap();
    ca.free(a, 0x30).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0, "slab returned");
    assert_eq!(
        reason(ca.free(a, 0x30).unwrap_err()),
        BadFreeReason::NotAllocated
    );
    ca.arena().check().unwrap();
}

#[test]
fn random_bad_frees_never_create_two_owners() {
    let ca = cached();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut live: Vec<(usize, usize)> = Vec::new();
    let mut freed: Vec<(usize, usize)> = Vec::new();
    let steps = if cfg!(miri) { 300 } else { 50_000 };
    for _ in 0..steps {
        match rng.u32(0..10) {
            0..=4 => {
                let size = 0x10 * rng.usize(1..=4);
                let addr = ca.alloc(size, AllocFlags::NOSLEEP).unwrap();
                live.push((addr, size));
            }
            5..=7 if !live.is_empty() => {
                let (addr, size) = live.swap_remove(rng.usize(..live.len()));
                ca.free(addr, size).unwrap();
                freed.push((addr, size));
            }
            8 if !freed.is_empty() => {
                // A double free, unless the object went out again since.
                let (addr, size) = freed[rng.usize(..freed.len())];
                if !live.contains(&(addr, size)) {
                    assert!(ca.free(addr, size).is_err());
                }
            }
            _ if !live.is_empty() => {
                // A misaligned free inside a live object.
                let (addr, size) = live[rng.usize(..live.len())];
                assert!(ca.free(addr + 0x8, size).is_err());
            }
            _ => {}
        }
        if freed.len() > 64 {
            freed.drain(..32);
        }
    }
    let mut seen = HashSet::new();
    for &(addr, size) in &live {
        for unit in (addr..addr + size).step_by(0x10) {
            assert!(seen.insert(unit), "{unit:#x} has two owners");
        }
    }
    for (addr, size) in live {
        ca.free(addr, size).unwrap();
    }
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    ca.arena().check().unwrap();
    assert!(ca.cache_stats().iter().all(|s| s.late_bad_frees == 0));
}

#[test]
fn object_cache_checks_frees_in_both_modes() {
    for audit in [false, true] {
        let arena = std::sync::Arc::new(Arena::new("oc", 0, 1 << 20, 8).unwrap());
        let cache = ObjectCache::builder("oc", 24, arena.clone())
            .audit(audit)
            .build()
            .unwrap();
        let a = cache.alloc().unwrap();
        cache.free(a).unwrap();
        assert_eq!(
            reason(cache.free(a).unwrap_err()),
            BadFreeReason::NotAllocated,
            "audit {audit}"
        );
        let b = cache.alloc().unwrap();
        assert_eq!(
            reason(cache.free(b + 8).unwrap_err()),
            BadFreeReason::Misaligned { object_size: 24 }
        );
        cache.free(b).unwrap();
        cache.reap();
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
    }
}
