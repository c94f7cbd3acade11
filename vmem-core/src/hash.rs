//! The hash table of allocated segments, so a free finds its tag in O(1).
//! See design.md §6.
//!
//! Chains are singly linked through the tags' `next_kind`. A small table is
//! kept inline; bigger ones come from the page source. The target size is
//! libumem's (`max(16, 2^(highbit(3n + 4) - 2))` buckets for `n` live
//! segments, i.e. about 0.75 to 1.5 segments per bucket), and the table is
//! rebuilt when the target leaves `[size / 2, size * 2]`: that band is the
//! hysteresis that keeps grow and shrink from chasing each other. Unlike
//! libumem, the arena notices this on its own: every allocation and free
//! asks [`AllocHash::wants_rescale`] and, if so, calls `Arena::rescale`
//! (`arena/mod.rs`) once the lock is dropped, so a program that never calls
//! `update()` keeps O(1) frees.

use core::ptr::NonNull;

use crate::bits::highbit;
use crate::page::{PageSource, PAGE_SIZE};
use crate::segment::SegPtr;

/// Buckets kept inline in the arena (libumem's `VMEM_HASH_INITIAL`).
pub(crate) const HASH_INITIAL: usize = 16;

pub(crate) struct AllocHash {
    inline: [Option<SegPtr>; HASH_INITIAL],
    /// The external table, when the hash has outgrown `inline`.
    external: Option<NonNull<Option<SegPtr>>>,
    buckets: usize,
    /// `log2(buckets)`: how far the address is folded onto itself.
    shift: u32,
    /// Live (allocated) segments in the table.
    pub(crate) live: usize,
    /// Rescale once `live` reaches this ...
    grow_at: usize,
    /// ... or drops below this: the band in which libumem's target size
    /// stays within a factor of two of the current size.
    shrink_below: usize,
}

/// A table of buckets obtained from the page source, not yet installed.
pub(crate) struct Table {
    ptr: NonNull<Option<SegPtr>>,
    buckets: usize,
}

// SAFETY: a `Table` is exclusively owned memory full of tag handles, which
// are themselves `Send`.
unsafe impl Send for Table {}

impl Table {
    fn bytes(buckets: usize) -> usize {
        (buckets * core::mem::size_of::<Option<SegPtr>>()).next_multiple_of(PAGE_SIZE)
    }

    /// Allocates an empty table of `buckets` buckets (a power of two) from
    /// `pages`. Call with no arena lock held.
    pub(crate) fn alloc(pages: &dyn PageSource, buckets: usize) -> Option<Table> {
        let ptr = pages
            .alloc_pages(Self::bytes(buckets))?
            .cast::<Option<SegPtr>>();
        for i in 0..buckets {
            // SAFETY: the page source gave us at least `bytes(buckets)` bytes,
            // page aligned, so every bucket slot is in bounds and aligned.
            unsafe { ptr.as_ptr().add(i).write(None) }
        }
        Some(Table { ptr, buckets })
    }

    /// Gives the table's memory back to `pages`.
    pub(crate) fn free(self, pages: &dyn PageSource) {
        // SAFETY: `ptr` came from `alloc_pages(bytes(buckets))` on this same
        // source and nothing references the table any more.
        unsafe { pages.free_pages(self.ptr.cast(), Self::bytes(self.buckets)) }
    }
}

impl AllocHash {
    pub(crate) const fn new() -> AllocHash {
        AllocHash {
            inline: [None; HASH_INITIAL],
            external: None,
            buckets: HASH_INITIAL,
            shift: HASH_INITIAL.trailing_zeros(),
            live: 0,
            grow_at: Self::grow_threshold(HASH_INITIAL),
            shrink_below: Self::shrink_threshold(HASH_INITIAL),
        }
    }

    /// The smallest live count whose target exceeds `2 * buckets`:
    /// `target > 2b` exactly when `3n + 4 >= 8b`.
    const fn grow_threshold(buckets: usize) -> usize {
        (buckets.saturating_mul(8) - 4).div_ceil(3)
    }

