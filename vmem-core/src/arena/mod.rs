//! [`Arena`]: the public face of the allocator. This file owns locking,
//! validation, the tag reserve, import and release, waiting, reclaim and the
//! automatic hash rescale; `state.rs` holds the placement algorithms.

mod builder;
mod check;
mod state;
mod walk;

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

pub use builder::ArenaBuilder;
pub use check::CheckError;
pub use walk::{Segment, SegmentKind, SegmentTypes};

use crate::bits::{is_power_of_two, round_up};
use crate::error::{Error, InvalidReason};
use crate::hash::{AllocHash, Table, HASH_INITIAL};
use crate::name::ArenaName;
use crate::policy::{AllocFlags, Constraints, Fit, Policy, Wait};
use crate::pool::{TagChain, TagPool};
use crate::source::{Reclaim, Shared, Source};
use crate::stats::Stats;
use crate::sync::{Guard, Lock};
use state::{BadFree, Releases, State};

/// Spare tags an arena keeps before any operation: the worst case of one
/// operation, a span created for an import (2) plus an allocation from the
/// middle of a segment (2), as libumem's `VMEM_SEGS_PER_ALLOC_MAX`, plus two
/// for a walk marker and the next-fit rotor's coalescing.
const RESERVE_LOW: usize = 6;
/// Tags taken from the pool per refill, so the pool lock is rarely touched.
const RESERVE_REFILL: usize = 32;
/// Above this many spare tags, an arena hands half back to the pool.
const RESERVE_HIGH: usize = 128;

/// When a `SleepFor` allocation gives up (`None`: never).
#[cfg(feature = "std")]
type Deadline = Option<std::time::Instant>;
#[cfg(not(feature = "std"))]
type Deadline = Option<()>;

fn deadline_for(flags: AllocFlags) -> Deadline {
    match flags.get_wait() {
        #[cfg(feature = "std")]
        Wait::SleepFor(limit) => std::time::Instant::now().checked_add(limit),
        _ => None,
    }
}

/// Process-wide mean time between injected failures (libumem's `vmem_mtbf`);
/// 0 disables. See [`Arena::set_mtbf`].
static GLOBAL_MTBF: AtomicU32 = AtomicU32::new(0);

/// Sets the process-wide fault-injection rate: on average one in `mtbf`
/// no-sleep allocations of every arena fails (0 turns it off).
pub fn set_global_mtbf(mtbf: u32) {
    GLOBAL_MTBF.store(mtbf, Ordering::Relaxed);
}

/// A vmem arena: a set of integer ranges (spans) from which it hands out
/// quantum-aligned segments.
///
/// Every operation takes `&self`; one lock per arena serialises them and is
/// dropped around calls into the source, the reclaim hook and the page
/// source. See the crate documentation for an overview and examples.
pub struct Arena {
    name: ArenaName,
    quantum: usize,
    pool: &'static TagPool,
    source: Option<Shared<dyn Source>>,
    import_quantum: usize,
    reclaim: Lock<Option<Shared<dyn Reclaim>>>,
    mtbf: AtomicU32,
    mtbf_clock: AtomicU64,
    state: Lock<State>,
    /// A copy of the number of sleeping allocations, readable without the
    /// lock (see [`Arena::has_sleepers`]).
    sleeping: AtomicUsize,
    /// Where sleeping allocations wait: a wake-up generation counter and its
    /// condition variable (see [`Arena::sleep`]).
    #[cfg(feature = "std")]
    sleepers: (std::sync::Mutex<u64>, std::sync::Condvar),
}

