//! # vmem-ffi: the libumem vmem C API as `libvmem.a`
//!
//! This crate exports illumos libumem's vmem interface (`sys/vmem.h`) from
//! the Rust arenas of `vmem-core` and the quantum caches of `vmem-slab`, so
//! that C written against libumem's `vmem_create`, `vmem_alloc`,
//! `vmem_xalloc`, `vmem_walk` and friends compiles and runs unchanged
//! against `libvmem.a` (or `libvmem.so`) and `include/vmem.h`. The header is
//! generated from this crate by cbindgen and checked in (the package carries
//! it, as `include/vmem.h` and `include/sys/vmem.h`). Each function's
//! documentation below states libumem's behaviour and where ours differs;
//! the source tree's `docs/c-api.md` gathers them on one page, and its
//! top-level `Makefile` installs the C library (`make install`).
//!
//! ## Layering
//!
//! - A `vmem_t *` is a `Box<`[`Vmem`]`>`: a `vmem_slab::CachedArena`, the
//!   `vmem_core::Arena` with its quantum caches (none when `qcache_max` is
//!   below the quantum). Every C pointer becomes a Rust reference in one
//!   module (`ptr.rs`), one function per kind, each with its safety
//!   argument.
//! - C import and free functions become a `vmem_core::Source`; a C reclaim
//!   callback becomes a `vmem_core::Reclaim` hook.
//! - Every exported function runs inside one guard that catches panics, and
//!   every bad input (a NULL arena, a bad free, impossible constraints) is
//!   reported on stderr with the call, the arena and the arguments, then
//!   the process aborts: libumem's `umem_panic`. No panic unwinds into C.
//! - Every arena is on the process's list ([`for_each_arena`], libumem's
//!   `vmem_list`), which lives in the `vmem-umem` layer below this crate,
//!   with the process-level calls this crate exports: `vmem_heap_arena`,
//!   `vmem_init`, `vmem_reap`, `vmem_update`, `vmem_lockup`/`vmem_release`
//!   (also run as fork handlers). Arenas keep their boundary tags in its
//!   `vmem_seg` arena.
//!
//! ## Example
//!
//! The C calls, made from Rust (a C program makes the same calls through
//! `include/vmem.h`):
//!
//! ```
//! use core::ptr::null_mut;
//! use vmem::*;
//!
//! // SAFETY: every pointer passed is NULL, a NUL-terminated literal, or an
//! // arena made by vmem_create and not yet destroyed; the child is destroyed
//! // before the parent it imports from.
//! unsafe {
//!     // A parent arena of 4 KiB pages and a child importing from it.
//!     let parent = vmem_create(c"parent".as_ptr(), 0x10000 as *mut _, 0x100000, 0x1000,
//!                              None, None, null_mut(), 0, VM_SLEEP);
//!     let child = vmem_create(c"child".as_ptr(), null_mut(), 0, 0x10,
//!                             Some(vmem_alloc), Some(vmem_free), parent, 0, VM_SLEEP);
//!     let a = vmem_alloc(child, 0x30, VM_NOSLEEP);
//!     assert!(!a.is_null() && vmem_contains(parent, a, 0x30) == 1);
//!     vmem_free(child, a, 0x30);
//!     assert_eq!(vmem_size(parent, VMEM_ALLOC as i32), 0, "the span went back");
//!     vmem_destroy(child);
//!     vmem_destroy(parent);
//! }
//! ```

mod api;
mod boundary;
mod failure;
mod flags;
mod handle;
mod kstat;
mod process;
mod ptr;
mod registry;
mod source;
mod trace;

pub use api::*;
pub use flags::{
    VMC_FLAGS, VMC_IDENTIFIER, VMC_NO_QCACHE, VMC_POPULATOR, VMC_XALIGN, VMC_XALLOC, VMEM_ALLOC,
    VMEM_FREE, VMEM_MAXFREE, VMEM_NAMELEN, VMEM_REENTRANT, VMEM_ROTOR, VMEM_SPAN, VMEM_WALKER,
    VM_ABORT, VM_BESTFIT, VM_ENDALLOC, VM_FIRSTFIT, VM_FLAGS, VM_KMFLAGS, VM_MEMLOAD, VM_NEXTFIT,
    VM_NORELOC, VM_NOSLEEP, VM_PANIC, VM_PUSHPAGE, VM_SLEEP, VM_UMFLAGS,
};
pub use handle::Vmem;
pub use kstat::VmemKstat;
pub use process::*;
pub use registry::for_each_arena;
pub use source::{VmemAllocFn, VmemFreeFn, VmemReclaimFn, VmemXImportFn};
