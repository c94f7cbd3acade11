//! Quantum caches: an arena with one object cache per small multiple of its
//! quantum in front (libumem's `vm_qcache`, FreeBSD's `qc_*`). See
//! `docs/design.md` §16.
//!
//! Most allocations from an arena are of a few quanta. Each size `k`
//! quanta, for `k` up to `qcache_max / quantum` (at most
//! [`MAX_QUANTUM_CACHES`]), gets its own [`ObjectCache`] whose slabs are
//! imported from the arena itself. Such an allocation then costs a per-CPU
//! magazine pop instead of the arena lock, and the arena sees only slab-sized
//! requests, which keeps it unfragmented.
//!
//! Every slab has the same size, the next power of two at or above
//! `3 x qcache_max` (the paper's choice: large enough that the largest
//! cached size still gets three objects per slab, and uniform so that freed
//! slabs are interchangeable in the arena). Slabs are larger than
//! `qcache_max`, so importing one never loops back into the caches.
//!
//! The caches also reap by themselves (the arena's reclaim hook, slab
//! shortages, sleepers, working-set updates); those automatic reaps ask the
//! process's reap gate first (`gate.rs`, [`set_reap_gate`](crate::set_reap_gate)).
//!
//! Address 0 works like any other: objects are plain integers with their
//! bookkeeping outside, and no value is reserved to mean "none" (FreeBSD's
//! UMA must keep address 0 out of its quantum caches for that reason).

use std::sync::{Arc, Weak};

use vmem_core::{AllocFlags, Arena, ArenaName, Constraints, Reclaim, Shared, Source, Wait};

use crate::cache::{CacheStats, ObjectCache};
use crate::error::SlabError;

/// Most quantum caches per arena (libumem's `VMEM_NQCACHE_MAX`).
pub const MAX_QUANTUM_CACHES: usize = 16;

/// The arena's reclaim hook: reap every quantum cache before an allocation
/// fails. It holds the caches weakly, so the arena does not keep them alive.
/// An automatic reap: the reap gate may defer it (`crate::gate`), and each
/// cache then owes one.
struct ReapQuantumCaches {
    caches: Weak<[ObjectCache]>,
}

impl Reclaim for ReapQuantumCaches {
    fn reclaim(&self, _arena: &Arena, size: usize) {
        if let Some(caches) = self.caches.upgrade() {
            if crate::gate::defer_reap() {
                for cache in caches.iter() {
                    cache.owe_reap("arena shortage (reclaim hook)");
                }
                return;
            }
            tracing::debug!(
                size,
                caches = caches.len(),
                "arena shortage: reaping quantum caches"
            );
            caches.iter().for_each(ObjectCache::reap);
        }
    }
}

/// An [`Arena`] with quantum caches in front.
///
/// `alloc` and `free` of sizes up to [`qcache_max`](CachedArena::qcache_max)
/// go through the caches; larger sizes go to the arena. `xalloc` and `xfree`
/// always go to the arena, so they must be paired with each other (as in
/// libumem): never `free` what `xalloc` returned.
///
/// ```
/// use vmem_core::{AllocFlags, Arena};
/// use vmem_slab::CachedArena;
///
/// let arena = Arena::new("ids", 0, 1 << 20, 1)?;
/// let ids = CachedArena::new(arena, 8);
/// let one = ids.alloc(1, AllocFlags::NOSLEEP)?;   // from the 1-unit cache
/// let big = ids.alloc(100, AllocFlags::NOSLEEP)?; // from the arena
/// ids.free(one, 1)?;
/// ids.free(big, 100)?;
/// ids.reap();
/// assert_eq!(ids.arena().stats().mem_inuse, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CachedArena {
    arena: Arc<Arena>,
    caches: Arc<[ObjectCache]>,
    qcache_max: usize,
    quantum_shift: u32,
}

impl core::fmt::Debug for CachedArena {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CachedArena")
            .field("arena", &self.arena)
            .field("qcache_max", &self.qcache_max)
            .finish_non_exhaustive()
    }
}

