//! `vmem-umem`: the process layer of the vmem allocator, the part of
//! libumem's `vmem.c` that deals with the whole process rather than one
//! arena.
//!
//! The layers below know nothing of processes: `vmem-core` is arenas,
//! `vmem-slab` is caches in front of them. This crate adds what a program
//! needs around them:
//!
//! - **A heap** ([`World`], set up by [`init`] or on first use by [`get`]):
//!   address space from the system (`mmap` reserved without access, or the
//!   program break with `sbrk`; see [`Backend`]) under a page-quantum `heap`
//!   arena, and [`World::heap_source`], the pair of functions that hands out
//!   *committed* memory from it: an arena created with it as its source gets
//!   real, writable memory, and gives it back (decommitted, so the resident
//!   size falls) when its spans are free.
//! - **Self-hosted metadata**: the internal arenas `vmem_internal`,
//!   `vmem_seg`, `vmem_hash` and `vmem_vmem`, as libumem's `vmem_init`
//!   builds them. [`tag_pool`] is a boundary-tag pool whose pages come from
//!   `vmem_seg`; arenas built with it keep their tags and hash tables in
//!   vmem memory, not the global allocator's.
//! - **The arena list** ([`registry`]) and process-wide maintenance:
//!   [`update`] (hash rescale, caches' working sets, waking sleepers), run
//!   by an optional thread, and [`reap`], which drains every quantum cache
//!   and is deferred while the calling thread is inside a populate
//!   ([`populating`]). The caches' own automatic reaps are deferred the
//!   same way, through the reap gate ([`reap_gate`]) the world installs in
//!   `vmem-slab`.
//! - **Fork safety** ([`lockup`], [`release`], installed as `pthread_atfork`
//!   handlers): a child never inherits a lock held by another thread.
//! - **Options** ([`Options`], from `VMEM_OPTIONS` like libumem's
//!   `UMEM_OPTIONS`).
//! - **Reports** ([`report`]): the `vmem-cli stat` table of any arenas, and
//!   of every arena of the process at exit with `report=`.
//!
//! ```
//! use std::sync::Arc;
//! use vmem_core::{AllocFlags, Arena, Source};
//!
//! let world = vmem_umem::get();
//! // An arena of real memory over the heap, with its tags in vmem_seg.
//! let buffers = Arena::builder("buffers")
//!     .quantum(4096)
//!     .source(world.heap_source().clone() as Arc<dyn Source>)
//!     .tag_pool(vmem_umem::tag_pool())
//!     .build()?;
//! let addr = buffers.alloc(8192, AllocFlags::new())?;
//! // SAFETY: the heap committed these 8192 bytes for this allocation.
//! unsafe { core::ptr::write_bytes(addr as *mut u8, 0xa5, 8192) };
//! buffers.free(addr, 8192)?;
//! # Ok::<(), vmem_core::Error>(())
//! ```
//!
//! Unix only: the backends call `mmap`, `mprotect`, `madvise` and `sbrk`.

pub mod backend;
mod fork;
mod maintenance;
mod options;
pub mod pages;
pub mod populate;
pub mod registry;
pub mod report;
mod world;

pub use backend::Committed;
pub use fork::{lockup, release};
pub use maintenance::{
    in_populate, populating, reap, reap_gate, start_updater, update, updater_started, want_updater,
};
pub use options::{Backend, OptionError, Options, Report, ENV_VAR};
pub use world::{bootstrap_pool, get, init, tag_pool, world, InitError, World, RESERVE_CHUNK};
