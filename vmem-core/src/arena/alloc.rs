//! Allocation: the instant-fit fast path, the slow path with its argument
//! checks, next-fit, `xalloc`, and the searching path every request falls
//! back to (freelist search, import, reclaim, then wait or fail). See
//! design.md §4 and §5.

use crate::error::{Error, InvalidReason, NeverFits};
use crate::log::debug;
use crate::policy::{AllocFlags, Constraints, Fit, Policy};
use crate::sync::Guard;

use super::reserve::RESERVE_LOW;
use super::state::{Releases, State};
use super::wait::deadline_for;
use super::Arena;

impl Arena {
    /// Allocates `size` bytes (rounded up to the quantum for placement; the
    /// segment records `size` itself, and must be freed with it).
    ///
    /// ```
    /// use vmem_core::{AllocFlags, Arena, Policy};
    /// let arena = Arena::new("demo", 0x1000, 0x10000, 0x1000).unwrap();
    /// let a = arena.alloc(0x2000, AllocFlags::new()).unwrap();
    /// let b = arena.alloc(0x1000, Policy::BestFit.into()).unwrap();
    /// assert_ne!(a, b);
    /// arena.free(a, 0x2000).unwrap();
    /// arena.free(b, 0x1000).unwrap();
    /// ```
    #[inline(always)]
    pub fn alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        // Only the choice of path is inlined into the caller: instant-fit
        // or next-fit with a sane size and no fault injection, each to its
        // quick path, or everything else. As one function holding the
        // instant-fit path, this was not inlined, and every other policy
        // paid for its frame on the way to `alloc_slow`. With the flags
        // known at compile time, as they usually are in Rust, only one of
        // the three calls is left.
        if flags.is_plain_instant_fit() && self.fast_path_takes(size) {
            return self.instant_fit_alloc(size, flags);
        }
        if flags.is_next_fit() && self.fast_path_takes(size) {
            return self.next_fit_fast(size, flags);
        }
        self.alloc_slow(size, flags)
    }

    /// An instant-fit allocation from the low end, made only if it can be
    /// made at once: the head of a freelist whose members all fit, taken
    /// with the lock held once. `None`, having changed nothing, where
    /// [`alloc`](Arena::alloc) would have more to do (refill its spare
    /// tags, search a list whose members may not fit, import, wait or
    /// fail), for a size `alloc` refuses, and while failures are injected:
    /// call `alloc` then. Where it allocates, it gives the address `alloc`
    /// would have.
    ///
    /// It lets a caller leave everything but the size off its common path,
    /// as `vmem_alloc` does with the request's flags.
    ///
    /// ```
    /// use vmem_core::{AllocFlags, Arena};
    /// let arena = Arena::new("ids", 0x1000, 0x2000, 0x1000).unwrap();
    /// let a = arena.try_instant_fit(0x1000).unwrap();
    /// // The one free page is on a list whose members all fit.
    /// let b = arena.try_instant_fit(0x1000).unwrap();
    /// assert_ne!(a, b);
    /// // Nothing is left: only `alloc` can fail, or sleep.
    /// assert_eq!(arena.try_instant_fit(0x1000), None);
    /// assert!(arena.alloc(0x1000, AllocFlags::new()).is_err());
    /// ```
    #[inline(always)]
    pub fn try_instant_fit(&self, size: usize) -> Option<usize> {
        if self.fast_path_takes(size) {
            self.instant_fit_quick(size).ok()
        } else {
            None
        }
    }

    /// Whether a request of `size` may take the instant-fit fast path: a
    /// size that neither is zero nor wraps when rounded to the quantum,
    /// and no fault injection.
    #[inline(always)]
    fn fast_path_takes(&self, size: usize) -> bool {
        size.wrapping_sub(1) < usize::MAX - (self.quantum - 1) && !self.mtbf_armed()
    }

    /// Instant-fit: the head of the right freelist, or the searching path
    /// when no list is certain to fit (where libumem calls `vmem_xalloc`).
    #[inline(always)]
    fn instant_fit_alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        // As in `free`: the common case returns in registers, and only a
        // miss, out of line, can build an error.
        match self.instant_fit_quick(size) {
            Ok(addr) => Ok(addr),
            Err(missed) => self.instant_fit_missed(size, flags, missed),
        }
    }

    /// The head of the right freelist, with the lock held once; what kept
    /// it from allocating, otherwise, having changed nothing.
    ///
    /// Inlined, with everything it calls on its way (design.md §4.1), into
    /// [`alloc`](Arena::alloc)'s and
    /// [`try_instant_fit`](Arena::try_instant_fit)'s callers, so that an
    /// out-of-line entry point such as `vmem_alloc` makes no call on its
    /// common path.
    #[inline(always)]
    fn instant_fit_quick(&self, size: usize) -> Result<usize, InstantMiss> {
        let mut state = self.state.lock();
        if state.reserve.len < RESERVE_LOW {
            return Err(InstantMiss::LowReserve);
        }
        match state.instant_fit(size) {
            Some(addr) => {
                self.unlock_after_alloc(state);
                Ok(addr)
            }
            None => Err(InstantMiss::NoCertainFit),
        }
    }

    /// An instant-fit allocation that the quick path could not make.
    #[cold]
    #[inline(never)]
    fn instant_fit_missed(
        &self,
        size: usize,
        flags: AllocFlags,
        missed: InstantMiss,
    ) -> Result<usize, Error> {
        if missed == InstantMiss::LowReserve {
            let state = self.state.lock();
            match self.refill(state) {
                Ok(mut state) => {
                    if let Some(addr) = state.instant_fit(size) {
                        return self.done(state, addr);
                    }
                }
                // No tags: the searching path reports it.
                Err(state) => drop(state),
            }
        }
        self.xalloc_unchecked(&self.fit(size, &Constraints::new(), flags), flags)
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
            _ => self.xalloc_unchecked(&self.fit(size, &Constraints::new(), flags), flags),
        }
    }

    /// The placement arithmetic for a request of `size` under `c`.
    pub(super) fn fit(&self, size: usize, c: &Constraints, flags: AllocFlags) -> Fit {
        Fit::new(size, self.quantum, c, flags)
    }

    /// Allocates `size` bytes under placement constraints (libumem's
    /// `vmem_xalloc`). Pair with [`xfree`](Arena::xfree).
    ///
    /// ```
    /// use vmem_core::{AllocFlags, Arena, Constraints};
    /// let arena = Arena::new("dma", 0x1000, 0x100000, 0x1000).unwrap();
    /// let c = Constraints::new().align(0x4000).phase(0x1000).nocross(0x10000);
    /// let addr = arena.xalloc(0x2000, &c, AllocFlags::new()).unwrap();
    /// assert_eq!(addr % 0x4000, 0x1000);
    /// assert_eq!(addr / 0x10000, (addr + 0x2000 - 1) / 0x10000);
    /// arena.xfree(addr, 0x2000).unwrap();
    /// ```
    #[inline(always)]
    pub fn xalloc(
        &self,
        size: usize,
        constraints: &Constraints,
        flags: AllocFlags,
    ) -> Result<usize, Error> {
        // The `Fit` is built here, in the caller. A caller such as
        // `vmem_xalloc` builds its `Constraints` on the stack just before
        // the call, one 8-byte store per field; read behind the call, the
        // compiler copied two adjacent fields into the `Fit` with one
        // 16-byte load, which the CPU cannot forward from two pending
        // stores, and the load waited for both to reach the cache: a tenth
        // of a constrained best-fit pair. Inlined, the fields go from the
        // caller's registers into the `Fit` directly.
        let fit = self.fit(size, constraints, flags);
        // A first try, inlined as well, that yields its result in
        // registers: a `Result` holding an `Error` is too large for them,
        // and the caller reserved room for it, wrote it and read it back on
        // every call (as for `free`). Only a miss leaves the caller.
        match self.xalloc_quick(&fit) {
            Ok(addr) => Ok(addr),
            Err(miss) => self.xalloc_missed(&fit, flags, miss),
        }
    }

    /// The first search of [`xalloc`](Arena::xalloc) for a valid request,
    /// with the lock held once; what kept it from allocating otherwise,
    /// having changed nothing but the search count.
    ///
    /// Inlined into `xalloc`'s callers (a handful: the C API, the quantum
    /// caches' slab imports, imports from a parent arena): out of line,
    /// it saved six registers and reloaded the `Fit` its caller had just
    /// stored. Inlined, a constrained best-fit pair at 10^6 live segments
    /// took 483 instructions instead of 503 and 19.4 to 20.4 ns instead
    /// of 20.7 to 21.3 (docs/performance.md, 2026-12-04).
    #[inline(always)]
    fn xalloc_quick(&self, fit: &Fit) -> Result<usize, XallocMiss> {
        if fit.check(self.quantum).is_err()
            || fit.size > usize::MAX - (self.quantum - 1)
            || self.mtbf_armed()
        {
            return Err(XallocMiss::NotTried);
        }
        let mut state = self.state.lock();
        if state.reserve.len < RESERVE_LOW {
            return Err(XallocMiss::NotTried);
        }
        match state.alloc_searched(fit) {
            Some(addr) => {
                self.unlock_after_alloc(state);
                Ok(addr)
            }
            None => Err(XallocMiss::NotFound),
        }
    }

    /// A constrained allocation that the quick path did not make: the
    /// whole path, or, after a search that found nothing, the rest of it
    /// (which searches again, as the whole path's second search would).
    #[cold]
    #[inline(never)]
    fn xalloc_missed(
        &self,
        fit: &Fit,
        flags: AllocFlags,
        miss: XallocMiss,
    ) -> Result<usize, Error> {
        match miss {
            XallocMiss::NotTried => self.xalloc_fit(fit, flags),
            XallocMiss::NotFound => self.xalloc_search(self.state.lock(), fit, flags),
        }
    }

    /// [`xalloc`](Arena::xalloc) from its placement arithmetic.
    #[inline(never)]
    fn xalloc_fit(&self, fit: &Fit, flags: AllocFlags) -> Result<usize, Error> {
        // Checked by reference: copying a freshly built `Fit` (into a
        // `Result`, or by value into a call) made the CPU reload it before
        // its stores had landed, the same stall as above.
        if let Err(reason) = fit.check(self.quantum) {
            return Err(self.invalid("xalloc", reason));
        }
        if fit.size > usize::MAX - (self.quantum - 1) {
            return self.fail(self.no_room(fit.size), flags);
        }
        if self.mtbf_armed() {
            return self.xalloc_injecting(fit, flags);
        }
        // Whether the request can fit anywhere at all is asked only once
        // the first search has failed (`xalloc_search`): a request that
        // found a segment obviously could.
        self.xalloc_unchecked(fit, flags)
    }

    /// `xalloc` with fault injection on: a request that can never fit
    /// fails as such before a failure is injected.
    #[cold]
    #[inline(never)]
    fn xalloc_injecting(&self, fit: &Fit, flags: AllocFlags) -> Result<usize, Error> {
        if !fit.can_ever_fit() {
            return self.fail(self.never_fits(fit), flags);
        }
        if let Some(err) = self.injected_failure(fit.size, flags) {
            return Err(err);
        }
        self.xalloc_unchecked(fit, flags)
    }

    /// The error for a request that no address satisfies: no free or added
    /// span could ever wake it, so even a sleeping request fails.
    #[cold]
    fn never_fits(&self, fit: &Fit) -> Error {
        Error::from(NeverFits {
            arena: self.name,
            size: fit.size,
            min: fit.min,
            max: fit.max,
        })
    }

    /// Finishes a successful allocation: drops the lock, then rescales the
    /// hash if the allocation pushed it out of its band.
    #[inline]
    pub(super) fn done(&self, state: Guard<'_, State>, addr: usize) -> Result<usize, Error> {
        self.unlock_after_alloc(state);
        Ok(addr)
    }

    /// Drops the lock after an allocation, then rescales the hash if the
    /// allocation pushed it out of its band.
    #[inline(always)]
    fn unlock_after_alloc(&self, state: Guard<'_, State>) {
        let rescale = state.hash.wants_rescale();
        drop(state);
        if rescale {
            self.rescale();
        }
    }

    /// Next-fit, tried first with the lock held once (as instant-fit is):
    /// the common case returns in registers, and only a miss, out of line,
    /// can build an error.
    #[inline(always)]
    fn next_fit_fast(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        match self.next_fit_quick(size) {
            Ok(addr) => Ok(addr),
            Err(missed) => self.next_fit_missed(size, flags, missed),
        }
    }

    /// One next-fit search with a full reserve, under one hold of the
    /// lock: the address found, or why there is none. A search that went
    /// full circle has moved the rotor and given back any span it freed,
    /// as a search on the whole path does; a low reserve changes nothing.
    #[inline(never)]
    fn next_fit_quick(&self, size: usize) -> Result<usize, NextMiss> {
        let mut state = self.state.lock();
        if state.reserve.len < RESERVE_LOW {
            return Err(NextMiss::LowReserve);
        }
        let mut releases = Releases::default();
        let found = state.next_fit(size, &mut releases);
        self.unlock_after_next_fit(state, &releases);
        found.ok_or(NextMiss::FullCircle)
    }

    /// Drops the lock after a next-fit search, then gives back the spans
    /// the rotor's move freed and rescales the hash if it asked to.
    #[inline(always)]
    fn unlock_after_next_fit(&self, state: Guard<'_, State>, releases: &Releases) {
        let rescale = state.hash.wants_rescale();
        drop(state);
        if !releases.is_empty() {
            self.give_back(releases);
        }
        if rescale {
            self.rescale();
        }
    }

    /// Whether a next-fit search that finds nothing goes on at once to
    /// [`next_fit_elsewhere`](Arena::next_fit_elsewhere) rather than
    /// waiting for a free: an arena that can import, or a request that may
    /// not sleep.
    #[inline]
    fn next_fit_never_waits(&self, flags: AllocFlags) -> bool {
        self.source.is_some() || flags.is_nosleep()
    }

    /// Where next-fit goes when its own search cannot allocate: the
    /// constrained path under instant-fit, which imports or fails, as
    /// libumem does.
    fn next_fit_elsewhere(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        self.xalloc_unchecked(
            &self.fit(size, &Constraints::new(), flags.policy(Policy::InstantFit)),
            flags,
        )
    }

    /// A next-fit allocation that the quick path could not make.
    #[cold]
    #[inline(never)]
    fn next_fit_missed(
        &self,
        size: usize,
        flags: AllocFlags,
        missed: NextMiss,
    ) -> Result<usize, Error> {
        if missed == NextMiss::FullCircle && self.next_fit_never_waits(flags) {
            // What the whole path does after a search that found nothing.
            return self.next_fit_elsewhere(size, flags);
        }
        // A refill, or a request that may sleep: the whole path, which
        // searches again with the lock held until it sleeps, so that no
        // free can slip in between its search and its sleep unseen.
        self.next_fit_alloc(size, flags)
    }

    fn next_fit_alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Error> {
        let deadline = deadline_for(flags);
        let mut state = self.state.lock();
        loop {
            state = match self.populate(state) {
                Ok(s) => s,
                Err(s) => {
                    drop(s);
                    return self.next_fit_elsewhere(size, flags);
                }
            };
            let mut releases = Releases::default();
            let found = state.next_fit(size, &mut releases);
            if found.is_some() || self.next_fit_never_waits(flags) {
                self.unlock_after_next_fit(state, &releases);
                return match found {
                    Some(addr) => Ok(addr),
                    // Nothing after a full circle.
                    None => self.next_fit_elsewhere(size, flags),
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
    ///
    /// The first search, with the reserve already full, is all most calls
    /// need, so it is kept apart from the loop: with the loop in the same
    /// function the compiler set up the loop's state (deadline, retry
    /// flags, values derived from `fit`) on entry and spilled it to the
    /// stack, some twenty stores on every call.
    #[inline(always)]
    fn xalloc_unchecked(&self, fit: &Fit, flags: AllocFlags) -> Result<usize, Error> {
        let mut state = self.state.lock();
        if state.reserve.len >= RESERVE_LOW {
            if let Some(addr) = state.alloc_searched(fit) {
                return self.done(state, addr);
            }
        }
        self.xalloc_search(state, fit, flags)
    }

    /// [`xalloc_unchecked`](Arena::xalloc_unchecked) beyond its first
    /// search: refill the reserve, search, import, reclaim, then wait or
    /// fail, until one succeeds.
    #[inline(never)]
    fn xalloc_search<'a>(
        &'a self,
        mut state: Guard<'a, State>,
        fit: &Fit,
        flags: AllocFlags,
    ) -> Result<usize, Error> {
        if !fit.can_ever_fit() {
            drop(state);
            return self.fail(self.never_fits(fit), flags);
        }
        let deadline = deadline_for(flags);
        let mut reclaimed = false;
        let mut exhausted = false;
        loop {
            state = match self.populate(state) {
                Ok(s) => s,
                Err(s) => {
                    drop(s);
                    return self.fail(Error::OutOfTags { arena: self.name }, flags);
                }
            };
            if let Some(addr) = state.alloc_searched(fit) {
                return self.done(state, addr);
            }
            if self.source.is_some() {
                match self.import(state, fit, flags) {
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
                    debug!(arena = %self.name, size = fit.size, "reclaim before failing");
                    hook.reclaim(self, fit.size);
                    state = self.state.lock();
                    if state.counters.mem_total - state.counters.mem_inuse > free_before {
                        continue;
                    }
                }
            }
            if flags.is_nosleep() {
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
    pub(super) fn fail<T>(&self, err: Error, flags: AllocFlags) -> Result<T, Error> {
        self.state.lock().counters.fail += 1;
        if flags.get_panic_on_failure() {
            panic!("vmem: cannot satisfy mandatory allocation: {err}");
        }
        Err(err)
    }
}

/// Why the constrained quick path declined (see [`Arena::xalloc_quick`]);
/// a word, as [`InstantMiss`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
enum XallocMiss {
    /// Not searched: an invalid request, one too large to round, fault
    /// injection on, or too few spare tags. The whole path sorts it out.
    NotTried,
    /// Searched, with a full reserve, and nothing fits now.
    NotFound,
}

/// Why the next-fit quick path did not allocate (see
/// [`Arena::next_fit_fast`]); a word, as [`InstantMiss`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
enum NextMiss {
    /// Too few spare tags to split a segment: nothing was searched.
    LowReserve,
    /// The search went full circle and found nothing that fits.
    FullCircle,
}

/// Why the instant-fit quick path declined (see
/// [`Arena::instant_fit_alloc`]). A word, like the address of the other
/// outcome, so that the `Result` is a pair of words and comes back in two
/// registers (a one-byte enum made it go through memory).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
enum InstantMiss {
    /// Too few spare tags to split a segment: refill, then try again.
    LowReserve,
    /// No freelist is certain to hold a fit: search the one that might.
    NoCertainFit,
}
