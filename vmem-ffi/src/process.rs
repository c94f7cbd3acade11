//! The process-level calls of libumem's vmem API, over `vmem-umem`:
//! `vmem_init`, `vmem_heap_arena`, `vmem_reap`, `vmem_update`,
//! `vmem_lockup`, `vmem_release`, and `_vmem_extend_alloc`.

use core::ffi::{c_char, c_int, c_void};
use core::fmt;
use core::ptr::null_mut;
use std::sync::OnceLock;

use crate::api::{arena, create, refuse, Args};
use crate::boundary::{die, guard};
use crate::failure::Failure;
use crate::flags::{alloc_flags, VM_PANIC};
use crate::handle::Vmem;
use crate::ptr;
use crate::source::{Import, VmemAllocFn, VmemFreeFn};

/// The heap `vmem_heap_arena` hands out: its handle and its import and
/// release functions.
struct Heap {
    /// The handle, as an address (a leaked `Box<Vmem>`, never destroyed).
    vmp: usize,
    alloc: VmemAllocFn,
    free: VmemFreeFn,
}

static HEAP: OnceLock<Heap> = OnceLock::new();

/// The process layer's heap as a C handle, with the functions that hand
/// out committed memory from it. The handle is not on the arena list: the
/// process layer lists the heap arena itself.
fn default_heap() -> Heap {
    let world = vmem_umem::get();
    let vm = Box::new(Vmem::new(world.heap().clone(), 0));
    Heap {
        vmp: ptr::into_handle(vm) as usize,
        alloc: Some(vmem_heap_alloc),
        free: Some(vmem_heap_free),
    }
}

fn heap() -> &'static Heap {
    HEAP.get_or_init(default_heap)
}

/// Whether `vmp` is the heap handle.
pub(crate) fn is_heap(vmp: *const Vmem) -> bool {
    HEAP.get().is_some_and(|h| h.vmp == vmp as usize)
}

/// The heap handle's arena, if `vmp` is it.
pub(crate) fn heap_handle<'a>(vmp: *const Vmem) -> Option<&'a Vmem> {
    if !is_heap(vmp) {
        return None;
    }
    // SAFETY: the heap handle is a leaked `Box<Vmem>`, never taken back.
    unsafe { ptr::vmem_ref(vmp) }
}

/// Whether `vmp` is one of the process layer's own arenas (which C never
/// receives as handles; refused wherever a handle is taken back).
pub(crate) fn is_internal(vmp: *const Vmem) -> bool {
    vmem_umem::world().is_some_and(|world| {
        world
            .own_arenas()
            .iter()
            .any(|arena| core::ptr::addr_eq(*arena as *const _, vmp))
    })
}

/// The heap's import function, as `vmem_heap_arena` returns it: `size`
/// bytes of committed, writable memory from the heap (`vmp` is ignored).
/// `VM_NOSLEEP` returns NULL when the heap cannot grow; `VM_PANIC` aborts.
///
/// # Safety
/// Any arguments; `vmp` is not used.
#[no_mangle]
pub unsafe extern "C" fn vmem_heap_alloc(
    vmp: *mut Vmem,
    size: usize,
    vmflag: c_int,
) -> *mut c_void {
    guard("vmem_heap_alloc", || {
        let world = vmem_umem::get();
        let wait = alloc_flags(vmflag).get_wait();
        match world.heap_source().alloc(size, world.heap().quantum(), wait) {
            Some(addr) => addr as *mut c_void,
            None if vmflag & VM_PANIC != 0 => die(format_args!(
                "vmem_heap_alloc({vmp:p} 'heap', size {size}, vmflag {vmflag:#x}): cannot satisfy mandatory allocation"
            )),
            None => null_mut(),
        }
    })
}

/// The heap's release function, as `vmem_heap_arena` returns it: gives
/// back `[addr, addr + size)` from `vmem_heap_alloc`, decommitted.
///
/// # Safety
/// `addr` and `size` are what an earlier `vmem_heap_alloc` returned and
/// was asked for, and the memory is no longer used.
#[no_mangle]
pub unsafe extern "C" fn vmem_heap_free(vmp: *mut Vmem, addr: *mut c_void, size: usize) {
    guard("vmem_heap_free", || {
        let _ = vmp;
        vmem_umem::get().heap_source().free(addr as usize, size);
    })
}

/// Returns the process heap and, through `allocp` and `freep` (each may be
/// NULL), the functions that hand out committed memory from it, as
/// libumem's `vmem_heap_arena` does: an arena created with
/// `vmem_create(name, NULL, 0, quantum, *allocp, *freep, heap, 0, flags)`
/// gets real, writable memory. The heap is set up on first use from
/// `VMEM_OPTIONS` (or by `vmem_init`); it is never destroyed.
///
/// # Safety
/// `allocp` and `freep` are NULL or valid for writing one function pointer.
#[no_mangle]
pub unsafe extern "C" fn vmem_heap_arena(
    allocp: *mut VmemAllocFn,
    freep: *mut VmemFreeFn,
) -> *mut Vmem {
    guard("vmem_heap_arena", || {
        let heap = heap();
        // SAFETY: NULL or writable for one function pointer (our contract).
        if let Some(slot) = unsafe { ptr::out_slot(allocp) } {
            slot.write(heap.alloc);
        }
        // SAFETY: as above.
        if let Some(slot) = unsafe { ptr::out_slot(freep) } {
            slot.write(heap.free);
        }
        heap.vmp as *mut Vmem
    })
}

