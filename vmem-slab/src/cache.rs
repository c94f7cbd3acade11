//! The object cache: per-CPU magazines over a depot over the slab layer.
//! See `docs/design.md` §16.
//!
//! An allocation first pops the calling CPU's *loaded* magazine; if that is
//! empty and the *previous* magazine is full, the two swap and the pop
//! succeeds. Only when both are empty does the CPU go to the depot, where it
//! trades its empty magazine for a full one; only when the depot has no full
//! magazine does it go to the slab layer. Frees mirror this with empty
//! magazines. Since a CPU holds one full and one empty magazine after any
//! exchange, at least M operations separate two visits to the depot: the
//! miss rate is at most 1/M, whatever the pattern of allocations and frees.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use vmem_core::{AllocFlags, Arena, ArenaName, Constraints};

use crate::cpu;
use crate::depot::{Depot, CONTENTION_THRESHOLD};
use crate::directory::{Directory, SlabHint, CACHED, FREE, OUT};
use crate::error::{BadFreeReason, ConfigReason, SlabError};
use crate::gate;
use crate::magazine::{Magazine, MAGAZINE_SIZES};
use crate::slab::SlabLayer;
use crossbeam_utils::CachePadded;
use vmem_core::sync::SpinLock;

/// A constructor: prepares object `addr` when it leaves the slab layer;
/// `false` refuses (the allocation then fails with
/// [`SlabError::ConstructorFailed`]).
pub type Constructor = Box<dyn Fn(usize) -> bool + Send + Sync>;
/// A destructor: undoes the constructor when object `addr` goes back to the
/// slab layer.
pub type Destructor = Box<dyn Fn(usize) + Send + Sync>;

/// A snapshot of an object cache's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    /// The cache's name.
    pub name: ArenaName,
    /// Bytes (units) per object.
    pub object_size: usize,
    /// Bytes of one slab.
    pub slab_size: usize,
    /// Successful and failed allocation calls.
    pub allocs: u64,
    /// Free calls that were accepted.
    pub frees: u64,
    /// Operations served by a per-CPU magazine (loaded or previous).
    pub magazine_hits: u64,
    /// Full magazines the depot handed to a CPU.
    pub depot_allocs: u64,
    /// Full magazines a CPU handed to the depot.
    pub depot_frees: u64,
    /// Times the depot lock was found taken (a failed try-lock).
    pub depot_contention: u64,
    /// Times the magazine size grew because of that contention.
    pub magazine_resizes: u64,
    /// Allocations served by the slab layer.
    pub slab_allocs: u64,
    /// Slabs imported from the arena.
    pub slabs_created: u64,
    /// Slabs given back to the arena.
    pub slabs_destroyed: u64,
    /// Slabs held now.
    pub slabs: usize,
    /// Rounds per magazine now.
    pub magazine_size: usize,
    /// Objects sitting in magazines (per-CPU and depot).
    pub objects_cached: usize,
    /// Objects out of the slab layer: with users or cached.
    pub objects_outstanding: usize,
    /// Bad frees found late: when objects went back to the slab layer, or a
    /// slab went back to an arena that no longer had it allocated. Every
    /// free is checked when it happens, so only two threads freeing the
    /// same object at the same instant, or a slab freed through the arena
    /// behind the cache's back, count here.
    pub late_bad_frees: u64,
    /// Bytes of the object directory (slab tables and one state byte per
    /// object), the price of checking every free.
    pub directory_bytes: usize,
}

/// Work a depot visit leaves for after the CPU slot lock is dropped.
#[derive(Debug, Default, Clone, Copy)]
struct AfterDepot {
    /// A working-set update is due.
    update: bool,
    /// The cache owes a deferred reap (see [`ObjectCache::reap_owed`]).
    owed_reap: bool,
}

impl AfterDepot {
    #[inline]
    fn any(self) -> bool {
        self.update | self.owed_reap
    }
}

/// One CPU's magazines and counters, under that CPU's slot lock.
#[derive(Debug, Default)]
pub(crate) struct CpuCache {
    loaded: Magazine,
    previous: Magazine,
    /// The slab this CPU's last alloc or free was in.
    hint: SlabHint,
    allocs: u64,
    frees: u64,
    /// Operations neither magazine could serve (they went to the depot or
    /// the slab layer): the hits are `allocs + frees - misses`, so the
    /// fast paths count nothing but their own call.
    misses: u64,
}

/// Builds an [`ObjectCache`]: object size, slab size, callbacks, mode.
pub struct CacheBuilder {
    name: ArenaName,
    object_size: usize,
    arena: Arc<Arena>,
    slab_size: Option<usize>,
    constructor: Option<Constructor>,
    destructor: Option<Destructor>,
    audit: bool,
    slots: Option<usize>,
}

