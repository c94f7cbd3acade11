//! The arena's lock-protected state and the segment algorithms that run on
//! it: span creation, splitting, coalescing, the freelist search, next-fit's
//! rotor and extension. Nothing here takes a lock, sleeps or calls out; the
//! caller (`mod.rs`) holds the arena lock and has topped up the tag reserve.
//!
//! The algorithms follow libumem's `vmem.c` step for step wherever placement
//! depends on them, so that an arena without quantum caches hands out the
//! same addresses libumem would.

use crate::bits::{align_down, highbit, is_power_of_two, lowbit, round_up, same_highbit};
use crate::freelist::{FreeLists, FREELISTS};
use crate::hash::AllocHash;
use crate::policy::{Fit, Policy};
use crate::pool::TagChain;
use crate::segment::{Kind, SegPtr};
use crate::stats::Stats;

/// A span to hand back to the source once the lock is dropped.
pub(crate) type Release = Option<(usize, usize)>;

pub(crate) struct State {
    /// List head of both the address list and the span list.
    pub(crate) head: SegPtr,
    /// Next-fit's position in the address list.
    pub(crate) rotor: SegPtr,
    pub(crate) free: FreeLists,
    pub(crate) hash: AllocHash,
    /// Spare tags for this arena's next operations.
    pub(crate) reserve: TagChain,
    /// The event counters and byte totals (the gauges of a snapshot are
    /// filled in by `Arena::stats`).
    pub(crate) counters: Stats,
    /// Tags linked into the address list, markers included, head excluded.
    pub(crate) tags_in_use: usize,
    /// The arena imports: imported and added spans are then kept in arrival
    /// order, as libumem does, instead of address order.
    pub(crate) has_source: bool,
    pub(crate) quantum: usize,
    pub(crate) quantum_shift: u32,
    /// Threads sleeping on the arena's condition variable (see `wait.rs`;
    /// always 0 without `std`).
    pub(crate) waiters: usize,
    /// A hash rescale is in flight (only one thread does it).
    pub(crate) rescaling: bool,
    /// FreeBSD's `vm_limit`: cap on imported bytes (0: none).
    pub(crate) import_limit: usize,
}

// SAFETY: `State` is only reached through the arena lock; the tags and hash
// memory it points to are owned by the arena and touched by the lock holder
// only, so handing the state to another thread is sound.
unsafe impl Send for State {}

impl State {
    /// A state with its head and rotor taken from `reserve`.
    pub(crate) fn new(mut reserve: TagChain, quantum: usize, has_source: bool) -> State {
        let head = reserve.pop().expect("caller provides the head tag");
        let rotor = reserve.pop().expect("caller provides the rotor tag");
        head.make_head();
        head.set_kind(Kind::Head);
        head.set_start(0);
        head.set_end(0);
        rotor.set_kind(Kind::Rotor);
        rotor.set_start(0);
        rotor.set_end(0);
        rotor.insert_addr_after(head);
        State {
            head,
            rotor,
            free: FreeLists::new(),
            hash: AllocHash::new(),
            reserve,
            counters: Stats::default(),
            tags_in_use: 1,
            has_source,
            quantum,
            quantum_shift: quantum.trailing_zeros(),
            waiters: 0,
            rescaling: false,
            import_limit: 0,
        }
    }

    // ----- tags -------------------------------------------------------------

    #[inline]
    pub(crate) fn take_tag(&mut self) -> SegPtr {
        self.tags_in_use += 1;
        self.reserve
            .pop()
            .expect("the tag reserve covers every operation's worst case")
    }

    #[inline]
    pub(crate) fn put_tag(&mut self, tag: SegPtr) {
        self.tags_in_use -= 1;
        tag.set_kind_and_prev(Kind::Spare, None);
        self.reserve.push(tag);
    }

    /// A new tag for `[start, end)`, linked into the address list after `prev`.
    #[inline(always)]
    fn seg_create(&mut self, prev: SegPtr, start: usize, end: usize) -> SegPtr {
        let seg = self.take_tag();
        seg.set_start(start);
        seg.set_end(end);
        seg.insert_addr_after(prev);
        seg
    }

    #[inline]
    fn seg_destroy(&mut self, seg: SegPtr) {
        debug_assert_ne!(seg.kind(), Kind::Rotor);
        seg.remove_addr();
        self.put_tag(seg);
    }

