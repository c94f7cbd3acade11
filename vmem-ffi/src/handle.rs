//! [`Vmem`], the object behind a C `vmem_t *`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, ArenaName, Constraints, Shared};
use vmem_slab::CachedArena;

use crate::failure::Failure;
use crate::source::{CReclaim, CSource, VmemReclaimFn};

/// The arena behind a C `vmem_t *`.
///
/// A `vmem_t *` is a `Box<Vmem>` turned into a raw pointer by `vmem_create`
/// or `vmem_xcreate` and turned back (and dropped) by `vmem_destroy`; C only
/// ever sees it as an opaque pointer (see `ptr.rs` for the conversions).
/// Inside is a `vmem_slab::CachedArena`: the arena plus its quantum caches,
/// of which there are none when the arena was created with a `qcache_max`
/// below its quantum (or with `VMC_NO_QCACHE`). Every operation takes
/// `&Vmem`, so any number of threads may use one arena.
///
/// The C import and free functions, and their `source` argument, live in
/// the arena as its `vmem_core::Source` (see `CSource`).
#[derive(Debug)]
pub struct Vmem {
    arena: CachedArena,
    /// The C import and free functions, if the arena has them (also inside
    /// the arena as its source), for the fork handlers to lock.
    source: Option<Arc<CSource>>,
    /// The arena this one imports from, when its `source` argument was a
    /// live arena of this library: its `importers` count holds this one.
    parent: Option<*const Vmem>,
    /// How many live arenas import from this one; `vmem_destroy` refuses
    /// an arena whose children are still alive.
    importers: AtomicUsize,
}

// SAFETY: `parent` is only read by `vmem_destroy` of this arena, to give
// back its place in the parent's `importers`; the parent is alive then,
// since an arena with importers cannot be destroyed, and `importers` is an
// atomic. Every other field is Send and Sync on its own.
unsafe impl Send for Vmem {}
// SAFETY: as for Send; `parent` is never dereferenced through `&Vmem`
// except for the atomic decrement described there.
unsafe impl Sync for Vmem {}

impl Vmem {
    /// Wraps `arena`, with quantum caches up to `qcache_max` (none when it
    /// is below the quantum).
    pub(crate) fn new(arena: impl Into<Arc<Arena>>, qcache_max: usize) -> Vmem {
        Vmem::with_source(arena, qcache_max, None)
    }

    /// Wraps `arena` whose source is the C functions `source`.
    pub(crate) fn with_source(
        arena: impl Into<Arc<Arena>>,
        qcache_max: usize,
        source: Option<Arc<CSource>>,
    ) -> Vmem {
        Vmem {
            arena: CachedArena::new(arena, qcache_max),
            source,
            parent: None,
            importers: AtomicUsize::new(0),
        }
    }

    /// Records that this arena imports from `parent`, a live arena, which
    /// may then not be destroyed before this one.
    pub(crate) fn imports_from(&mut self, parent: &Vmem) {
        parent.importers.fetch_add(1, Ordering::AcqRel);
        self.parent = Some(parent);
    }

    /// How many live arenas import from this one.
    pub(crate) fn importers(&self) -> usize {
        self.importers.load(Ordering::Acquire)
    }

    /// The arena this one imports from, if it is an arena of this library.
    pub(crate) fn parent(&self) -> Option<*const Vmem> {
        self.parent
    }

    /// Gives back this arena's place among its parent's importers (at the
    /// end of its `vmem_destroy`).
    ///
    /// # Safety
    /// `parent` is the pointer [`Vmem::parent`] returned; it is alive, since
    /// `vmem_destroy` refuses an arena with importers.
    pub(crate) unsafe fn leave_parent(parent: *const Vmem) {
        // SAFETY: by this function's contract the parent is alive.
        unsafe { &*parent }.importers.fetch_sub(1, Ordering::AcqRel);
    }

    /// The C source, if any.
    pub(crate) fn c_source(&self) -> Option<&CSource> {
        self.source.as_deref()
    }

    /// The arena with its (possibly zero) quantum caches.
    pub(crate) fn cached_arena(&self) -> &CachedArena {
        &self.arena
    }

    /// The arena (behind the caches, if any).
    pub fn arena(&self) -> &Arena {
        self.arena.arena()
    }

    /// The arena's name.
    pub fn name(&self) -> &ArenaName {
        self.arena().name()
    }

    /// The arena's quantum.
    pub fn quantum(&self) -> usize {
        self.arena().quantum()
    }

    /// The largest size served by a quantum cache (0: none).
    pub fn qcache_max(&self) -> usize {
        self.arena.qcache_max()
    }

    /// The quantum caches, if there are any.
    pub fn cached(&self) -> Option<&CachedArena> {
        (self.arena.qcache_max() != 0).then_some(&self.arena)
    }

    /// `vmem_alloc`: through a quantum cache when `size - 1 < qcache_max`.
    pub(crate) fn alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Failure> {
        self.arena.alloc(size, flags).map_err(Failure::of_slab)
    }

    /// `vmem_free`: to the quantum cache the size selects, or the arena.
    pub(crate) fn free(&self, addr: usize, size: usize) -> Result<(), Failure> {
        self.arena.free(addr, size).map_err(Failure::of_slab)
    }

    /// `vmem_xalloc`: always the arena.
    pub(crate) fn xalloc(
        &self,
        size: usize,
        c: &Constraints,
        flags: AllocFlags,
    ) -> Result<usize, vmem_core::Error> {
        self.arena().xalloc(size, c, flags)
    }

    /// `vmem_xfree`: always the arena.
    pub(crate) fn xfree(&self, addr: usize, size: usize) -> Result<(), vmem_core::Error> {
        self.arena().xfree(addr, size)
    }

    /// `vmem_add`.
    pub(crate) fn add(&self, base: usize, size: usize) -> Result<(), Failure> {
        self.arena().add(base, size).map_err(Failure::of_core)
    }

    /// Gives every object cached in the quantum caches back to the arena.
    pub fn reap_caches(&self) {
        self.arena.reap();
    }

    /// Per-arena maintenance: the caches' working-set update and the
    /// arena's hash rescale (what libumem's `vmem_update` does for each
    /// arena).
    pub fn update(&self) {
        self.arena.update();
    }

    /// Installs the reclaim hook: reap the quantum caches, then call `func`.
    /// An arena without caches and without `func` gets no hook. `this` must
    /// be this `Vmem`'s own handle.
    pub(crate) fn set_reclaim(&self, this: *mut Vmem, func: VmemReclaimFn) {
        let hook = match (self.cached(), func) {
            (None, None) => None,
            _ => Some(Shared::Arc(
                Arc::new(CReclaim::new(this, func)) as Arc<dyn vmem_core::Reclaim>
            )),
        };
        self.arena().set_reclaim(hook);
    }
}
