//! The workloads of the benchmark suite, written once over a small trait
//! ([`Peer`]) that this project's arena and each Rust peer from crates.io
//! implement. The criterion benches (`benches/suite.rs`) time them; the
//! `matrix` binary prints what each allocator supports, the fragmentation
//! that seeded churn leaves, and the metadata each one keeps per live
//! segment.
//!
//! Sizes are counted in quanta ([`QUANTUM`] bytes for the allocators that
//! deal in addresses, one unit for those that deal in offsets or frames),
//! so every allocator sees the same stream of requests.

#![allow(
    missing_debug_implementations,
    reason = "benchmark wrappers around peers' types, several of which have no Debug; never published"
)]

use std::ops::Range;
use std::sync::{Arc, Mutex};

use vmem_core::{AllocFlags, Arena, Constraints, Policy};
use vmem_slab::CachedArena;

/// Bytes in one quantum, for the allocators that hand out addresses.
pub const QUANTUM: usize = 4096;
/// Where the address-based arenas start (4 GiB).
pub const BASE: usize = 1 << 32;
/// Quanta managed by an unbounded arena (2^32 quanta: 2^44 bytes).
pub const BIG: u64 = 1 << 32;
/// The size of one alloc+free pair, in quanta (a split on every pair).
pub const PAIR_QUANTA: u64 = 3;

/// One allocator under test, driven single-threaded.
pub trait Peer {
    /// What a caller keeps to free an allocation.
    type H: Copy + Send + 'static;
    /// Allocates `quanta` quanta; `None` when nothing fits.
    fn alloc(&mut self, quanta: u64) -> Option<Self::H>;
    /// Frees an allocation.
    fn free(&mut self, h: Self::H);
    /// The quanta an allocation covers: first quantum and count (for
    /// fragmentation, which is computed from the live set alone).
    fn span(&self, h: &Self::H) -> (u64, u64);
    /// Builds the state of the `pair/N` benchmarks: `n` live segments of 1
    /// to 8 quanta, each followed by a free hole of 1 to 8 quanta. Returns
    /// the live segments. The default allocates every segment and hole in
    /// address order and then frees the holes, first hole first.
    fn fill(&mut self, n: usize) -> Vec<Self::H>
    where
        Self: Sized,
    {
        fill_with(self, n, true)
    }
}

/// One allocator under test, shared by several threads.
pub trait SharedPeer: Send + Sync {
    /// What a caller keeps to free an allocation.
    type H: Copy + Send + 'static;
    /// Allocates `quanta` quanta; `None` when nothing fits.
    fn alloc(&self, quanta: u64) -> Option<Self::H>;
    /// Frees an allocation.
    fn free(&self, h: Self::H);
}

/// A single-threaded peer behind a `std::sync::Mutex`: how a user of a
/// `&mut self` allocator shares it between threads.
pub struct Locked<P>(pub Mutex<P>);

impl<P: Peer + Send> SharedPeer for Locked<P> {
    type H = P::H;
    fn alloc(&self, quanta: u64) -> Option<P::H> {
        self.0.lock().unwrap().alloc(quanta)
    }
    fn free(&self, h: P::H) {
        self.0.lock().unwrap().free(h)
    }
}

// ----- this project -----------------------------------------------------------

/// This project's arena (`vmem-core`) with one policy.
#[derive(Clone)]
pub struct Ours {
    /// The arena, shared between the policy views of one state.
    pub arena: Arc<Arena>,
    /// The flags of every allocation.
    pub flags: AllocFlags,
}

impl Ours {
    /// An arena of `quanta` quanta of [`QUANTUM`] bytes at [`BASE`].
    pub fn new(quanta: u64) -> Ours {
        let arena = Arena::new("bench", BASE, quanta as usize * QUANTUM, QUANTUM).unwrap();
        Ours {
            arena: Arc::new(arena),
            flags: AllocFlags::new(),
        }
    }