    // ----- hash ---------------------------------------------------------------

    #[inline(always)]
    fn hash_insert(&mut self, seg: SegPtr) {
        seg.set_kind_and_prev(Kind::Alloc, None);
        self.hash.insert(seg, self.quantum_shift);
        self.counters.alloc += 1;
        self.counters.mem_inuse += seg.size();
    }

    /// Takes the allocated segment `[addr, addr + size)` out of the hash.
    /// On a bad free the arena is left untouched and the error says why.
    #[inline(always)]
    pub(crate) fn hash_delete(&mut self, addr: usize, size: usize) -> Result<SegPtr, BadFree> {
        let (found, steps) = self.hash.remove(addr, self.quantum_shift);
        self.counters.lookup += steps;
        let seg = found.ok_or(BadFree::NotAllocated)?;
        if seg.size() != size {
            self.hash.insert(seg, self.quantum_shift);
            return Err(BadFree::WrongSize(seg.size()));
        }
        self.counters.free += 1;
        self.counters.mem_inuse -= size;
        Ok(seg)
    }

    // ----- spans --------------------------------------------------------------

    /// Adds the span `[start, start + size)` and its one free segment, which
    /// it returns. Added spans of an arena without a source are kept in
    /// address order (found by a backwards search, new spans being usually
    /// the highest); otherwise spans are appended.
    pub(crate) fn span_create(&mut self, start: usize, size: usize, imported: bool) -> SegPtr {
        let end = start + size;
        let mut next_span = self.head;
        if !imported && !self.has_source {
            let mut prev = self.head.prev_kind().expect("span list is circular");
            while prev != self.head {
                if prev.kind() == Kind::Span && prev.end().wrapping_sub(1) < start {
                    break;
                }
                prev = prev.prev_kind().expect("span list is circular");
            }
            next_span = prev.next_kind().expect("span list is circular");
        }
        let span = self.seg_create(next_span.prev_addr(), start, end);
        span.set_kind(if imported {
            Kind::ImportedSpan
        } else {
            Kind::Span
        });
        span.insert_kind_after(next_span.prev_kind().expect("span list is circular"));
        let seg = self.seg_create(span, start, end);
        self.free.insert(seg);
        if imported {
            self.counters.mem_import += size;
            self.counters.imports += 1;
        }
        self.counters.mem_total += size;
        seg
    }

    /// Removes the span that the free (and off-list) segment `seg` covers
    /// whole.
    fn span_destroy(&mut self, seg: SegPtr) {
        let span = seg.prev_addr();
        debug_assert!(span.kind().is_span_like() && span.size() == seg.size());
        let size = seg.size();
        if span.kind() == Kind::ImportedSpan {
            self.counters.mem_import -= size;
            self.counters.releases += 1;
        }
        self.counters.mem_total -= size;
        span.remove_kind_circular();
        self.seg_destroy(seg);
        self.seg_destroy(span);
    }

    /// If the free segment `seg` is a whole imported span, removes it and
    /// says what to give back to the source. `seg` must be off the freelists.
    #[inline]
    fn release_if_whole(&mut self, seg: SegPtr) -> Release {
        if self.is_whole_imported_span(seg) {
            let release = (seg.start(), seg.size());
            self.span_destroy(seg);
            return Some(release);
        }
        None
    }

    /// Whether the free segment `seg` covers a whole imported span, which
    /// then goes back to the source.
    #[inline]
    fn is_whole_imported_span(&self, seg: SegPtr) -> bool {
        self.has_source
            && seg.prev_addr().kind() == Kind::ImportedSpan
            && seg.next_addr().kind().is_span_like()
    }

    // ----- allocation -----------------------------------------------------------

