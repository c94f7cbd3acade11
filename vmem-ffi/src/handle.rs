//! [`Vmem`], the object behind a C `vmem_t *`, and the list of live arenas.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use vmem_core::{AllocFlags, Arena, ArenaName, Constraints, Shared};
use vmem_slab::{CachedArena, SlabError};

use crate::source::{CReclaim, VmemReclaimFn};

/// The arena behind a C `vmem_t *`.
///
/// A `vmem_t *` is a `Box<Vmem>` turned into a raw pointer by `vmem_create`
/// or `vmem_xcreate` and turned back (and dropped) by `vmem_destroy`; C only
/// ever sees it as an opaque pointer. Inside is a `vmem_core::Arena`, or a
/// `vmem_slab::CachedArena` (the arena plus its quantum caches) when the
/// arena was created with a `qcache_max` of at least one quantum. Every
/// operation takes `&Vmem`, so any number of threads may use one arena.
///
/// The C import and free functions, and their `source` argument, live in
/// the arena as its `vmem_core::Source` (see `CSource`).
pub struct Vmem {
    backend: Backend,
}

/// The arena with or without quantum caches.
#[allow(
    clippy::large_enum_variant,
    reason = "a Backend lives in a Vmem, which is boxed already"
)]
enum Backend {
    /// No quantum caches (`qcache_max` below the quantum, or
    /// `VMC_NO_QCACHE`).
    Plain(Arena),
    /// Quantum caches in front for sizes up to `qcache_max`.
    Cached(CachedArena),
}

/// Why an operation did not succeed, as the C layer sees it.
pub(crate) enum Failure {
    /// Nothing fits now: `NULL` for `VM_NOSLEEP`, an abort for `VM_PANIC`.
    NoRoom(String),
    /// Nothing can ever fit (a window too small for the request): `NULL`
    /// for `VM_NOSLEEP`; an abort for `VM_PANIC`, and for `VM_SLEEP`, which
    /// libumem would leave asleep for ever.
    NeverFits(String),
    /// The caller broke the API's rules: always an abort.
    Bad(String),
}

impl Failure {
    pub(crate) fn of_core(err: vmem_core::Error) -> Failure {
        use vmem_core::Error;
        match err {
            Error::WouldBlock { .. }
            | Error::Exhausted { .. }
            | Error::TimedOut { .. }
            | Error::OutOfTags { .. } => Failure::NoRoom(err.to_string()),
            Error::NeverFits(_) => Failure::NeverFits(err.to_string()),
            Error::InvalidArgument(bad) => Failure::Bad(bad.reason.to_string()),
            Error::NotAllocated(_) => Failure::Bad("bad free: address is not allocated".into()),
            Error::WrongSize(bad) => Failure::Bad(format!(
                "bad free: wrong size (allocated with size {})",
                bad.expected
            )),
            Error::OverlappingSpan(overlap) => Failure::Bad(format!(
                "the range overlaps the arena's span [{:#x}, {:#x})",
                overlap.existing_start, overlap.existing_end
            )),
            // `vmem_core::Error` is non-exhaustive: a kind added later is
            // reported rather than guessed at.
            other => Failure::Bad(other.to_string()),
        }
    }

    fn of_slab(err: SlabError) -> Failure {
        match err {
            SlabError::Arena { source, .. } => Failure::of_core(source),
            SlabError::BadFree { reason, .. } => Failure::Bad(format!("bad free: {reason}")),
            SlabError::ConstructorFailed { .. } => Failure::NoRoom(err.to_string()),
            other => Failure::Bad(other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoRoom(s) | Failure::NeverFits(s) | Failure::Bad(s) => f.write_str(s),
        }
    }
}

impl Vmem {
    /// Wraps `arena`, with quantum caches up to `qcache_max` when that is at
    /// least one quantum.
    pub(crate) fn new(arena: Arena, qcache_max: usize) -> Vmem {
        let backend = if qcache_max >= arena.quantum() {
            Backend::Cached(CachedArena::new(arena, qcache_max))
        } else {
            Backend::Plain(arena)
        };
        Vmem { backend }
    }

    /// The arena (behind the caches, if any).
    pub fn arena(&self) -> &Arena {
        match &self.backend {
            Backend::Plain(arena) => arena,
            Backend::Cached(cached) => cached.arena(),
        }
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
        match &self.backend {
            Backend::Plain(_) => 0,
            Backend::Cached(cached) => cached.qcache_max(),
        }
    }

