//! Boundary tags: the 48-byte records that describe every span, segment and
//! marker of an arena. See design.md §3.
//!
//! A tag sits on two lists at once, as in the paper:
//! - the *address list* (`next_addr`/`prev_addr`), a circular list through
//!   every span and segment of the arena in address order within each span;
//! - one *kind list* (`next_kind`/`prev_kind`), which depends on its kind:
//!   a free segment is on a power-of-two freelist, an allocated segment on a
//!   hash chain (singly linked), a span on the arena's span list, a spare tag
//!   on a reserve or pool list (singly linked).
//!
//! To keep a tag at six words, its kind lives in the low three bits of
//! `prev_kind` (tags are 8-byte aligned, so those bits of a tag pointer are
//! always zero). Whether a span was imported is part of the kind
//! ([`Kind::ImportedSpan`]), not a separate flag. Only this module sees that
//! packing.
//!
//! [`SegPtr`] is a copyable handle to a tag. Tags are owned by an arena (or by
//! the tag pool) and only ever reached through that owner's lock, which is the
//! invariant every accessor below relies on.

use core::ptr::{self, NonNull};

/// What a tag represents. The values match libumem's walk-type bits where
/// libumem has one, which keeps the C layer a straight mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A spare tag on a reserve or the pool; not linked into any arena list.
    Spare = 0,
    /// An allocated segment, on a hash chain.
    Alloc = 1,
    /// A free segment, on a freelist.
    Free = 2,
    /// A span created by `add` or `extend`; never given back.
    Span = 3,
    /// A span imported from the arena's source; given back once wholly free.
    ImportedSpan = 4,
    /// The next-fit rotor: a marker in the address list.
    Rotor = 5,
    /// A reentrant walk's position marker.
    Walker = 6,
    /// The arena's list head: ends both the address list and the span list.
    /// Behaves as a span for every "is my neighbour a span" test.
    Head = 7,
}

impl Kind {
    const fn from_bits(bits: usize) -> Kind {
        match bits & KIND_MASK {
            0 => Kind::Spare,
            1 => Kind::Alloc,
            2 => Kind::Free,
            3 => Kind::Span,
            4 => Kind::ImportedSpan,
            5 => Kind::Rotor,
            6 => Kind::Walker,
            _ => Kind::Head,
        }
    }

    /// Spans and the list head delimit runs of segments.
    #[inline]
    pub(crate) const fn is_span_like(self) -> bool {
        const SPAN_LIKE: u8 =
            1 << Kind::Span as u8 | 1 << Kind::ImportedSpan as u8 | 1 << Kind::Head as u8;
        SPAN_LIKE & (1 << self as u8) != 0
    }
}

const KIND_MASK: usize = 0b111;

/// One boundary tag. `#[repr(C)]` and 8-byte alignment guarantee the three
/// free low bits of every tag address used by the kind packing.
#[repr(C, align(8))]
pub(crate) struct Seg {
    start: usize,
    end: usize,
    next_addr: *mut Seg,
    prev_addr: *mut Seg,
    next_kind: *mut Seg,
    /// Previous tag on the kind list, with the [`Kind`] in the low bits
    /// (kept as a pointer so it never loses its provenance).
    prev_kind_and_kind: *mut Seg,
}

/// Bytes of tag memory per segment; the stats report it.
pub(crate) const TAG_SIZE: usize = core::mem::size_of::<Seg>();

const _: () = assert!(core::mem::align_of::<Seg>() > KIND_MASK);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(TAG_SIZE == 48);

/// A handle to a live tag.
///
/// Handles are only created for tags carved from the pool's pages and are
/// only dereferenced by code holding the lock of the tag's owner (an arena's
/// lock, or the pool's lock for spare tags). That ownership discipline is the
/// safety argument for every accessor: at most one thread touches a tag at a
/// time, and the memory stays valid because tag pages are never returned
/// while any arena or the pool can still reach them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SegPtr(NonNull<Seg>);

// SAFETY: a `SegPtr` is only dereferenced under its owner's lock (see the
// type's documentation), so moving the handle between threads is sound.
unsafe impl Send for SegPtr {}

