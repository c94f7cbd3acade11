//! Where the heap's memory comes from: the system calls behind the top of
//! the arena hierarchy (libumem's `vmem_mmap.c` and `vmem_sbrk.c`).
//!
//! - [`MmapReserve`] reserves address space with `mmap` and no access, in
//!   chunks, for the `mmap_top` arena; it is given back with `munmap`.
//! - [`Committed`] is the heap's import and release pair, what
//!   `vmem_heap_arena` hands to C: it allocates from the heap arena and
//!   commits the range (`mprotect` read-write) on the way out, and on the
//!   way back decommits it (`madvise(MADV_DONTNEED)`, then no access), so
//!   the resident size falls when memory is freed.
//! - [`SbrkTop`] grows the `sbrk_top` arena with the program break. That
//!   memory is committed from the start and never given back to the
//!   system.

use std::sync::{Arc, Mutex};

use vmem_core::{Arena, Source, Wait};

/// The system page size (a power of two).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 && (size as usize).is_power_of_two() {
        size as usize
    } else {
        4096
    }
}

fn round_up(x: usize, align: usize) -> Option<usize> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Address space reserved in `mmap` chunks, with no access (see the module
/// docs). The source of the `mmap_top` arena.
#[derive(Debug, Default)]
pub struct MmapReserve;

impl MmapReserve {
    /// Reserves `size` bytes aligned to `align`, inaccessible.
    fn reserve(size: usize, align: usize) -> Option<usize> {
        let page = page_size();
        let align = align.max(page);
        let len = size.checked_add(align - page)?;
        // SAFETY: an anonymous private mapping at an address the kernel
        // chooses touches no existing memory.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        let start = p as usize;
        let aligned = round_up(start, align)?;
        let map_end = start + len;
        let end = aligned + size;
        // SAFETY: both ranges lie inside the mapping just made and nothing
        // refers to them.
        unsafe {
            if aligned > start {
                libc::munmap(start as *mut libc::c_void, aligned - start);
            }
            if map_end > end {
                libc::munmap(end as *mut libc::c_void, map_end - end);
            }
        }
        Some(aligned)
    }
}

impl Source for MmapReserve {
    fn import(&self, size: usize, align: usize, _wait: Wait) -> Option<(usize, usize)> {
        let size = round_up(size, page_size())?;
        let start = MmapReserve::reserve(size, align)?;
        tracing::debug!(start, size, "mmap: address space reserved");
        Some((start, size))
    }

    fn release(&self, start: usize, size: usize) {
        tracing::debug!(start, size, "mmap: address space given back");
        // SAFETY: `[start, start + size)` is a whole reservation made by
        // `import`, which the arena returns only once nothing in it is used.
        unsafe { libc::munmap(start as *mut libc::c_void, size) };
    }

    fn quantum(&self) -> usize {
        page_size()
    }
}

/// The heap's import and release functions: memory that is really there
/// (see the module docs).
pub struct Committed {
    heap: Arc<Arena>,
    /// Commit and decommit around the heap (mmap); sbrk memory always is.
    commit: bool,
}

impl core::fmt::Debug for Committed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Committed")
            .field("heap", self.heap.name())
            .field("commit", &self.commit)
            .finish()
    }
}

impl Committed {
    /// Committed memory from `heap`; `commit` says whether the heap's
    /// segments must be made accessible on the way out (mmap backend).
    pub fn new(heap: Arc<Arena>, commit: bool) -> Committed {
        Committed { heap, commit }
    }

    /// The heap arena behind it.
    pub fn heap(&self) -> &Arc<Arena> {
        &self.heap
    }

