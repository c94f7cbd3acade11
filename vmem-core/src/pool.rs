//! The shared pool of spare boundary tags. See design.md §8.
//!
//! Arenas keep a small private reserve of tags (see `arena/reserve.rs`) and top it
//! up from a [`TagPool`] in batches. The pool obtains tag memory in chunks
//! of [`GROW_PAGES`] pages from its [`PageSource`], always with no arena lock held, and never
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

/// Pages a pool asks its page source for at a time (256 KiB). A system
/// allocator serves a request this large with a mapping of its own, so page
/// alignment costs it almost nothing, where glibc serves a lone page-aligned
/// 4 KiB request with about 8 KiB: one-page growth made a segment cost 105
/// bytes of resident memory instead of 57.
pub const GROW_PAGES: usize = 64;

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
        // A large request first; a page source that cannot serve it (a
        // small static buffer, say) may still have a page.
        let (chunk, pages) = match self.source.alloc_pages(GROW_PAGES * PAGE_SIZE) {
            Some(chunk) => (chunk, GROW_PAGES),
            None => match self.source.alloc_pages(PAGE_SIZE) {
                Some(page) => (page, 1),
                None => return false,
            },
        };
        let mut fresh = TagChain::default();
        let page_at = |p: usize| -> *mut u8 {
            // SAFETY: `p < pages`, so the offset stays inside the chunk of
            // `pages * PAGE_SIZE` bytes the page source just gave us.
            unsafe { chunk.as_ptr().add(p * PAGE_SIZE) }
        };
        for p in 0..pages {
            let base = page_at(p).cast::<Seg>();
            for i in 0..TAGS_PER_PAGE {
                // SAFETY: `i * TAG_SIZE + TAG_SIZE <= PAGE_SIZE`, so the slot
                // lies inside page `p` of the chunk we were just given; pages
                // are page-aligned and TAG_SIZE is a multiple of the tag
                // alignment, so the slot is aligned; nobody else can reach
                // the fresh chunk.
                let tag = unsafe { SegPtr::init(NonNull::new_unchecked(base.add(i))) };
                fresh.push(tag);
            }
        }
        let mut state = self.state.lock();
        // Newest last, so the pool's own pointer is to the chunk's start:
        // a leak checker counts a block as held only through its start.
        for p in (0..pages).rev() {
            let page = page_at(p);
            let trailer = page
                .wrapping_add(PAGE_SIZE - PAGE_TRAILER)
                .cast::<*mut u8>();
            // SAFETY: the trailer lies inside the page, after its last tag
            // slot (`TAGS_PER_PAGE * TAG_SIZE <= PAGE_SIZE - PAGE_TRAILER`),
            // and is pointer-aligned because the page is page-aligned;
            // nothing else reads or writes it.
            unsafe { trailer.write(state.newest_page) };
            state.newest_page = page;
        }
        state.pages += pages;
        fresh.move_to(&mut state.spare, pages * TAGS_PER_PAGE);
        true
    }
}

/// A tag pool's lock, held until dropped (see [`TagPool::lockup`]).
#[must_use = "the lock is released when this is dropped"]
pub struct PoolLockup<'a> {
    _state: crate::sync::Guard<'a, PoolState>,
}

impl core::fmt::Debug for PoolLockup<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PoolLockup")
    }
}

impl TagPool {
    /// Takes the pool's lock and holds it until the returned value is
    /// dropped, for fork handlers (see `Arena::lockup`). Take it after every
    /// arena's locks: arenas take it while holding theirs.
    pub fn lockup(&self) -> PoolLockup<'_> {
        PoolLockup {
            _state: self.state.lock(),
        }
    }
}

impl core::fmt::Debug for TagPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TagPool")
            .field("stats", &self.stats())
            .finish()
    }
}
