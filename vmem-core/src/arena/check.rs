//! `Arena::check`: verifies every structural invariant of an arena, in the
//! spirit of FreeBSD's `vmem_check`. Randomized tests run it after every
//! step. See design.md §13.

use core::fmt;

use crate::bits::round_up;
use crate::freelist::{FreeLists, FREELISTS};
use crate::name::ArenaName;
use crate::segment::{Kind, SegPtr};

use super::state::State;
use super::Arena;

/// A broken invariant found by [`Arena::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// The arena.
    pub arena: ArenaName,
    /// Which invariant failed.
    pub invariant: &'static str,
    /// The address (or index) where it failed.
    pub at: usize,
    /// A value that shows how it failed (what was found there).
    pub found: usize,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arena '{}': {} (at {:#x}, found {:#x})",
            self.arena, self.invariant, self.at, self.found
        )
    }
}

impl core::error::Error for CheckError {}

impl Arena {
    /// Verifies the arena's invariants and reports the first one broken,
    /// in six passes:
    ///
    /// 1. the address list is well linked and every segment lies inside
    ///    its span, contiguous with its neighbours, quantum-aligned; no two
    ///    free segments are adjacent (a marker may sit between two);
    /// 2. the span list holds the same spans, which do not overlap, and
    ///    added spans are in address order;
    /// 3. every free segment is on the freelist of its size and the freemap
    ///    matches the lists;
    /// 4. every allocated segment is in the hash, in its bucket;
    /// 5. the counters agree with all of it;
    /// 6. the tag reserve holds only spare tags, as many as it counts.
    pub fn check(&self) -> Result<(), CheckError> {
        let state = self.state.lock();
        Checker {
            state: &state,
            name: self.name,
        }
        .run()
    }
}

/// One run of the check over a locked arena's state. The passes are
/// numbered as in the documentation of [`Arena::check`].
struct Checker<'a> {
    state: &'a State,
    name: ArenaName,
}

