//! The shared pool of spare boundary tags.
//!
//! Arenas keep a small private reserve of tags (`Arena::populate` and
//! `Arena::trim_reserve` in `arena/mod.rs`) and top it up from a
//! [`TagPool`] in batches. The pool obtains tag memory a page at a time
//! from its [`PageSource`], always with no arena lock held, and never
//! gives pages back: tags are recycled through the pool instead, exactly as
//! libumem recycles `vmem_seg_t`s through its global free list.

use core::ptr::NonNull;

use crate::page::{PageSource, PAGE_SIZE};
use crate::segment::{Seg, SegPtr, TAG_SIZE};
use crate::sync::Lock;

/// Bytes at the end of each tag page that link it to the previous page.
const PAGE_TRAILER: usize = core::mem::size_of::<*mut u8>();

/// Tags carved from one page (85 on 64-bit targets; the 16 bytes left over
/// hold the page trailer).
pub const TAGS_PER_PAGE: usize = (PAGE_SIZE - PAGE_TRAILER) / TAG_SIZE;

/// A chain of spare tags linked through `next_kind`.
#[derive(Default)]
pub(crate) struct TagChain {
    pub(crate) head: Option<SegPtr>,
    pub(crate) len: usize,
}

impl TagChain {
    /// Pushes one spare tag.
    #[inline]
    pub(crate) fn push(&mut self, tag: SegPtr) {
        tag.set_next_kind(self.head);
        self.head = Some(tag);
        self.len += 1;
    }

    /// Pops one spare tag.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<SegPtr> {
        let tag = self.head?;
        self.head = tag.next_kind();
        self.len -= 1;
        Some(tag)
    }

    /// Moves up to `n` tags from `self` to `other`.
    pub(crate) fn move_to(&mut self, other: &mut TagChain, n: usize) {
        for _ in 0..n {
            match self.pop() {
                Some(tag) => other.push(tag),
                None => break,
            }
        }
    }
}

struct PoolState {
    spare: TagChain,
    pages: usize,
    /// The newest tag page; each page's trailer points to the one before.
    /// The pool never gives pages back, but keeping every page reachable
    /// from its start is what tells leak checkers (Valgrind, Miri) that the
    /// memory is held on purpose rather than lost.
    newest_page: *mut u8,
}

// SAFETY: `newest_page` is only an owning record of pages that the pool
// alone hands out (as tags, under its lock); moving it between threads is as
// sound as moving the tags themselves.
unsafe impl Send for PoolState {}

/// Counters of a [`TagPool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Pages obtained from the page source so far.
    pub pages: usize,
    /// Tags sitting in the pool, ready for any arena.
    pub spare_tags: usize,
    /// Bytes of one tag.
    pub tag_size: usize,
}

/// A pool of spare boundary tags shared by any number of arenas.
///
/// With the `std` feature, [`TagPool::global`] is the pool arenas use unless
/// told otherwise. Without it, declare one as a `static` over your own
/// [`PageSource`]:
///
/// ```
/// use vmem_core::{PageSource, TagPool};
/// # #[cfg(feature = "std")]
/// static POOL: TagPool = TagPool::new(&vmem_core::SystemPages);
/// ```
///
#[cfg_attr(feature = "std", doc = "[`TagPool::global`]: TagPool::global")]
#[cfg_attr(
    not(feature = "std"),
    doc = "[`TagPool::global`]: https://docs.rs/vmem-core/latest/vmem_core/struct.TagPool.html#method.global"
)]
pub struct TagPool {
    source: &'static dyn PageSource,
    state: Lock<PoolState>,
}

impl TagPool {
    /// A pool that draws tag pages from `source`.
    pub const fn new(source: &'static dyn PageSource) -> TagPool {
        TagPool {
            source,
            state: Lock::new(PoolState {
                spare: TagChain { head: None, len: 0 },
                pages: 0,
                newest_page: core::ptr::null_mut(),
            }),
        }
    }

    /// The process-wide pool over the system allocator (`std` feature).
    #[cfg(feature = "std")]
    pub fn global() -> &'static TagPool {
        static GLOBAL: TagPool = TagPool::new(&crate::page::SystemPages);
        &GLOBAL
    }

    /// The page source behind this pool (also used for hash tables).
    pub fn page_source(&self) -> &'static dyn PageSource {
        self.source
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        let state = self.state.lock();
        PoolStats {
            pages: state.pages,
            spare_tags: state.spare.len,
            tag_size: TAG_SIZE,
        }
    }

    /// Moves up to `want` spare tags into `into`; returns how many moved.
    pub(crate) fn take(&self, into: &mut TagChain, want: usize) -> usize {
        let mut state = self.state.lock();
        let before = into.len;
        state.spare.move_to(into, want);
        into.len - before
    }

    /// Gives `n` tags from `from` back to the pool.
    pub(crate) fn give(&self, from: &mut TagChain, n: usize) {
        let mut state = self.state.lock();
        from.move_to(&mut state.spare, n);
    }

    /// Gets one more page of tags from the page source. Must be called with
    /// no arena lock held. Returns false if the page source is exhausted.
    pub(crate) fn grow(&self) -> bool {
        let Some(page) = self.source.alloc_pages(PAGE_SIZE) else {
            return false;
        };
        let mut fresh = TagChain::default();
        let base = page.cast::<Seg>();
        for i in 0..TAGS_PER_PAGE {
            // SAFETY: `i * TAG_SIZE + TAG_SIZE <= PAGE_SIZE`, so the slot lies
            // inside the page we were just given; the page is page-aligned and
            // TAG_SIZE is a multiple of the tag alignment, so the slot is
            // aligned; nobody else can reach the fresh page.
            let tag = unsafe { SegPtr::init(NonNull::new_unchecked(base.as_ptr().add(i))) };
            fresh.push(tag);
        }
        let trailer = page
            .as_ptr()
            .wrapping_add(PAGE_SIZE - PAGE_TRAILER)
            .cast::<*mut u8>();
        let mut state = self.state.lock();
        // SAFETY: the trailer lies inside the page, after the last tag slot
        // (`TAGS_PER_PAGE * TAG_SIZE <= PAGE_SIZE - PAGE_TRAILER`), and is
        // pointer-aligned because the page is page-aligned; nothing else
        // reads or writes it.
        unsafe { trailer.write(state.newest_page) };
        state.newest_page = page.as_ptr();
        state.pages += 1;
        fresh.move_to(&mut state.spare, TAGS_PER_PAGE);
        true
    }
}

impl core::fmt::Debug for TagPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TagPool")
            .field("stats", &self.stats())
            .finish()
    }
}
