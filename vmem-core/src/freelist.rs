//! Power-of-two freelists and the freemap bitmap. See design.md §4.
//!
//! Freelist `i` holds the free segments whose size has its highest bit at
//! position `i` (sizes in `[2^i, 2^(i+1))`). Bit `i` of the freemap is set
//! exactly when list `i` is non-empty, so "the smallest list whose every
//! member is at least `size`" is one bit scan. Segments are inserted at the
//! head, which is the discipline libumem's placement depends on.

use crate::bits::{highbit, same_highbit};
use crate::segment::{Kind, SegPtr};

/// Number of freelists: one per bit of an address.
pub(crate) const FREELISTS: usize = usize::BITS as usize;

pub(crate) struct FreeLists {
    heads: [Option<SegPtr>; FREELISTS],
    /// Bit `i` set when list `i` is non-empty.
    pub(crate) map: usize,
}

impl FreeLists {
    pub(crate) const fn new() -> FreeLists {
        FreeLists {
            heads: [None; FREELISTS],
            map: 0,
        }
    }

    /// The list a free segment of `size` bytes belongs on.
    #[inline]
    pub(crate) fn index_for(size: usize) -> usize {
        highbit(size) as usize - 1
    }

    /// First segment of list `index`.
    #[inline]
    pub(crate) fn head(&self, index: usize) -> Option<SegPtr> {
        self.heads[index]
    }

    /// Puts `seg` at the head of its list and marks it free.
    #[inline(always)]
    pub(crate) fn insert(&mut self, seg: SegPtr) {
        let index = Self::index_for(seg.size());
        let old = self.heads[index];
        seg.set_kind_and_prev(Kind::Free, None);
        seg.set_next_kind(old);
        if let Some(old) = old {
            debug_assert_eq!(old.kind(), Kind::Free);
            old.set_kind_and_prev(Kind::Free, Some(seg));
        }
        self.heads[index] = Some(seg);
        self.map |= 1 << index;
    }

    /// Whether the free segment `seg`, grown to `new_size`, would be put
    /// back where it is by a `remove` and an `insert`: it heads its list,
    /// and `new_size` belongs on the same list.
    #[inline(always)]
    pub(crate) fn stays_head(&self, seg: SegPtr, new_size: usize) -> bool {
        debug_assert_eq!(seg.kind(), Kind::Free);
        same_highbit(seg.size(), new_size) && seg.prev_kind().is_none()
    }

    /// Takes `seg` off its list. Its size must not have changed lists since
    /// it was inserted.
    #[inline(always)]
    pub(crate) fn remove(&mut self, seg: SegPtr) {
        debug_assert_eq!(seg.kind(), Kind::Free);
        let next = seg.next_kind();
        match seg.prev_kind() {
            Some(prev) => prev.set_next_kind(next),
            None => {
                let index = Self::index_for(seg.size());
                self.heads[index] = next;
                if next.is_none() {
                    self.map &= !(1 << index);
                }
            }
        }
        if let Some(next) = next {
            debug_assert_eq!(next.kind(), Kind::Free);
            next.set_kind_and_prev(Kind::Free, seg.prev_kind());
        }
    }
}