    /// Live counts below this have a target under `buckets / 2`:
    /// `target < b / 2` exactly when `3n + 4 < b`, but the target never goes
    /// below the inline size, so tables up to twice that never shrink.
    const fn shrink_threshold(buckets: usize) -> usize {
        if buckets <= 2 * HASH_INITIAL {
            0
        } else {
            (buckets - 4).div_ceil(3)
        }
    }

    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.buckets
    }

    /// The bucket count libumem would choose for `live` segments.
    pub(crate) fn target_buckets(live: usize) -> usize {
        let hb = highbit(live.saturating_mul(3).saturating_add(4));
        HASH_INITIAL.max(1 << (hb.saturating_sub(2)).min(usize::BITS - 2))
    }

    /// Whether the current size has left the hysteresis band.
    #[inline]
    pub(crate) fn wants_rescale(&self) -> bool {
        // One unsigned comparison for `live < shrink_below || live >=
        // grow_at`: below the band the subtraction wraps to a huge value.
        self.live.wrapping_sub(self.shrink_below) >= self.grow_at - self.shrink_below
    }

    #[inline]
    fn slot(&mut self, addr: usize, quantum_shift: u32) -> *mut Option<SegPtr> {
        let index = self.bucket_of(addr, quantum_shift);
        match self.external {
            // SAFETY: `index < buckets` (`bucket_of` masks with buckets - 1),
            // and the external table has `buckets` initialised slots.
            Some(table) => unsafe { table.as_ptr().add(index) },
            None => &mut self.inline[index],
        }
    }

    /// Records an allocated segment.
    #[inline]
    pub(crate) fn insert(&mut self, seg: SegPtr, quantum_shift: u32) {
        let slot = self.slot(seg.start(), quantum_shift);
        // SAFETY: `slot` points into the live bucket array (see `slot`), and
        // we hold `&mut self`, so nothing else reads or writes it.
        unsafe {
            seg.set_next_kind(*slot);
            *slot = Some(seg);
        }
        self.live += 1;
    }

    /// Removes and returns the allocated segment starting at `addr`, and the
    /// number of other tags looked at on the way (the `lookup` counter).
    #[inline]
    pub(crate) fn remove(&mut self, addr: usize, quantum_shift: u32) -> (Option<SegPtr>, u64) {
        let slot = self.slot(addr, quantum_shift);
        // SAFETY: `slot` points into the live bucket array (see `slot`), and
        // we hold `&mut self`, so nothing else reads or writes it.
        let mut cursor = unsafe { *slot };
        let mut prev: Option<SegPtr> = None;
        let mut steps = 0;
        while let Some(seg) = cursor {
            if seg.start() == addr {
                match prev {
                    Some(prev) => prev.set_next_kind(seg.next_kind()),
                    // SAFETY: as above.
                    None => unsafe { *slot = seg.next_kind() },
                }
                self.live -= 1;
                return (Some(seg), steps);
            }
            steps += 1;
            prev = Some(seg);
            cursor = seg.next_kind();
        }
        (None, steps)
    }

    /// Calls `f` on every segment in the table.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, SegPtr)) {
        for bucket in 0..self.buckets {
            let base = match self.external {
                // SAFETY: `bucket < buckets`, within the external table.
                Some(table) => unsafe { *table.as_ptr().add(bucket) },
                None => self.inline[bucket],
            };
            let mut cursor = base;
            while let Some(seg) = cursor {
                f(bucket, seg);
                cursor = seg.next_kind();
            }
        }
    }

    /// Which bucket `addr` hashes to (for the consistency check).
    #[inline]
    pub(crate) fn bucket_of(&self, addr: usize, quantum_shift: u32) -> usize {
        // libumem's hash: the address plus itself shifted down by one and
        // two table widths, in quanta, masked to the table. Neighbouring
        // segments land in neighbouring buckets, so an arena that hands out
        // ascending addresses (next-fit, a fresh span) walks the table
        // sequentially, which the hardware prefetcher follows; a
        // multiplicative hash scattered them, one cache and TLB miss per
        // allocation once the table outgrew the caches.
        // Shifting twice by one width (each below the word size) is a
        // shift by two widths that comes out 0, not undefined, when two
        // widths exceed the word.
        let once = addr >> self.shift;
        let folded = addr.wrapping_add(once).wrapping_add(once >> self.shift);
        (folded >> quantum_shift) & (self.buckets - 1)
    }

    /// Detaches the external table (if any) without touching the chains, for
    /// teardown; the hash must not be used afterwards.
    pub(crate) fn take_table(&mut self) -> Option<Table> {
        self.external.take().map(|ptr| Table {
            ptr,
            buckets: self.buckets,
        })
    }

    /// Moves every segment into `table` (or back inline if `table` is
    /// `None`), returning the table that was replaced, if it was external.
    pub(crate) fn install(&mut self, table: Option<Table>, quantum_shift: u32) -> Option<Table> {
        let mut segs: Option<SegPtr> = None;
        // Gather every segment into one chain first, then rehash it.
        for bucket in 0..self.buckets {
            // SAFETY: `bucket < buckets`, within whichever table is current.
            let slot: *mut Option<SegPtr> = match self.external {
                Some(t) => unsafe { t.as_ptr().add(bucket) },
                None => &mut self.inline[bucket],
            };
            // SAFETY: as above; we own the table through `&mut self`.
            let mut cursor = unsafe { (*slot).take() };
            while let Some(seg) = cursor {
                cursor = seg.next_kind();
                seg.set_next_kind(segs);
                segs = Some(seg);
            }
        }
        let old = self.external.take().map(|ptr| Table {
            ptr,
            buckets: self.buckets,
        });
        match table {
            Some(table) => {
                self.external = Some(table.ptr);
                self.buckets = table.buckets;
            }
            None => self.buckets = HASH_INITIAL,
        }
        self.shift = self.buckets.trailing_zeros();
        self.grow_at = Self::grow_threshold(self.buckets);
        self.shrink_below = Self::shrink_threshold(self.buckets);
        let live = self.live;
        self.live = 0;
        while let Some(seg) = segs {
            segs = seg.next_kind();
            self.insert(seg, quantum_shift);
        }
        debug_assert_eq!(self.live, live);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_match_the_target_formula() {
        for log in 4..20 {
            let buckets = 1usize << log;
            let grow = AllocHash::grow_threshold(buckets);
            assert!(AllocHash::target_buckets(grow) > 2 * buckets);
            assert!(AllocHash::target_buckets(grow - 1) <= 2 * buckets);
            let shrink = AllocHash::shrink_threshold(buckets);
            if shrink > 0 {
                assert!(AllocHash::target_buckets(shrink - 1) < buckets / 2);
                assert!(AllocHash::target_buckets(shrink) >= buckets / 2);
            }
        }
    }

    #[test]
    fn one_comparison_is_the_band_test() {
        let mut hash = AllocHash::new();
        for log in [HASH_INITIAL.trailing_zeros(), 8, 12, 30] {
            hash.buckets = 1 << log;
            hash.grow_at = AllocHash::grow_threshold(hash.buckets);
            hash.shrink_below = AllocHash::shrink_threshold(hash.buckets);
            let edges = [0, 1, hash.shrink_below, hash.grow_at, usize::MAX];
            for edge in edges {
                for live in [edge.saturating_sub(1), edge, edge.saturating_add(1)] {
                    hash.live = live;
                    assert_eq!(
                        hash.wants_rescale(),
                        live >= hash.grow_at || live < hash.shrink_below,
                        "{live} live in {} buckets",
                        hash.buckets
                    );
                }
            }
        }
    }

    #[test]
    fn the_fold_drops_terms_past_the_word() {
        let mut hash = AllocHash::new();
        for shift in [4, 20, 31, 32, 33, 40, 62] {
            hash.shift = shift;
            hash.buckets = 1 << shift;
            for addr in [0, 0x1000, 0xdead_b000, usize::MAX, usize::MAX << 12] {
                let folded = addr
                    .wrapping_add(addr >> shift)
                    .wrapping_add(addr.checked_shr(2 * shift).unwrap_or(0));
                assert_eq!(
                    hash.bucket_of(addr, 12),
                    (folded >> 12) & (hash.buckets - 1),
                    "{addr:#x} at width {shift}"
                );
            }
        }
    }
}
