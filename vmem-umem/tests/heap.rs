//! The mmap heap: arenas over it get real memory, their tags come from
//! `vmem_seg`, and freed memory leaves the resident set.

use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, SegmentTypes, Source};
use vmem_slab::CachedArena;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * vmem_umem::backend::page_size()
}

fn over_heap(name: &str) -> Arena {
    Arena::builder(name)
        .quantum(4096)
        .source(vmem_umem::get().heap_source().clone() as Arc<dyn Source>)
        .tag_pool(vmem_umem::tag_pool())
        .build()
        .unwrap()
}

#[test]
fn heap_memory_is_writable_and_goes_back() {
    let world = vmem_umem::get();
    assert_eq!(world.heap().name().as_str(), "heap");
    assert_eq!(world.top().name().as_str(), "mmap_top");
    let arena = over_heap("buffers");
    let size = 64 << 20;
    let before = resident_bytes();
    let addr = arena.alloc(size, AllocFlags::new()).unwrap();
    // SAFETY: the heap committed `size` bytes at `addr` for this arena.
    unsafe { core::ptr::write_bytes(addr as *mut u8, 0x5a, size) };
    let touched = resident_bytes();
    assert!(touched >= before + size / 2, "{before} -> {touched}");
    arena.free(addr, size).unwrap();
    assert_eq!(arena.size(SegmentTypes::ALLOC | SegmentTypes::FREE), 0);
    let after = resident_bytes();
    assert!(
        after + size / 2 <= touched,
        "{touched} -> {after}: not decommitted"
    );
    arena.check().unwrap();
    world.heap().check().unwrap();
}

#[test]
fn tags_and_hash_tables_come_from_vmem_seg() {
    let world = vmem_umem::get();
    let arena = Arena::builder("ids")
        .quantum(1)
        .span(1 << 40, 1 << 30)
        .tag_pool(vmem_umem::tag_pool())
        .build()
        .unwrap();
    let n = 50_000;
    let ids: Vec<usize> = (0..n)
        .map(|_| arena.alloc(1, AllocFlags::new()).unwrap())
        .collect();
    let pool = vmem_umem::tag_pool().stats();
    assert!(pool.pages * vmem_core::TAGS_PER_PAGE >= n, "{pool:?}");
    assert!(world.seg_arena().size(SegmentTypes::ALLOC) >= pool.pages * 4096);
    assert!(arena.stats().hash_buckets > 16, "the hash grew");
    for id in ids {
        arena.free(id, 1).unwrap();
    }
    arena.check().unwrap();
    world.seg_arena().check().unwrap();
}

#[test]
fn quantum_caches_over_heap_memory() {
    let cached = CachedArena::new(over_heap("small"), 8 * 4096);
    let objects: Vec<usize> = (0..1000)
        .map(|i| {
            let a = cached.alloc(4096 * (1 + i % 8), AllocFlags::new()).unwrap();
            // SAFETY: committed memory of at least one page.
            unsafe { (a as *mut u64).write(i as u64) };
            a
        })
        .collect();
    for (i, &a) in objects.iter().enumerate() {
        // SAFETY: written above, still allocated.
        assert_eq!(unsafe { (a as *const u64).read() }, i as u64);
        cached.free(a, 4096 * (1 + i % 8)).unwrap();
    }
    cached.reap();
    assert_eq!(cached.arena().size(SegmentTypes::ALLOC), 0);
}