    /// Allocates `[addr, addr + size)` from the free segment `seg`, putting
    /// any leftovers back on the freelists (up to two new tags: design.md
    /// §5 and §8.1).
    ///
    /// Inlined at every call site: left to the compiler, it was inlined or
    /// not depending on how many callers the other paths had, and once
    /// `xalloc`'s first try was inlined into its callers it went out of
    /// line everywhere, adding 21 instructions to an instant-fit pair.
    /// Forced, instant-fit, best-fit and first-fit pairs are 3 to 5%
    /// faster than with it out of line (docs/performance.md, 2026-12-04).
    #[inline(always)]
    pub(crate) fn seg_alloc(&mut self, seg: SegPtr, addr: usize, size: usize) -> SegPtr {
        let seg_start = seg.start();
        let seg_end = seg.end();
        let seg_size = seg_end - seg_start;
        let realsize = round_up(size, self.quantum);
        let addr_end = addr + realsize;
        debug_assert_eq!(seg.kind(), Kind::Free);
        debug_assert!(addr >= seg_start && addr_end <= seg_end);

        // Allocating from the front of a segment whose remainder stays on
        // the same freelist: shrink it in place, no list surgery.
        if addr == seg_start && same_highbit(seg_size, seg_size - realsize) {
            seg.set_start(addr_end);
            let new = self.seg_create(seg.prev_addr(), addr, addr + size);
            self.hash_insert(new);
            return new;
        }

        self.free.remove(seg);
        if seg_end != addr_end {
            let rest = self.seg_create(seg, addr_end, seg_end);
            self.free.insert(rest);
        }
        if seg_start != addr {
            let front = self.seg_create(seg.prev_addr(), seg_start, addr);
            self.free.insert(front);
        }
        seg.set_start(addr);
        seg.set_end(addr + size);
        self.hash_insert(seg);
        seg
    }

    /// The instant-fit choice: the head of the smallest non-empty freelist
    /// whose members are all at least `size`. `None` sends the caller to the
    /// searching path, exactly where libumem falls back to `vmem_xalloc`.
    /// See design.md §4.1.
    #[inline(always)]
    pub(crate) fn instant_fit(&mut self, size: usize) -> Option<usize> {
        let list = if is_power_of_two(size) {
            lowbit(align_down(self.free.map, size))
        } else {
            let hb = highbit(size);
            if (hb as usize) < FREELISTS {
                lowbit(align_down(self.free.map, 1 << hb))
            } else {
                0
            }
        };
        if list == 0 {
            return None;
        }
        let seg = self
            .free
            .head(list as usize - 1)
            .expect("freemap bit implies a non-empty list");
        let addr = seg.start();
        self.seg_alloc(seg, addr, size);
        Some(addr)
    }

    /// Allocates what [`search`](State::search) finds for `fit`: its
    /// address, or `None` with nothing changed but the search count.
    /// Inlined into each of its callers (the constrained quick path, the
    /// searching path's first search and its loop): out of line, the search
    /// spilled the request's derived values and saved six registers on
    /// every call, to visit one or two segments.
    #[inline(always)]
    pub(crate) fn alloc_searched(&mut self, fit: &Fit) -> Option<usize> {
        let (seg, addr) = self.search(fit)?;
        self.seg_alloc(seg, addr, fit.size);
        Some(addr)
    }

    /// Searches the freelists for a segment that satisfies `fit` under its
    /// policy; returns the segment and the address within it. See design.md
    /// §4.2 and §5.
    #[inline(always)]
    fn search(&mut self, fit: &Fit) -> Option<(SegPtr, usize)> {
        let size = fit.size;
        let searching = matches!(fit.policy, Policy::BestFit | Policy::FirstFit);
        // Start at the first list whose members are certainly large enough,
        // except: a power-of-two size fits every member of its own list; if
        // every larger list is empty, or for best- and first-fit, start one
        // list lower, where members only might fit.
        let mut list = if is_power_of_two(size) {
            lowbit(align_down(self.free.map, size))
        } else {
            let mut hb = highbit(size);
            if self.free.map.checked_shr(hb).unwrap_or(0) == 0
                || hb as usize == FREELISTS
                || searching
            {
                hb -= 1;
            }
            lowbit(align_down(self.free.map, 1 << hb))
        };
        if list == 0 {
            return None;
        }
        let mut index = list as usize - 1;
        let mut cursor = self.free.head(index);
        let mut best: Option<(SegPtr, usize)> = None;
        loop {
            self.counters.search += 1;
            let Some(seg) = cursor else {
                // End of this list: a candidate found so far cannot be beaten
                // by a larger list; otherwise move to the next non-empty one.
                if best.is_some() || index + 1 >= FREELISTS {
                    break;
                }
                list = lowbit(align_down(self.free.map, 1 << (index + 1)));
                if list == 0 {
                    break;
                }
                index = list as usize - 1;
                cursor = self.free.head(index);
                continue;
            };
            cursor = seg.next_kind();
            let Some(addr) = Self::place(seg, fit) else {
                continue;
            };
            if best.is_some_and(|(b, _)| seg.size() >= b.size()) {
                continue;
            }
            best = Some((seg, addr));
            if fit.policy != Policy::BestFit || seg.size() == size {
                break;
            }
        }
        let (seg, addr) = best?;
        if fit.from_end {
            return Some((seg, self.highest_fit(seg, fit).unwrap_or(addr)));
        }
        Some((seg, addr))
    }

