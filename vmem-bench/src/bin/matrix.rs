//! Prints, as Markdown: which workloads of the suite each allocator
//! supports (and what stands in where it lacks a feature), the
//! fragmentation that seeded churn leaves per policy, and the metadata each
//! allocator keeps per live segment.
//!
//! `cargo run --release -p vmem-bench --bin matrix` (add `--quick` for
//! smaller runs, as CI does).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use vmem_bench::*;
use vmem_core::Policy;

/// The global allocator, counting the bytes currently allocated.
struct Counting;

static HEAP: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter
// is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MATRIX: &str = "\
| allocator | policies | xalloc: align + nocross | import from a parent | threads | quantum caches | next-fit IDs | pair at 10^6 live |
|---|---|---|---|---|---|---|---|
| vmem (this project) | instant, best, first, next | yes | yes (`ArenaBuilder::source`) | `&self`, one lock per arena | yes (`vmem-slab`) | yes | yes |
| vmem 1.0.0 (crates.io) | instant, best, next (no first-fit) | yes | yes (`Source`) | `&self`, a `Lock` type parameter | no (left out by design) | yes | 0 and 10^3 only: building 10^5 took over 3 minutes (64 fixed hash buckets) |
| range-alloc 0.1 | best-fit only | align only (`allocate_range_aligned`); not run | no (`grow_to` extends the end) | `&mut self`: run behind a `Mutex` | no | no: not run | not run: a sorted `Vec` of free ranges makes building the state quadratic |
| offset-allocator 0.2 | size-class bins (TLSF-like) only | no | no | `&mut self`: run behind a `Mutex` | no | no: not run | yes (node table sized up front) |
| vm-allocator 0.1 | first match, last match, exact address | align only; not run | no | `&mut self`: run behind a `Mutex` | no | `IdAllocator` reuses the lowest freed ID (not next-fit): run as `lowest_free_ids` | yes (state built with exact-address allocations) |
| buddy_system_allocator 0.11 `FrameAllocator` | binary buddy (sizes round up to a power of two) | align only (`alloc_aligned`); not run | no | `&mut self`: run behind a `Mutex` | no | no: not run | yes |
";

/// Runs `steps` churn steps and prints one fragmentation row.
fn frag_row<P: Peer>(name: &str, peer: P, steps: usize) {
    let mut c = Churn::new(peer);
    let t = Instant::now();
    for _ in 0..steps {
        c.step();
    }
    let ns = t.elapsed().as_nanos() as f64 / steps as f64;
    println!(
        "| {name} | {:.3} | {} | {ns:.0} |",
        c.fragmentation(CHURN_QUANTA),
        c.failures
    );
    c.drain();
}

/// Builds the `pair/N` state and prints the heap bytes it holds per live
/// segment (each live segment comes with one free hole), with the build
/// time.
fn meta_row<P: Peer>(name: &str, n: usize, new: impl FnOnce() -> P, note: &str) -> P {
    let before = HEAP.load(Ordering::Relaxed);
    let mut p = new();
    let t = Instant::now();
    let live = p.fill(n);
    let secs = t.elapsed().as_secs_f64();
    // The handle table is the benchmark's, not the allocator's.
    let held = HEAP.load(Ordering::Relaxed)
        - before
        - (live.capacity() * std::mem::size_of::<P::H>()) as isize;
    println!(
        "| {name} | {:.1} | {secs:.2} s | {note} |",
        held as f64 / n as f64
    );
    live.into_iter().for_each(|h| p.free(h));
    p
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("## What each allocator supports\n\n{MATRIX}");

    // 10^4: building a larger state takes minutes for vmem 1.0.0.
    let n = 10_000;
    println!(
        "## Metadata per live segment\n\nHeap bytes held after building the `pair/{n}` state \
         ({n} live segments of 1 to 8 quanta, each followed by a free hole), divided by {n}; \
         counted by a global allocator that sums the live heap bytes (measured first, \
         before anything else used the heap). A caller-side handle table is not counted.\n"
    );
    println!("| allocator | bytes per live segment | build time | note |");
    println!("|---|---:|---:|---|");
    meta_row(
        "vmem",
        n,
        || Ours::new(BIG),
        "boundary tags carved from 4 KiB pages, and the allocated-segment hash",
    );
    meta_row(
        "vmem 1.0.0",
        n,
        || VmemPeer::new(BIG),
        "one heap block per boundary tag",
    );
    meta_row(
        "range-alloc",
        n,
        || RangeAlloc::new(BIG),
        "16 bytes per free range; nothing per allocation",
    );
    meta_row(
        "offset-allocator",
        n,
        || OffsetAlloc::new(BIG, 2 * n as u32 + 1024),
        "node table allocated up front for 2N + 1024 nodes",
    );
    meta_row(
        "vm-allocator",
        n,
        || VmAlloc::new(BIG),
        "one tree node per range",
    );
    meta_row(
        "buddy_system_allocator",
        n,
        || Buddy::new(BIG),
        "free blocks only, in one BTreeSet per order",
    );
    let mut ours = Ours::new(BIG);
    let live = ours.fill(n);
    let s = ours.arena.stats();
    println!(
        "\nvmem's own counters for that state: {} tags in use + {} reserved, {} bytes each; \
         {} hash buckets of {} bytes; {} allocated segments: {:.1} bytes per live segment \
         (tags and hash).",
        s.tags_in_use,
        s.tags_reserved,
        s.tag_size,
        s.hash_buckets,
        std::mem::size_of::<usize>(),
        s.segments_allocated,
        ((s.tags_in_use + s.tags_reserved) * s.tag_size
            + s.hash_buckets * std::mem::size_of::<usize>()) as f64
            / s.segments_allocated as f64
    );
    live.into_iter().for_each(|h| ours.free(h));

    let steps = if quick { 2_000 } else { 10 * CHURN_LIVE };
    println!(
        "\n## Fragmentation after churn\n\n{CHURN_LIVE} slots in an arena of {CHURN_QUANTA} quanta; \
         {steps} steps, each freeing a random slot and allocating 1 to 16 quanta into it \
         (seed {SEED:#x}). Fragmentation is 1 - largest free range / total free, computed \
         from the live segments.\n"
    );
    println!("| allocator, policy | fragmentation | failed allocations | ns per step |");
    println!("|---|---:|---:|---:|");
    for (name, policy) in [
        ("instant", Policy::InstantFit),
        ("best", Policy::BestFit),
        ("first", Policy::FirstFit),
        ("next", Policy::NextFit),
    ] {
        frag_row(
            &format!("vmem, {name}"),
            Ours::new(CHURN_QUANTA).with_policy(policy),
            steps,
        );
    }
    for (name, policy) in [
        ("instant", vmem_peer::AllocPolicy::InstantFit),
        ("best", vmem_peer::AllocPolicy::BestFit),
        ("next", vmem_peer::AllocPolicy::NextFit),
    ] {
        frag_row(
            &format!("vmem 1.0.0, {name}"),
            VmemPeer::new(CHURN_QUANTA).with_policy(policy),
            steps,
        );
    }
    frag_row(
        "range-alloc (best-fit)",
        RangeAlloc::new(CHURN_QUANTA),
        steps,
    );
    frag_row(
        "offset-allocator",
        OffsetAlloc::new(CHURN_QUANTA, 4 * CHURN_LIVE as u32),
        steps,
    );
    frag_row(
        "vm-allocator (first match)",
        VmAlloc::new(CHURN_QUANTA),
        steps,
    );
    frag_row("buddy_system_allocator", Buddy::new(CHURN_QUANTA), steps);
}
