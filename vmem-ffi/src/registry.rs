//! The list of live arenas (libumem's `vmem_list`).
//!
//! Lookups here never dereference the pointer they check, so
//! `vmem_destroy` can refuse a pointer that is not a live arena, and
//! `vmem_create` can tell an arena `source` from an opaque one. The
//! process-level calls (`vmem_update` of every arena, fork handlers) will
//! need such a list; when the vmem-umem layer below this crate brings them,
//! the list moves there and this crate registers its arenas with it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::handle::Vmem;
use crate::ptr;

/// Every live handle, in creation order, as an address.
static ARENAS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn arenas() -> MutexGuard<'static, Vec<usize>> {
    ARENAS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Puts a new handle on the list (at the end of its `vmem_create`).
pub(crate) fn register(vmp: *mut Vmem) {
    arenas().push(vmp as usize);
}

/// Takes `vmp` off the list (at the start of its `vmem_destroy`); false if
/// it was not on it.
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

/// The arena behind `vmp` if it is on the list (`None` for anything else,
/// NULL included), for as long as the caller keeps it alive.
///
/// # Safety
/// If `vmp` is a live arena, it stays live while the reference is used
/// (the child-before-parent rule of `vmem_destroy`).
pub(crate) unsafe fn live_arena<'a>(vmp: *const Vmem) -> Option<&'a Vmem> {
    if !is_registered(vmp) {
        return None;
    }
    // SAFETY: on the list means a handle not yet destroyed; the caller
    // keeps it alive while the reference is used.
    unsafe { ptr::vmem_ref(vmp) }
}

/// Calls `f` on every live arena, in creation order, with the list locked
/// (no arena can be created or destroyed meanwhile).
pub fn for_each_arena(mut f: impl FnMut(&Vmem)) {
    let list = arenas();
    for &p in list.iter() {
        // SAFETY: a handle is on the list from the end of its `vmem_create`
        // to the start of its `vmem_destroy`, which needs this lock to take
        // it off; the lock is held until `f` returns.
        if let Some(vm) = unsafe { ptr::vmem_ref(p as *const Vmem) } {
            f(vm);
        }
    }
}
