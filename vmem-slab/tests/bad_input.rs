//! The bad-input tour, object-cache layer: misuses of quantum-cached arenas
//! and object caches, each with its documented outcome. Where today's
//! outcome is wrong the test asserts the right one and is ignored with the
//! bug named (`cargo test -- --ignored` shows them failing).

use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, Error, SegmentTypes};
use vmem_slab::{BadFreeReason, CachedArena, ObjectCache, SlabError};

const NOSLEEP: AllocFlags = AllocFlags::NOSLEEP;

/// Quantum 0x10, sizes up to 0x40 cached, slabs of 0x100.
fn cached() -> CachedArena {
    CachedArena::new(Arena::new("qtour", 0x1000, 0x10000, 0x10).unwrap(), 0x40)
}

#[test]
fn double_free_of_a_cached_size_is_refused() {
    let ca = cached();
    let a = ca.alloc(0x10, NOSLEEP).unwrap();
    ca.free(a, 0x10).unwrap();
    assert!(
        matches!(ca.free(a, 0x10), Err(SlabError::BadFree { .. })),
        "double free accepted"
    );
    let x = ca.alloc(0x10, NOSLEEP).unwrap();
    let y = ca.alloc(0x10, NOSLEEP).unwrap();
    assert_ne!(x, y, "one object handed out twice");
}

#[test]
fn wrong_size_free_into_another_caches_range_is_refused() {
    let ca = cached();
    // Cache 0x20's slabs end up on both sides of cache 0x10's slab.
    let first = ca.alloc(0x20, NOSLEEP).unwrap();
    let a = ca.alloc(0x10, NOSLEEP).unwrap();
    let b = ca.alloc(0x10, NOSLEEP).unwrap();
    let more: Vec<usize> = (0..8).map(|_| ca.alloc(0x20, NOSLEEP).unwrap()).collect();
    assert!(
        more.iter().any(|&m| m > a) && first < a,
        "layout as planned"
    );
    assert!(
        matches!(ca.free(a, 0x20), Err(SlabError::BadFree { .. })),
        "wrong-size free accepted"
    );
    let c = ca.alloc(0x20, NOSLEEP).unwrap();
    assert!(
        c + 0x20 <= a || c >= b + 0x10,
        "{c:#x} overlaps live {a:#x} and {b:#x}"
    );
}

#[test]
fn foreign_address_of_a_cached_size_is_refused() {
    let ca = cached();
    assert!(
        matches!(
            ca.free(0x1000, 0x10),
            Err(SlabError::BadFree {
                reason: BadFreeReason::NotFromCache,
                ..
            })
        ),
        "no slab yet"
    );
    let a = ca.alloc(0x10, NOSLEEP).unwrap();
    assert!(matches!(
        ca.free(0x20_0000, 0x10),
        Err(SlabError::BadFree {
            reason: BadFreeReason::NotFromCache,
            ..
        })
    ));
    ca.free(a, 0x10).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
}

#[test]
fn uncached_misuse_is_refused_by_the_arena() {
    let ca = cached();
    let big = ca.alloc(0x100, NOSLEEP).unwrap();
    let err = |r: Result<(), SlabError>| match r {
        Err(SlabError::Arena { source, .. }) => source,
        other => panic!("expected an arena error, got {other:?}"),
    };
    assert!(matches!(
        err(ca.free(big, 0x80)),
        Error::WrongSize(d) if d.expected == 0x100
    ));
    assert!(matches!(
        err(ca.free(big + 0x10, 0x100)),
        Error::NotAllocated(_)
    ));
    ca.free(big, 0x100).unwrap();
    assert!(
        matches!(err(ca.free(big, 0x100)), Error::NotAllocated(_)),
        "double free"
    );
    // Zero size goes to the arena, which refuses it.
    assert!(matches!(
        ca.alloc(0, NOSLEEP),
        Err(SlabError::Arena {
            source: Error::InvalidArgument { .. },
            ..
        })
    ));
    // xfree of a cached object: the arena sees a slab, not that object.
    let small = ca.alloc(0x10, NOSLEEP).unwrap();
    let other = ca.alloc(0x10, NOSLEEP).unwrap();
    assert!(matches!(
        err(ca.xfree(small.max(other), 0x10)),
        Error::NotAllocated(_) | Error::WrongSize { .. }
    ));
    ca.free(small, 0x10).unwrap();
    ca.free(other, 0x10).unwrap();
    ca.reap();
    ca.arena().check().unwrap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
}

#[test]
fn audit_mode_refuses_the_double_free_magazines_accept() {
    let arena = Arc::new(Arena::new("audit", 0x1000, 0x10000, 0x10).unwrap());
    let cache = ObjectCache::builder("audit16", 0x10, arena.clone())
        .audit(true)
        .build()
        .unwrap();
    let a = cache.alloc().unwrap();
    let keep = cache.alloc().unwrap();
    cache.free(a).unwrap();
    assert!(matches!(
        cache.free(a),
        Err(SlabError::BadFree {
            reason: BadFreeReason::NotAllocated,
            ..
        })
    ));
    assert!(matches!(
        cache.free(keep + 8),
        Err(SlabError::BadFree {
            reason: BadFreeReason::Misaligned { .. },
            ..
        })
    ));
    cache.free(keep).unwrap();
    drop(cache);
    assert_eq!(arena.stats().mem_inuse, 0);
}

#[test]
fn dropping_a_cached_arena_with_live_objects_leaves_their_slabs() {
    // Documented outcome: a warning, and the slabs holding live objects stay
    // allocated in the arena (it cannot know they are unused).
    let arena = Arc::new(Arena::new("parent", 0x10_0000, 0x10_0000, 0x10).unwrap());
    let cache = ObjectCache::builder("leaky", 0x10, arena.clone())
        .build()
        .unwrap();
    let _live = cache.alloc().unwrap();
    let freed = cache.alloc().unwrap();
    cache.free(freed).unwrap();
    let slab = cache.stats().slab_size;
    drop(cache);
    assert_eq!(
        arena.stats().mem_inuse,
        slab,
        "the slab with the live object stays"
    );
    arena.check().unwrap();
}

#[test]
fn bad_cache_configurations_are_typed_errors() {
    let arena = Arc::new(Arena::new("cfg", 0, 0x10000, 0x10).unwrap());
    for (size, slab) in [
        (0, None),
        (0x18, None),
        (0x20, Some(0x10)),
        (usize::MAX & !0xf, None),
    ] {
        let mut b = ObjectCache::builder("bad", size, arena.clone());
        if let Some(s) = slab {
            b = b.slab_size(s);
        }
        assert!(
            matches!(b.build(), Err(SlabError::InvalidConfig { .. })),
            "{size:#x}"
        );
    }
}
