//! Taking every lock of an object cache or a cached arena at once, for a
//! process about to fork (see `vmem_core::Arena::lockup`).

use std::sync::MutexGuard;

use vmem_core::sync::SpinGuard;
use vmem_core::Lockup;

use crate::cache::{CpuCache, ObjectCache};
use crate::depot::Depot;
use crate::directory::DirectoryLock;
use crate::qcache::CachedArena;
use crate::slab::SlabLayer;

/// Every lock of one object cache, held until dropped.
#[must_use = "the locks are released when this is dropped"]
pub struct CacheLockup<'a> {
    _directory: DirectoryLock<'a>,
    _slabs: MutexGuard<'a, SlabLayer>,
    _depot: MutexGuard<'a, Depot>,
    _slots: Vec<SpinGuard<'a, CpuCache>>,
}

impl core::fmt::Debug for CacheLockup<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CacheLockup")
    }
}

impl ObjectCache {
    /// Takes every lock of the cache, in the order its operations nest
    /// them (every per-CPU slot, the depot, the slab layer, the object
    /// directory), and holds them until the returned value is dropped. For
    /// fork handlers; the cache must not be used by this thread meanwhile.
    pub fn lockup(&self) -> CacheLockup<'_> {
        let slots = self.slot_locks().map(|s| s.lock()).collect();
        let depot = self.depot_lock();
        let slabs = self.slabs_lock();
        CacheLockup {
            _directory: self.directory().lock(),
            _slabs: slabs,
            _depot: depot,
            _slots: slots,
        }
    }
}

/// Every lock of a cached arena, held until dropped.
#[must_use = "the locks are released when this is dropped"]
pub struct CachedLockup<'a> {
    _arena: Lockup<'a>,
    _caches: Vec<CacheLockup<'a>>,
}

impl core::fmt::Debug for CachedLockup<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CachedLockup")
    }
}

impl CachedArena {
    /// Takes every lock of every quantum cache, then of the arena (caches
    /// call the arena with their own locks dropped, the arena calls the
    /// caches' reap with its lock dropped, so this order nests with both),
    /// and holds them until the returned value is dropped.
    pub fn lockup(&self) -> CachedLockup<'_> {
        let caches = self.caches().iter().map(ObjectCache::lockup).collect();
        CachedLockup {
            _arena: self.arena().lockup(),
            _caches: caches,
        }
    }
}