macro_rules! field_accessors {
    ($($get:ident / $set:ident : $field:ident),* $(,)?) => {$(
        #[inline]
        pub(crate) fn $get(self) -> usize {
            // SAFETY: the tag is live and owned by the lock holder (type docs).
            unsafe { (*self.0.as_ptr()).$field }
        }
        #[inline]
        pub(crate) fn $set(self, value: usize) {
            // SAFETY: as above; no reference to the tag is alive elsewhere.
            unsafe { (*self.0.as_ptr()).$field = value }
        }
    )*};
}

macro_rules! link_accessors {
    ($($get:ident / $set:ident : $field:ident),* $(,)?) => {$(
        #[inline]
        pub(crate) fn $get(self) -> Option<SegPtr> {
            // SAFETY: the tag is live and owned by the lock holder (type docs).
            NonNull::new(unsafe { (*self.0.as_ptr()).$field }).map(SegPtr)
        }
        #[inline]
        pub(crate) fn $set(self, value: Option<SegPtr>) {
            let raw = value.map_or(ptr::null_mut(), |p| p.0.as_ptr());
            // SAFETY: the tag is live and owned by the lock holder (type docs).
            unsafe { (*self.0.as_ptr()).$field = raw }
        }
    )*};
}

macro_rules! address_link_accessors {
    ($($get:ident / $set:ident : $field:ident),* $(,)?) => {$(
        /// A neighbour in the (circular) address list.
        #[inline]
        pub(crate) fn $get(self) -> SegPtr {
            // SAFETY: the tag is live and owned by the lock holder (type
            // docs). Address links are never null: `init` points them at the
            // tag itself and every later store writes a live tag's address.
            SegPtr(unsafe { NonNull::new_unchecked((*self.0.as_ptr()).$field) })
        }
        #[inline]
        pub(crate) fn $set(self, value: SegPtr) {
            // SAFETY: the tag is live and owned by the lock holder (type docs).
            unsafe { (*self.0.as_ptr()).$field = value.0.as_ptr() }
        }
    )*};
}

impl SegPtr {
    /// Turns raw, suitably aligned tag memory into a spare tag.
    ///
    /// # Safety
    /// `raw` must be valid for writes of a `Seg`, 8-byte aligned, and not
    /// reachable by anyone else for as long as the tag lives.
    pub(crate) unsafe fn init(raw: NonNull<Seg>) -> SegPtr {
        // SAFETY: the caller hands us exclusive, writable, aligned memory.
        unsafe {
            raw.as_ptr().write(Seg {
                start: 0,
                end: 0,
                // Address links are never null: a fresh tag is a one-element
                // circular list of its own.
                next_addr: raw.as_ptr(),
                prev_addr: raw.as_ptr(),
                next_kind: ptr::null_mut(),
                prev_kind_and_kind: ptr::null_mut::<Seg>().with_addr(Kind::Spare as usize),
            });
        }
        SegPtr(raw)
    }

    field_accessors!(start / set_start: start, end / set_end: end);
    link_accessors!(next_kind / set_next_kind: next_kind);
    address_link_accessors!(next_addr / set_next_addr: next_addr, prev_addr / set_prev_addr: prev_addr);

    /// Size of the range the tag covers.
    #[inline]
    pub(crate) fn size(self) -> usize {
        self.end().wrapping_sub(self.start())
    }

    #[inline]
    fn packed(self) -> *mut Seg {
        // SAFETY: the tag is live and owned by the lock holder (type docs).
        unsafe { (*self.0.as_ptr()).prev_kind_and_kind }
    }

    #[inline]
    fn set_packed(self, value: *mut Seg) {
        // SAFETY: the tag is live and owned by the lock holder (type docs).
        unsafe { (*self.0.as_ptr()).prev_kind_and_kind = value }
    }

    #[inline]
    pub(crate) fn kind(self) -> Kind {
        Kind::from_bits(self.packed().addr())
    }

    #[inline]
    pub(crate) fn set_kind(self, kind: Kind) {
        self.set_packed(self.packed().map_addr(|a| (a & !KIND_MASK) | kind as usize));
    }

    #[inline]
    pub(crate) fn prev_kind(self) -> Option<SegPtr> {
        NonNull::new(self.packed().map_addr(|a| a & !KIND_MASK)).map(SegPtr)
    }

