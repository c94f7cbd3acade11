//! Every conversion of a C pointer into a Rust value, in one place (the
//! pattern of rustls-ffi's `try_ref_from_ptr!`). Each kind of conversion is
//! one function with one safety argument; the rest of the crate calls these
//! and never dereferences a C pointer itself.
//!
//! The handle kinds:
//! - a `vmem_t *` is a `Box<Vmem>` turned into a raw pointer by
//!   [`into_handle`], lent out as `&Vmem` by [`vmem_ref`] and taken back by
//!   [`from_handle`];
//! - a C string ([`c_str`]) and an output struct ([`out_slot`]) are
//!   borrowed for the length of one call.

use core::ffi::{c_char, CStr};
use core::mem::MaybeUninit;

use crate::handle::Vmem;

/// Turns a new arena into the handle C holds.
pub(crate) fn into_handle(vm: Box<Vmem>) -> *mut Vmem {
    Box::into_raw(vm)
}

/// The arena behind a handle; `None` for NULL.
///
/// # Safety
/// `vmp` is NULL or a handle from [`into_handle`] that has not been given to
/// [`from_handle`], and stays so while the reference is used.
pub(crate) unsafe fn vmem_ref<'a>(vmp: *const Vmem) -> Option<&'a Vmem> {
    // SAFETY: a non-NULL handle is the pointer of a live `Box<Vmem>` (the
    // caller's promise), so it is aligned and points at an initialised
    // `Vmem`. Only shared references are ever made from a handle until
    // `from_handle` takes it back, and `Vmem` is `Sync`, so any number of
    // threads may hold one at once.
    unsafe { vmp.as_ref() }
}

/// Takes a handle back as the box it came from, ending its life as a handle.
///
/// # Safety
/// `vmp` is a handle from [`into_handle`] not yet given to this function,
/// and no reference from [`vmem_ref`] to it is used afterwards.
pub(crate) unsafe fn from_handle(vmp: *mut Vmem) -> Box<Vmem> {
    // SAFETY: `vmp` came from `Box::into_raw` and is taken back once (the
    // caller's promise), with no reference to it left in use.
    unsafe { Box::from_raw(vmp) }
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