/// The slab size of every quantum cache: the next power of two at or above
/// three times `qcache_max`.
pub fn quantum_slab_size(qcache_max: usize) -> Option<usize> {
    qcache_max.checked_mul(3)?.checked_next_power_of_two()
}

/// Creates caches for 1, 2, ... `count` quanta until one fails; returns the
/// ones made (libumem lowers `qcache_max` to what it could create).
fn create_caches(
    count: usize,
    quantum: usize,
    mut make: impl FnMut(usize) -> Result<ObjectCache, SlabError>,
) -> Vec<ObjectCache> {
    let mut caches = Vec::with_capacity(count);
    for k in 1..=count {
        match make(k * quantum) {
            Ok(cache) => caches.push(cache),
            Err(err) => {
                tracing::warn!(size = k * quantum, %err, "quantum cache not created: qcache_max lowered");
                break;
            }
        }
    }
    caches
}

impl CachedArena {
    /// Puts quantum caches in front of `arena` (owned, or shared with an
    /// `Arc`) for every multiple of its
    /// quantum up to `qcache_max` (rounded down to a multiple of the
    /// quantum, and to at most [`MAX_QUANTUM_CACHES`] quanta). 0 means no
    /// caches. If a cache cannot be created, `qcache_max` is lowered to the
    /// sizes below it, as libumem does.
    ///
    /// Installs a reclaim hook on the arena: an allocation the arena cannot
    /// satisfy reaps the caches and retries once. That reap is automatic,
    /// so the process's reap gate may defer it
    /// ([`set_reap_gate`](crate::set_reap_gate)).
    pub fn new(arena: impl Into<Arc<Arena>>, qcache_max: usize) -> CachedArena {
        CachedArena::build(arena, qcache_max, None)
    }