    /// The same arena, allocating with `policy`.
    pub fn with_policy(&self, policy: Policy) -> Ours {
        Ours {
            arena: self.arena.clone(),
            flags: policy.into(),
        }
    }

    /// `xalloc` under `c` (sizes in quanta, constraints in bytes).
    pub fn xalloc(&self, quanta: u64, c: &Constraints) -> usize {
        self.arena
            .xalloc(quanta as usize * QUANTUM, c, self.flags)
            .unwrap()
    }

    /// `xfree` of what [`Ours::xalloc`] returned.
    pub fn xfree(&self, addr: usize, quanta: u64) {
        self.arena.xfree(addr, quanta as usize * QUANTUM).unwrap()
    }
}

impl Peer for Ours {
    type H = (usize, usize);
    #[inline]
    fn alloc(&mut self, quanta: u64) -> Option<(usize, usize)> {
        let size = quanta as usize * QUANTUM;
        self.arena.alloc(size, self.flags).ok().map(|a| (a, size))
    }
    #[inline]
    fn free(&mut self, (addr, size): (usize, usize)) {
        self.arena.free(addr, size).unwrap()
    }
    fn span(&self, &(addr, size): &(usize, usize)) -> (u64, u64) {
        (((addr - BASE) / QUANTUM) as u64, (size / QUANTUM) as u64)
    }
}

impl SharedPeer for Ours {
    type H = (usize, usize);
    fn alloc(&self, quanta: u64) -> Option<(usize, usize)> {
        let size = quanta as usize * QUANTUM;
        self.arena.alloc(size, self.flags).ok().map(|a| (a, size))
    }
    fn free(&self, (addr, size): (usize, usize)) {
        self.arena.free(addr, size).unwrap()
    }
}

/// This project's arena behind quantum caches (`vmem-slab`), caching sizes
/// up to [`Cached::QCACHE_QUANTA`] quanta.
pub struct Cached(pub CachedArena);

impl Cached {
    /// The largest cached size, in quanta (libumem's usual `qcache_max`).
    pub const QCACHE_QUANTA: usize = 8;

    /// An unbounded arena with quantum caches.
    pub fn new() -> Cached {
        let arena = Arena::new("cached", BASE, BIG as usize * QUANTUM, QUANTUM).unwrap();
        Cached(CachedArena::new(arena, Self::QCACHE_QUANTA * QUANTUM))
    }
}

impl Default for Cached {
    fn default() -> Cached {
        Cached::new()
    }
}

impl SharedPeer for Cached {
    type H = (usize, usize);
    #[inline]
    fn alloc(&self, quanta: u64) -> Option<(usize, usize)> {
        let size = quanta as usize * QUANTUM;
        self.0
            .alloc(size, AllocFlags::NOSLEEP)
            .ok()
            .map(|a| (a, size))
    }
    #[inline]
    fn free(&self, (addr, size): (usize, usize)) {
        self.0.free(addr, size).unwrap()
    }
}

// ----- the crates.io `vmem` 1.0.0 -------------------------------------------------

/// Boundary tags for the crates.io `vmem` crate, from the global allocator
/// (it asks its user for one tag at a time).
pub struct BoxTags;

// SAFETY: each tag is a separate global-allocator block of `Bt`'s layout,
// given back with the same layout.
unsafe impl vmem_peer::Allocator for BoxTags {
    fn allocate(&self) -> Option<std::ptr::NonNull<vmem_peer::Bt>> {
        let layout = std::alloc::Layout::new::<vmem_peer::Bt>();
        // SAFETY: `Bt` is not zero-sized.
        std::ptr::NonNull::new(unsafe { std::alloc::alloc(layout) }.cast())
    }
    unsafe fn deallocate(&self, ptr: std::ptr::NonNull<vmem_peer::Bt>) {
        let layout = std::alloc::Layout::new::<vmem_peer::Bt>();
        // SAFETY: `ptr` came from `allocate` above, with this layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr().cast(), layout) }
    }
}