    /// Allocates `size` bytes of committed memory aligned to `align`,
    /// waiting for room as `wait` says.
    pub fn alloc(&self, size: usize, align: usize, wait: Wait) -> Option<usize> {
        crate::maintenance::updater_check();
        // The heap is an `Arena`, and an arena as a `Source` already picks
        // `alloc` or an aligned `xalloc`.
        let (addr, _) = Source::import(&*self.heap, size, align, wait)?;
        if self.commit {
            let len = round_up(size, self.heap.quantum())?;
            // SAFETY: the range was reserved by `MmapReserve` and the heap
            // just gave it to us alone.
            let rc = unsafe {
                libc::mprotect(
                    addr as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                tracing::warn!(addr, len, "mmap: commit failed");
                let _ = self.heap.free(addr, size);
                return None;
            }
        }
        Some(addr)
    }

    /// Gives back what [`alloc`](Committed::alloc) returned.
    pub fn free(&self, addr: usize, size: usize) {
        if self.commit {
            if let Some(len) = round_up(size, self.heap.quantum()) {
                // SAFETY: the caller gives back a range it got from `alloc`
                // and no longer uses; dropping its pages and its access is
                // what freeing it means.
                unsafe {
                    libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED);
                    libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE);
                }
            }
        }
        if let Err(err) = self.heap.free(addr, size) {
            panic!("vmem: heap memory given back that the heap never gave: {err}");
        }
    }
}

impl Source for Committed {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        self.alloc(size, align, wait).map(|addr| (addr, size))
    }

    fn release(&self, start: usize, size: usize) {
        self.free(start, size);
    }

    fn quantum(&self) -> usize {
        self.heap.quantum()
    }
}

/// Bytes the program break grows by at least.
pub const SBRK_CHUNK: usize = 1 << 20;

/// The program break as the source of the heap: `sbrk_top` grows by
/// [`SBRK_CHUNK`]-sized steps and never shrinks (see the module docs).
pub struct SbrkTop {
    top: Arena,
    grow: Mutex<()>,
}

impl core::fmt::Debug for SbrkTop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SbrkTop").field("top", &self.top).finish()
    }
}

impl SbrkTop {
    /// The `sbrk_top` arena (empty until the first import).
    pub fn new(top: Arena) -> SbrkTop {
        SbrkTop {
            top,
            grow: Mutex::new(()),
        }
    }

    /// The arena of memory taken from the break so far.
    pub fn arena(&self) -> &Arena {
        &self.top
    }

    /// Moves the break up by at least `size + align` bytes, page aligned,
    /// and adds the new memory to the top arena.
    fn grow(&self, size: usize, align: usize) -> bool {
        let _one_at_a_time = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        let page = page_size();
        let Some(want) = size
            .checked_add(align)
            .and_then(|n| round_up(n.max(SBRK_CHUNK), page))
        else {
            return false;
        };
        // SAFETY: sbrk(0) only reads the break.
        let current = unsafe { libc::sbrk(0) } as usize;
        let Some(pad) = round_up(current, page).map(|aligned| aligned - current) else {
            return false;
        };
        let Ok(increment) = libc::intptr_t::try_from(pad + want) else {
            return false;
        };
        // SAFETY: moving the break up gives this process new memory that
        // nothing else refers to; other users of the break (malloc) cope
        // with it having moved, as they do with libumem.
        let old = unsafe { libc::sbrk(increment) };
        if old as isize == -1 {
            return false;
        }
        let base = old as usize + pad;
        tracing::debug!(base, size = want, "sbrk: break moved");
        crate::populate::note_import(crate::populate::Level::Top);
        self.top.add(base, want).is_ok()
    }
}

impl Source for SbrkTop {
    fn import(&self, size: usize, align: usize, _wait: Wait) -> Option<(usize, usize)> {
        loop {
            if let Some(span) = Source::import(&self.top, size, align, Wait::NoSleep) {
                return Some(span);
            }
            if !self.grow(size, align) {
                return None;
            }
        }
    }

    fn release(&self, start: usize, size: usize) {
        // The memory stays committed and in the top arena, for later imports.
        if let Err(err) = self.top.free(start, size) {
            panic!("vmem: sbrk memory given back that sbrk_top never gave: {err}");
        }
    }

    fn quantum(&self) -> usize {
        self.top.quantum()
    }
}