impl core::fmt::Debug for Arena {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Arena")
            .field("name", &self.name)
            .field("quantum", &self.quantum)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Arena {
    /// An arena named `name` over `[base, base + size)` (no span when `size`
    /// is 0) with the given quantum, using the global tag pool.
    ///
    /// ```
    /// let arena = vmem_core::Arena::new("ids", 1, 1000, 1).unwrap();
    /// assert_eq!(arena.alloc(1, vmem_core::Policy::NextFit.into()), Ok(1));
    /// ```
    #[cfg(feature = "std")]
    pub fn new(name: &str, base: usize, size: usize, quantum: usize) -> Result<Arena, Error> {
        let mut builder = ArenaBuilder::new(name).quantum(quantum);
        if size != 0 {
            builder = builder.span(base, size);
        }
        builder.build()
    }

    /// A builder for the less common settings (source, pool, limits).
    pub fn builder(name: &str) -> ArenaBuilder {
        ArenaBuilder::new(name)
    }

    fn from_parts(
        name: ArenaName,
        quantum: usize,
        pool: &'static TagPool,
        source: Option<Shared<dyn Source>>,
        import_quantum: usize,
    ) -> Result<Arena, Error> {
        if !is_power_of_two(quantum) {
            return Err(Error::InvalidArgument {
                arena: name,
                call: "create",
                reason: InvalidReason::BadQuantum { quantum },
            });
        }
        let mut tags = TagChain::default();
        while tags.len < RESERVE_LOW + 2 {
            if pool.take(&mut tags, RESERVE_REFILL) == 0 && !pool.grow() {
                pool.give(&mut tags, usize::MAX);
                return Err(Error::OutOfTags { arena: name });
            }
        }
        let has_source = source.is_some();
        Ok(Arena {
            name,
            quantum,
            pool,
            source,
            import_quantum,
            reclaim: Lock::new(None),
            mtbf: AtomicU32::new(0),
            mtbf_clock: AtomicU64::new(0),
            state: Lock::new(State::new(tags, quantum, has_source)),
            sleeping: AtomicUsize::new(0),
            #[cfg(feature = "std")]
            sleepers: (std::sync::Mutex::new(0), std::sync::Condvar::new()),
        })
    }

    /// The arena's name.
    pub fn name(&self) -> &ArenaName {
        &self.name
    }

    /// The arena's quantum: every address and span is a multiple of it.
    pub fn quantum(&self) -> usize {
        self.quantum
    }

    /// The tag pool the arena draws boundary tags from.
    pub fn tag_pool(&self) -> &'static TagPool {
        self.pool
    }

    fn invalid(&self, call: &'static str, reason: InvalidReason) -> Error {
        Error::InvalidArgument {
            arena: self.name,
            call,
            reason,
        }
    }

    // ----- reserve ------------------------------------------------------------