/// The crates.io `vmem` 1.0.0 arena type used here.
pub type PeerArena = vmem_peer::Arena<'static, 'static, BoxTags, Mutex<()>>;

/// The crates.io `vmem` 1.0.0 crate (renamed `vmem-peer`) with one policy.
#[derive(Clone)]
pub struct VmemPeer {
    /// The arena, shared between the policy views of one state.
    pub arena: Arc<PeerArena>,
    /// The policy of every allocation.
    pub policy: vmem_peer::AllocPolicy,
}

impl VmemPeer {
    /// An arena of `quanta` quanta at [`BASE`] (quantum [`QUANTUM`]).
    pub fn new(quanta: u64) -> VmemPeer {
        VmemPeer::with_quantum(BASE, quanta as usize * QUANTUM, QUANTUM)
    }

    /// An arena of `size` units at `base` with `quantum`.
    pub fn with_quantum(base: usize, size: usize, quantum: usize) -> VmemPeer {
        let arena = PeerArena::create("peer", quantum, None, BoxTags).unwrap();
        arena.add_span(base, size).unwrap();
        VmemPeer {
            arena: Arc::new(arena),
            policy: vmem_peer::AllocPolicy::InstantFit,
        }
    }

    /// The same arena, allocating with `policy`.
    pub fn with_policy(&self, policy: vmem_peer::AllocPolicy) -> VmemPeer {
        VmemPeer {
            arena: self.arena.clone(),
            policy,
        }
    }
}

impl Peer for VmemPeer {
    type H = (usize, u64);
    fn alloc(&mut self, quanta: u64) -> Option<(usize, u64)> {
        let size = quanta as usize * QUANTUM;
        self.arena
            .alloc(size, self.policy)
            .ok()
            .map(|a| (a, quanta))
    }
    fn free(&mut self, (addr, _): (usize, u64)) {
        self.arena.free(addr).unwrap()
    }
    fn span(&self, &(addr, quanta): &(usize, u64)) -> (u64, u64) {
        (((addr - BASE) / QUANTUM) as u64, quanta)
    }
    /// Holes are freed last first: its allocation hash has 64 buckets whose
    /// chains take new segments at the head, so this order finds each hole
    /// sooner (still quadratic: 10^5 live segments cost ~10^8 chain steps).
    fn fill(&mut self, n: usize) -> Vec<Self::H> {
        fill_with(self, n, false)
    }
}

impl SharedPeer for VmemPeer {
    type H = (usize, u64);
    fn alloc(&self, quanta: u64) -> Option<(usize, u64)> {
        let size = quanta as usize * QUANTUM;
        self.arena
            .alloc(size, self.policy)
            .ok()
            .map(|a| (a, quanta))
    }
    fn free(&self, (addr, _): (usize, u64)) {
        self.arena.free(addr).unwrap()
    }
}

// ----- range-alloc ----------------------------------------------------------------

/// `range_alloc::RangeAllocator<u64>` (best-fit over a sorted `Vec` of free
/// ranges), in quanta.
pub struct RangeAlloc(pub range_alloc::RangeAllocator<u64>);

impl RangeAlloc {
    /// An allocator of `quanta` units.
    pub fn new(quanta: u64) -> RangeAlloc {
        RangeAlloc(range_alloc::RangeAllocator::new(0..quanta))
    }
}

impl Peer for RangeAlloc {
    type H = (u64, u64);
    fn alloc(&mut self, quanta: u64) -> Option<(u64, u64)> {
        self.0
            .allocate_range(quanta)
            .ok()
            .map(|r: Range<u64>| (r.start, r.end))
    }
    fn free(&mut self, (start, end): (u64, u64)) {
        self.0.free_range(start..end)
    }
    fn span(&self, &(start, end): &(u64, u64)) -> (u64, u64) {
        (start, end - start)
    }
}

// ----- offset-allocator -------------------------------------------------------------

