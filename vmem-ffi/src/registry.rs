//! The C API's view of the process's arena list, which lives in
//! `vmem-umem` (libumem's `vmem_list`): every handle is registered there,
//! so the process-level calls (`vmem_update`, `vmem_reap`, the fork
//! handlers) reach it.
//!
//! Lookups here never dereference the pointer they check, so
//! `vmem_destroy` can refuse a pointer that is not a live arena, and
//! `vmem_create` can tell an arena `source` from an opaque one.

use vmem_core::Arena;
use vmem_slab::CachedArena;
use vmem_umem::registry::{self, Held, Managed};

use crate::handle::Vmem;
use crate::ptr;

impl Managed for Vmem {
    fn arena(&self) -> &Arena {
        Vmem::arena(self)
    }
    fn caches(&self) -> Option<&CachedArena> {
        Some(self.cached_arena())
    }
    fn lockup(&self) -> Held<'_> {
        let held = Held::new().hold(self.cached_arena().lockup());
        match self.c_source() {
            Some(source) => held.hold(source.lockup()),
            None => held,
        }
    }
}

/// Puts a new handle on the list (at the end of its `vmem_create`).
pub(crate) fn register(vmp: *mut Vmem) {
    // SAFETY: a handle is a live `Box<Vmem>` until `vmem_destroy`, which
    // unregisters it before dropping it.
    unsafe { registry::register(vmp as *const Vmem as *const dyn Managed) };
}

/// Takes `vmp` off the list (at the start of its `vmem_destroy`); false if
/// it was not on it.
pub(crate) fn unregister(vmp: *mut Vmem) -> bool {
    registry::unregister(vmp.cast_const().cast())
}

/// Whether `vmp` is a live arena of the process (one made by this library,
/// or one of the process layer's own).
pub(crate) fn is_registered(vmp: *const Vmem) -> bool {
    registry::contains(vmp.cast())
}

/// The arena behind `vmp` if it is a live handle of this library (`None`
/// for anything else, NULL included), for as long as the caller keeps it
/// alive.
///
/// # Safety
/// If `vmp` is a live arena, it stays live while the reference is used
/// (the child-before-parent rule of `vmem_destroy`).
pub(crate) unsafe fn live_arena<'a>(vmp: *const Vmem) -> Option<&'a Vmem> {
    if let Some(heap) = crate::process::heap_handle(vmp) {
        return Some(heap);
    }
    if !is_registered(vmp) || crate::process::is_internal(vmp) {
        return None;
    }
    // SAFETY: on the list and not one of the process layer's own arenas
    // means a handle of ours not yet destroyed; the caller keeps it alive
    // while the reference is used.
    unsafe { ptr::vmem_ref(vmp) }
}

/// Calls `f` on every live arena of the process, in creation order (the
/// process layer's own hierarchy first), with the list locked: `f` must not
/// create or destroy arenas.
pub fn for_each_arena(f: impl FnMut(&dyn Managed)) {
    registry::for_each(f);
}
