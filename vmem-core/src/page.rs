//! Where tag memory and hash tables come from.
//!
//! The core never calls the global allocator on its own. Memory for boundary
//! tags and for hash tables is obtained in whole pages from a [`PageSource`]:
//! the system allocator with the `std` feature ([`SystemPages`]), anything
//! the embedder provides without it, and in `vmem-umem` a vmem arena itself
//! (`vmem_seg`).

use core::ptr::NonNull;

/// Granularity of tag and hash-table memory. 4 KiB is the page size of
/// every mainstream platform, and a page of tags holds 85 of them.
pub const PAGE_SIZE: usize = 4096;

/// A provider of page-aligned memory for the arena's own bookkeeping.
///
/// # Safety
/// Implementations must return memory that is valid for reads and writes of
/// `bytes` bytes, aligned to [`PAGE_SIZE`], and not used by anyone else until
/// it is handed back through [`free_pages`](PageSource::free_pages).
pub unsafe trait PageSource: Send + Sync {
    /// Returns `bytes` (a non-zero multiple of [`PAGE_SIZE`]) of fresh memory,
    /// or `None` if none is available. Called without any arena lock held.
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>>;

    /// Gives back memory obtained from `alloc_pages` with the same `bytes`.
    ///
    /// # Safety
    /// `ptr` and `bytes` must come from one earlier `alloc_pages` call on this
    /// source, and the memory must no longer be used.
    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize);
}

/// The process allocator as a page source (`std` feature).
#[cfg(feature = "std")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemPages;

#[cfg(feature = "std")]
// SAFETY: `std::alloc::alloc` with a page-aligned layout returns exclusive,
// page-aligned memory of the requested size, and we free it with the same
// layout.
unsafe impl PageSource for SystemPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        let layout = std::alloc::Layout::from_size_align(bytes, PAGE_SIZE).ok()?;
        if bytes == 0 {
            return None;
        }
        // SAFETY: the layout has a non-zero size.
        NonNull::new(unsafe { std::alloc::alloc(layout) })
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize) {
        let layout = std::alloc::Layout::from_size_align(bytes, PAGE_SIZE)
            .expect("layout was valid when the pages were allocated");
        // SAFETY: the caller guarantees `ptr` came from `alloc_pages(bytes)`,
        // which used this same layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
    }
}