/// `offset_allocator::Allocator` (two-level size-class bins, TLSF-like), in
/// quanta. Its node table is allocated up front for `max_allocs` nodes.
pub struct OffsetAlloc(pub offset_allocator::Allocator<u32>);

impl OffsetAlloc {
    /// An allocator of `quanta` units (at most `u32::MAX`) with room for
    /// `max_allocs` nodes (allocated and free segments together).
    pub fn new(quanta: u64, max_allocs: u32) -> OffsetAlloc {
        let size = quanta.min(u32::MAX as u64) as u32;
        OffsetAlloc(offset_allocator::Allocator::with_max_allocs(
            size,
            max_allocs.max(1024),
        ))
    }
}

impl Peer for OffsetAlloc {
    type H = offset_allocator::Allocation<u32>;
    fn alloc(&mut self, quanta: u64) -> Option<Self::H> {
        self.0.allocate(quanta as u32)
    }
    fn free(&mut self, h: Self::H) {
        self.0.free(h)
    }
    fn span(&self, h: &Self::H) -> (u64, u64) {
        (h.offset as u64, self.0.allocation_size(*h) as u64)
    }
}

// ----- vm-allocator -----------------------------------------------------------------

/// `vm_allocator::AddressAllocator` (an interval tree, first match), in
/// bytes aligned to [`QUANTUM`].
pub struct VmAlloc(pub vm_allocator::AddressAllocator);

impl VmAlloc {
    /// An allocator of `quanta` quanta at [`BASE`].
    pub fn new(quanta: u64) -> VmAlloc {
        VmAlloc(vm_allocator::AddressAllocator::new(BASE as u64, quanta * QUANTUM as u64).unwrap())
    }
}

impl Peer for VmAlloc {
    type H = vm_allocator::RangeInclusive;
    fn alloc(&mut self, quanta: u64) -> Option<Self::H> {
        self.0
            .allocate(
                quanta * QUANTUM as u64,
                QUANTUM as u64,
                vm_allocator::AllocPolicy::FirstMatch,
            )
            .ok()
    }
    fn free(&mut self, h: Self::H) {
        self.0.free(&h).unwrap()
    }
    fn span(&self, h: &Self::H) -> (u64, u64) {
        (
            (h.start() - BASE as u64) / QUANTUM as u64,
            h.len() / QUANTUM as u64,
        )
    }
    /// Places each segment and hole at its address (`ExactMatch`): its
    /// first-match search walks the tree in address order without any
    /// summary of free sizes, so allocating at the end of 10^5 segments
    /// costs 10^5 node visits and the default fill would be quadratic.
    fn fill(&mut self, n: usize) -> Vec<Self::H> {
        let q = QUANTUM as u64;
        let mut at = BASE as u64;
        let mut exact = |quanta: u64| {
            let policy = vm_allocator::AllocPolicy::ExactMatch(at);
            at += quanta * q;
            self.0.allocate(quanta * q, q, policy).unwrap()
        };
        let (live, holes): (Vec<_>, Vec<_>) = fill_sizes(n)
            .map(|(seg, hole)| (exact(seg), exact(hole)))
            .unzip();
        holes.iter().for_each(|h| self.0.free(h).unwrap());
        live
    }
}

// ----- buddy_system_allocator ----------------------------------------------------------

/// `buddy_system_allocator::FrameAllocator` (binary buddy over frame
/// numbers; requests round up to a power of two).
pub struct Buddy(pub buddy_system_allocator::FrameAllocator<33>);

impl Buddy {
    /// An allocator of `quanta` frames from frame 0 (a power of two).
    pub fn new(quanta: u64) -> Buddy {
        let mut fa = buddy_system_allocator::FrameAllocator::<33>::new();
        fa.add_frame(0, quanta as usize);
        Buddy(fa)
    }
}

