//! Page sources for boundary tags and hash tables.
//!
//! - [`MmapPages`] maps pages straight from the system. It feeds the
//!   *bootstrap* tag pool, from which only the process layer's own arenas
//!   (`mmap_top`, `heap`, `vmem_internal`, `vmem_seg`, ...) take their tags,
//!   so obtaining a tag page never needs a tag: this is what breaks the
//!   recursion of a self-hosted tag arena (libumem uses a static array of
//!   segments and a populate reserve for the same purpose; see
//!   `docs/design.md`).
//! - [`SegPages`] allocates pages from the `vmem_seg` arena. It feeds the
//!   *process* tag pool that every other arena of the process uses: after
//!   initialisation their boundary tags and hash tables are vmem memory.

use core::ptr::NonNull;

use vmem_core::{AllocFlags, PageSource};

use crate::backend::page_size;

/// Pages mapped with `mmap` for each request and unmapped when freed.
#[derive(Debug, Default, Clone, Copy)]
pub struct MmapPages;

// SAFETY: every allocation is a fresh private anonymous mapping of at least
// `bytes`, page aligned and read-write, owned by the caller until it gives
// it back to `free_pages` with the same size, which unmaps exactly it.
unsafe impl PageSource for MmapPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        if bytes == 0 {
            return None;
        }
        // SAFETY: a new anonymous mapping touches no existing memory.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        crate::populate::note_bootstrap_mapping();
        NonNull::new(p.cast())
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize) {
        // SAFETY: the caller returns a mapping this source made, whole.
        unsafe { libc::munmap(ptr.as_ptr().cast(), bytes) };
    }
}

/// Pages from the `vmem_seg` arena of the process (initialised on first
/// use). A request made while the current thread is already inside one is
/// refused rather than recursing.
#[derive(Debug, Default, Clone, Copy)]
pub struct SegPages;

// SAFETY: the `vmem_seg` arena imports committed, read-write memory from
// the heap and hands each range to one caller at a time; ranges are a
// multiple of its quantum (the page size) and aligned to it. `free_pages`
// gives the range back with the size it was allocated with.
unsafe impl PageSource for SegPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        let world = crate::world::get();
        crate::maintenance::updater_check();
        let addr = crate::maintenance::populating(|| {
            world
                .seg_arena()
                .alloc(bytes.max(page_size()), AllocFlags::new())
                .ok()
        })?;
        NonNull::new(addr as *mut u8)
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize) {
        let world = crate::world::get();
        if let Err(err) = world
            .seg_arena()
            .free(ptr.as_ptr() as usize, bytes.max(page_size()))
        {
            panic!("vmem: tag pages given back that vmem_seg never gave: {err}");
        }
    }
}
