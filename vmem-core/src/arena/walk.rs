//! Walking an arena's segments (libumem's `vmem_walk`). See design.md §12.

use core::ops::BitOr;

use crate::segment::{Kind, SegPtr};

use super::state::Releases;
use super::Arena;

/// A set of segment types, with libumem's bit values (`VMEM_ALLOC`,
/// `VMEM_FREE`, `VMEM_SPAN`, `VMEM_ROTOR`, `VMEM_WALKER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SegmentTypes(u32);

impl SegmentTypes {
    /// Allocated segments.
    pub const ALLOC: SegmentTypes = SegmentTypes(0x01);
    /// Free segments.
    pub const FREE: SegmentTypes = SegmentTypes(0x02);
    /// Spans (added and imported).
    pub const SPAN: SegmentTypes = SegmentTypes(0x10);
    /// The next-fit rotor.
    pub const ROTOR: SegmentTypes = SegmentTypes(0x20);
    /// Other walks' position markers.
    pub const WALKER: SegmentTypes = SegmentTypes(0x40);
    /// Allocated and free segments and spans.
    pub const ALL: SegmentTypes = SegmentTypes(0x13);

    /// From raw libumem bits (unknown bits are ignored).
    pub const fn from_bits(bits: u32) -> SegmentTypes {
        SegmentTypes(bits & 0x73)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every type in `other` is in `self`.
    pub const fn contains(self, other: SegmentTypes) -> bool {
        self.0 & other.0 == other.0
    }

    const fn matches(self, kind: SegmentKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

impl BitOr for SegmentTypes {
    type Output = SegmentTypes;
    fn bitor(self, rhs: SegmentTypes) -> SegmentTypes {
        SegmentTypes(self.0 | rhs.0)
    }
}

/// What a walked segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// An allocated segment.
    Alloc,
    /// A free segment.
    Free,
    /// A span given with `add`/`extend_alloc` (or at creation).
    Span,
    /// A span imported from the source.
    ImportedSpan,
    /// The next-fit rotor.
    Rotor,
    /// A concurrent reentrant walk's marker.
    Walker,
}

impl SegmentKind {
    const fn bit(self) -> u32 {
        match self {
            SegmentKind::Alloc => 0x01,
            SegmentKind::Free => 0x02,
            SegmentKind::Span | SegmentKind::ImportedSpan => 0x10,
            SegmentKind::Rotor => 0x20,
            SegmentKind::Walker => 0x40,
        }
    }

    fn of(kind: Kind) -> Option<SegmentKind> {
        Some(match kind {
            Kind::Alloc => SegmentKind::Alloc,
            Kind::Free => SegmentKind::Free,
            Kind::Span => SegmentKind::Span,
            Kind::ImportedSpan => SegmentKind::ImportedSpan,
            Kind::Rotor => SegmentKind::Rotor,
            Kind::Walker => SegmentKind::Walker,
            Kind::Head | Kind::Spare => return None,
        })
    }
}

/// One segment reported by a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Its type.
    pub kind: SegmentKind,
    /// First address.
    pub start: usize,
    /// Size in bytes (an allocated segment reports the size it was
    /// allocated with, which may be below a quantum multiple).
    pub size: usize,
}

fn describe(seg: SegPtr) -> Option<Segment> {
    Some(Segment {
        kind: SegmentKind::of(seg.kind())?,
        start: seg.start(),
        size: seg.size(),
    })
}

impl Arena {
    /// Calls `f` for every segment whose type is in `types`, in the arena's
    /// list order: each span, then the segments inside it in address order.
    /// Spans are in address order, except in an importing arena, where they
    /// are in the order they arrived (as in libumem).
    ///
    /// The arena lock is held throughout, so `f` sees a consistent snapshot
    /// and must not call back into this arena (use
    /// [`walk_reentrant`](Arena::walk_reentrant) for that).
    ///
    /// ```
    /// # #[cfg(feature = "std")] { // `Arena::new` needs `std`
    /// use vmem_core::{AllocFlags, Arena, SegmentKind, SegmentTypes};
    /// let arena = Arena::new("walk", 0, 0x100, 0x10).unwrap();
    /// arena.alloc(0x20, AllocFlags::new()).unwrap();
    /// let mut kinds = Vec::new();
    /// arena.walk(SegmentTypes::ALL, |seg| kinds.push((seg.kind, seg.start, seg.size)));
    /// assert_eq!(kinds, [
    ///     (SegmentKind::Span, 0, 0x100),
    ///     (SegmentKind::Alloc, 0, 0x20),
    ///     (SegmentKind::Free, 0x20, 0xe0),
    /// ]);
    /// # }
    /// ```
    pub fn walk(&self, types: SegmentTypes, mut f: impl FnMut(Segment)) {
        let state = self.state.lock();
        let mut seg = state.head.next_addr();
        while seg != state.head {
            if let Some(s) = describe(seg).filter(|s| types.matches(s.kind)) {
                f(s);
            }
            seg = seg.next_addr();
        }
    }

    /// Like [`walk`](Arena::walk), but the lock is dropped around each call
    /// of `f`, which may then allocate from and free to this very arena
    /// (libumem's `VMEM_REENTRANT`). A marker keeps the walk's place; the
    /// segments reported are a hint, not a snapshot.
    pub fn walk_reentrant(&self, types: SegmentTypes, mut f: impl FnMut(Segment)) {
        let Ok(mut state) = self.populate(self.state.lock()) else {
            // No tag for a marker: fall back to a locked walk, which needs none.
            return self.walk(types, f);
        };
        let walker = state.take_tag();
        walker.set_kind(Kind::Walker);
        walker.set_start(0);
        walker.set_end(0);
        walker.insert_addr_after(state.head);

        /// Takes the marker out again even if `f` panics.
        struct Unmark<'a> {
            arena: &'a Arena,
            walker: SegPtr,
        }
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                let mut state = self.arena.state.lock();
                let mut releases = Releases::default();
                releases.push(state.advance(self.walker, None));
                state.put_tag(self.walker);
                drop(state);
                self.arena.give_back(&releases);
            }
        }
        let unmark = Unmark {
            arena: self,
            walker,
        };

        let mut seg = walker.next_addr();
        while seg != state.head {
            if let Some(s) = describe(seg).filter(|s| types.matches(s.kind)) {
                let mut releases = Releases::default();
                releases.push(state.advance(walker, Some(seg)));
                drop(state);
                self.give_back(&releases);
                f(s);
                state = self.state.lock();
                seg = walker;
            }
            seg = seg.next_addr();
        }
        drop(state);
        drop(unmark);
    }
}
