//! # vmem-slab: object caches and quantum caches over a vmem arena
//!
//! This crate is the layer that makes small allocations scale: the object
//! cache of Bonwick and Adams ("Magazines and Vmem", USENIX 2001), built of
//! a slab layer, a depot and per-CPU magazines, and the *quantum caches*
//! that illumos libumem and FreeBSD put in front of an arena. It depends on
//! `vmem-core` only; a project that wants a fast cache of integer resources
//! over an arena needs these two crates and nothing else.
//!
//! ## The layers of an [`ObjectCache`]
//!
//! - **Slab layer.** The cache imports *slabs* (ranges of a fixed size)
//!   from an [`Arena`](vmem_core::Arena) and carves them into objects of one
//!   size. Objects are integers, not memory the process may touch
//!   (libumem's `UMC_NOTOUCH`): free lists and allocation bitmaps live
//!   outside them. A slab goes back to the arena as soon as all its objects
//!   are free.
//! - **Depot.** Lists of full and empty *magazines* (stacks of M objects)
//!   behind one lock. It tracks its working set and frees the magazines
//!   that stayed unused through a whole interval; when its lock is
//!   contended too often, M grows ([`MAGAZINE_SIZES`]).
//! - **Per-CPU caches.** Each CPU slot holds a *loaded* and a *previous*
//!   magazine behind a lock of its own, almost always uncontended, so the
//!   common path takes no shared lock; at most one operation in M reaches
//!   the depot. The slot is the CPU the thread runs on, read from glibc's
//!   restartable-sequences area (x86_64 Linux, glibc 2.35+) or from a
//!   cached `sched_getcpu` (other Linux), a thread-id hash elsewhere; a
//!   thread that migrates stays correct because each slot is locked.
//! - Optional **constructor and destructor** callbacks: magazines cache
//!   constructed objects; objects are destroyed when they return to a slab.
//! - **Reap** ([`ObjectCache::reap`]) returns every cached object to the
//!   slab layer and every empty slab to the arena. It also runs by itself:
//!   when the arena cannot supply a slab (before one retry), when a free
//!   finds the arena with sleeping allocations, and in the working-set
//!   update (idle depot magazines, the purge after a magazine resize).
//! - **Reap gate** ([`set_reap_gate`]): those automatic reaps first ask a
//!   process-wide hook, set once by the layer above, whether they must
//!   wait. `vmem-umem` installs one that defers them while the current
//!   thread is inside a populate and runs them when the populate ends
//!   (libumem's reap deferral). A deferred reap is owed, never skipped
//!   ([`ObjectCache::reap_owed`]). With no gate, the crate used alone,
//!   they run at once. The gate is asked only on those slow paths.
//!
//! ## Quantum caches
//!
//! A [`CachedArena`] is an arena plus one object cache per multiple of its
//! quantum up to `qcache_max` (at most 16, [`MAX_QUANTUM_CACHES`]). Cached
//! sizes cost a magazine pop; other sizes, `xalloc` and `xfree` go straight
//! to the arena. The arena's reclaim hook reaps the caches before an
//! allocation fails (an automatic reap, under the reap gate). A cached arena is also a [`Source`](vmem_core::Source)
//! for other arenas. Address 0 works like any other address.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use vmem_core::{AllocFlags, Arena};
//! use vmem_slab::{CachedArena, ObjectCache};
//!
//! // Quantum caches: 4 KiB pages of a 1 GiB range, sizes up to 8 pages cached.
//! let va = CachedArena::new(Arena::new("va", 0, 1 << 30, 4096)?, 8 * 4096);
//! let page = va.alloc(4096, AllocFlags::NOSLEEP)?;
//! let huge = va.alloc(1 << 20, AllocFlags::NOSLEEP)?; // uncached: the arena
//! va.free(page, 4096)?;
//! va.free(huge, 1 << 20)?;
//! assert_eq!(va.cache_stats()[0].objects_cached, 1);
//! va.reap();
//! assert_eq!(va.arena().stats().mem_inuse, 0);
//!
//! // A standalone cache of 64-unit objects, constructed on first use.
//! let ids = Arc::new(Arena::new("ids", 0, 1 << 20, 64)?);
//! let cache = ObjectCache::builder("conns", 64, ids.clone())
//!     .constructor(|obj| { /* set the object up */ obj % 64 == 0 })
//!     .destructor(|_obj| { /* tear it down */ })
//!     .build()?;
//! let a = cache.alloc()?;
//! cache.free(a)?;
//! cache.reap();
//! assert_eq!(ids.stats().mem_inuse, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The sections above are the whole design in brief; the source tree's
//! `docs/design.md` (§16, "Quantum caches and magazines") and
//! `docs/performance.md` go further into it and its measurements (they are
//! not part of the published crate).

mod cache;
mod cpu;
mod depot;
mod directory;
mod error;
mod gate;
mod lockup;
mod magazine;
mod qcache;
mod slab;

pub use cache::{CacheBuilder, CacheStats, Constructor, Destructor, ObjectCache};
pub use depot::{CONTENTION_THRESHOLD, UPDATE_INTERVAL};
pub use error::{BadFreeReason, ConfigReason, SlabError};
pub use gate::{reap_gate, set_reap_gate, ReapGate};
pub use lockup::{CacheLockup, CachedLockup};
pub use magazine::MAGAZINE_SIZES;
pub use qcache::{quantum_slab_size, CachedArena, MAX_QUANTUM_CACHES};