    /// As [`new`](CachedArena::new), with `slots` per-CPU magazine slots in
    /// every cache (see [`CacheBuilder::slots`](crate::CacheBuilder::slots)).
    /// With 1 slot every thread uses the same magazines, so the addresses
    /// the caches hand out depend only on the order of the calls: runs are
    /// reproducible whatever CPUs the threads are on.
    ///
    /// ```
    /// use vmem_core::{AllocFlags, Arena};
    /// use vmem_slab::CachedArena;
    ///
    /// let ids = CachedArena::with_slots(Arena::new("ids", 0, 1 << 20, 1)?, 4, 1);
    /// assert!(ids.caches().iter().all(|cache| cache.slots() == 1));
    /// let a = ids.alloc(1, AllocFlags::NOSLEEP)?;
    /// ids.free(a, 1)?;
    /// // Any thread now gets `a` back first: there is only one magazine.
    /// let b = std::thread::scope(|s| s.spawn(|| ids.alloc(1, AllocFlags::NOSLEEP)).join().unwrap())?;
    /// assert_eq!(a, b);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_slots(
        arena: impl Into<Arc<Arena>>,
        qcache_max: usize,
        slots: usize,
    ) -> CachedArena {
        CachedArena::build(arena, qcache_max, Some(slots))
    }

    fn build(arena: impl Into<Arc<Arena>>, qcache_max: usize, slots: Option<usize>) -> CachedArena {
        let arena: Arc<Arena> = arena.into();
        let quantum = arena.quantum();
        let count = (qcache_max / quantum).min(MAX_QUANTUM_CACHES);
        let slab_size = quantum_slab_size(count * quantum);
        let caches = create_caches(count, quantum, |size| {
            let name = format!("{}_{}", arena.name(), size);
            let mut builder = ObjectCache::builder(&name, size, arena.clone());
            if let Some(slots) = slots {
                builder = builder.slots(slots);
            }
            match slab_size {
                Some(slab) => builder.slab_size(slab).build(),
                None => Err(SlabError::InvalidConfig {
                    cache: ArenaName::new(&name),
                    reason: crate::error::ConfigReason::SlabSizeOverflow { object_size: size },
                }),
            }
        });
        let qcache_max = caches.len() * quantum;
        let caches: Arc<[ObjectCache]> = caches.into();
        if !caches.is_empty() {
            let hook = Arc::new(ReapQuantumCaches {
                caches: Arc::downgrade(&caches),
            });
            arena.set_reclaim(Some(Shared::Arc(hook)));
        }
        tracing::debug!(arena = %arena.name(), qcache_max, slab_size, "quantum caches created");
        CachedArena {
            quantum_shift: quantum.trailing_zeros(),
            arena,
            caches,
            qcache_max,
        }
    }

    /// The arena behind the caches (for `check`, `walk`, `stats`, `add`...).
    /// Allocating from it directly bypasses the caches.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The largest cached size (0: no caches).
    pub fn qcache_max(&self) -> usize {
        self.qcache_max
    }

    /// The arena's quantum.
    pub fn quantum(&self) -> usize {
        1 << self.quantum_shift
    }

    /// The quantum cache serving allocations of `size`, if any: sizes 1 to
    /// [`qcache_max`](CachedArena::qcache_max), rounded up to a multiple of
    /// the quantum (libumem's `size - 1 < qcache_max`, which also sends size
    /// 0 to the arena to be refused there).
    ///
    /// ```
    /// # use vmem_core::Arena;
    /// # use vmem_slab::CachedArena;
    /// let arena = Arena::builder("a").quantum(16).span(0x1000, 1 << 20).build()?;
    /// let cached = CachedArena::new(arena, 64);
    /// assert_eq!(cached.cache_for(17).map(|c| c.object_size()), Some(32));
    /// assert!(cached.cache_for(0).is_none() && cached.cache_for(65).is_none());
    /// # Ok::<(), vmem_core::Error>(())
    /// ```
    #[inline]
    pub fn cache_for(&self, size: usize) -> Option<&ObjectCache> {
        // `caches` has `qcache_max >> quantum_shift` entries (`qcache_max` is
        // a multiple of the quantum), so the index is in bounds exactly when
        // `size - 1 < qcache_max`; size 0 wraps to an index out of bounds.
        self.caches.get(size.wrapping_sub(1) >> self.quantum_shift)
    }

    fn arena_error(&self, source: vmem_core::Error) -> SlabError {
        SlabError::Arena {
            cache: *self.arena.name(),
            source,
        }
    }

    /// Allocates `size` units. Cached sizes come from their cache (the
    /// policy is ignored there, as in libumem: every cached object is as
    /// good as another); others go to the arena with `flags`.
    #[inline]
    pub fn alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, SlabError> {
        match self.cache_for(size) {
            Some(cache) => cache.alloc_with(flags),
            None => self.arena_alloc(size, flags),
        }
    }

    /// Frees what [`alloc`](CachedArena::alloc) returned, with the same size.
    #[inline]
    pub fn free(&self, addr: usize, size: usize) -> Result<(), SlabError> {
        match self.cache_for(size) {
            Some(cache) => cache.free(addr),
            None => self.arena_free(addr, size),
        }
    }

    /// An uncached [`alloc`](CachedArena::alloc), out of line: the arena's
    /// quick paths are inlined into their callers, and inlined here too
    /// they made the cached path save their registers (a cached pair
    /// through the Rust API went from 9.2 to 10.3 ns).
    #[inline(never)]
    fn arena_alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, SlabError> {
        self.arena
            .alloc(size, flags)
            .map_err(|e| self.arena_error(e))
    }

    /// An uncached [`free`](CachedArena::free), out of line (see
    /// [`arena_alloc`](CachedArena::arena_alloc)).
    #[inline(never)]
    fn arena_free(&self, addr: usize, size: usize) -> Result<(), SlabError> {
        self.arena.free(addr, size).map_err(|e| self.arena_error(e))
    }

    /// A constrained allocation, always from the arena; free it with
    /// [`xfree`](CachedArena::xfree).
    pub fn xalloc(
        &self,
        size: usize,
        constraints: &Constraints,
        flags: AllocFlags,
    ) -> Result<usize, SlabError> {
        self.arena
            .xalloc(size, constraints, flags)
            .map_err(|e| self.arena_error(e))
    }

    /// Frees what [`xalloc`](CachedArena::xalloc) returned.
    pub fn xfree(&self, addr: usize, size: usize) -> Result<(), SlabError> {
        self.arena
            .xfree(addr, size)
            .map_err(|e| self.arena_error(e))
    }

    /// Reaps every quantum cache: cached objects go back to their slabs and
    /// wholly free slabs back to the arena. An explicit reap, never
    /// deferred; it pays any reap the caches owe.
    pub fn reap(&self) {
        self.caches.iter().for_each(ObjectCache::reap);
    }

    /// Working-set maintenance of every cache ([`ObjectCache::update`]).
    pub fn update(&self) {
        self.caches.iter().for_each(ObjectCache::update);
        self.arena.update();
    }

    /// The quantum caches, smallest size first.
    pub fn caches(&self) -> &[ObjectCache] {
        &self.caches
    }

    /// A snapshot of every quantum cache's counters, smallest size first.
    pub fn cache_stats(&self) -> Vec<CacheStats> {
        self.caches.iter().map(ObjectCache::stats).collect()
    }
}

