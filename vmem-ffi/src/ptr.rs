//! Every conversion of a C pointer into a Rust value, in one place (the
//! pattern of rustls-ffi's `try_ref_from_ptr!`). Each kind of conversion is
//! one function with one safety argument; the rest of the crate calls these
//! and never dereferences a C pointer itself.
//!
//! The handle kinds:
//! - a `vmem_t *` is a `Vmem` moved into memory from the process layer's
//!   `vmem_vmem` arena (libumem's arena for arena structures) by
//!   [`into_handle`], lent out as `&Vmem` by [`vmem_ref`] and moved back
//!   out (its memory freed to `vmem_vmem`) by [`from_handle`];
//! - a C string ([`c_str`]) and an output struct ([`out_slot`]) are
//!   borrowed for the length of one call.

use core::ffi::{c_char, CStr};
use core::mem::{align_of, size_of, MaybeUninit};

use vmem_core::{AllocFlags, Constraints, Wait};

use crate::handle::Vmem;

/// The room a handle takes in `vmem_vmem`: its size and alignment.
const HANDLE: (usize, usize) = (size_of::<Vmem>(), align_of::<Vmem>());

/// Turns a new arena into the handle C holds: moves it into memory from
/// `vmem_vmem`. `None` (the arena dropped) when `vmem_vmem` has no room,
/// which only a process out of memory sees.
pub(crate) fn into_handle(vm: Vmem) -> Option<*mut Vmem> {
    let (size, align) = HANDLE;
    let addr = vmem_umem::get()
        .vmem_arena()
        .xalloc(
            size,
            &Constraints::new().align(align),
            AllocFlags::new().wait(Wait::NoSleep),
        )
        .ok()?;
    let vmp = addr as *mut Vmem;
    // SAFETY: `vmem_vmem` handed out `size_of::<Vmem>()` bytes of committed,
    // writable memory at an address aligned for `Vmem` (its spans come from
    // the heap's commit path), owned by this handle until `from_handle`.
    unsafe { vmp.write(vm) };
    Some(vmp)
}

/// The arena behind a handle; `None` for NULL.
///
/// # Safety
/// `vmp` is NULL or a handle from [`into_handle`] that has not been given to
/// [`from_handle`], and stays so while the reference is used.
pub(crate) unsafe fn vmem_ref<'a>(vmp: *const Vmem) -> Option<&'a Vmem> {
    // SAFETY: a non-NULL handle points at a live `Vmem` (the
    // caller's promise), so it is aligned and points at an initialised
    // `Vmem`. Only shared references are ever made from a handle until
    // `from_handle` takes it back, and `Vmem` is `Sync`, so any number of
    // threads may hold one at once.
    unsafe { vmp.as_ref() }
}

/// Takes the arena back out of its handle, ending the handle's life: the
/// `Vmem` moves out and its memory goes back to `vmem_vmem`.
///
/// # Safety
/// `vmp` is a handle from [`into_handle`] not yet given to this function,
/// and no reference from [`vmem_ref`] to it is used afterwards.
pub(crate) unsafe fn from_handle(vmp: *mut Vmem) -> Vmem {
    // SAFETY: `vmp` holds the initialised `Vmem` that `into_handle` wrote,
    // taken out once (the caller's promise) with no reference left in use,
    // so moving it out leaves nothing that reads the memory again.
    let vm = unsafe { vmp.read() };
    let (size, _) = HANDLE;
    if let Err(err) = vmem_umem::get().vmem_arena().xfree(vmp as usize, size) {
        unreachable!("a handle's memory is an allocation of vmem_vmem: {err}");
    }
    vm
}

/// A NUL-terminated C string; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points at a NUL-terminated string that stays unchanged
/// while the reference is used.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL, NUL-terminated and unchanging while borrowed (the
    // caller's promise); `CStr::from_ptr` reads up to the NUL only.
    Some(unsafe { CStr::from_ptr(ptr) })
}

/// Room for the caller's output struct, to be written (not read); `None`
/// for NULL.
///
/// # Safety
/// `ptr` is NULL or points at memory valid for writing one aligned `T`,
/// used by nothing else while the reference is.
pub(crate) unsafe fn out_slot<'a, T>(ptr: *mut T) -> Option<&'a mut MaybeUninit<T>> {
    // SAFETY: non-NULL pointers are aligned, writable and unaliased for one
    // `T` (the caller's promise); `MaybeUninit` makes no claim that the
    // memory holds a valid `T` yet, so nothing is read from it.
    unsafe { ptr.cast::<MaybeUninit<T>>().as_mut() }
}
