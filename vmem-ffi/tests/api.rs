//! The C API driven from Rust: paths the C tests in `examples-c/tests` do
//! not reach.

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;

use vmem::*;

/// An `vmem_ximport_t` that ignores the alignment: it takes 16-byte-aligned
/// spans from its source, so a 4 KiB-quantum arena must carve.
unsafe extern "C" fn careless_import(
    src: *mut Vmem,
    size: *mut usize,
    _align: usize,
    vmflag: c_int,
) -> *mut c_void {
    // SAFETY: the arena passes a live size cell and its source arena.
    unsafe { vmem_alloc(src, *size, vmflag) }
}

#[test]
fn xcreate_without_xalign_carves_aligned_spans() {
    // SAFETY: every handle is live between its create and destroy, and the
    // child is destroyed before its source.
    unsafe {
        let fine = vmem_create(
            c"fine".as_ptr(),
            0x10_0000 as *mut _,
            0x10_0000,
            0x10,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        let pin = vmem_alloc(fine, 0x10, VM_NOSLEEP);
        assert_eq!(pin as usize, 0x10_0000);
        let pages = vmem_xcreate(
            c"pages".as_ptr(),
            null_mut(),
            0,
            0x1000,
            Some(careless_import),
            Some(vmem_free),
            fine,
            0,
            VM_SLEEP,
        );
        let a = vmem_xalloc(
            pages,
            0x1000,
            0x4000,
            0,
            0,
            null_mut(),
            null_mut(),
            VM_NOSLEEP,
        );
        assert!(!a.is_null());
        assert_eq!(a as usize % 0x4000, 0);
        assert_eq!(vmem_contains(fine, a, 0x1000), 1);
        vmem_xfree(pages, a, 0x1000);
        assert_eq!(
            vmem_size(fine, VMEM_ALLOC as c_int),
            0x10,
            "the whole import went back"
        );
        vmem_destroy(pages);
        vmem_free(fine, pin, 0x10);
        vmem_destroy(fine);
    }
}

#[test]
fn live_arenas_are_listed_until_destroyed() {
    // SAFETY: as above.
    unsafe {
        let vm = vmem_create(
            c"listed-arena".as_ptr(),
            0x1000 as *mut _,
            0x1000,
            0x10,
            None,
            None,
            null_mut(),
            0x40,
            VM_SLEEP,
        );
        let mut seen = 0;
        for_each_arena(|a| seen += usize::from(a.arena().name().as_str() == "listed-arena"));
        assert_eq!(seen, 1);
        let mut k = VmemKstat::default();
        vmem_get_kstat(vm, &mut k);
        assert_eq!(k.qcache_max, 0x40);
        vmem_destroy(vm);
        for_each_arena(|a| assert_ne!(a.arena().name().as_str(), "listed-arena"));
    }
}