    #[inline]
    pub(crate) fn set_prev_kind(self, value: Option<SegPtr>) {
        let kind = self.packed().addr() & KIND_MASK;
        let raw = value.map_or(ptr::null_mut(), |v| v.0.as_ptr());
        self.set_packed(raw.map_addr(|a| a | kind));
    }

    /// Sets the kind and the previous tag on the kind list with one store.
    /// [`set_kind`](SegPtr::set_kind) and
    /// [`set_prev_kind`](SegPtr::set_prev_kind) each keep the other half of
    /// the word, so each first loads it; on the freelist and hash paths,
    /// which know both halves, that load only lengthened the chain of
    /// dependent loads through neighbouring tags. `prev` means something
    /// only for free segments and spans; other kinds get `None`.
    #[inline]
    pub(crate) fn set_kind_and_prev(self, kind: Kind, prev: Option<SegPtr>) {
        let raw = prev.map_or(ptr::null_mut(), |v| v.0.as_ptr());
        self.set_packed(raw.map_addr(|a| a | kind as usize));
    }

    /// Links `self` into the address list right after `prev`.
    #[inline]
    pub(crate) fn insert_addr_after(self, prev: SegPtr) {
        let next = prev.next_addr();
        self.set_next_addr(next);
        self.set_prev_addr(prev);
        prev.set_next_addr(self);
        next.set_prev_addr(self);
    }

    /// Unlinks `self` from the address list.
    #[inline]
    pub(crate) fn remove_addr(self) {
        let prev = self.prev_addr();
        let next = self.next_addr();
        prev.set_next_addr(next);
        next.set_prev_addr(prev);
    }

    /// Makes `self` a one-element circular list on both link pairs (a list
    /// head).
    pub(crate) fn make_head(self) {
        self.set_next_addr(self);
        self.set_prev_addr(self);
        self.set_next_kind(Some(self));
        self.set_prev_kind(Some(self));
    }

    /// Links `self` into a circular kind list (the span list) after `prev`.
    pub(crate) fn insert_kind_after(self, prev: SegPtr) {
        let next = prev.next_kind().expect("span list is circular");
        self.set_next_kind(Some(next));
        self.set_prev_kind(Some(prev));
        prev.set_next_kind(Some(self));
        next.set_prev_kind(Some(self));
    }

    /// Unlinks `self` from a circular kind list (the span list).
    pub(crate) fn remove_kind_circular(self) {
        let prev = self.prev_kind().expect("span list is circular");
        let next = self.next_kind().expect("span list is circular");
        prev.set_next_kind(Some(next));
        next.set_prev_kind(Some(prev));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_prev_share_one_word_without_disturbing_each_other() {
        // Two tags on the stack (no allocator: this runs without `std` too),
        // reached only through the handles below; `mem` is not touched
        // again, so nothing invalidates them.
        let mut mem = [const { core::mem::MaybeUninit::<Seg>::uninit() }; 2];
        let base = mem.as_mut_ptr().cast::<Seg>();
        // SAFETY: both slots are writable and aligned for `Seg`, and are
        // reached only through `a` and `b` while `mem` lives.
        let (a, b) = unsafe {
            (
                SegPtr::init(NonNull::new_unchecked(base)),
                SegPtr::init(NonNull::new_unchecked(base.add(1))),
            )
        };
        assert_eq!((a.kind(), a.prev_kind()), (Kind::Spare, None));
        a.set_kind_and_prev(Kind::Free, Some(b));
        assert_eq!((a.kind(), a.prev_kind()), (Kind::Free, Some(b)));
        a.set_kind(Kind::Alloc);
        assert_eq!(
            (a.kind(), a.prev_kind()),
            (Kind::Alloc, Some(b)),
            "kind alone"
        );
        a.set_prev_kind(None);
        assert_eq!((a.kind(), a.prev_kind()), (Kind::Alloc, None), "prev alone");
        for kind in [Kind::Head, Kind::Walker, Kind::Spare] {
            a.set_kind_and_prev(kind, Some(a));
            assert_eq!((a.kind(), a.prev_kind()), (kind, Some(a)));
            a.set_kind_and_prev(kind, None);
            assert_eq!((a.kind(), a.prev_kind()), (kind, None));
        }
    }
}