impl core::fmt::Debug for CacheBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("name", &self.name)
            .field("object_size", &self.object_size)
            .field("slab_size", &self.slab_size)
            .field("constructor", &self.constructor.is_some())
            .field("destructor", &self.destructor.is_some())
            .field("audit", &self.audit)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl CacheBuilder {
    /// The slab size (a multiple of the arena quantum holding at least one
    /// object). Default: the next power of two at or above 8 objects, so a
    /// slab's unused tail is under an eighth of it.
    pub fn slab_size(mut self, bytes: usize) -> Self {
        self.slab_size = Some(bytes);
        self
    }

    /// A constructor run on each object as it leaves the slab layer; the
    /// magazines then cache constructed objects.
    pub fn constructor(mut self, f: impl Fn(usize) -> bool + Send + Sync + 'static) -> Self {
        self.constructor = Some(Box::new(f));
        self
    }

    /// A destructor run on each object as it goes back to the slab layer.
    pub fn destructor(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.destructor = Some(Box::new(f));
        self
    }

    /// Audit mode: no magazine layer; every allocation and free goes to the
    /// slab layer under its lock. Bad frees are refused in both modes (see
    /// [`ObjectCache::free`]); audit mode also keeps freed objects out of
    /// circulation until their slab takes them back, so an object is never
    /// reused while still cached.
    pub fn audit(mut self, yes: bool) -> Self {
        self.audit = yes;
        self
    }

    /// The number of per-CPU magazine slots, rounded up to a power of two
    /// (0 counts as 1). The default is the machine's parallelism (see
    /// `docs/design.md` §16), so that threads on different CPUs rarely share a
    /// slot. With 1 slot every thread uses the same two magazines: the
    /// objects the cache hands out then depend only on the order of the
    /// calls, never on which CPU made them, which is what a reproducible
    /// run (a test, a replayed trace) needs. It costs contention on that
    /// slot's lock when threads do share the cache.
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = Some(slots);
        self
    }

    /// Builds the cache. No slab is imported until the first allocation.
    pub fn build(self) -> Result<ObjectCache, SlabError> {
        let quantum = self.arena.quantum();
        let invalid = |reason| SlabError::InvalidConfig {
            cache: self.name,
            reason,
        };
        let object_size = self.object_size;
        if object_size == 0 {
            return Err(invalid(ConfigReason::ZeroObjectSize));
        }
        if object_size % quantum != 0 {
            return Err(invalid(ConfigReason::ObjectNotQuantumMultiple {
                object_size,
                quantum,
            }));
        }
        let slab_size = match self.slab_size {
            Some(s) => s,
            None => object_size
                .checked_mul(8)
                .and_then(usize::checked_next_power_of_two)
                .ok_or(invalid(ConfigReason::SlabSizeOverflow { object_size }))?,
        };
        if slab_size < object_size
            || slab_size % quantum != 0
            || slab_size / object_size > u32::MAX as usize
        {
            return Err(invalid(ConfigReason::BadSlabSize {
                slab_size,
                object_size,
            }));
        }
        // Slabs are imported aligned to a power of two at least their size,
        // so the slab of an address is found by a shift (see `directory`).
        let slab_align =
            slab_size
                .checked_next_power_of_two()
                .ok_or(invalid(ConfigReason::BadSlabSize {
                    slab_size,
                    object_size,
                }))?;
        let slots = self
            .slots
            .map_or_else(cpu::slot_count, |n| n.max(1).next_power_of_two());
        Ok(ObjectCache {
            name: self.name,
            object_size,
            arena: self.arena,
            slots: (0..slots)
                .map(|_| CachePadded::new(SpinLock::new(CpuCache::default())))
                .collect(),
            slot_mask: slots - 1,
            magazines: !self.audit,
            magazine_index: AtomicUsize::new(0),
            magazine_size: AtomicUsize::new(MAGAZINE_SIZES[0]),
            depot: Mutex::new(Depot::default()),
            depot_contention: AtomicU64::new(0),
            resizes: AtomicU64::new(0),
            resizing: AtomicBool::new(false),
            reap_owed: AtomicBool::new(false),
            slabs: Mutex::new(SlabLayer::new(object_size, slab_size)),
            directory: Directory::new(slab_align, quantum, object_size, slab_size),
            slab_allocs: AtomicU64::new(0),
            slabs_created: AtomicU64::new(0),
            slabs_destroyed: AtomicU64::new(0),
            late_bad_frees: AtomicU64::new(0),
            constructor: self.constructor,
            destructor: self.destructor,
        })
    }
}

/// A cache of fixed-size objects (integer resources) carved from slabs of
/// an [`Arena`], with per-CPU magazines and a depot in front.
///
/// All methods take `&self`; share a cache between threads with an `Arc`.
pub struct ObjectCache {
    name: ArenaName,
    object_size: usize,
    arena: Arc<Arena>,
    slots: Box<[CachePadded<SpinLock<CpuCache>>]>,
    slot_mask: usize,
    /// False in audit mode.
    magazines: bool,
    magazine_index: AtomicUsize,
    /// `MAGAZINE_SIZES[magazine_index]`, read on every magazine creation.
    magazine_size: AtomicUsize,
    depot: Mutex<Depot>,
    depot_contention: AtomicU64,
    resizes: AtomicU64,
    resizing: AtomicBool,
    /// An automatic reap was deferred by the reap gate and has not run yet.
    reap_owed: AtomicBool,
    slabs: Mutex<SlabLayer>,
    slab_allocs: AtomicU64,
    slabs_created: AtomicU64,
    slabs_destroyed: AtomicU64,
    late_bad_frees: AtomicU64,
    /// Where each object stands (with a user, cached, in its slab), found
    /// without a lock: the check behind every free.
    directory: Directory,
    constructor: Option<Constructor>,
    destructor: Option<Destructor>,
}