/// Builds the heap as libumem's `vmem_init` does: a `parent_name` arena
/// (when not NULL) over `[heap_start, heap_start + heap_size)` with
/// quantum `parent_quantum`, then a `heap_name` arena of quantum
/// `heap_quantum` importing from it with `parent_alloc` and `parent_free`
/// (or, with no parent, over the span itself). Returns the heap;
/// `vmem_heap_arena` returns it from then on, with `heap_alloc` and
/// `heap_free`. vmem's own metadata keeps coming from the process layer
/// (`VMEM_OPTIONS`' backend). Aborts if the heap exists already (a second
/// `vmem_init`, or a `vmem_heap_arena` before it).
///
/// # Safety
/// The names are NULL or NUL-terminated strings; the functions are
/// thread-safe and take their arena as the first argument.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "libumem's signature")]
pub unsafe extern "C" fn vmem_init(
    parent_name: *const c_char,
    parent_quantum: usize,
    parent_alloc: VmemAllocFn,
    parent_free: VmemFreeFn,
    heap_name: *const c_char,
    heap_start: *mut c_void,
    heap_size: usize,
    heap_quantum: usize,
    heap_alloc: VmemAllocFn,
    heap_free: VmemFreeFn,
) -> *mut Vmem {
    guard("vmem_init", || {
        if HEAP.get().is_some() {
            die(format_args!(
                "vmem_init: the heap exists already (vmem_init called twice, or after vmem_heap_arena)"
            ));
        }
        let text = |p: *const c_char| -> Option<String> {
            // SAFETY: NULL or NUL-terminated (our contract).
            unsafe { ptr::c_str(p) }.map(|s| s.to_string_lossy().into_owned())
        };
        let (mut start, mut size) = (heap_start as usize, heap_size);
        let parent = match text(parent_name) {
            Some(name) => {
                let p = create(
                    "vmem_init",
                    &name,
                    start,
                    size,
                    parent_quantum,
                    None,
                    None,
                    null_mut(),
                    0,
                    0,
                );
                (start, size) = (0, 0);
                p
            }
            None => null_mut(),
        };
        let heap_name = text(heap_name).unwrap_or_else(|| "heap".into());
        let import = parent_alloc.map(Import::Alloc);
        let heap = create(
            "vmem_init",
            &heap_name,
            start,
            size,
            heap_quantum,
            import,
            parent_free,
            parent,
            0,
            0,
        );
        if heap.is_null() {
            return null_mut();
        }
        let set = HEAP.set(Heap {
            vmp: heap as usize,
            alloc: heap_alloc,
            free: heap_free,
        });
        if set.is_err() {
            die(format_args!(
                "vmem_init: the heap was set up meanwhile by another thread"
            ));
        }
        heap
    })
}

/// Drains every quantum cache of every arena back to its arena (libumem's
/// `vmem_reap`). Deferred, not skipped, when called from inside a populate.
#[no_mangle]
pub extern "C" fn vmem_reap() {
    guard("vmem_reap", || {
        vmem_umem::reap();
        if let Some(trace) = crate::trace::on() {
            trace.reap_all();
        }
    });
}

/// Periodic maintenance of every arena (libumem's `vmem_update`): hash
/// rescale, quantum caches' working-set update, and a wake-up of sleeping
/// allocations. The `update_interval` option runs it from a thread (once
/// the program has threads of its own); call it directly otherwise. The argument is ignored (libumem's timer callback
/// signature).
///
/// # Safety
/// Any argument.
#[no_mangle]
pub unsafe extern "C" fn vmem_update(dummy: *mut c_void) {
    let _ = dummy;
    guard("vmem_update", vmem_umem::update);
}

/// Takes every lock of vmem (the arena list, every arena and cache, the tag
/// pools), for a program that forks by other means than `fork()`; nothing
/// of vmem may be used until `vmem_release`. `fork()` itself is handled:
/// the same two steps run as `pthread_atfork` handlers.
#[no_mangle]
pub extern "C" fn vmem_lockup() {
    guard("vmem_lockup", vmem_umem::lockup);
}

/// Releases every lock `vmem_lockup` took, in the parent and in the child.
#[no_mangle]
pub extern "C" fn vmem_release() {
    guard("vmem_release", vmem_umem::release);
}

/// Adds `[vaddr, vaddr + size)` to the arena and allocates `alloc` bytes
/// from the start of the free segment now covering it, in one step
/// (libumem's `_vmem_extend_alloc`). An arena without a source grows an
/// adjacent span instead of creating a new one. Returns NULL if tag memory
/// runs out; aborts on arguments libumem asserts against (`alloc` zero or
/// above `size`, values not multiples of the quantum, a range that wraps or
/// overlaps a span).
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn _vmem_extend_alloc(
    vmp: *mut Vmem,
    vaddr: *mut c_void,
    size: usize,
    alloc: usize,
    vmflag: c_int,
) -> *mut c_void {
    guard("_vmem_extend_alloc", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| {
            write!(
                f,
                "{vaddr:p}, size {size}, alloc {alloc}, vmflag {vmflag:#x}"
            )
        });
        // SAFETY: NULL (which aborts) or a live arena (our contract).
        let vm = unsafe { arena("_vmem_extend_alloc", vmp, &args) };
        let addr = match vm.arena().extend_alloc(vaddr as usize, size, alloc) {
            Ok(addr) => addr as *mut c_void,
            Err(err) => match Failure::of_core(err) {
                Failure::NoRoom(_) | Failure::NeverFits(_) => null_mut(),
                Failure::Bad(why) => refuse("_vmem_extend_alloc", vmp, vm, &args, &why),
            },
        };
        if let Some(trace) = crate::trace::on() {
            trace.extend(vmp, vaddr as usize, size, alloc, addr as usize);
        }
        addr
    })
}
