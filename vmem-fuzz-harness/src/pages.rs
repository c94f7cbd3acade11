//! A page source that counts what it hands out and can be told to refuse,
//! and a private tag pool over it for each thread.
//!
//! With a pool of its own, a run can prove that it leaked nothing: once
//! every arena it made is gone, every tag the pool ever carved is back in
//! the pool, and the only pages still out are the tag pages themselves
//! (which a pool never gives back), so every hash table was freed.

use core::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use vmem_core::{PageSource, SystemPages, TagPool, PAGE_SIZE, TAGS_PER_PAGE};

/// The system allocator, counted, with a switch that makes it refuse.
#[derive(Debug, Default)]
pub struct CountingPages {
    outstanding: AtomicUsize,
    refuse: AtomicBool,
    refused: AtomicUsize,
}

impl CountingPages {
    /// Bytes handed out and not yet given back.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// While `yes`, every request is refused (the arenas see `OutOfTags`,
    /// and hash rescales are skipped).
    pub fn set_refusing(&self, yes: bool) {
        self.refuse.store(yes, Ordering::Relaxed);
    }

    /// Whether requests are being refused now.
    pub fn refusing(&self) -> bool {
        self.refuse.load(Ordering::Relaxed)
    }

    /// Requests refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

// SAFETY: every page comes from `SystemPages`, which meets the contract, and
// goes back to it with the size it was obtained with; the counters change
// nothing about the memory.
unsafe impl PageSource for CountingPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        if self.refuse.load(Ordering::Relaxed) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let page = SystemPages.alloc_pages(bytes)?;
        self.outstanding.fetch_add(bytes, Ordering::Relaxed);
        Some(page)
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize) {
        self.outstanding.fetch_sub(bytes, Ordering::Relaxed);
        // SAFETY: forwarded from the caller, and `ptr` came from
        // `SystemPages::alloc_pages(bytes)` above.
        unsafe { SystemPages.free_pages(ptr, bytes) }
    }
}

/// A tag pool with its own counted page source.
#[derive(Clone, Copy, Debug)]
pub struct PrivatePool {
    /// The page source behind the pool.
    pub pages: &'static CountingPages,
    /// The pool.
    pub pool: &'static TagPool,
}

impl PrivatePool {
    /// A fresh pool (leaked: pools must be `'static`; make one per thread,
    /// not one per run).
    pub fn leak() -> PrivatePool {
        let pages: &'static CountingPages = Box::leak(Box::default());
        let pool: &'static TagPool = Box::leak(Box::new(TagPool::new(pages)));
        PrivatePool { pages, pool }
    }

    /// This thread's pool, made on first use.
    pub fn for_this_thread() -> PrivatePool {
        thread_local! {
            static POOL: PrivatePool = PrivatePool::leak();
        }
        POOL.with(|p| *p)
    }

    /// Panics unless every tag is back in the pool and every page still out
    /// is a tag page. Call once no arena of this pool is alive.
    pub fn assert_nothing_leaked(&self) {
        let stats = self.pool.stats();
        assert_eq!(
            stats.spare_tags,
            stats.pages * TAGS_PER_PAGE,
            "boundary tags leaked: {} of the {} carved are not back in the pool",
            stats.pages * TAGS_PER_PAGE - stats.spare_tags,
            stats.pages * TAGS_PER_PAGE
        );
        assert_eq!(
            self.pages.outstanding(),
            stats.pages * PAGE_SIZE,
            "pages leaked besides the {} tag pages (a hash table not freed?)",
            stats.pages
        );
    }
}
