//! # vmem-core: the arena layer of the vmem resource allocator
//!
//! An [`Arena`] manages a set of integer ranges, its *spans*, and hands out
//! *segments* of them: addresses, IDs, offsets, DMA windows, anything that
//! is a range of integers. This is the allocator of Bonwick and Adams,
//! "Magazines and Vmem" (USENIX 2001), as implemented by illumos libumem's
//! `vmem.c`, with pieces from FreeBSD's `subr_vmem.c`.
//!
//! ## The model in one screen
//!
//! - Every span and segment is described by a 48-byte *boundary tag*. Tags
//!   sit on a list in address order, so freeing a segment finds its
//!   neighbours and coalesces in constant time.
//! - Free segments sit on power-of-two *freelists*; a bitmap (the
//!   *freemap*) says which lists are non-empty. The default policy,
//!   *instant-fit*, takes the head of the smallest list whose members are
//!   all big enough: one bit scan, constant time, and the paper shows its
//!   fragmentation is as good as best-fit's in practice. Best-fit,
//!   first-fit and next-fit (a rotor that cycles through the arena, for IDs)
//!   are there too. [`Arena::xalloc`] adds alignment, phase, a boundary not
//!   to cross and an address window.
//! - Allocated segments sit in a hash table keyed by address, so a free is
//!   O(1). The table resizes itself; [`Arena::update`] does it eagerly.
//! - An arena may have a [`Source`] (another arena, or anything) from which
//!   it imports spans when it runs dry, and to which it gives a span back as
//!   soon as the span is wholly free.
//! - Tags never come from the global allocator on an allocation path: each
//!   arena keeps a small *reserve* of spare tags, refilled in batches from a
//!   shared [`TagPool`], which gets whole pages from a [`PageSource`] with no
//!   arena lock held.
//!
//! Placement is libumem's, decision for decision: for the same operations,
//! an arena returns the same addresses libumem's `vmem_alloc`/`vmem_xalloc`
//! would. The integration test `tests/placement.rs` checks this with
//! sequences whose every address was worked out by hand from libumem's
//! `vmem.c`, for each policy and for `xalloc`. The deliberate differences:
//! address 0 is an ordinary address (calls return `Result`, not a null
//! pointer); a span may not end at the very top of the address space; a
//! constrained import is aligned so that the request always fits in it;
//! a reclaim hook that made room gets one retry; a no-sleep failure says
//! whether waiting could help ([`Error::WouldBlock`]) or not
//! ([`Error::Exhausted`]); wrong frees return errors instead of aborting;
//! and fault injection counts operations instead of reading the clock.
//!
//! ## Layering
//!
//! This crate is the bottom layer and depends on no other vmem crate.
//! `vmem-slab` puts quantum caches in front of an arena and `vmem-ffi`
//! exports the libumem C API; between them, `vmem-umem` is the process
//! layer (the heap, self-hosted tags, the arena list, fork handling).
//!
//! ## Example
//!
//! ```
//! # #[cfg(feature = "std")] { // `Arena::new` needs `std`
//! use vmem_core::{AllocFlags, Arena, Constraints, Policy, SegmentTypes};
//!
//! // Process IDs 1..=30000, handed out in a cycle (next-fit).
//! let pids = Arena::new("pids", 1, 30000, 1)?;
//! let next = AllocFlags::new().policy(Policy::NextFit);
//! let a = pids.alloc(1, next)?;
//! let b = pids.alloc(1, next)?;
//! pids.free(a, 1)?;
//! assert_eq!((a, b, pids.alloc(1, next)?), (1, 2, 3), "no reuse until wrap-around");
//!
//! // A DMA window: 8 KiB, 4 KiB aligned, not crossing 64 KiB, below 4 GiB.
//! let dma = Arena::new("dma", 0x1000_0000, 0x1000_0000, 0x1000)?;
//! let window = Constraints::new().align(0x1000).nocross(0x10000).max(1 << 32);
//! let addr = dma.xalloc(0x2000, &window, AllocFlags::new())?;
//! assert!(addr % 0x1000 == 0 && addr / 0x10000 == (addr + 0x1fff) / 0x10000);
//! dma.xfree(addr, 0x2000)?;
//! assert_eq!(dma.size(SegmentTypes::ALLOC), 0);
//! dma.check().expect("invariants hold");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `std` (default): sleeping allocations, [`SystemPages`] and the global
//!   [`TagPool`]. Without it the crate is `#![no_std]` and never allocates:
//!   declare a `static` [`TagPool`] over a [`PageSource`] of your own and
//!   pass it to [`ArenaBuilder::tag_pool`]. The example
//!   `examples/no_std_bump.rs` does so with a bump allocator over a static
//!   buffer, and builds for `x86_64-unknown-none`. (The `tracing`
//!   dependency links the `alloc` crate all the same, so a bare-metal
//!   binary must name a `#[global_allocator]`; the example's refuses every
//!   request.)
//! - `alloc`: sources and hooks held by `Arc` ([`Shared::Arc`]).
//!

// Items that exist only with a feature are linked to themselves when they
// are compiled in, and to their page on docs.rs (built with the default
// features) when they are not, so the no_std documentation has no broken
// links.
#![cfg_attr(feature = "std", doc = "[`SystemPages`]: crate::SystemPages")]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`SystemPages`]: https://docs.rs/vmem-core/latest/vmem_core/struct.SystemPages.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`Shared::Arc`]: crate::Shared::Arc")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`Shared::Arc`]: https://docs.rs/vmem-core/latest/vmem_core/enum.Shared.html#variant.Arc"
)]
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod arena;
mod bits;
pub mod error;
mod freelist;
mod hash;
mod log;
mod name;
mod page;
mod policy;
mod pool;
mod segment;
mod source;
mod stats;
pub mod sync;

pub use arena::{
    set_global_mtbf, Arena, ArenaBuilder, CheckError, Lockup, Segment, SegmentKind, SegmentTypes,
};
pub use error::{Error, InvalidReason};
pub use name::{ArenaName, NAME_CAPACITY};
#[cfg(feature = "std")]
pub use page::SystemPages;
pub use page::{PageSource, PAGE_SIZE};
pub use policy::{AllocFlags, Constraints, Policy, Wait};
pub use pool::{PoolLockup, PoolStats, TagPool, GROW_PAGES, TAGS_PER_PAGE};
pub use source::{Reclaim, Shared, Source};
pub use stats::Stats;