    /// The lowest address in `seg` that satisfies `fit`.
    #[inline]
    fn place(seg: SegPtr, fit: &Fit) -> Option<usize> {
        fit.lowest_in(seg.start(), seg.end())
    }

    /// Where `fit` goes inside the one free segment `seg`, honouring
    /// `from_end`.
    pub(crate) fn fit_in(&self, seg: SegPtr, fit: &Fit) -> Option<usize> {
        let low = Self::place(seg, fit)?;
        Some(if fit.from_end {
            self.highest_fit(seg, fit).unwrap_or(low)
        } else {
            low
        })
    }

    /// Undoes `span_create` for an imported span nothing could be placed in.
    pub(crate) fn discard_fresh_span(&mut self, seg: SegPtr) -> Release {
        self.free.remove(seg);
        self.release_if_whole(seg)
    }

    /// The highest address in `seg` satisfying `fit` (for `from_end`).
    fn highest_fit(&self, seg: SegPtr, fit: &Fit) -> Option<usize> {
        fit.highest_in(seg.start(), seg.end(), self.quantum)
    }

    /// Next-fit: the first segment at or after the rotor that fits, then the
    /// rotor moves past the allocation. Returns the address, or `None` when a
    /// full circle found nothing (the rotor has then been advanced one step,
    /// as libumem does, in case it alone was splitting a big enough hole).
    /// See design.md §4.3.
    pub(crate) fn next_fit(&mut self, size: usize, releases: &mut Releases) -> Option<usize> {
        let realsize = round_up(size, self.quantum);
        let rotor = self.rotor;
        let mut seg = rotor.next_addr();

        // The common case: the segment right after the rotor is free and
        // stays on its freelist after losing `size` from its front. Carve
        // the allocation out *behind* the rotor, which is where a full
        // allocate-and-advance would leave it.
        let seg_size = seg.size();
        if seg.kind() == Kind::Free
            && seg_size > realsize
            && same_highbit(seg_size, seg_size - realsize)
        {
            let addr = seg.start();
            seg.set_start(addr + realsize);
            let new = self.seg_create(rotor.prev_addr(), addr, addr + size);
            self.hash_insert(new);
            return Some(addr);
        }

        loop {
            self.counters.search += 1;
            if seg.kind() == Kind::Free && seg.size() >= size {
                break;
            }
            seg = seg.next_addr();
            if seg == rotor {
                // Full circle: the rotor itself may sit between two free
                // segments that together would fit. Step it forward (which
                // coalesces them) and look just behind it.
                releases.push(self.advance(rotor, Some(rotor.next_addr())));
                seg = rotor.prev_addr();
                if seg.kind() == Kind::Free && seg.size() >= size {
                    break;
                }
                return None;
            }
        }
        let addr = seg.start();
        let new = self.seg_alloc(seg, addr, size);
        releases.push(self.advance(rotor, Some(new)));
        Some(addr)
    }

    /// Moves the marker `marker` (rotor or walker) to just after `after`, or
    /// out of the list for `None`, then coalesces the free neighbours its old
    /// position kept apart, releasing a span that became wholly free.
    pub(crate) fn advance(&mut self, marker: SegPtr, after: Option<SegPtr>) -> Release {
        let prev = marker.prev_addr();
        let next = marker.next_addr();
        marker.remove_addr();
        if let Some(after) = after {
            marker.insert_addr_after(after);
        }
        let merged = if prev.kind() == Kind::Free {
            if next.kind() == Kind::Free {
                self.free.remove(next);
                self.free.remove(prev);
                prev.set_end(next.end());
                self.free.insert(prev);
                self.seg_destroy(next);
            }
            Some(prev)
        } else if next.kind() == Kind::Free {
            Some(next)
        } else {
            None
        };
        let seg = merged?;
        if self.has_source
            && seg.prev_addr().kind() == Kind::ImportedSpan
            && seg.next_addr().kind().is_span_like()
        {
            self.free.remove(seg);
            return self.release_if_whole(seg);
        }
        None
    }