    /// The quantum caches, if any.
    pub fn cached(&self) -> Option<&CachedArena> {
        match &self.backend {
            Backend::Plain(_) => None,
            Backend::Cached(cached) => Some(cached),
        }
    }

    /// `vmem_alloc`: through a quantum cache when `size - 1 < qcache_max`.
    pub(crate) fn alloc(&self, size: usize, flags: AllocFlags) -> Result<usize, Failure> {
        match &self.backend {
            Backend::Plain(arena) => arena.alloc(size, flags).map_err(Failure::of_core),
            Backend::Cached(cached) => cached.alloc(size, flags).map_err(Failure::of_slab),
        }
    }

    /// `vmem_free`: to the quantum cache the size selects, or the arena.
    pub(crate) fn free(&self, addr: usize, size: usize) -> Result<(), Failure> {
        match &self.backend {
            Backend::Plain(arena) => arena.free(addr, size).map_err(Failure::of_core),
            Backend::Cached(cached) => cached.free(addr, size).map_err(Failure::of_slab),
        }
    }

    /// `vmem_xalloc`: always the arena.
    pub(crate) fn xalloc(
        &self,
        size: usize,
        c: &Constraints,
        flags: AllocFlags,
    ) -> Result<usize, Failure> {
        self.arena()
            .xalloc(size, c, flags)
            .map_err(Failure::of_core)
    }

    /// `vmem_xfree`: always the arena.
    pub(crate) fn xfree(&self, addr: usize, size: usize) -> Result<(), Failure> {
        self.arena().xfree(addr, size).map_err(Failure::of_core)
    }

    /// `vmem_add`.
    pub(crate) fn add(&self, base: usize, size: usize) -> Result<(), Failure> {
        self.arena().add(base, size).map_err(Failure::of_core)
    }

    /// Gives every object cached in the quantum caches back to the arena.
    pub fn reap_caches(&self) {
        if let Backend::Cached(cached) = &self.backend {
            cached.reap();
        }
    }

    /// Per-arena maintenance: the caches' working-set update and the
    /// arena's hash rescale (what libumem's `vmem_update` does for each
    /// arena).
    pub fn update(&self) {
        match &self.backend {
            Backend::Plain(arena) => arena.update(),
            Backend::Cached(cached) => cached.update(),
        }
    }

    /// Installs the reclaim hook: reap the quantum caches, then call `func`.
    /// `this` must be this `Vmem`'s own (stable, boxed) address.
    pub(crate) fn set_reclaim(&self, this: *mut Vmem, func: VmemReclaimFn) {
        let hook = match (&self.backend, func) {
            (Backend::Plain(_), None) => None,
            _ => Some(Shared::Arc(
                Arc::new(CReclaim::new(this, func)) as Arc<dyn vmem_core::Reclaim>
            )),
        };
        self.arena().set_reclaim(hook);
    }
}

// ----- the list of live arenas ------------------------------------------------

/// Every live `vmem_t`, in creation order (libumem's `vmem_list`). Lookups
/// here never dereference the pointer they check, so `vmem_destroy` can
/// refuse a pointer that is not a live arena, and `vmem_create` can tell an
/// arena `source` from an opaque one. The process-level calls
/// (`vmem_update` of every arena, fork handlers) will need such a list; when
/// the vmem-umem layer below this crate brings them, the list moves there
/// and this crate registers its arenas with it.
static ARENAS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn arenas() -> std::sync::MutexGuard<'static, Vec<usize>> {
    ARENAS.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn register(vmp: *mut Vmem) {
    arenas().push(vmp as usize);
}

/// Takes `vmp` off the list; false if it was not on it.
pub(crate) fn unregister(vmp: *mut Vmem) -> bool {
    let mut list = arenas();
    match list.iter().position(|&p| p == vmp as usize) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// Whether `vmp` is a live arena made by this library.
pub(crate) fn is_registered(vmp: *const Vmem) -> bool {
    arenas().contains(&(vmp as usize))
}

/// Calls `f` on every live arena, in creation order, with the list locked
/// (no arena can be created or destroyed meanwhile).
pub fn for_each_arena(mut f: impl FnMut(&Vmem)) {
    let list = arenas();
    for &p in list.iter() {
        // SAFETY: a pointer is on the list from the end of its `vmem_create`
        // until the start of its `vmem_destroy`, which needs this lock to
        // take it off; so it points at a live `Vmem`.
        f(unsafe { &*(p as *const Vmem) });
    }
}