impl Peer for Buddy {
    type H = (usize, usize);
    fn alloc(&mut self, quanta: u64) -> Option<(usize, usize)> {
        self.0
            .alloc(quanta as usize)
            .map(|start| (start, quanta as usize))
    }
    fn free(&mut self, (start, count): (usize, usize)) {
        self.0.dealloc(start, count)
    }
    fn span(&self, &(start, count): &(usize, usize)) -> (u64, u64) {
        (start as u64, count.next_power_of_two() as u64)
    }
}

// ----- workloads ----------------------------------------------------------------------

/// The seed of every random stream in the suite.
pub const SEED: u64 = 0x5eed_2001;

/// The sizes of [`Peer::fill`]'s live segments and holes, in quanta.
pub fn fill_sizes(n: usize) -> impl Iterator<Item = (u64, u64)> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    (0..n).map(move |_| (rng.u64(1..=8), rng.u64(1..=8)))
}

/// [`Peer::fill`] through `alloc` and `free`: the holes are freed in
/// address order when `forward` is set, else last first.
pub fn fill_with<P: Peer>(p: &mut P, n: usize, forward: bool) -> Vec<P::H> {
    let mut live = Vec::with_capacity(n);
    let mut holes = Vec::with_capacity(n);
    for (seg, hole) in fill_sizes(n) {
        live.push(p.alloc(seg).expect("fill: arena too small"));
        holes.push(p.alloc(hole).expect("fill: arena too small"));
    }
    if forward {
        holes.into_iter().for_each(|h| p.free(h));
    } else {
        holes.into_iter().rev().for_each(|h| p.free(h));
    }
    live
}

/// Quanta of the bounded arena the churn runs in (2^18 quanta: 1 GiB of
/// 4 KiB quanta).
pub const CHURN_QUANTA: u64 = 1 << 18;
/// Live segments the churn keeps (about 65% of the churn arena on average).
pub const CHURN_LIVE: usize = 20_000;

/// Seeded churn of mixed sizes: a table of [`CHURN_LIVE`] slots; each step
/// frees the segment in a random slot and allocates 1 to 16 quanta into it.
/// A failed allocation leaves the slot empty and is counted.
pub struct Churn<P: Peer> {
    /// The allocator.
    pub peer: P,
    slots: Vec<Option<P::H>>,
    rng: fastrand::Rng,
    /// Allocations that found no room.
    pub failures: u64,
}

impl<P: Peer> Churn<P> {
    /// Fills the slots with segments of 1 to 16 quanta.
    pub fn new(mut peer: P) -> Churn<P> {
        let mut rng = fastrand::Rng::with_seed(SEED);
        let slots = (0..CHURN_LIVE)
            .map(|_| peer.alloc(rng.u64(1..=16)))
            .collect();
        Churn {
            peer,
            slots,
            rng,
            failures: 0,
        }
    }

    /// One free and one allocation.
    #[inline]
    pub fn step(&mut self) {
        let i = self.rng.usize(..self.slots.len());
        if let Some(h) = self.slots[i].take() {
            self.peer.free(h);
        }
        self.slots[i] = self.peer.alloc(self.rng.u64(1..=16));
        self.failures += self.slots[i].is_none() as u64;
    }

    /// `1 - largest free / total free` over `[0, quanta)`, from the live
    /// segments alone (a buddy allocator's free blocks may not merge as
    /// freely as this assumes).
    pub fn fragmentation(&self, quanta: u64) -> f64 {
        let mut spans: Vec<(u64, u64)> = self
            .slots
            .iter()
            .flatten()
            .map(|h| self.peer.span(h))
            .collect();
        spans.sort_unstable();
        let (mut at, mut largest, mut total) = (0u64, 0u64, 0u64);
        for (start, len) in spans {
            let gap = start - at;
            largest = largest.max(gap);
            total += gap;
            at = start + len;
        }
        let gap = quanta - at;
        largest = largest.max(gap);
        total += gap;
        if total == 0 {
            0.0
        } else {
            1.0 - largest as f64 / total as f64
        }
    }

    /// Frees every live segment.
    pub fn drain(mut self) -> P {
        for h in self.slots.drain(..).flatten() {
            self.peer.free(h);
        }
        self.peer
    }
}

