//! After initialisation, an arena built with the process tag pool makes no
//! call to the global allocator, however many tags and hash tables its
//! workload needs: its metadata is vmem memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use vmem_core::{AllocFlags, Arena, Policy};

struct Counting;

thread_local! {
    // Counted per thread: the test harness's own threads allocate as they
    // please. The workload runs on this thread and vmem starts no other
    // (update_interval is off).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_workload_after_init_makes_no_global_allocation() {
    vmem_umem::init(vmem_umem::Options {
        update_interval: None,
        ..Default::default()
    })
    .unwrap();
    let arena = Arena::builder("hosted")
        .quantum(16)
        .span(1 << 40, 1 << 36)
        .tag_pool(vmem_umem::tag_pool())
        .build()
        .unwrap();
    let n = 100_000;
    let mut live = vec![0usize; n];
    COUNTING.with(|c| c.set(true));
    // The counter sees this thread's allocations ...
    drop(std::hint::black_box(vec![1u8; 10]));
    assert_eq!(CALLS.with(|c| c.replace(0)), 2, "the counter works");
    // ... and none of vmem's. Grow to n live segments (tag refills, several hash rescales), shrink
    // back (rescales down, tags returned), under every policy.
    for (i, slot) in live.iter_mut().enumerate() {
        let policy = [
            Policy::InstantFit,
            Policy::BestFit,
            Policy::FirstFit,
            Policy::NextFit,
        ][i % 4];
        *slot = arena
            .alloc(16 * (1 + i % 7), AllocFlags::from(policy))
            .unwrap();
    }
    for (i, &addr) in live.iter().enumerate() {
        arena.free(addr, 16 * (1 + i % 7)).unwrap();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(CALLS.with(Cell::get), 0, "global allocator calls");
    assert!(arena.stats().rescales >= 2);
    arena.check().unwrap();
}