    // ----- free -------------------------------------------------------------------

    /// Frees `[addr, addr + size)`, coalescing with free neighbours. Returns
    /// a span to give back to the source if the free emptied one.
    ///
    /// The merged segment ends up at the head of its freelist, as in
    /// libumem, which takes each free neighbour off its list and inserts
    /// the merged segment afresh. When the neighbour that absorbs the rest
    /// already heads the list the merged size belongs on, that removal and
    /// insertion would put it back where it is, so it stays: the lists end
    /// up in the same order either way (only which tag describes the merged
    /// range differs), and most frees in a growing or shrinking run of free
    /// space skip the two list operations.
    #[inline(always)]
    pub(crate) fn free(&mut self, addr: usize, size: usize) -> Result<Release, BadFree> {
        let seg = self.hash_delete(addr, size)?;
        seg.set_end(round_up(seg.end(), self.quantum));

        let next = seg.next_addr();
        let prev = seg.prev_addr();
        let (merged, in_place) = if prev.kind() == Kind::Free {
            if next.kind() == Kind::Free {
                self.free.remove(next);
                seg.set_end(next.end());
                self.seg_destroy(next);
            }
            let in_place = self.free.stays_head(prev, seg.end() - prev.start());
            if !in_place {
                self.free.remove(prev);
            }
            prev.set_end(seg.end());
            self.seg_destroy(seg);
            (prev, in_place)
        } else if next.kind() == Kind::Free {
            if self.free.stays_head(next, next.end() - seg.start()) {
                next.set_start(seg.start());
                self.seg_destroy(seg);
                (next, true)
            } else {
                self.free.remove(next);
                seg.set_end(next.end());
                self.seg_destroy(next);
                (seg, false)
            }
        } else {
            (seg, false)
        };
        if self.is_whole_imported_span(merged) {
            if in_place {
                self.free.remove(merged);
            }
            let release = (merged.start(), merged.size());
            self.span_destroy(merged);
            return Ok(Some(release));
        }
        if !in_place {
            self.free.insert(merged);
        }
        Ok(None)
    }

    // ----- extension ------------------------------------------------------------------

    /// Adds `[addr, end)` by joining two spans, growing one, or creating a
    /// new one, and returns the free segment now covering it (libumem's
    /// `vmem_extend_unlocked`). Only for arenas without a source.
    pub(crate) fn extend(&mut self, addr: usize, end: usize) -> SegPtr {
        let mut span = self.head.prev_kind().expect("span list is circular");
        while span != self.head {
            if span.end() == addr || span.start() == end {
                break;
            }
            span = span.prev_kind().expect("span list is circular");
        }
        if span == self.head {
            return self.span_create(addr, end - addr, false);
        }
        let prev_span = span.prev_kind().expect("span list is circular");
        let seg = if prev_span != self.head && prev_span.end() == addr && span.start() == end {
            // Join: `prev_span` grows over the new range and `span`.
            let next_seg = span.next_addr();
            let prev_seg = span.prev_addr();
            prev_span.set_end(span.end());
            span.remove_kind_circular();
            match (prev_seg.kind() == Kind::Free, next_seg.kind() == Kind::Free) {
                (true, true) => {
                    self.free.remove(prev_seg);
                    self.free.remove(next_seg);
                    prev_seg.set_end(next_seg.end());
                    self.seg_destroy(next_seg);
                    self.seg_destroy(span);
                    prev_seg
                }
                (true, false) => {
                    self.seg_destroy(span);
                    self.free.remove(prev_seg);
                    prev_seg.set_end(end);
                    prev_seg
                }
                (false, true) => {
                    self.seg_destroy(span);
                    self.free.remove(next_seg);
                    next_seg.set_start(addr);
                    next_seg
                }
                (false, false) => {
                    // The old span tag becomes the free segment in between.
                    span.set_start(addr);
                    span.set_end(end);
                    span
                }
            }
        } else if span.end() == addr {
            // Grow `span` upwards; its last segment is just before the next
            // span in the address list.
            let next_span = span.next_kind().expect("span list is circular");
            let last = next_span.prev_addr();
            span.set_end(end);
            if last.kind() == Kind::Free {
                self.free.remove(last);
                last.set_end(end);
                last
            } else {
                self.seg_create(last, addr, end)
            }
        } else {
            // Grow `span` downwards.
            let first = span.next_addr();
            span.set_start(addr);
            if first.kind() == Kind::Free {
                self.free.remove(first);
                first.set_start(addr);
                first
            } else {
                self.seg_create(span, addr, end)
            }
        };
        self.free.insert(seg);
        self.counters.mem_total += end - addr;
        seg
    }

