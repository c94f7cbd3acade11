//! [`Arena`]: the public face of the allocator. This file holds the arena
//! itself, its construction, frees, spans, inspection, settings and
//! maintenance (the hash rescale, destruction). The other jobs have a file
//! each: `alloc.rs` (allocation paths), `reserve.rs` (the tag reserve),
//! `wait.rs` (sleeping and waking), `import.rs` (import, release and the
//! `Source` impl), `mtbf.rs` (fault injection), `lockup.rs` (taking every
//! lock for a fork), `walk.rs`, `check.rs`, and
//! `state.rs`, the placement algorithms that run under the lock.

mod alloc;
mod builder;
mod check;
mod import;
mod lockup;
mod mtbf;
mod reserve;
mod state;
mod wait;
mod walk;

pub use builder::ArenaBuilder;
pub use check::CheckError;
pub use lockup::Lockup;
pub use mtbf::set_global_mtbf;
pub use walk::{Segment, SegmentKind, SegmentTypes};

use crate::bits::is_power_of_two;
use crate::error::{
    Error, InvalidArgument, InvalidReason, NotAllocated, OverlappingSpan, WrongSize,
};
use crate::hash::{AllocHash, Table, HASH_INITIAL};
use crate::log::{debug, warning};
use crate::name::ArenaName;
use crate::pool::{TagChain, TagPool};
use crate::source::{Reclaim, Shared, Source};
use crate::stats::Stats;
use crate::sync::Lock;
use mtbf::FaultInjection;
use reserve::{RESERVE_LOW, RESERVE_REFILL, SEGS_PER_ARENA};
use state::{BadFree, State};
use wait::Sleepers;

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
    faults: FaultInjection,
    state: Lock<State>,
    /// Where sleeping allocations wait (see `wait.rs`).
    sleepers: Sleepers,
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
            return Err(Error::from(InvalidArgument {
                arena: name,
                call: "create",
                reason: InvalidReason::BadQuantum { quantum },
            }));
        }
        let mut tags = TagChain::default();
        while tags.len < RESERVE_LOW + SEGS_PER_ARENA {
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
            faults: FaultInjection::default(),
            state: Lock::new(State::new(tags, quantum, has_source)),
            sleepers: Sleepers::default(),
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
        Error::from(InvalidArgument {
            arena: self.name,
            call,
            reason,
        })
    }
    // ----- free -------------------------------------------------------------------

    /// Frees `[addr, addr + size)`; `size` must be the size allocated. A bad
    /// free is reported and changes nothing.
    #[inline]
    pub fn free(&self, addr: usize, size: usize) -> Result<(), Error> {
        // The error is built in the caller, out of line, so that the call
        // below returns its verdict in registers: a `Result` holding an
        // `Error` is too large for them and went through memory, written
        // by the callee and read back by the caller, on every free.
        match self.free_segment(addr, size) {
            Ok(()) => Ok(()),
            Err(bad) => Err(self.bad_free(bad, addr, size)),
        }
    }

    /// [`free`](Arena::free) short of building its error. Inlined into
    /// `free`'s callers, as the instant-fit quick path is into `alloc`'s
    /// (design.md §4.1), so that an out-of-line entry point such as
    /// `vmem_free` holds the whole free in one frame.
    #[inline(always)]
    fn free_segment(&self, addr: usize, size: usize) -> Result<(), BadFree> {
        let mut state = self.state.lock();
        let release = match state.free(addr, size) {
            Ok(release) => release,
            Err(bad) => {
                drop(state);
                return Err(bad);
            }
        };
        self.trim_reserve(&mut state);
        self.wake(&state);
        let rescale = state.hash.wants_rescale();
        drop(state);
        if let (Some((start, len)), Some(source)) = (release, &self.source) {
            debug!(arena = %self.name, start, size = len, "release span to source");
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
    #[inline]
    pub fn xfree(&self, addr: usize, size: usize) -> Result<(), Error> {
        self.free(addr, size)
    }

    #[cold]
    #[inline(never)]
    fn bad_free(&self, bad: BadFree, addr: usize, size: usize) -> Error {
        match bad {
            BadFree::NotAllocated => Error::from(NotAllocated {
                arena: self.name,
                addr,
                size,
            }),
            BadFree::WrongSize(expected) => Error::from(WrongSize {
                arena: self.name,
                addr,
                size,
                expected,
            }),
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
            Some(span) => Err(Error::from(OverlappingSpan {
                arena: self.name,
                base,
                size,
                existing_start: span.start(),
                existing_end: span.end(),
            })),
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

    /// The import quantum: every span it imports is a multiple of it (the
    /// builder's `import_quantum`, by default the source's quantum).
    pub fn import_quantum(&self) -> usize {
        self.import_quantum
    }

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
        Stats {
            segments_allocated: state.hash.live,
            tags_in_use: state.tags_in_use,
            tags_reserved: state.reserve.len,
            tag_size: crate::segment::TAG_SIZE,
            hash_buckets: state.hash.buckets(),
            ..state.counters
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
                    warning!(arena = %self.name, target, "hash rescale skipped: no memory for the table");
                    return;
                }
            }
        } else {
            None
        };
        let mut state = self.state.lock();
        // Read under the lock for the event below, logged once it is dropped.
        #[cfg_attr(
            not(feature = "tracing"),
            expect(unused_variables, reason = "only the `tracing` event reads them")
        )]
        let (from, live) = (state.hash.buckets(), state.hash.live);
        let shift = state.quantum_shift;
        let old = state.hash.install(table, shift);
        state.rescaling = false;
        state.counters.rescales += 1;
        drop(state);
        debug!(arena = %self.name, from, to = target, live, "hash rescaled");
        if let Some(old) = old {
            old.free(pages);
        }
    }

    /// Destroys the arena, returning the bytes still allocated (leaked). A
    /// leak is also reported as a `tracing` warning (with the `tracing`
    /// feature). Every imported span
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
                debug!(arena = %self.name, start, size, "destroy: release span to source");
                source.release(start, size);
            }
        }
        let mut state = self.state.lock();
        let leaked = state.counters.mem_inuse;
        if leaked != 0 {
            warning!(arena = %self.name, leaked, "arena destroyed with allocations outstanding");
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

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::policy::Policy;

    #[test]
    fn alloc_free_round_trip_keeps_invariants() {
        let arena = Arena::new("unit", 0x1000, 0x10000, 0x100).unwrap();
        let mut live = ::alloc::vec::Vec::new();
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