/// IDs in the next-fit arena.
pub const ID_SPACE: usize = 1 << 20;
/// IDs live at once in the next-fit workload.
pub const IDS_LIVE: usize = 1000;

/// A ring of [`IDS_LIVE`] IDs: each step frees the oldest and allocates a
/// new one.
pub struct IdRing<H> {
    ring: std::collections::VecDeque<H>,
}

impl<H> IdRing<H> {
    /// A ring filled by `alloc`.
    pub fn new(mut alloc: impl FnMut() -> H) -> IdRing<H> {
        IdRing {
            ring: (0..IDS_LIVE).map(|_| alloc()).collect(),
        }
    }

    /// Frees the oldest ID with `free`, then keeps a new one from `alloc`.
    #[inline]
    pub fn step(&mut self, free: impl FnOnce(H), alloc: impl FnOnce() -> H) {
        free(self.pop());
        self.push(alloc());
    }

    /// Takes the oldest ID out of the ring.
    #[inline]
    pub fn pop(&mut self) -> H {
        self.ring.pop_front().unwrap()
    }

    /// Puts a new ID in the ring.
    #[inline]
    pub fn push(&mut self, h: H) {
        self.ring.push_back(h)
    }

    /// The IDs still held.
    pub fn into_ids(self) -> impl Iterator<Item = H> {
        self.ring.into_iter()
    }
}

/// `threads` threads each doing `ops` free+alloc steps of 1 to 4 quanta
/// with 8 objects in flight on `p`; returns the wall time.
pub fn run_threads<S: SharedPeer + 'static>(
    p: &Arc<S>,
    threads: usize,
    ops: usize,
) -> std::time::Duration {
    let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (p, barrier) = (p.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut held: [Option<S::H>; 8] = [None; 8];
                for i in 0..ops {
                    if let Some(h) = held[i & 7].take() {
                        p.free(h);
                    }
                    held[i & 7] = Some(p.alloc(1 + (i & 3) as u64).unwrap());
                }
                held.into_iter().flatten().for_each(|h| p.free(h));
            })
        })
        .collect();
    let start = std::time::Instant::now();
    barrier.wait();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

/// One thread allocates `ops` single quanta and sends them in batches of 64
/// to a second thread that frees them; returns the wall time.
pub fn producer_consumer<S: SharedPeer + 'static>(p: &Arc<S>, ops: usize) -> std::time::Duration {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<S::H>>(64);
    let consumer = {
        let p = p.clone();
        std::thread::spawn(move || {
            for batch in rx {
                batch.into_iter().for_each(|h| p.free(h));
            }
        })
    };
    let start = std::time::Instant::now();
    let mut batch = Vec::with_capacity(64);
    for _ in 0..ops {
        batch.push(p.alloc(1).unwrap());
        if batch.len() == 64 {
            tx.send(std::mem::replace(&mut batch, Vec::with_capacity(64)))
                .unwrap();
        }
    }
    tx.send(batch).unwrap();
    drop(tx);
    consumer.join().unwrap();
    start.elapsed()
}

/// An uncontended `pthread_mutex_lock` + `pthread_mutex_unlock` pair
/// timed `iters` times (the unit the performance document uses).
pub fn pthread_pairs(iters: u64) -> std::time::Duration {
    let mutex = Box::new(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
    let m = mutex.get();
    let start = std::time::Instant::now();
    for _ in 0..iters {
        let m = std::hint::black_box(m);
        // SAFETY: `m` points to an initialised mutex that lives (boxed,
        // never moved) until after the loop, used by this thread only.
        unsafe {
            libc::pthread_mutex_lock(m);
            libc::pthread_mutex_unlock(m);
        }
    }
    let t = start.elapsed();
    // SAFETY: the mutex is unlocked and nothing uses it any more.
    unsafe { libc::pthread_mutex_destroy(m) };
    t
}