    // ----- queries --------------------------------------------------------------------

    /// The span containing `[start, start + size)` whole, if any.
    pub(crate) fn containing_span(&mut self, start: usize, size: usize) -> Option<SegPtr> {
        // A range that wraps past the top of the address space is in no span
        // (libumem's wrapping comparison would say yes).
        start.checked_add(size)?;
        let last = start.wrapping_add(size).wrapping_sub(1);
        let mut span = self.head.next_kind().expect("span list is circular");
        while span != self.head {
            self.counters.contains_search += 1;
            if start >= span.start() && last <= span.end().wrapping_sub(1) {
                return Some(span);
            }
            span = span.next_kind().expect("span list is circular");
        }
        None
    }

    /// The first span overlapping `[start, start + size)`, if any.
    pub(crate) fn overlapping_span(&self, start: usize, size: usize) -> Option<SegPtr> {
        let end = start + size;
        let mut span = self.head.next_kind().expect("span list is circular");
        while span != self.head {
            if start < span.end() && span.start() < end {
                return Some(span);
            }
            span = span.next_kind().expect("span list is circular");
        }
        None
    }

    /// Size of the largest free segment.
    pub(crate) fn max_free(&self) -> usize {
        if self.free.map == 0 {
            return 0;
        }
        let index = highbit(self.free.map) as usize - 1;
        let mut best = 0;
        let mut cursor = self.free.head(index);
        while let Some(seg) = cursor {
            best = best.max(seg.size());
            cursor = seg.next_kind();
        }
        best
    }

    /// Removes one imported span that holds no allocation and says what to
    /// give back to the source; `None` when no such span is left. For the
    /// arena's destruction: the next-fit rotor is first moved to the front
    /// of the address list, so a span it alone kept in two free pieces
    /// counts as free (libumem leaks such a span to its source).
    pub(crate) fn take_free_span(&mut self) -> Release {
        if self.rotor.prev_addr() != self.head {
            let release = self.advance(self.rotor, Some(self.head));
            if release.is_some() {
                return release;
            }
        }
        let mut span = self.head.next_kind().expect("span list is circular");
        while span != self.head {
            let seg = span.next_addr();
            if span.kind() == Kind::ImportedSpan
                && seg.kind() == Kind::Free
                && seg.next_addr().kind().is_span_like()
            {
                self.free.remove(seg);
                let release = (seg.start(), seg.size());
                self.span_destroy(seg);
                return Some(release);
            }
            span = span.next_kind().expect("span list is circular");
        }
        None
    }

    /// Hands every tag (head and rotor included) back through `out`, leaving
    /// the state unusable. Used when the arena is dropped.
    pub(crate) fn drain_tags(&mut self, out: &mut TagChain) {
        let mut seg = self.head.next_addr();
        while seg != self.head {
            let next = seg.next_addr();
            seg.set_kind(Kind::Spare);
            out.push(seg);
            seg = next;
        }
        self.head.set_kind(Kind::Spare);
        out.push(self.head);
        let n = self.reserve.len;
        self.reserve.move_to(out, n);
    }
}

/// Why a free was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadFree {
    NotAllocated,
    WrongSize(usize),
}

/// Spans freed while the lock is held, given back once it is dropped.
#[derive(Default)]
pub(crate) struct Releases {
    items: [(usize, usize); 2],
    len: usize,
}

impl Releases {
    pub(crate) fn push(&mut self, release: Release) {
        if let Some(r) = release {
            self.items[self.len] = r;
            self.len += 1;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.items[..self.len].iter().copied()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}