impl core::fmt::Debug for ObjectCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ObjectCache")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a constructor or destructor never runs under these locks,
    // so a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ObjectCache {
    /// A builder for a cache named `name` of objects of `object_size` units
    /// (a multiple of the arena quantum) carved from slabs of `arena`.
    pub fn builder(name: &str, object_size: usize, arena: Arc<Arena>) -> CacheBuilder {
        CacheBuilder {
            name: ArenaName::new(name),
            object_size,
            arena,
            slab_size: None,
            constructor: None,
            destructor: None,
            audit: false,
            slots: None,
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &ArenaName {
        &self.name
    }

    /// Units per object.
    pub fn object_size(&self) -> usize {
        self.object_size
    }

    /// The number of per-CPU magazine slots (see [`CacheBuilder::slots`]).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The arena slabs come from.
    pub fn arena(&self) -> &Arc<Arena> {
        &self.arena
    }

    /// Allocates one object (no-sleep, as libumem's quantum caches).
    #[inline]
    pub fn alloc(&self) -> Result<usize, SlabError> {
        self.alloc_with(AllocFlags::NOSLEEP)
    }

    /// Allocates one object; `flags` govern a slab import if one is needed
    /// (wait mode, panic on failure; the policy is the arena's instant-fit).
    #[inline]
    pub fn alloc_with(&self, flags: AllocFlags) -> Result<usize, SlabError> {
        match self.alloc_loaded() {
            Some(object) => Ok(object),
            None => self.alloc_missed(flags),
        }
    }

    /// The fast path of [`alloc`](ObjectCache::alloc): an object from the
    /// calling CPU's loaded magazine, or `None`, having changed nothing,
    /// when that magazine is empty (or the cache is in audit mode) and
    /// [`alloc_with`](ObjectCache::alloc_with) must go further. It takes no
    /// lock but the CPU's slot and cannot fail otherwise, so a caller that
    /// keeps the error type off its hot path (the C layer) calls this first.
    /// It calls no function either: when the slot is busy, or when the
    /// thread's CPU hint is due for its refresh (one call in 64, and a
    /// thread's first), it also returns `None` and leaves that to
    /// [`alloc_with`](ObjectCache::alloc_with).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vmem_core::Arena;
    /// # use vmem_slab::ObjectCache;
    /// let arena = Arc::new(Arena::builder("ids").quantum(1).span(1, 1 << 20).build()?);
    /// let cache = ObjectCache::builder("ids-4", 4, arena).build()?;
    /// assert_eq!(cache.alloc_loaded(), None, "nothing cached yet");
    /// let id = cache.alloc()?;
    /// cache.free(id)?;
    /// assert_eq!(cache.alloc_loaded(), Some(id), "the magazine holds it");
    /// # cache.free(id)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn alloc_loaded(&self) -> Option<usize> {
        if !self.magazines {
            return None;
        }
        // No call on this path (see `fresh_slot`): a busy slot or a CPU
        // hint due for its refresh is left to `alloc_missed`.
        let mut cpu = self.fresh_slot()?.try_lock()?;
        let object = cpu.loaded.pop()?;
        cpu.allocs += 1;
        let found = self.mark_out(object, &mut cpu.hint);
        drop(cpu);
        if !found {
            // Reported with the slot unlocked, so that no unwinding
            // passes through the guard (see `fresh_slot`).
            self.not_an_object(object);
        }
        Some(object)
    }

    /// The rest of an allocation whose loaded magazine was empty: the
    /// previous magazine, the depot, the slab layer.
    #[cold]
    #[inline(never)]
    fn alloc_missed(&self, flags: AllocFlags) -> Result<usize, SlabError> {
        let mut after = AfterDepot::default();
        {
            let mut cpu = self.slot().lock();
            cpu.allocs += 1;
            if self.magazines {
                // Another thread on this slot may have refilled it since.
                if let Some(object) = cpu.loaded.pop() {
                    self.hand_out(object, &mut cpu.hint);
                    return Ok(object);
                }
                if let Some(object) = self.alloc_miss(&mut cpu, &mut after) {
                    self.hand_out(object, &mut cpu.hint);
                    drop(cpu);
                    if after.any() {
                        self.after_depot(after);
                    }
                    return Ok(object);
                }
            } else {
                cpu.misses += 1;
            }
        }
        if after.any() {
            self.after_depot(after);
        }
        self.slab_alloc(flags)
    }

    /// The calling CPU's slot.
    #[inline(always)]
    fn slot(&self) -> &SpinLock<CpuCache> {
        let index = cpu::current() & self.slot_mask;
        // SAFETY: `slots` has `slot_mask + 1` entries (built together in
        // `CacheBuilder::build`, never resized), so `index <= slot_mask` is
        // in bounds.
        unsafe { self.slots.get_unchecked(index) }
    }

    /// The calling CPU's slot, if its CPU hint needs no refresh (see
    /// `cpu::current_if_fresh`). The magazine fast paths take no other
    /// route to a slot, and only `try_lock` it: with no function called
    /// anywhere on them (a refresh, a contended lock's wait), the compiler
    /// keeps their values in scratch registers, where a call in their
    /// middle made every C call save and restore six registers, about a
    /// fifth of a cached pair's instructions.
    #[inline(always)]
    fn fresh_slot(&self) -> Option<&SpinLock<CpuCache>> {
        let index = cpu::current_if_fresh()? & self.slot_mask;
        // SAFETY: as in `slot`: `index <= slot_mask`, in bounds.
        Some(unsafe { self.slots.get_unchecked(index) })
    }

    /// What a depot visit left to do, with no CPU slot lock held: the
    /// working-set update, then a reap the cache owes.
    #[cold]
    fn after_depot(&self, after: AfterDepot) {
        if after.update {
            self.update();
        }
        if after.owed_reap && self.reap_owed.load(Ordering::Relaxed) {
            self.auto_reap("a deferred reap is owed");
        }
    }

    /// Marks a cached or freshly carved object as with a user.
    #[inline(always)]
    fn hand_out(&self, object: usize, hint: &mut SlabHint) {
        if !self.mark_out(object, hint) {
            self.not_an_object(object);
        }
    }

    /// Marks `object` as out with a user; `false` if it is not an object
    /// of this cache at all (a broken invariant, which the caller reports).
    #[inline(always)]
    fn mark_out(&self, object: usize, hint: &mut SlabHint) -> bool {
        match self.directory.state_hinted(object, hint) {
            Some(state) => {
                debug_assert!(matches!(state.load(Ordering::Relaxed), FREE | CACHED));
                state.store(OUT, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    #[cold]
    #[inline(never)]
    fn not_an_object(&self, object: usize) -> ! {
        unreachable!("cache '{}' holds {object:#x}, not an object", self.name)
    }

    /// Swap with the previous magazine, or trade an empty for a full one at
    /// the depot.
    #[cold]
    fn alloc_miss(&self, cpu: &mut CpuCache, after: &mut AfterDepot) -> Option<usize> {
        if !cpu.previous.is_empty() {
            core::mem::swap(&mut cpu.loaded, &mut cpu.previous);
            return cpu.loaded.pop();
        }
        cpu.misses += 1;
        after.owed_reap = self.reap_owed.load(Ordering::Relaxed);
        let mut depot = self.lock_depot();
        let full = depot.full.pop()?;
        depot.allocs += 1;
        let empty =
            core::mem::replace(&mut cpu.previous, core::mem::replace(&mut cpu.loaded, full));
        if empty.capacity() == self.magazine_size.load(Ordering::Relaxed) {
            depot.empty.push(empty);
        }
        after.update = depot.tick();
        drop(depot);
        cpu.loaded.pop()
    }

    /// Frees an object allocated from this cache.
    ///
    /// Every free is checked against the object directory before anything
    /// changes: an address outside the cache's slabs, one that is not the
    /// start of an object, and an object that is not with a user (a double
    /// free) are refused with [`SlabError::BadFree`]. The check is a lookup
    /// and a state byte, no lock (see the `directory` module for its one
    /// limit: two threads freeing the same object at the same instant).
    #[inline]
    pub fn free(&self, object: usize) -> Result<(), SlabError> {
        if self.free_loaded(object) {
            Ok(())
        } else {
            self.free_missed(object)
        }
    }

    /// The fast path of [`free`](ObjectCache::free): checks `object` and
    /// pushes it onto the calling CPU's loaded magazine, returning `true`.
    /// Returns `false`, having changed nothing, whenever
    /// [`free`](ObjectCache::free) has more to do or something to refuse:
    /// the magazine is full, the address is not an object with a user, the
    /// cache is in audit mode, or the arena has sleepers to wake; and, as
    /// [`alloc_loaded`](ObjectCache::alloc_loaded) does, when the slot is
    /// busy or the CPU hint is due. Never call [`free`](ObjectCache::free)
    /// for an object this accepted.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vmem_core::Arena;
    /// # use vmem_slab::ObjectCache;
    /// let arena = Arc::new(Arena::builder("ids").quantum(1).span(1, 1 << 20).build()?);
    /// let cache = ObjectCache::builder("ids-4", 4, arena).build()?;
    /// let id = cache.alloc()?;
    /// assert!(!cache.free_loaded(id), "no magazine with room yet");
    /// cache.free(id)?; // the depot gives this CPU an empty magazine
    /// let id = cache.alloc()?;
    /// assert!(cache.free_loaded(id));
    /// assert!(!cache.free_loaded(id), "a double free is left to `free`");
    /// assert!(cache.free(id).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn free_loaded(&self, object: usize) -> bool {
        if !self.magazines || self.arena.has_sleepers() {
            return false;
        }
        // As in `alloc_loaded`: no call, so a busy slot or a stale CPU
        // hint is left to `free_missed`.
        let Some(mut cpu) = self.fresh_slot().and_then(SpinLock::try_lock) else {
            return false;
        };
        let cpu = &mut *cpu;
        match self.directory.state_hinted(object, &mut cpu.hint) {
            Some(state) if state.load(Ordering::Relaxed) == OUT && !cpu.loaded.is_full() => {
                state.store(CACHED, Ordering::Relaxed);
                // SAFETY: the guard checked the magazine is not full, under
                // the slot lock held since.
                unsafe { cpu.loaded.push_unchecked(object) };
                cpu.frees += 1;
                true
            }
            _ => false,
        }
    }

    /// The rest of a free the fast path did not take: a refusal, a full
    /// magazine, audit mode, sleepers to wake.
    #[cold]
    #[inline(never)]
    fn free_missed(&self, object: usize) -> Result<(), SlabError> {
        if !self.magazines {
            return self.audited_free(object);
        }
        let mut after = AfterDepot::default();
        {
            let mut cpu = self.slot().lock();
            let state = self
                .directory
                .state_hinted(object, &mut cpu.hint)
                .filter(|state| state.load(Ordering::Relaxed) == OUT);
            let Some(state) = state else {
                drop(cpu);
                return Err(self.refused(object));
            };
            state.store(CACHED, Ordering::Relaxed);
            cpu.frees += 1;
            if let Err(object) = cpu.loaded.push(object) {
                self.free_miss(&mut cpu, object, &mut after);
            }
        }
        if after.any() {
            self.after_depot(after);
        }
        if self.arena.has_sleepers() {
            self.wake_sleepers();
        }
        Ok(())
    }

    /// An allocation of the arena is asleep waiting for room: hand every
    /// cached object back, so wholly free slabs return to the arena and its
    /// free wakes the sleeper (see `Arena::has_sleepers`). An automatic
    /// reap: the reap gate may defer it.
    #[cold]
    fn wake_sleepers(&self) {
        self.auto_reap("the arena has sleepers");
    }

    #[cold]
    fn free_miss(&self, cpu: &mut CpuCache, object: usize, after: &mut AfterDepot) {
        if cpu.previous.is_empty() && cpu.previous.capacity() != 0 {
            core::mem::swap(&mut cpu.loaded, &mut cpu.previous);
            cpu.loaded.push(object).expect("an empty magazine has room");
            return;
        }
        cpu.misses += 1;
        after.owed_reap = self.reap_owed.load(Ordering::Relaxed);
        let size = self.magazine_size.load(Ordering::Relaxed);
        let mut depot = self.lock_depot();
        let empty = loop {
            match depot.empty.pop() {
                Some(m) if m.capacity() == size => break m,
                Some(_) => continue, // left over from before a resize
                None => break Magazine::empty(size),
            }
        };
        depot.frees += 1;
        let full = core::mem::replace(
            &mut cpu.previous,
            core::mem::replace(&mut cpu.loaded, empty),
        );
        if !full.is_empty() {
            depot.full.push(full);
        }
        after.update = depot.tick();
        drop(depot);
        cpu.loaded.push(object).expect("a fresh magazine has room");
    }

    fn audited_free(&self, object: usize) -> Result<(), SlabError> {
        let (_, value) = self
            .directory
            .object(object)
            .map_err(|reason| self.bad_free(object, reason))?;
        if value != OUT {
            return Err(self.bad_free(object, BadFreeReason::NotAllocated));
        }
        // The directory said the object is with a user; the slab layer's
        // own bitmap must agree.
        lock(&self.slabs)
            .check_out(object)
            .map_err(|reason| self.bad_free(object, reason))?;
        let mut cpu = self.slot().lock();
        cpu.frees += 1;
        cpu.misses += 1;
        drop(cpu);
        self.slab_free(core::iter::once(object));
        Ok(())
    }

    /// The error for a free the fast path refused, with the reason.
    #[cold]
    fn refused(&self, addr: usize) -> SlabError {
        let reason = match self.directory.object(addr) {
            Ok(_) => BadFreeReason::NotAllocated,
            Err(reason) => reason,
        };
        self.bad_free(addr, reason)
    }

    fn bad_free(&self, addr: usize, reason: BadFreeReason) -> SlabError {
        SlabError::BadFree {
            cache: self.name,
            addr,
            reason,
        }
    }

    /// The per-CPU slot locks (for `lockup`).
    pub(crate) fn slot_locks(&self) -> impl Iterator<Item = &vmem_core::sync::SpinLock<CpuCache>> {
        self.slots.iter().map(|slot| &**slot)
    }

    /// The depot lock, taken (for `lockup`).
    pub(crate) fn depot_lock(&self) -> MutexGuard<'_, Depot> {
        lock(&self.depot)
    }

    /// The slab layer lock, taken (for `lockup`).
    pub(crate) fn slabs_lock(&self) -> MutexGuard<'_, SlabLayer> {
        lock(&self.slabs)
    }

    /// The object directory (for `lockup`).
    pub(crate) fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Takes the depot lock, counting a contention when it is taken.
    fn lock_depot(&self) -> MutexGuard<'_, Depot> {
        match self.depot.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.depot_contention.fetch_add(1, Ordering::Relaxed);
                lock(&self.depot)
            }
        }
    }

    // ----- slab layer -----------------------------------------------------------------

    /// Takes an object from the slab layer, importing a slab if needed; on
    /// an arena shortage reaps this cache (an automatic reap, which the
    /// reap gate may defer) and retries once.
    fn slab_alloc(&self, flags: AllocFlags) -> Result<usize, SlabError> {
        let mut reaped = false;
        loop {
            // The slot whose magazine missed: it carves from a slab of its
            // own (slab.rs, "slab owners").
            let slot = cpu::current() & self.slot_mask;
            let object = lock(&self.slabs).alloc_for(slot, self.slots.len());
            let object = match object {
                Some(object) => object,
                None => {
                    let slab_size = lock(&self.slabs).slab_size();
                    let import = AllocFlags::new()
                        .wait(flags.get_wait())
                        .panic_on_failure(reaped && flags.get_panic_on_failure());
                    let aligned = Constraints::new().align(self.directory.slab_align());
                    match self.arena.xalloc(slab_size, &aligned, import) {
                        Ok(base) => {
                            self.slabs_created.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(cache = %self.name, base, slab_size, "slab created");
                            let mut slabs = lock(&self.slabs);
                            self.directory.register(base);
                            slabs.add_slab_and_alloc(base, slot)
                        }
                        Err(_) if !reaped => {
                            reaped = true;
                            self.auto_reap("arena shortage, before the retry");
                            continue;
                        }
                        Err(source) => {
                            return Err(SlabError::Arena {
                                cache: self.name,
                                source,
                            })
                        }
                    }
                }
            };
            self.slab_allocs.fetch_add(1, Ordering::Relaxed);
            if let Some(ctor) = &self.constructor {
                if !ctor(object) {
                    self.release_raw(core::iter::once(object));
                    return Err(SlabError::ConstructorFailed {
                        cache: self.name,
                        addr: object,
                    });
                }
            }
            self.hand_out(object, &mut SlabHint::default());
            return Ok(object);
        }
    }

    /// Destroys `objects` and returns them to their slabs, giving wholly
    /// free slabs back to the arena.
    fn slab_free(&self, objects: impl Iterator<Item = usize> + Clone) {
        if let Some(dtor) = &self.destructor {
            objects.clone().for_each(dtor);
        }
        self.release_raw(objects);
    }

    /// Returns unconstructed objects to their slabs.
    fn release_raw(&self, objects: impl Iterator<Item = usize>) {
        let mut empty_slabs = Vec::new();
        let slab_size;
        {
            let mut slabs = lock(&self.slabs);
            slab_size = slabs.slab_size();
            for object in objects {
                match slabs.free(object) {
                    Ok(released) => {
                        if let Ok((state, _)) = self.directory.object(object) {
                            state.store(FREE, Ordering::Relaxed);
                        }
                        empty_slabs.extend(released);
                    }
                    Err(reason) => {
                        self.late_bad_frees.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(cache = %self.name, object, %reason, "bad free found in a magazine; object dropped");
                    }
                }
            }
        }
        for base in empty_slabs {
            self.slabs_destroyed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(cache = %self.name, base, slab_size, "slab destroyed");
            if let Err(err) = self.arena.free(base, slab_size) {
                // Someone freed the slab through the arena behind the cache's
                // back: it is free already, so nothing is lost by moving on.
                self.late_bad_frees.fetch_add(1, Ordering::Relaxed);
                tracing::error!(cache = %self.name, base, %err, "the arena refused a slab it gave (freed behind the cache's back?)");
            }
        }
    }

    // ----- maintenance ----------------------------------------------------------------

    /// Gives every cached object back to the slab layer, and every slab that
    /// becomes wholly free back to the arena. Objects held by users stay
    /// theirs. Also pays a reap the cache owes ([`reap_owed`]).
    ///
    /// The cache also reaps by itself: when its arena cannot supply a slab,
    /// when a free finds the arena with sleeping allocations, and after a
    /// magazine resize ([`update`] reaps idle depot magazines too). Those
    /// automatic reaps ask the process's reap gate first, which may defer
    /// them ([`set_reap_gate`](crate::set_reap_gate)); an explicit call of
    /// this method never is.
    ///
    /// [`reap_owed`]: ObjectCache::reap_owed
    /// [`update`]: ObjectCache::update
    pub fn reap(&self) {
        // Cleared first: an automatic reap deferred while this one runs
        // owes a reap again.
        self.reap_owed.store(false, Ordering::Relaxed);
        let mut magazines = Vec::new();
        for slot in self.slots.iter() {
            let mut cpu = slot.lock();
            magazines.push(core::mem::take(&mut cpu.loaded));
            magazines.push(core::mem::take(&mut cpu.previous));
        }
        {
            let mut depot = self.lock_depot();
            magazines.extend(depot.full.take_all());
            depot.empty.take_all();
        }
        let rounds: usize = magazines.iter().map(Magazine::len).sum();
        tracing::debug!(cache = %self.name, rounds, "reap");
        self.destroy_magazines(magazines);
    }

    /// An automatic reap (`why` says what started it): runs now, unless
    /// the reap gate defers it, in which case the cache owes one.
    #[cold]
    pub(crate) fn auto_reap(&self, why: &'static str) {
        if gate::defer_reap() {
            self.owe_reap(why);
        } else {
            tracing::debug!(cache = %self.name, why, "automatic reap");
            self.reap();
        }
    }

    /// Records that a deferred automatic reap is owed.
    #[cold]
    pub(crate) fn owe_reap(&self, why: &'static str) {
        self.reap_owed.store(true, Ordering::Relaxed);
        tracing::debug!(cache = %self.name, why, "automatic reap deferred by the reap gate");
    }

    /// Whether the cache owes a reap: an automatic reap the reap gate
    /// deferred ([`set_reap_gate`](crate::set_reap_gate)) that has not run
    /// yet. It runs at the cache's next reap, explicit or automatic, its
    /// next [`update`](ObjectCache::update) or its next magazine exchange
    /// with the depot on a thread the gate lets reap, whichever comes
    /// first.
    pub fn reap_owed(&self) -> bool {
        self.reap_owed.load(Ordering::Relaxed)
    }

    fn destroy_magazines(&self, mut magazines: Vec<Magazine>) {
        let objects: Vec<usize> = magazines.iter_mut().flat_map(|m| m.drain()).collect();
        if !objects.is_empty() {
            self.slab_free(objects.iter().copied());
        }
    }

    /// Periodic maintenance (libumem's cache update): ends a working-set
    /// interval, reaps the depot magazines that stayed unused through it,
    /// and grows the magazine size if the depot lock was contended more
    /// than [`CONTENTION_THRESHOLD`] times. Runs automatically every
    /// [`UPDATE_INTERVAL`](crate::UPDATE_INTERVAL) depot exchanges.
    ///
    /// The reap of idle full magazines (and the purge after a resize) is an
    /// automatic reap: the reap gate may defer it, and the cache then owes
    /// a whole reap instead (see [`reap`](ObjectCache::reap)), which a
    /// later update the gate lets reap pays. Idle *empty* magazines hold
    /// no objects and are always dropped.
    pub fn update(&self) {
        let (excess_due, grow) = {
            let mut depot = self.lock_depot();
            depot.ops = 0;
            depot.full.update_working_set();
            depot.empty.update_working_set();
            depot.empty.take_excess();
            let contention = self.depot_contention.load(Ordering::Relaxed);
            let grow = contention - depot.contention_seen > CONTENTION_THRESHOLD;
            depot.contention_seen = contention;
            (depot.full.excess() != 0, grow)
        };
        // The gate is asked with no lock held; the excess is taken after
        // (what others did in between only makes it smaller).
        if excess_due {
            if gate::defer_reap() {
                self.owe_reap("working-set update");
            } else {
                let excess = self.lock_depot().full.take_excess();
                tracing::debug!(cache = %self.name, magazines = excess.len(), "working-set reap");
                self.destroy_magazines(excess);
            }
        }
        if grow && self.magazines {
            self.grow_magazines();
        }
        if self.reap_owed.load(Ordering::Relaxed) {
            self.auto_reap("a deferred reap is owed");
        }
    }

    /// Moves to the next magazine size: purge every magazine, then make new
    /// ones larger (libumem's magazine resize).
    fn grow_magazines(&self) {
        if self.resizing.swap(true, Ordering::Acquire) {
            return;
        }
        let index = self.magazine_index.load(Ordering::Relaxed);
        if index + 1 < MAGAZINE_SIZES.len() {
            let size = MAGAZINE_SIZES[index + 1];
            self.magazine_index.store(index + 1, Ordering::Relaxed);
            self.magazine_size.store(size, Ordering::Relaxed);
            self.resizes.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(cache = %self.name, rounds = size, "depot contended: magazine size grows");
            self.auto_reap("magazine resize");
        }
        self.resizing.store(false, Ordering::Release);
    }

    /// Rounds per magazine now.
    pub fn magazine_size(&self) -> usize {
        self.magazine_size.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters (takes each CPU slot lock in turn).
    pub fn stats(&self) -> CacheStats {
        let mut s = CacheStats {
            name: self.name,
            object_size: self.object_size,
            magazine_size: self.magazine_size(),
            depot_contention: self.depot_contention.load(Ordering::Relaxed),
            magazine_resizes: self.resizes.load(Ordering::Relaxed),
            slab_allocs: self.slab_allocs.load(Ordering::Relaxed),
            slabs_created: self.slabs_created.load(Ordering::Relaxed),
            slabs_destroyed: self.slabs_destroyed.load(Ordering::Relaxed),
            late_bad_frees: self.late_bad_frees.load(Ordering::Relaxed),
            slab_size: 0,
            allocs: 0,
            frees: 0,
            magazine_hits: 0,
            depot_allocs: 0,
            depot_frees: 0,
            slabs: 0,
            objects_cached: 0,
            objects_outstanding: 0,
            directory_bytes: self.directory.bytes(),
        };
        for slot in self.slots.iter() {
            let cpu = slot.lock();
            s.allocs += cpu.allocs;
            s.frees += cpu.frees;
            s.magazine_hits += cpu.allocs + cpu.frees - cpu.misses;
            s.objects_cached += cpu.loaded.len() + cpu.previous.len();
        }
        {
            let depot = lock(&self.depot);
            s.depot_allocs = depot.allocs;
            s.depot_frees = depot.frees;
            s.objects_cached += depot.full.rounds();
        }
        let slabs = lock(&self.slabs);
        s.slab_size = slabs.slab_size();
        s.slabs = slabs.slab_count();
        s.objects_outstanding = slabs.outstanding();
        s
    }
}