    /// Makes sure the reserve covers an operation's worst case, refilling
    /// from the pool (a leaf lock, so fine under the arena lock) and, when
    /// the pool is dry, growing it with the arena lock dropped.
    #[inline(always)]
    fn populate<'a>(
        &'a self,
        state: Guard<'a, State>,
    ) -> Result<Guard<'a, State>, Guard<'a, State>> {
        if state.reserve.len >= RESERVE_LOW {
            return Ok(state);
        }
        self.refill(state)
    }

    #[cold]
    fn refill<'a>(
        &'a self,
        mut state: Guard<'a, State>,
    ) -> Result<Guard<'a, State>, Guard<'a, State>> {
        while state.reserve.len < RESERVE_LOW {
            self.pool.take(&mut state.reserve, RESERVE_REFILL);
            if state.reserve.len >= RESERVE_LOW {
                break;
            }
            drop(state);
            let grew = self.pool.grow();
            tracing::debug!(arena = %self.name, grew, "populate: tag pool grown from the page source");
            state = self.state.lock();
            if !grew && state.reserve.len < RESERVE_LOW {
                state.counters.populate_fail += 1;
                return Err(state);
            }
        }
        Ok(state)
    }

    /// Gives surplus spare tags back to the pool.
    #[inline]
    fn trim_reserve(&self, state: &mut State) {
        if state.reserve.len > RESERVE_HIGH {
            self.pool.give(&mut state.reserve, RESERVE_HIGH / 2);
        }
    }

    // ----- allocation -----------------------------------------------------------

    /// Allocates `size` bytes (rounded up to the quantum for placement; the
    /// segment records `size` itself, and must be freed with it).
    ///
    /// ```
    /// # #[cfg(feature = "std")] { // `Arena::new` needs `std`
    /// use vmem_core::{AllocFlags, Arena, Policy};
    /// let arena = Arena::new("demo", 0x1000, 0x10000, 0x1000).unwrap();
    /// let a = arena.alloc(0x2000, AllocFlags::new()).unwrap();
    /// let b = arena.alloc(0x1000, Policy::BestFit.into()).unwrap();
    /// assert_ne!(a, b);
    /// arena.free(a, 0x2000).unwrap();
    /// arena.free(b, 0x1000).unwrap();
    /// # }
    /// ```
    #[inline]
    pub fn alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        // The common case, kept small enough to inline into the caller:
        // instant-fit, a sane size, no fault injection.
        if flags.is_plain_instant_fit()
            && size.wrapping_sub(1) < usize::MAX - (self.quantum - 1)
            && !self.mtbf_armed()
        {
            return self.instant_fit_alloc(size, flags);
        }
        self.alloc_slow(size, flags)
    }

    /// Instant-fit: the head of the right freelist, or the searching path
    /// when no list is certain to fit (where libumem calls `vmem_xalloc`).
    #[inline]
    fn instant_fit_alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        let mut state = self.state.lock();
        if state.reserve.len < RESERVE_LOW {
            state = match self.refill(state) {
                Ok(s) => s,
                Err(s) => {
                    // No tags: the searching path reports it.
                    drop(s);
                    return self
                        .xalloc_unchecked(self.fit(size, &Constraints::new(), flags), flags);
                }
            };
        }
        match state.instant_fit(size) {
            Some(addr) => self.done(state, addr),
            None => {
                drop(state);
                self.xalloc_unchecked(self.fit(size, &Constraints::new(), flags), flags)
            }
        }
    }

    /// Everything `alloc` does beyond the instant-fit fast path.
    #[inline(never)]
    fn alloc_slow(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        if size == 0 {
            return Err(self.invalid("alloc", InvalidReason::ZeroSize));
        }
        if size > usize::MAX - (self.quantum - 1) {
            // Rounded to the quantum it would wrap: no arena can hold it.
            return self.fail(self.no_room(size), flags);
        }
        if let Some(err) = self.injected_failure(size, flags) {
            return Err(err);
        }
        match flags.get_policy() {
            Policy::NextFit => self.next_fit_alloc(size, flags),
            Policy::InstantFit if !flags.get_from_end() => self.instant_fit_alloc(size, flags),
            _ => self.xalloc_unchecked(self.fit(size, &Constraints::new(), flags), flags),
        }
    }

    /// Whether an allocation is asleep waiting for room (one relaxed load).
    ///
    /// For layers that keep freed ranges instead of returning them at once,
    /// such as the magazines of `vmem-slab`: after caching a free they check
    /// this and, if it is set, give their cache back to the arena so the
    /// sleeper wakes. The sleeper registers under the arena lock and then
    /// calls the reclaim hook, so a range cached before it registered is
    /// reaped by the hook, and a free cached after it (in a critical section
    /// ordered after the hook's) sees the flag.
    #[inline]
    pub fn has_sleepers(&self) -> bool {
        self.sleeping.load(Ordering::Relaxed) != 0
    }

    /// Whether fault injection is on for this arena (or globally).
    #[inline]
    fn mtbf_armed(&self) -> bool {
        GLOBAL_MTBF.load(Ordering::Relaxed) | self.mtbf.load(Ordering::Relaxed) != 0
    }

    fn fit(&self, size: usize, c: &Constraints, flags: AllocFlags) -> Fit {
        Fit::new(size, self.quantum, c, flags)
    }

    /// Allocates `size` bytes under placement constraints (libumem's
    /// `vmem_xalloc`). Pair with [`xfree`](Arena::xfree).
    ///
    /// ```
    /// # #[cfg(feature = "std")] { // `Arena::new` needs `std`
    /// use vmem_core::{AllocFlags, Arena, Constraints};
    /// let arena = Arena::new("dma", 0x1000, 0x100000, 0x1000).unwrap();
    /// let c = Constraints::new().align(0x4000).phase(0x1000).nocross(0x10000);
    /// let addr = arena.xalloc(0x2000, &c, AllocFlags::new()).unwrap();
    /// assert_eq!(addr % 0x4000, 0x1000);
    /// assert_eq!(addr / 0x10000, (addr + 0x2000 - 1) / 0x10000);
    /// arena.xfree(addr, 0x2000).unwrap();
    /// # }
    /// ```
    pub fn xalloc(
        &self,
        size: usize,
        constraints: &Constraints,
        flags: AllocFlags,
    ) -> Result<usize, Error> {
        let fit = Fit::validate(size, self.quantum, constraints, flags)
            .map_err(|reason| self.invalid("xalloc", reason))?;
        if size > usize::MAX - (self.quantum - 1) {
            return self.fail(self.no_room(size), flags);
        }
        if !fit.can_ever_fit() {
            // No address anywhere satisfies it: fail even a sleeping
            // request, which no free or added span could ever wake.
            let err = Error::NeverFits {
                arena: self.name,
                size,
                min: fit.min,
                max: fit.max,
            };
            return self.fail(err, flags);
        }
        if let Some(err) = self.injected_failure(size, flags) {
            return Err(err);
        }
        self.xalloc_unchecked(fit, flags)
    }

    fn injected_failure(&self, size: usize, flags: AllocFlags) -> Option<Error> {
        let mtbf = GLOBAL_MTBF.load(Ordering::Relaxed) | self.mtbf.load(Ordering::Relaxed);
        if mtbf == 0 || flags.get_wait() != Wait::NoSleep || flags.get_panic_on_failure() {
            return None;
        }
        let tick = self.mtbf_clock.fetch_add(1, Ordering::Relaxed);
        // A cheap deterministic scramble of the tick, so failures are spread
        // out like libumem's clock-based ones but repeatable in tests.
        let scrambled = tick.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17;
        if scrambled % u64::from(mtbf) == 0 {
            let mut state = self.state.lock();
            state.counters.fail += 1;
            return Some(Error::WouldBlock {
                arena: self.name,
                size,
            });
        }
        None
    }

    /// Finishes a successful allocation: drops the lock, then rescales the
    /// hash if the allocation pushed it out of its band.
    #[inline]
    fn done(&self, state: Guard<'_, State>, addr: usize) -> Result<usize, Error> {
        let rescale = state.hash.wants_rescale();
        drop(state);
        if rescale {
            self.rescale();
        }
        Ok(addr)
    }

    fn next_fit_alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        let deadline = deadline_for(flags);
        let mut state = self.state.lock();
        loop {
            state = match self.populate(state) {
                Ok(s) => s,
                Err(s) => {
                    drop(s);
                    return self.xalloc_unchecked(
                        self.fit(size, &Constraints::new(), flags.policy(Policy::InstantFit)),
                        flags,
                    );
                }
            };
            let mut releases = Releases::default();
            let found = state.next_fit(size, &mut releases);
            if found.is_some() || self.source.is_some() || flags.get_wait() == Wait::NoSleep {
                let rescale = state.hash.wants_rescale();
                drop(state);
                self.give_back(&releases);
                if rescale {
                    self.rescale();
                }
                return match found {
                    Some(addr) => Ok(addr),
                    // Nothing after a full circle: the constrained path
                    // imports or fails, as libumem does.
                    None => self.xalloc_unchecked(
                        self.fit(size, &Constraints::new(), flags.policy(Policy::InstantFit)),
                        flags,
                    ),
                };
            }
            if !releases.is_empty() {
                drop(state);
                self.give_back(&releases);
                state = self.state.lock();
            }
            state = match self.sleep(state, size, flags, deadline) {
                Ok(s) => s,
                Err(err) => return self.fail(err, flags),
            };
        }
    }

    /// The searching path: freelist search, then import, then reclaim, then
    /// wait or fail.
    fn xalloc_unchecked(&self, fit: Fit, flags: AllocFlags) -> Result<usize, Error> {
        let deadline = deadline_for(flags);
        let mut reclaimed = false;
        let mut state = self.state.lock();
        let mut exhausted = false;
        loop {
            state = match self.populate(state) {
                Ok(s) => s,
                Err(s) => {
                    drop(s);
                    return self.fail(Error::OutOfTags { arena: self.name }, flags);
                }
            };
            if let Some((seg, addr)) = state.search(&fit) {
                state.seg_alloc(seg, addr, fit.size);
                return self.done(state, addr);
            }
            if self.source.is_some() {
                match self.import(state, &fit, flags) {
                    (s, Ok(Some(addr))) => return self.done(s, addr),
                    (s, Ok(None)) => {
                        exhausted = true;
                        state = s;
                    }
                    (s, Err(err)) => {
                        drop(s);
                        return self.fail(err, flags);
                    }
                }
            }
            if !reclaimed {
                reclaimed = true;
                let hook = self.reclaim.lock().clone();
                if let Some(hook) = hook {
                    let free_before = state.counters.mem_total - state.counters.mem_inuse;
                    drop(state);
                    tracing::debug!(arena = %self.name, size = fit.size, "reclaim before failing");
                    hook.reclaim(self, fit.size);
                    state = self.state.lock();
                    if state.counters.mem_total - state.counters.mem_inuse > free_before {
                        continue;
                    }
                }
            }
            if flags.get_wait() == Wait::NoSleep {
                drop(state);
                let err = if exhausted {
                    Error::Exhausted {
                        arena: self.name,
                        size: fit.size,
                    }
                } else {
                    Error::WouldBlock {
                        arena: self.name,
                        size: fit.size,
                    }
                };
                return self.fail(err, flags);
            }
            state = match self.sleep(state, fit.size, flags, deadline) {
                Ok(s) => s,
                Err(err) => return self.fail(err, flags),
            };
            reclaimed = false;
        }
    }

    /// The error for a request that cannot fit: `Exhausted` when the arena
    /// has a source (which is out too), `WouldBlock` otherwise.
    fn no_room(&self, size: usize) -> Error {
        if self.source.is_some() {
            Error::Exhausted {
                arena: self.name,
                size,
            }
        } else {
            Error::WouldBlock {
                arena: self.name,
                size,
            }
        }
    }

    /// Counts a failure and returns it, or panics if the caller asked to.
    fn fail<T>(&self, err: Error, flags: AllocFlags) -> Result<T, Error> {
        self.state.lock().counters.fail += 1;
        if flags.get_panic_on_failure() {
            panic!("vmem: cannot satisfy mandatory allocation: {err}");
        }
        Err(err)
    }

    /// Waits for a free or an `add` (std), or reports that waiting is
    /// impossible.
    ///
    /// The arena lock is a spin lock, so sleepers wait elsewhere: on a
    /// condition variable guarding a wake-up generation. The generation is
    /// read while the arena lock is still held, and every waker bumps it
    /// while holding the arena lock, so a wake-up that happens between our
    /// dropping the arena lock and starting to wait is never lost.
    #[cfg(feature = "std")]
    fn sleep<'a>(
        &'a self,
        mut state: Guard<'a, State>,
        size: usize,
        flags: AllocFlags,
        deadline: Deadline,
    ) -> Result<Guard<'a, State>, Error> {
        use std::sync::PoisonError;
        let (lock, condvar) = &self.sleepers;
        let timed_out = |limit: std::time::Duration| Error::TimedOut {
            arena: self.name,
            size,
            waited_ms: limit.as_millis().min(u64::MAX as u128) as u64,
        };
        if let (Wait::SleepFor(limit), Some(deadline)) = (flags.get_wait(), deadline) {
            if std::time::Instant::now() >= deadline {
                return Err(timed_out(limit));
            }
        }
        state.counters.wait += 1;
        state.waiters += 1;
        self.sleeping.store(state.waiters, Ordering::Relaxed);
        let generation = *lock.lock().unwrap_or_else(PoisonError::into_inner);
        drop(state);
        // Now that the sleeper is visible, ask the reclaim hook once more:
        // ranges a cache took in before this point are given back now (and
        // any that reach it later see `has_sleepers`). A free that this
        // causes bumps the generation, so the wait below ends at once.
        let hook = self.reclaim.lock().clone();
        if let Some(hook) = hook {
            hook.reclaim(self, size);
        }
        let mut current = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while *current == generation {
            current = match (flags.get_wait(), deadline) {
                (Wait::SleepFor(_), Some(deadline)) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
                    condvar
                        .wait_timeout(current, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                _ => condvar
                    .wait(current)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
        drop(current);
        let mut state = self.state.lock();
        state.waiters -= 1;
        self.sleeping.store(state.waiters, Ordering::Relaxed);
        Ok(state)
    }

    #[cfg(not(feature = "std"))]
    fn sleep<'a>(
        &'a self,
        _state: Guard<'a, State>,
        size: usize,
        _flags: AllocFlags,
        _deadline: Deadline,
    ) -> Result<Guard<'a, State>, Error> {
        Err(Error::WouldBlock {
            arena: self.name,
            size,
        })
    }

    /// Wakes sleeping allocations after something was freed or added. Call
    /// with the arena lock held (see [`Arena::sleep`]).
    #[inline]
    fn wake(&self, state: &State) {
        #[cfg(feature = "std")]
        if state.waiters != 0 {
            self.wake_all();
        }
        #[cfg(not(feature = "std"))]
        let _ = state;
    }

    #[cfg(feature = "std")]
    #[cold]
    fn wake_all(&self) {
        let (lock, condvar) = &self.sleepers;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        condvar.notify_all();
    }

    /// Imports a span big enough for `fit` and allocates from it. Returns
    /// `Ok(None)` when the source (or the import limit) refused.
    fn import<'a>(
        &'a self,
        state: Guard<'a, State>,
        fit: &Fit,
        flags: AllocFlags,
    ) -> (Guard<'a, State>, Result<Option<usize>, Error>) {
        let source = self.source.as_ref().expect("caller checked for a source");
        // libumem's import size: room for the phase, rounded to the larger
        // of the alignment and the import quantum. A nocross request asks
        // the source for a span aligned to the boundary, so the request sits
        // at `phase` from the span's start without crossing (the
        // over-constrained check guarantees it fits in one nocross block).
        let unit = fit.align.max(self.import_quantum);
        let import_align = fit.align.max(fit.nocross).max(self.quantum);
        let Some(asize) = fit
            .size
            .checked_add(fit.phase)
            .map(|n| round_up(n, unit))
            .filter(|&n| n >= fit.size)
        else {
            return (state, Ok(None));
        };
        if state.import_limit != 0
            && state.counters.mem_import.saturating_add(asize) > state.import_limit
        {
            tracing::debug!(arena = %self.name, asize, limit = state.import_limit, "import refused by limit");
            return (state, Ok(None));
        }
        drop(state);
        let imported = source.import(asize, import_align, flags.get_wait());
        tracing::debug!(arena = %self.name, asize, ?imported, "import");
        let mut state = self.state.lock();
        let Some((start, size)) = imported else {
            return (state, Ok(None));
        };
        let q = self.quantum;
        if size < asize
            || (start | size) & (q - 1) != 0
            || start & (import_align - 1) != 0
            || start.checked_add(size).is_none()
        {
            drop(state);
            tracing::warn!(arena = %self.name, start, size, asize, import_align, "source returned an unusable span; giving it back");
            source.release(start, size);
            return (self.state.lock(), Ok(None));
        }
        state = match self.populate(state) {
            Ok(s) => s,
            Err(s) => {
                drop(s);
                source.release(start, size);
                return (
                    self.state.lock(),
                    Err(Error::OutOfTags { arena: self.name }),
                );
            }
        };
        let seg = state.span_create(start, size, true);
        // Place the request exactly as libumem does: at `phase` past the
        // alignment from the start of the new span (adjusted for nocross and
        // the window, which libumem never imports for).
        let one = Fit {
            policy: Policy::FirstFit,
            ..*fit
        };
        let Some(addr) = state.fit_in(seg, &one) else {
            let mut releases = Releases::default();
            releases.push(state.discard_fresh_span(seg));
            drop(state);
            self.give_back(&releases);
            return (self.state.lock(), Ok(None));
        };
        state.seg_alloc(seg, addr, fit.size);
        (state, Ok(Some(addr)))
    }

    fn give_back(&self, releases: &Releases) {
        if let Some(source) = &self.source {
            for (start, size) in releases.iter() {
                tracing::debug!(arena = %self.name, start, size, "release span to source");
                source.release(start, size);
            }
        }
    }

    // ----- free -------------------------------------------------------------------

    /// Frees `[addr, addr + size)`; `size` must be the size allocated. A bad
    /// free is reported and changes nothing.
    pub fn free(&self, addr: usize, size: usize) -> Result<(), Error> {
        let mut state = self.state.lock();
        let release = match state.free(addr, size) {
            Ok(release) => release,
            Err(bad) => {
                drop(state);
                return Err(self.bad_free(bad, addr, size));
            }
        };
        self.trim_reserve(&mut state);
        self.wake(&state);
        let rescale = state.hash.wants_rescale();
        drop(state);
        if let (Some((start, len)), Some(source)) = (release, &self.source) {
            tracing::debug!(arena = %self.name, start, size = len, "release span to source");
            source.release(start, len);
        }
        if rescale {
            self.rescale();
        }
        Ok(())
    }

    /// Frees a constrained allocation. In this layer it is the same as
    /// [`free`](Arena::free); the quantum-cached arena of `vmem-slab` is where
    /// the two differ, as they do in libumem.
    pub fn xfree(&self, addr: usize, size: usize) -> Result<(), Error> {
        self.free(addr, size)
    }

    fn bad_free(&self, bad: BadFree, addr: usize, size: usize) -> Error {
        match bad {
            BadFree::NotAllocated => Error::NotAllocated {
                arena: self.name,
                addr,
                size,
            },
            BadFree::WrongSize(expected) => Error::WrongSize {
                arena: self.name,
                addr,
                size,
                expected,
            },
        }
    }

    // ----- spans ------------------------------------------------------------------

    fn check_range(&self, call: &'static str, base: usize, size: usize) -> Result<(), Error> {
        let q = self.quantum;
        if size == 0 {
            return Err(self.invalid(call, InvalidReason::ZeroSize));
        }
        if base.checked_add(size).is_none() {
            return Err(self.invalid(call, InvalidReason::Wraps { base, size }));
        }
        for (what, value) in [("base", base), ("size", size)] {
            if value & (q - 1) != 0 {
                return Err(self.invalid(
                    call,
                    InvalidReason::NotQuantumMultiple {
                        what,
                        value,
                        quantum: q,
                    },
                ));
            }
        }
        Ok(())
    }

    fn overlap(&self, state: &State, base: usize, size: usize) -> Result<(), Error> {
        match state.overlapping_span(base, size) {
            Some(span) => Err(Error::OverlappingSpan {
                arena: self.name,
                base,
                size,
                existing_start: span.start(),
                existing_end: span.end(),
            }),
            None => Ok(()),
        }
    }

    /// Adds the span `[base, base + size)` (libumem's `vmem_add`). Added spans
    /// are never given back to a source.
    pub fn add(&self, base: usize, size: usize) -> Result<(), Error> {
        self.check_range("add", base, size)?;
        let state = self.state.lock();
        let mut state = self
            .populate(state)
            .map_err(|_| Error::OutOfTags { arena: self.name })?;
        self.overlap(&state, base, size)?;
        state.span_create(base, size, false);
        self.wake(&state);
        Ok(())
    }

    /// Adds `[base, base + size)` and allocates `alloc` bytes from the start
    /// of the free segment that now covers it, in one step (libumem's
    /// `_vmem_extend_alloc`). When the new range touches an existing span, the
    /// span grows (or two spans merge) instead of a new one being created.
    pub fn extend_alloc(&self, base: usize, size: usize, alloc: usize) -> Result<usize, Error> {
        self.check_range("extend_alloc", base, size)?;
        if alloc == 0 {
            return Err(self.invalid("extend_alloc", InvalidReason::ZeroSize));
        }
        if alloc > size {
            return Err(self.invalid(
                "extend_alloc",
                InvalidReason::AllocExceedsExtension { alloc, size },
            ));
        }
        if alloc & (self.quantum - 1) != 0 {
            return Err(self.invalid(
                "extend_alloc",
                InvalidReason::NotQuantumMultiple {
                    what: "alloc",
                    value: alloc,
                    quantum: self.quantum,
                },
            ));
        }
        let state = self.state.lock();
        let mut state = self
            .populate(state)
            .map_err(|_| Error::OutOfTags { arena: self.name })?;
        self.overlap(&state, base, size)?;
        let seg = if state.has_source {
            state.span_create(base, size, false)
        } else {
            state.extend(base, base + size)
        };
        let addr = seg.start();
        state.seg_alloc(seg, addr, alloc);
        self.wake(&state);
        Ok(addr)
    }

    // ----- inspection -----------------------------------------------------------------

    /// Whether `[addr, addr + size)` lies inside one span of the arena.
    pub fn contains(&self, addr: usize, size: usize) -> bool {
        let mut state = self.state.lock();
        state.counters.contains += 1;
        state.containing_span(addr, size).is_some()
    }

    /// Bytes in segments of the given types: [`SegmentTypes::ALLOC`] is in use,
    /// [`SegmentTypes::FREE`] is free, both together the arena's total.
    pub fn size(&self, types: SegmentTypes) -> usize {
        let state = self.state.lock();
        let mut size = 0;
        if types.contains(SegmentTypes::ALLOC) {
            size += state.counters.mem_inuse;
        }
        if types.contains(SegmentTypes::FREE) {
            size += state.counters.mem_total - state.counters.mem_inuse;
        }
        size
    }

    /// Size of the largest free segment (FreeBSD's `VMEM_MAXFREE`, exact).
    pub fn max_free(&self) -> usize {
        self.state.lock().max_free()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let state = self.state.lock();
        let c = state.counters;
        Stats {
            mem_inuse: c.mem_inuse,
            mem_import: c.mem_import,
            mem_total: c.mem_total,
            alloc: c.alloc,
            free: c.free,
            wait: c.wait,
            fail: c.fail,
            lookup: c.lookup,
            search: c.search,
            populate_fail: c.populate_fail,
            contains: c.contains,
            contains_search: c.contains_search,
            imports: c.imports,
            releases: c.releases,
            rescales: c.rescales,
            segments_allocated: state.hash.live,
            tags_in_use: state.tags_in_use,
            tags_reserved: state.reserve.len,
            tag_size: crate::segment::TAG_SIZE,
            hash_buckets: state.hash.buckets(),
        }
    }

    // ----- settings ---------------------------------------------------------------------

    /// Caps the bytes the arena may import from its source (FreeBSD's
    /// `vmem_set_limit`); 0 removes the cap.
    pub fn set_limit(&self, limit: usize) {
        self.state.lock().import_limit = limit;
    }

    /// Installs (or with `None` removes) the hook called before an
    /// allocation fails (FreeBSD's `vmem_set_reclaim`).
    pub fn set_reclaim(&self, hook: Option<Shared<dyn Reclaim>>) {
        *self.reclaim.lock() = hook;
    }

    /// Fault injection: on average one in `mtbf` no-sleep allocations of this
    /// arena fails (libumem's `vm_mtbf`); 0 turns it off.
    pub fn set_mtbf(&self, mtbf: u32) {
        self.mtbf.store(mtbf, Ordering::Relaxed);
    }

    // ----- maintenance -------------------------------------------------------------------

    /// Periodic maintenance (libumem's `vmem_update` for one arena): rescales
    /// the hash table if needed and wakes sleepers so they retry. The arena
    /// also rescales on its own, so calling this is optional.
    pub fn update(&self) {
        self.rescale();
        let state = self.state.lock();
        self.wake(&state);
        drop(state);
    }

    /// Rebuilds the hash table at libumem's target size, if the live count
    /// has left the hysteresis band. The new table is obtained with the lock
    /// dropped; only one thread rescales at a time.
    fn rescale(&self) {
        let pages = self.pool.page_source();
        let target = {
            let mut state = self.state.lock();
            if state.rescaling || !state.hash.wants_rescale() {
                return;
            }
            state.rescaling = true;
            AllocHash::target_buckets(state.hash.live)
        };
        let table = if target > HASH_INITIAL {
            match Table::alloc(pages, target) {
                Some(t) => Some(t),
                None => {
                    self.state.lock().rescaling = false;
                    tracing::warn!(arena = %self.name, target, "hash rescale skipped: no memory for the table");
                    return;
                }
            }
        } else {
            None
        };
        let mut state = self.state.lock();
        let from = state.hash.buckets();
        let shift = state.quantum_shift;
        let old = state.hash.install(table, shift);
        state.rescaling = false;
        state.counters.rescales += 1;
        let live = state.hash.live;
        drop(state);
        tracing::debug!(arena = %self.name, from, to = target, live, "hash rescaled");
        if let Some(old) = old {
            old.free(pages);
        }
    }

    /// Destroys the arena, returning the bytes still allocated (leaked). A
    /// leak is also reported as a `tracing` warning. Every imported span
    /// that holds no allocation goes back to the source (also one that the
    /// next-fit rotor kept in two free pieces); spans that still hold
    /// allocations are not given back, since the arena cannot know whether
    /// those addresses are still in use.
    pub fn destroy(self) -> usize {
        self.state.lock().counters.mem_inuse
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if let Some(source) = &self.source {
            // One span at a time, each given back with the lock dropped.
            loop {
                let release = self.state.lock().take_free_span();
                let Some((start, size)) = release else { break };
                tracing::debug!(arena = %self.name, start, size, "destroy: release span to source");
                source.release(start, size);
            }
        }
        let mut state = self.state.lock();
        let leaked = state.counters.mem_inuse;
        if leaked != 0 {
            tracing::warn!(arena = %self.name, leaked, "arena destroyed with allocations outstanding");
        }
        let old = state.hash.take_table();
        let mut tags = TagChain::default();
        state.drain_tags(&mut tags);
        drop(state);
        let n = tags.len;
        self.pool.give(&mut tags, n);
        if let Some(old) = old {
            old.free(self.pool.page_source());
        }
    }
}

