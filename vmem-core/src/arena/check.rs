//! `Arena::check`: verifies every structural invariant of an arena, in the
//! spirit of FreeBSD's `vmem_check`. Randomized tests run it after every
//! step.

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
    /// Verifies the arena's invariants: the address list is well linked and
    /// every segment lies inside its span, contiguous with its neighbours,
    /// quantum-aligned; no two free segments are adjacent (a marker may sit
    /// between two); spans do not overlap and added spans are in address
    /// order; every free segment is on the freelist of its size and the
    /// freemap matches; every allocated segment is in the hash, in its
    /// bucket; and the counters agree with all of it.
    pub fn check(&self) -> Result<(), CheckError> {
        let state = self.state.lock();
        Checker {
            state: &state,
            name: self.name,
        }
        .run()
    }
}

struct Checker<'a> {
    state: &'a State,
    name: ArenaName,
}

impl Checker<'_> {
    fn fail(&self, invariant: &'static str, at: usize, found: usize) -> Result<(), CheckError> {
        Err(CheckError {
            arena: self.name,
            invariant,
            at,
            found,
        })
    }

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
            self.fail(invariant, at, found)
        }
    }

    fn run(&self) -> Result<(), CheckError> {
        let s = self.state;
        let q = s.quantum;
        let head = s.head;

        // 1. The address list: links, spans, segments.
        let mut tags = 0usize;
        let mut spans = 0usize;
        let mut total = 0usize;
        let mut imported = 0usize;
        let mut inuse = 0usize;
        let mut allocated = 0usize;
        let mut free_segs = 0usize;
        let mut rotors = 0usize;
        let mut span: Option<SegPtr> = None;
        // Where the next segment of the current span must start.
        let mut cursor = 0usize;
        let mut prev_was_free = false;
        let mut seg = head.next_addr();
        let mut last = head;
        while seg != head {
            self.ensure(
                seg.prev_addr() == last,
                "address list back link broken",
                seg.start(),
                0,
            )?;
            tags += 1;
            match seg.kind() {
                Kind::Span | Kind::ImportedSpan => {
                    if let Some(open) = span {
                        self.ensure(
                            cursor == open.end(),
                            "span not covered to its end",
                            open.start(),
                            cursor,
                        )?;
                    }
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
                    spans += 1;
                    total += seg.size();
                    if seg.kind() == Kind::ImportedSpan {
                        imported += seg.size();
                    }
                    span = Some(seg);
                    cursor = seg.start();
                    prev_was_free = false;
                }
                Kind::Alloc | Kind::Free => {
                    let Some(open) = span else {
                        return self.fail("segment outside any span", seg.start(), seg.end());
                    };
                    self.ensure(
                        seg.start() == cursor,
                        "segments not contiguous",
                        seg.start(),
                        cursor,
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
                    cursor = end;
                    if seg.kind() == Kind::Free {
                        self.ensure(!prev_was_free, "two adjacent free segments", seg.start(), 0)?;
                        self.ensure(
                            seg.end() & (q - 1) == 0,
                            "free segment end not quantum aligned",
                            seg.start(),
                            seg.end(),
                        )?;
                        free_segs += 1;
                        prev_was_free = true;
                    } else {
                        inuse += seg.size();
                        allocated += 1;
                        prev_was_free = false;
                    }
                }
                Kind::Rotor => {
                    rotors += 1;
                    self.ensure(seg == s.rotor, "stray rotor", seg.start(), 0)?;
                    prev_was_free = false;
                }
                Kind::Walker => prev_was_free = false,
                Kind::Head | Kind::Spare => {
                    return self.fail(
                        "foreign tag in the address list",
                        seg.start(),
                        seg.kind() as usize,
                    )
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
        if let Some(open) = span {
            self.ensure(
                cursor == open.end(),
                "span not covered to its end",
                open.start(),
                cursor,
            )?;
        }
        self.ensure(rotors == 1, "rotor missing or duplicated", 0, rotors)?;
        self.ensure(
            tags == s.tags_in_use,
            "tag count disagrees",
            tags,
            s.tags_in_use,
        )?;

        // 2. The span list: same spans, disjoint, added spans ordered.
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
            listed == spans,
            "span list and address list disagree",
            listed,
            spans,
        )?;

        // 3. Freelists and freemap.
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
        )?;

        // 4. The hash.
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
            return self.fail(
                "hash entry not an allocated segment in its bucket",
                at,
                bucket,
            );
        }
        self.ensure(
            hashed == allocated && hashed == s.hash.live,
            "hash holds the wrong number of segments",
            hashed,
            allocated,
        )?;

        // 5. Counters and the reserve.
        let c = &s.counters;
        self.ensure(
            c.mem_inuse == inuse,
            "mem_inuse disagrees with the segments",
            c.mem_inuse,
            inuse,
        )?;
        self.ensure(
            c.mem_total == total,
            "mem_total disagrees with the spans",
            c.mem_total,
            total,
        )?;
        self.ensure(
            c.mem_import == imported,
            "mem_import disagrees with the imported spans",
            c.mem_import,
            imported,
        )?;
        self.ensure(
            c.alloc - c.free == allocated as u64,
            "alloc - free disagrees with the hash",
            (c.alloc - c.free) as usize,
            allocated,
        )?;
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