impl Checker<'_> {
    /// The error for `invariant`, broken at `at` with `found` there.
    fn error(&self, invariant: &'static str, at: usize, found: usize) -> CheckError {
        CheckError {
            arena: self.name,
            invariant,
            at,
            found,
        }
    }

    /// `Ok` if `ok`, else the error for `invariant`.
    fn ensure(
        &self,
        ok: bool,
        invariant: &'static str,
        at: usize,
        found: usize,
    ) -> Result<(), CheckError> {
        if ok {
            Ok(())
        } else {
            Err(self.error(invariant, at, found))
        }
    }

    /// Runs the passes in order; each later pass compares its own count
    /// with what the walk of the address list found.
    fn run(&self) -> Result<(), CheckError> {
        let tally = self.address_list()?;
        self.span_list(&tally)?;
        self.freelists(&tally)?;
        self.hash(&tally)?;
        self.counters(&tally)?;
        self.reserve()
    }

    /// Pass 1, the address list: every link, every span, every segment in
    /// its span, contiguous and quantum-aligned, no two free segments side
    /// by side, one rotor, and the tag count.
    fn address_list(&self) -> Result<Tally, CheckError> {
        let s = self.state;
        let head = s.head;
        let mut walk = AddressWalk::default();
        let mut seg = head.next_addr();
        let mut last = head;
        while seg != head {
            self.ensure(
                seg.prev_addr() == last,
                "address list back link broken",
                seg.start(),
                0,
            )?;
            walk.tags += 1;
            match seg.kind() {
                Kind::Span | Kind::ImportedSpan => self.span_tag(seg, &mut walk)?,
                Kind::Alloc | Kind::Free => self.segment(seg, &mut walk)?,
                Kind::Rotor => {
                    walk.rotors += 1;
                    self.ensure(seg == s.rotor, "stray rotor", seg.start(), 0)?;
                    walk.prev_was_free = false;
                }
                Kind::Walker => walk.prev_was_free = false,
                Kind::Head | Kind::Spare => {
                    return Err(self.error(
                        "foreign tag in the address list",
                        seg.start(),
                        seg.kind() as usize,
                    ))
                }
            }
            last = seg;
            seg = seg.next_addr();
        }
        self.ensure(
            head.prev_addr() == last,
            "address list head back link broken",
            0,
            0,
        )?;
        self.span_covered(&walk)?;
        self.ensure(
            walk.rotors == 1,
            "rotor missing or duplicated",
            0,
            walk.rotors,
        )?;
        self.ensure(
            walk.tags == s.tags_in_use,
            "tag count disagrees",
            walk.tags,
            s.tags_in_use,
        )?;
        Ok(walk.tally)
    }

    /// Pass 1, at a span tag: the span before it is covered to its end, and
    /// this one is non-empty and quantum-aligned.
    fn span_tag(&self, seg: SegPtr, walk: &mut AddressWalk) -> Result<(), CheckError> {
        let q = self.state.quantum;
        self.span_covered(walk)?;
        self.ensure(
            seg.start() < seg.end(),
            "empty span",
            seg.start(),
            seg.end(),
        )?;
        self.ensure(
            (seg.start() | seg.end()) & (q - 1) == 0,
            "span not quantum aligned",
            seg.start(),
            seg.end(),
        )?;
        walk.tally.spans += 1;
        walk.tally.total += seg.size();
        if seg.kind() == Kind::ImportedSpan {
            walk.tally.imported += seg.size();
        }
        walk.span = Some(seg);
        walk.cursor = seg.start();
        walk.prev_was_free = false;
        Ok(())
    }

    /// Pass 1: the span the walk is in (if any) was covered to its end.
    fn span_covered(&self, walk: &AddressWalk) -> Result<(), CheckError> {
        match walk.span {
            Some(open) => self.ensure(
                walk.cursor == open.end(),
                "span not covered to its end",
                open.start(),
                walk.cursor,
            ),
            None => Ok(()),
        }
    }

    /// Pass 1, at a free or allocated segment: inside the open span, right
    /// after the previous segment, quantum-aligned, and (if free) not next
    /// to another free segment.
    fn segment(&self, seg: SegPtr, walk: &mut AddressWalk) -> Result<(), CheckError> {
        let q = self.state.quantum;
        let Some(open) = walk.span else {
            return Err(self.error("segment outside any span", seg.start(), seg.end()));
        };
        self.ensure(
            seg.start() == walk.cursor,
            "segments not contiguous",
            seg.start(),
            walk.cursor,
        )?;
        self.ensure(
            seg.start() & (q - 1) == 0,
            "segment start not quantum aligned",
            seg.start(),
            q,
        )?;
        self.ensure(
            seg.end() > seg.start(),
            "empty segment",
            seg.start(),
            seg.end(),
        )?;
        let end = round_up(seg.end(), q);
        self.ensure(
            end <= open.end(),
            "segment runs past its span",
            seg.start(),
            open.end(),
        )?;
        walk.cursor = end;
        if seg.kind() == Kind::Free {
            self.ensure(
                !walk.prev_was_free,
                "two adjacent free segments",
                seg.start(),
                0,
            )?;
            self.ensure(
                seg.end() & (q - 1) == 0,
                "free segment end not quantum aligned",
                seg.start(),
                seg.end(),
            )?;
            walk.tally.free_segs += 1;
            walk.prev_was_free = true;
        } else {
            walk.tally.inuse += seg.size();
            walk.tally.allocated += 1;
            walk.prev_was_free = false;
        }
        Ok(())
    }

    /// Pass 2, the span list: the same spans as the address list, disjoint,
    /// and the added spans of a plain arena in address order.
    fn span_list(&self, tally: &Tally) -> Result<(), CheckError> {
        let s = self.state;
        let head = s.head;
        let mut listed = 0usize;
        let mut span = head.next_kind().expect("span list is circular");
        let mut prev_added_end: Option<usize> = None;
        while span != head {
            self.ensure(
                span.kind() == Kind::Span || span.kind() == Kind::ImportedSpan,
                "non-span on the span list",
                span.start(),
                0,
            )?;
            listed += 1;
            if span.kind() == Kind::Span && !s.has_source {
                if let Some(end) = prev_added_end {
                    self.ensure(
                        end <= span.start(),
                        "added spans out of address order",
                        span.start(),
                        end,
                    )?;
                }
                prev_added_end = Some(span.end());
            }
            let mut other = span.next_kind().expect("span list is circular");
            while other != head {
                self.ensure(
                    span.end() <= other.start() || other.end() <= span.start(),
                    "overlapping spans",
                    span.start(),
                    other.start(),
                )?;
                other = other.next_kind().expect("span list is circular");
            }
            let next = span.next_kind().expect("span list is circular");
            self.ensure(
                next.prev_kind() == Some(span),
                "span list back link broken",
                span.start(),
                0,
            )?;
            span = next;
        }
        self.ensure(
            listed == tally.spans,
            "span list and address list disagree",
            listed,
            tally.spans,
        )
    }

    /// Pass 3, the freelists and the freemap: each bit says whether its
    /// list is non-empty, each list holds free segments of its size only,
    /// and together they hold every free segment once.
    fn freelists(&self, tally: &Tally) -> Result<(), CheckError> {
        let s = self.state;
        let free_segs = tally.free_segs;
        let mut listed_free = 0usize;
        for index in 0..FREELISTS {
            let head_seg = s.free.head(index);
            self.ensure(
                head_seg.is_some() == (s.free.map & (1 << index) != 0),
                "freemap bit wrong",
                index,
                s.free.map,
            )?;
            let mut prev = None;
            let mut cursor = head_seg;
            while let Some(seg) = cursor {
                self.ensure(
                    seg.kind() == Kind::Free,
                    "non-free segment on a freelist",
                    seg.start(),
                    seg.kind() as usize,
                )?;
                self.ensure(
                    FreeLists::index_for(seg.size()) == index,
                    "free segment on the wrong freelist",
                    seg.start(),
                    index,
                )?;
                self.ensure(
                    seg.prev_kind() == prev,
                    "freelist back link broken",
                    seg.start(),
                    index,
                )?;
                listed_free += 1;
                self.ensure(
                    listed_free <= free_segs,
                    "freelists hold more segments than the arena",
                    seg.start(),
                    free_segs,
                )?;
                prev = Some(seg);
                cursor = seg.next_kind();
            }
        }
        self.ensure(
            listed_free == free_segs,
            "free segment missing from the freelists",
            listed_free,
            free_segs,
        )
    }

    /// Pass 4, the hash: every entry is an allocated segment in the bucket
    /// its address hashes to, and every allocated segment is there.
    fn hash(&self, tally: &Tally) -> Result<(), CheckError> {
        let s = self.state;
        let mut hashed = 0usize;
        let mut bad: Option<(usize, usize)> = None;
        s.hash.for_each(|bucket, seg| {
            hashed += 1;
            if bad.is_none()
                && (seg.kind() != Kind::Alloc
                    || s.hash.bucket_of(seg.start(), s.quantum_shift) != bucket)
            {
                bad = Some((seg.start(), bucket));
            }
        });
        if let Some((at, bucket)) = bad {
            return Err(self.error(
                "hash entry not an allocated segment in its bucket",
                at,
                bucket,
            ));
        }
        self.ensure(
            hashed == tally.allocated && hashed == s.hash.live,
            "hash holds the wrong number of segments",
            hashed,
            tally.allocated,
        )
    }

    /// Pass 5, the counters: bytes in use, in spans and imported, and
    /// allocations minus frees, against what the walk found.
    fn counters(&self, tally: &Tally) -> Result<(), CheckError> {
        let c = &self.state.counters;
        self.ensure(
            c.mem_inuse == tally.inuse,
            "mem_inuse disagrees with the segments",
            c.mem_inuse,
            tally.inuse,
        )?;
        self.ensure(
            c.mem_total == tally.total,
            "mem_total disagrees with the spans",
            c.mem_total,
            tally.total,
        )?;
        self.ensure(
            c.mem_import == tally.imported,
            "mem_import disagrees with the imported spans",
            c.mem_import,
            tally.imported,
        )?;
        self.ensure(
            c.alloc - c.free == tally.allocated as u64,
            "alloc - free disagrees with the hash",
            (c.alloc - c.free) as usize,
            tally.allocated,
        )
    }

    /// Pass 6, the reserve: only spare tags, as many as it says.
    fn reserve(&self) -> Result<(), CheckError> {
        let s = self.state;
        let mut reserve = 0usize;
        let mut cursor = s.reserve.head;
        while let Some(tag) = cursor {
            self.ensure(
                tag.kind() == Kind::Spare,
                "reserve holds a live tag",
                tag.start(),
                0,
            )?;
            reserve += 1;
            cursor = tag.next_kind();
        }
        self.ensure(
            reserve == s.reserve.len,
            "reserve count disagrees",
            reserve,
            s.reserve.len,
        )
    }
}

/// What pass 1 counted, for the passes that compare against it.
#[derive(Default)]
struct Tally {
    /// Span tags.
    spans: usize,
    /// Bytes in all spans.
    total: usize,
    /// Bytes in imported spans.
    imported: usize,
    /// Bytes in allocated segments (their recorded sizes).
    inuse: usize,
    /// Allocated segments.
    allocated: usize,
    /// Free segments.
    free_segs: usize,
}

/// Where pass 1 is in the address list.
#[derive(Default)]
struct AddressWalk {
    tally: Tally,
    /// Tags seen, markers included.
    tags: usize,
    rotors: usize,
    /// The span whose segments are being walked.
    span: Option<SegPtr>,
    /// Where the next segment of that span must start.
    cursor: usize,
    /// The previous tag was a free segment (a marker in between resets it).
    prev_was_free: bool,
}