impl Drop for CachedArena {
    fn drop(&mut self) {
        self.arena.set_reclaim(None);
    }
}

/// A cached arena can feed other arenas: small imports come from its
/// caches. An import with an alignment above the quantum cannot (cached
/// objects are only quantum aligned), so it is enlarged past `qcache_max`
/// and taken from the arena with `xalloc`; its release, of the enlarged
/// size, then goes back to the arena too.
impl Source for CachedArena {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        let flags = AllocFlags::new().wait(wait);
        if align <= self.quantum() {
            return self.alloc(size, flags).ok().map(|addr| (addr, size));
        }
        let size = if self.cache_for(size).is_some() {
            self.qcache_max + self.quantum()
        } else {
            size
        };
        let constraints = Constraints::new().align(align);
        self.arena
            .xalloc(size, &constraints, flags)
            .ok()
            .map(|addr| (addr, size))
    }

    fn release(&self, start: usize, size: usize) {
        if let Err(err) = self.free(start, size) {
            panic!("vmem-slab: a child arena released a span its source never gave: {err}");
        }
    }

    fn quantum(&self) -> usize {
        self.quantum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmem_core::SegmentTypes;

    #[test]
    fn routes_by_size_and_clamps_to_sixteen_quanta() {
        let ca = CachedArena::new(Arena::new("route", 0x1000, 1 << 24, 0x10).unwrap(), 0x1000);
        assert_eq!(ca.qcache_max(), 16 * 0x10, "VMEM_NQCACHE_MAX");
        assert_eq!(ca.caches().len(), 16);
        assert_eq!(ca.caches()[0].stats().slab_size, 1024, "pow2 >= 3 x 256");
        let a = ca.alloc(0x10, AllocFlags::NOSLEEP).unwrap();
        let b = ca.alloc(0x100, AllocFlags::NOSLEEP).unwrap();
        let c = ca.alloc(0x101, AllocFlags::NOSLEEP).unwrap();
        let stats = ca.cache_stats();
        assert_eq!((stats[0].allocs, stats[15].allocs), (1, 1));
        assert_eq!(
            ca.arena().stats().segments_allocated,
            3,
            "two slabs and one direct"
        );
        assert!(ca.alloc(0, AllocFlags::NOSLEEP).is_err());
        ca.free(a, 0x10).unwrap();
        ca.free(b, 0x100).unwrap();
        ca.free(c, 0x101).unwrap();
        ca.reap();
        assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
        ca.arena().check().unwrap();
    }

    #[test]
    fn failed_cache_lowers_qcache_max() {
        let arena = Arc::new(Arena::new("lower", 0, 1 << 20, 8).unwrap());
        let made = create_caches(16, 8, |size| {
            if size == 6 * 8 {
                Err(SlabError::InvalidConfig {
                    cache: ArenaName::new("x"),
                    reason: crate::error::ConfigReason::ZeroObjectSize,
                })
            } else {
                ObjectCache::builder("q", size, arena.clone()).build()
            }
        });
        assert_eq!(made.len(), 5, "qcache_max becomes 5 quanta");
        let none = CachedArena::new(Arena::new("none", 0, 1 << 20, 8).unwrap(), 7);
        assert_eq!(none.qcache_max(), 0, "below one quantum: no caches");
        assert_eq!(none.alloc(8, AllocFlags::NOSLEEP).unwrap(), 0);
    }

    #[test]
    fn slots_are_a_setting() {
        let arena = || Arena::new("slots", 0, 1 << 20, 8).unwrap();
        let counts = |ca: &CachedArena| {
            ca.caches()
                .iter()
                .map(ObjectCache::slots)
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&CachedArena::with_slots(arena(), 16, 1)), [1, 1]);
        assert_eq!(
            counts(&CachedArena::with_slots(arena(), 16, 0)),
            [1, 1],
            "0 counts as 1"
        );
        assert_eq!(
            counts(&CachedArena::with_slots(arena(), 16, 3)),
            [4, 4],
            "a power of two"
        );
        let default = CachedArena::new(arena(), 8);
        assert!(default.caches()[0].slots().is_power_of_two());
    }

    /// With one slot, the order of the calls alone decides the addresses:
    /// threads that take turns see one shared stack of freed objects.
    #[test]
    fn one_slot_is_shared_by_every_thread() {
        let ca = CachedArena::with_slots(Arena::new("one", 0, 1 << 20, 8).unwrap(), 32, 1);
        let first: Vec<usize> = (0..8)
            .map(|_| ca.alloc(8, AllocFlags::NOSLEEP).unwrap())
            .collect();
        for &a in &first {
            ca.free(a, 8).unwrap();
        }
        let threads = if cfg!(miri) { 2 } else { 4 };
        let mut seen = Vec::new();
        for _ in 0..threads {
            // One thread at a time: each pops the most recent free.
            let got = std::thread::scope(|s| {
                s.spawn(|| ca.alloc(8, AllocFlags::NOSLEEP).unwrap())
                    .join()
                    .unwrap()
            });
            seen.push(got);
        }
        let expected: Vec<usize> = first.iter().rev().take(threads).copied().collect();
        assert_eq!(
            seen, expected,
            "last freed, first handed out, on any thread"
        );
        for a in seen {
            ca.free(a, 8).unwrap();
        }
        ca.reap();
        assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn arena_shortage_reaps_the_caches() {
        // Quantum 1, qcache_max 4: slabs of 16; the arena holds 32.
        let ca = CachedArena::new(Arena::new("tight", 0, 32, 1).unwrap(), 4);
        let a = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
        let b = ca.alloc(2, AllocFlags::NOSLEEP).unwrap();
        ca.free(a, 1).unwrap();
        ca.free(b, 2).unwrap();
        assert_eq!(
            ca.arena().size(SegmentTypes::ALLOC),
            32,
            "two cached slabs fill it"
        );
        // A direct allocation finds no room; the reclaim hook reaps, the
        // arena retries and succeeds.
        let big = ca.alloc(16, AllocFlags::NOSLEEP).unwrap();
        // And a cache's slab import triggers the same.
        let c = ca.alloc(3, AllocFlags::NOSLEEP).unwrap();
        ca.free(big, 16).unwrap();
        ca.free(c, 3).unwrap();
        ca.reap();
        assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn feeds_a_child_arena() {
        let parent = Arc::new(CachedArena::new(
            Arena::new("parent", 0, 1 << 20, 16).unwrap(),
            64,
        ));
        let child = Arena::builder("child")
            .quantum(16)
            .source(parent.clone())
            .import_quantum(32)
            .build()
            .unwrap();
        let x = child.alloc(16, AllocFlags::NOSLEEP).unwrap();
        let y = child
            .xalloc(16, &Constraints::new().align(256), AllocFlags::NOSLEEP)
            .unwrap();
        assert_eq!(y % 256, 0);
        child.free(x, 16).unwrap();
        child.xfree(y, 16).unwrap();
        parent.reap();
        assert_eq!(parent.arena().size(SegmentTypes::ALLOC), 0);
    }
}