impl Drop for ObjectCache {
    fn drop(&mut self) {
        self.reap();
        let outstanding = lock(&self.slabs).outstanding();
        if outstanding != 0 {
            tracing::warn!(cache = %self.name, outstanding, "object cache dropped with objects outstanding; their slabs stay allocated in the arena");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicIsize;
    use vmem_core::SegmentTypes;

    fn arena(size: usize) -> Arc<Arena> {
        Arc::new(Arena::new("cache-unit", 0, size, 16).unwrap())
    }

    #[test]
    fn serves_from_magazines_after_warm_up() {
        let arena = arena(1 << 20);
        let cache = ObjectCache::builder("c48", 48, arena.clone())
            .build()
            .unwrap();
        let a = cache.alloc().unwrap();
        assert_eq!(a, 0, "address 0 is an object like any other");
        cache.free(a).unwrap();
        for _ in 0..100 {
            let x = cache.alloc().unwrap();
            cache.free(x).unwrap();
        }
        let s = cache.stats();
        assert_eq!((s.allocs, s.frees), (101, 101));
        assert_eq!(s.slab_allocs, 1, "every later allocation hit a magazine");
        assert_eq!(s.objects_cached, 1);
        assert_eq!(s.slab_size, 512, "next power of two at or above 8 x 48");
        cache.reap();
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
        let s = cache.stats();
        assert_eq!(
            (s.slabs_created, s.slabs_destroyed, s.objects_cached),
            (1, 1, 0)
        );
    }

    #[test]
    fn fast_paths_serve_the_loaded_magazine_and_leave_the_rest_untouched() {
        let arena = arena(1 << 20);
        let cache = ObjectCache::builder("fast", 32, arena.clone())
            .slots(1)
            .build()
            .unwrap();
        assert_eq!(cache.alloc_loaded(), None, "placeholder magazines");
        let a = cache.alloc().unwrap();
        let b = cache.alloc().unwrap();
        assert!(!cache.free_loaded(a), "the placeholder has no room");
        cache.free(a).unwrap();
        assert!(cache.free_loaded(b), "a real empty magazine now");
        let s = cache.stats();
        assert_eq!((s.allocs, s.frees, s.objects_cached), (2, 2, 2));
        // Refusals change nothing and leave the reason to `free`.
        let before = cache.stats();
        for bad in [b, b + 16, b + 1, 1 << 19] {
            assert!(!cache.free_loaded(bad), "{bad:#x}");
        }
        assert_eq!(cache.stats(), before);
        assert!(matches!(
            cache.free(b),
            Err(SlabError::BadFree {
                reason: BadFreeReason::NotAllocated,
                ..
            })
        ));
        assert!(matches!(
            cache.free(b + 16),
            Err(SlabError::BadFree {
                reason: BadFreeReason::Misaligned { object_size: 32 },
                ..
            })
        ));
        // Last in, first out, through the fast path.
        assert_eq!(cache.alloc_loaded(), Some(b));
        assert_eq!(cache.alloc_loaded(), Some(a));
        assert_eq!(cache.alloc_loaded(), None, "empty again");
        for x in [a, b] {
            cache.free(x).unwrap();
        }
        cache.reap();
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn fast_paths_leave_a_due_cpu_hint_to_the_slow_paths() {
        let arena = arena(1 << 20);
        let cache = Arc::new(
            ObjectCache::builder("due", 32, arena.clone())
                .slots(1)
                .build()
                .unwrap(),
        );
        // Warm up: the loaded magazine holds one object, with room to spare.
        let a = cache.alloc().unwrap();
        cache.free(a).unwrap();
        // With glibc's rseq area (found by a thread's first look-up) the
        // CPU is read afresh every time and no hint is ever due.
        std::thread::spawn(|| {
            let _ = cpu::current();
        })
        .join()
        .unwrap();
        let rseq = cpu::reads_rseq();
        let worker = {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let before = cache.stats();
                if rseq {
                    assert_eq!(cache.alloc_loaded(), Some(a), "no hint to refresh");
                    assert!(cache.free_loaded(a));
                    assert_eq!(cache.alloc().unwrap(), a);
                    cache.free(a).unwrap();
                } else {
                    // A new thread's CPU hint is due: both fast paths
                    // decline, changing nothing, and the slow paths serve
                    // the magazine.
                    assert_eq!(cache.alloc_loaded(), None);
                    assert!(!cache.free_loaded(a), "declined before the state check");
                    assert_eq!(cache.stats(), before);
                    assert_eq!(cache.alloc().unwrap(), a, "the loaded magazine's object");
                    assert!(cache.free_loaded(a), "the hint is fresh now");
                }
                // Every 64th call finds the hint due again; `alloc` and
                // `free` take the slow path then, and count it once.
                for _ in 0..1000 {
                    assert_eq!(cache.alloc().unwrap(), a);
                    cache.free(a).unwrap();
                }
                let after = cache.stats();
                let pairs = if rseq { 1002 } else { 1001 };
                assert_eq!(after.allocs - before.allocs, pairs);
                assert_eq!(after.frees - before.frees, pairs);
                assert_eq!(after.objects_cached, before.objects_cached);
            })
        };
        worker.join().unwrap();
        let a = cache.alloc().unwrap();
        cache.free(a).unwrap();
        cache.reap();
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn magazine_hits_count_what_neither_magazine_missed() {
        let arena = arena(1 << 20);
        let cache = ObjectCache::builder("hits", 16, arena).build().unwrap();
        // Cold: the first allocation comes from the slab layer (a miss), its
        // free trades the placeholder for an empty magazine (a miss); every
        // later pair hits the loaded magazine.
        for _ in 0..50 {
            let x = cache.alloc().unwrap();
            cache.free(x).unwrap();
        }
        let s = cache.stats();
        assert_eq!((s.allocs, s.frees), (50, 50));
        assert_eq!(s.magazine_hits, 98, "{s:?}");
        let audited = ObjectCache::builder("audit", 16, self::arena(1 << 16))
            .audit(true)
            .build()
            .unwrap();
        let x = audited.alloc().unwrap();
        audited.free(x).unwrap();
        assert_eq!(audited.stats().magazine_hits, 0, "audit mode has none");
    }

    #[test]
    fn depot_exchanges_bound_the_miss_rate() {
        let arena = arena(1 << 20);
        let cache = ObjectCache::builder("c16", 16, arena.clone())
            .build()
            .unwrap();
        let n = 200;
        let objects: Vec<_> = (0..n).map(|_| cache.alloc().unwrap()).collect();
        for &o in &objects {
            cache.free(o).unwrap();
        }
        let again: Vec<_> = (0..n).map(|_| cache.alloc().unwrap()).collect();
        let s = cache.stats();
        assert_eq!(s.slab_allocs, n as u64, "second round came from magazines");
        assert!(s.depot_frees >= (n / 15 - 2) as u64 && s.depot_allocs >= (n / 15 - 2) as u64);
        let misses = s.depot_allocs + s.depot_frees + s.slab_allocs - n as u64;
        assert!(
            misses * 15 <= 2 * n as u64 + 30,
            "miss rate bounded by 1/M: {s:?}"
        );
        let mut sorted = again.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), n, "no object handed out twice");
        for o in again {
            cache.free(o).unwrap();
        }
        cache.reap();
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn constructor_and_destructor_balance() {
        let arena = arena(1 << 16);
        let live = Arc::new(AtomicIsize::new(0));
        let (c, d) = (live.clone(), live.clone());
        let cache = ObjectCache::builder("ctor", 32, arena)
            .constructor(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
                true
            })
            .destructor(move |_| {
                d.fetch_sub(1, Ordering::Relaxed);
            })
            .build()
            .unwrap();
        let objs: Vec<_> = (0..40).map(|_| cache.alloc().unwrap()).collect();
        assert_eq!(live.load(Ordering::Relaxed), 40);
        objs.into_iter().for_each(|o| cache.free(o).unwrap());
        assert_eq!(
            live.load(Ordering::Relaxed),
            40,
            "cached objects stay constructed"
        );
        cache.reap();
        assert_eq!(live.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn constructor_failure_is_reported() {
        let cache = ObjectCache::builder("nope", 16, arena(1 << 12))
            .constructor(|addr| addr != 0)
            .build()
            .unwrap();
        assert!(matches!(
            cache.alloc(),
            Err(SlabError::ConstructorFailed { addr: 0, .. })
        ));
        assert_eq!(cache.stats().objects_outstanding, 0);
    }

    #[test]
    fn audit_mode_refuses_every_bad_free() {
        let cache = ObjectCache::builder("audit", 16, arena(1 << 12))
            .audit(true)
            .build()
            .unwrap();
        let a = cache.alloc().unwrap();
        let b = cache.alloc().unwrap();
        let bad = |r| {
            Err(SlabError::BadFree {
                cache: *cache.name(),
                addr: 0,
                reason: r,
            })
        };
        cache.free(a).unwrap();
        assert_eq!(
            cache.free(a),
            bad(BadFreeReason::NotAllocated),
            "double free"
        );
        assert!(matches!(
            cache.free(b + 8),
            Err(SlabError::BadFree {
                reason: BadFreeReason::Misaligned { .. },
                ..
            })
        ));
        assert!(matches!(
            cache.free(1 << 20),
            Err(SlabError::BadFree {
                reason: BadFreeReason::NotFromCache,
                ..
            })
        ));
        cache.free(b).unwrap();
        assert!(
            matches!(
                cache.free(b),
                Err(SlabError::BadFree {
                    reason: BadFreeReason::NotAllocated,
                    ..
                })
            ),
            "its slab is gone"
        );
        assert_eq!(cache.stats().slabs, 0, "audit mode caches nothing");
    }

    #[test]
    fn magazine_mode_refuses_addresses_outside_its_slabs() {
        let cache = ObjectCache::builder("range", 16, arena(1 << 16))
            .build()
            .unwrap();
        assert!(
            matches!(cache.free(0), Err(SlabError::BadFree { .. })),
            "no slab yet"
        );
        let a = cache.alloc().unwrap();
        assert!(matches!(
            cache.free(a + 4096),
            Err(SlabError::BadFree { .. })
        ));
        cache.free(a).unwrap();
    }

    #[test]
    fn shortage_is_a_typed_error_until_a_reap() {
        // Room for exactly one slab of 256.
        let arena = arena(256);
        let small = ObjectCache::builder("small", 16, arena.clone())
            .slab_size(256)
            .build()
            .unwrap();
        let other = ObjectCache::builder("other", 32, arena.clone())
            .slab_size(256)
            .build()
            .unwrap();
        let a = small.alloc().unwrap();
        small.free(a).unwrap();
        assert!(
            matches!(other.alloc(), Err(SlabError::Arena { .. })),
            "the arena is full of the first cache's cached slab"
        );
        small.reap();
        let b = other.alloc().unwrap();
        other.free(b).unwrap();
        drop(other);
        assert_eq!(
            arena.size(SegmentTypes::ALLOC),
            0,
            "dropping a cache reaps it"
        );
    }

    #[test]
    fn contention_grows_magazines() {
        let cache = ObjectCache::builder("grow", 16, arena(1 << 20))
            .build()
            .unwrap();
        cache
            .depot_contention
            .store(CONTENTION_THRESHOLD + 1, Ordering::Relaxed);
        let objs: Vec<_> = (0..64).map(|_| cache.alloc().unwrap()).collect();
        objs.iter().for_each(|&o| cache.free(o).unwrap());
        cache.update();
        let s = cache.stats();
        assert_eq!(
            (s.magazine_size, s.magazine_resizes, s.objects_cached),
            (31, 1, 0)
        );
        let objs: Vec<_> = (0..64).map(|_| cache.alloc().unwrap()).collect();
        objs.iter().for_each(|&o| cache.free(o).unwrap());
        cache.update();
        assert_eq!(cache.magazine_size(), 31, "no new contention, no growth");
    }

    #[test]
    fn idle_depot_magazines_are_reaped_by_updates() {
        let arena = arena(1 << 20);
        let cache = ObjectCache::builder("ws", 16, arena.clone())
            .build()
            .unwrap();
        let objs: Vec<_> = (0..300).map(|_| cache.alloc().unwrap()).collect();
        objs.iter().for_each(|&o| cache.free(o).unwrap());
        let before = cache.stats().objects_cached;
        assert_eq!(before, 300);
        cache.update();
        cache.update();
        let after = cache.stats().objects_cached;
        assert!(after <= 30, "only the CPU magazines remain: {after}");
    }
}
