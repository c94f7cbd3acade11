//! vmem-core with no `std` and no `alloc`: an arena of DMA windows whose
//! boundary tags come from a bump page source over a static buffer.
//!
//! Without `std` there is no global tag pool and no system page source: the
//! embedder declares a [`TagPool`] as a `static` over a [`PageSource`] of
//! its own and hands it to every arena it builds. Here that source is the
//! simplest one possible: pages carved off the front of a static array,
//! never given back (the pool never returns tag pages anyway).
//!
//! The same file builds three ways:
//!
//! ```sh
//! # on the host, with the crate's default features off (prints what it does)
//! cargo run -p vmem-core --example no_std_bump --no-default-features
//! # for bare metal: no operating system, no std, no alloc
//! rustup target add x86_64-unknown-none
//! cargo build -p vmem-core --example no_std_bump --no-default-features \
//!     --target x86_64-unknown-none
//! # and as part of the workspace (std on): it does not use std's API
//! cargo run -p vmem-core --example no_std_bump
//! ```
//!
//! On bare metal, `_start` runs the same code and parks the CPU; on the host
//! `main` runs it and prints the result, linking std only for printing.
//!
//! vmem-core never allocates from the heap, but its `tracing` dependency
//! (`tracing-core`) links the `alloc` crate even without `std`, and rustc
//! then insists on a `#[global_allocator]` in every final binary. On bare
//! metal this example names one that refuses every request: nothing calls
//! it, and if something did, the allocation would fail rather than corrupt
//! memory.

#![no_std]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(not(target_os = "none"))]
extern crate std;

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use vmem_core::{
    AllocFlags, Arena, Constraints, Error, PageSource, SegmentTypes, TagPool, PAGE_SIZE,
};

/// Pages in the static buffer: room for 4 * 85 boundary tags, far more than
/// this example needs; a real kernel sizes it from its worst case.
const BUMP_PAGES: usize = 4;

/// The buffer itself, page-aligned as `PageSource` requires.
#[repr(C, align(4096))]
struct Buffer(UnsafeCell<[u8; BUMP_PAGES * PAGE_SIZE]>);

/// A page source that hands out the buffer front to back and never takes
/// anything back.
struct BumpPages {
    buffer: Buffer,
    /// Bytes of the buffer handed out so far.
    used: AtomicUsize,
}

// SAFETY: the buffer is only reached through `alloc_pages`, which gives
// every byte to at most one caller (the atomic `used` reserves a range
// before its pointer is formed), so sharing the source between threads
// shares no bytes.
unsafe impl Sync for BumpPages {}

// SAFETY: every range returned lies inside the buffer (the bound is checked
// before it is reserved), starts at a multiple of PAGE_SIZE from the
// page-aligned buffer start, and is never handed out again.
unsafe impl PageSource for BumpPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let end = used.checked_add(bytes)?;
            if bytes == 0 || bytes % PAGE_SIZE != 0 || end > BUMP_PAGES * PAGE_SIZE {
                return None;
            }
            match self
                .used
                .compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                // SAFETY: `used + bytes <= len`, so the offset stays inside
                // the buffer; the base pointer is not null.
                Ok(_) => {
                    return NonNull::new(unsafe { self.buffer.0.get().cast::<u8>().add(used) })
                }
                Err(now) => used = now,
            }
        }
    }

    unsafe fn free_pages(&self, _ptr: NonNull<u8>, _bytes: usize) {
        // A bump source cannot take pages back; the tag pool never asks.
    }
}

static PAGES: BumpPages = BumpPages {
    buffer: Buffer(UnsafeCell::new([0; BUMP_PAGES * PAGE_SIZE])),
    used: AtomicUsize::new(0),
};

/// Every arena of this program draws its tags from here.
static TAGS: TagPool = TagPool::new(&PAGES);

/// What `run` found, for the host to print (bare metal has no console).
#[cfg_attr(target_os = "none", allow(dead_code))]
struct Report {
    window: usize,
    page: usize,
    in_use_after_free: usize,
    tag_pages: usize,
}

/// Builds an arena of bus addresses `[0x1000_0000, 0x2000_0000)` in 4 KiB
/// pages, takes a DMA window (8 KiB, aligned to 8 KiB, not crossing 64 KiB,
/// below 4 GiB) and a plain page, frees both and checks the arena.
fn run() -> Result<Report, Error> {
    let bus = Arena::builder("bus")
        .quantum(0x1000)
        .span(0x1000_0000, 0x1000_0000)
        .tag_pool(&TAGS)
        .build()?;
    let dma = Constraints::new()
        .align(0x2000)
        .nocross(0x1_0000)
        .max(1 << 32);
    let window = bus.xalloc(0x2000, &dma, AllocFlags::new())?;
    let page = bus.alloc(0x1000, AllocFlags::new())?;
    assert!(window % 0x2000 == 0 && window >> 16 == (window + 0x1fff) >> 16);
    bus.xfree(window, 0x2000)?;
    bus.free(page, 0x1000)?;
    let report = Report {
        window,
        page,
        in_use_after_free: bus.size(SegmentTypes::ALLOC),
        tag_pages: TAGS.stats().pages,
    };
    assert!(bus.check().is_ok(), "the arena's invariants hold");
    Ok(report)
}

#[cfg(not(target_os = "none"))]
fn main() {
    match run() {
        Ok(r) => std::println!(
            "dma window {:#x}, page {:#x}; {} bytes in use after freeing both; \
             {} of {} bump pages used for tags",
            r.window,
            r.page,
            r.in_use_after_free,
            r.tag_pages,
            BUMP_PAGES
        ),
        Err(e) => {
            std::eprintln!("no_std_bump: {e}");
            std::process::exit(1);
        }
    }
}

/// The bare-metal entry point: run the example, then park.
#[cfg(target_os = "none")]
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let _ = run();
    loop {
        core::hint::spin_loop();
    }
}

/// The global allocator rustc requires (see the top of the file): it has no
/// memory to give.
#[cfg(target_os = "none")]
struct NoHeap;

// SAFETY: `alloc` always reports failure with a null pointer, which is
// always a correct answer; `dealloc` can never be reached, since no
// allocation ever succeeded.
#[cfg(target_os = "none")]
unsafe impl core::alloc::GlobalAlloc for NoHeap {
    unsafe fn alloc(&self, _layout: core::alloc::Layout) -> *mut u8 {
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: core::alloc::Layout) {}
}

#[cfg(target_os = "none")]
#[global_allocator]
static NO_HEAP: NoHeap = NoHeap;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