impl Source for Arena {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        let flags = AllocFlags::new().wait(wait);
        let addr = if align <= self.quantum {
            self.alloc(size, flags)
        } else {
            self.xalloc(size, &Constraints::new().align(align), flags)
        };
        addr.ok().map(|addr| (addr, size))
    }

    fn release(&self, start: usize, size: usize) {
        if let Err(err) = self.free(start, size) {
            panic!("vmem: a child arena released a span its source never gave: {err}");
        }
    }

    fn quantum(&self) -> usize {
        self.quantum
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_round_trip_keeps_invariants() {
        let arena = Arena::new("unit", 0x1000, 0x10000, 0x100).unwrap();
        let mut live = alloc::vec::Vec::new();
        for (i, size) in [0x100, 0x300, 0x80, 0x1000, 0x200].into_iter().enumerate() {
            let policy = [
                Policy::InstantFit,
                Policy::BestFit,
                Policy::FirstFit,
                Policy::NextFit,
            ][i % 4];
            live.push((arena.alloc(size, policy.into()).unwrap(), size));
            arena.check().unwrap();
        }
        for (addr, size) in live {
            arena.free(addr, size).unwrap();
            arena.check().unwrap();
        }
        assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
        assert_eq!(arena.size(SegmentTypes::FREE), 0x10000);
        // The next-fit rotor still separates two free segments, as in libumem.
        assert!(arena.max_free() < 0x10000);
    }
}
