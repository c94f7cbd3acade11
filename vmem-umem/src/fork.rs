//! Fork safety (libumem's `vmem_lockup` / `vmem_release`).
//!
//! A child process starts with one thread and a copy of every lock as it
//! was at the fork: a lock another thread held then stays held in the child
//! for ever, and the child hangs on its first allocation. So, once, at
//! initialisation, the process layer registers `pthread_atfork` handlers
//! that take every lock of vmem before the fork and release them after it,
//! in the parent and in the child. [`lockup`] and [`release`] are the same
//! two steps, for a program that forks by other means.
//!
//! The order, which every code path that nests these locks respects:
//!
//! 1. the arena list (the registry);
//! 2. for each registered arena, in registration order: its quantum
//!    caches' locks (every per-CPU slot, the depot, the slab layer, the
//!    object directory), then the arena's own (its state, its reclaim hook,
//!    its sleepers);
//! 3. the tag pools: the bootstrap pool, the process pool (`vmem_seg`'s
//!    pages) and `vmem-core`'s global pool. Arenas take a pool's lock while
//!    holding their own, never the other way round.
//!
//! The locks are held by the forking thread (the handlers all run in it;
//! the child's one thread is its copy) in a thread-local, so `release` needs
//! no pointer back to them.

use std::cell::RefCell;
use std::sync::Once;

use vmem_core::sync::Guard;
use vmem_core::{PoolLockup, TagPool};

use crate::registry::{self, Entry, Held};

/// Everything [`lockup`] took. Fields drop in declaration order: pools,
/// then arenas, then the list, the reverse of the order they were taken.
struct Locked {
    _pools: [PoolLockup<'static>; 3],
    _arenas: Vec<Held<'static>>,
    _list: Guard<'static, Vec<Entry>>,
}

thread_local! {
    static LOCKED: RefCell<Option<Locked>> = const { RefCell::new(None) };
}

/// Takes every lock of vmem, in the documented order, and holds them in
/// the calling thread until [`release`]. Nothing of vmem may be used in
/// between, except by [`release`]. Calling it twice without a release
/// deadlocks, as libumem's does.
pub fn lockup() {
    let list = registry::lock_list();
    let arenas = list
        .iter()
        .map(|entry| {
            // SAFETY: a registered arena stays valid until it is
            // unregistered, which needs the list lock; `Locked` holds that
            // lock for as long as it holds these borrows, so extending
            // them to 'static never lets one outlive its arena.
            let arena: &'static dyn registry::Managed = unsafe { &*entry.0 };
            arena.lockup()
        })
        .collect();
    let pools = [
        crate::world::bootstrap_pool().lockup(),
        crate::world::process_pool().lockup(),
        TagPool::global().lockup(),
    ];
    LOCKED.with(|l| {
        *l.borrow_mut() = Some(Locked {
            _pools: pools,
            _arenas: arenas,
            _list: list,
        })
    });
}

/// Releases every lock [`lockup`] took in this thread (the forking thread,
/// or the child's copy of it). Does nothing if none is held.
pub fn release() {
    let locked = LOCKED.with(|l| l.borrow_mut().take());
    drop(locked);
}

extern "C" fn prepare() {
    lockup();
}

extern "C" fn after() {
    release();
}

/// Registers the fork handlers, once per process.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: the handlers are plain `extern "C"` functions that live for
        // the whole process; pthread_atfork only records them.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after)) };
        if rc != 0 {
            tracing::warn!(rc, "vmem: fork handlers not installed");
        }
    });
}
