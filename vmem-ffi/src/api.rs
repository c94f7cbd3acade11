//! The exported C functions: libumem's vmem API and the extensions.
//!
//! Each function runs inside [`guard`]; a null arena, bad arguments and bad
//! frees end in [`die`] with the call, the arena and the arguments named.

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::fmt;
use core::ptr::null_mut;
use std::sync::Arc;

use vmem_core::{Arena, Constraints, Segment, SegmentTypes};
use vmem_slab::ObjectCache;

use crate::boundary::{die, guard, warn};
use crate::failure::Failure;
use crate::flags::*;
use crate::handle::Vmem;
use crate::kstat::VmemKstat;
use crate::ptr;
use crate::registry::{self, register, unregister};
use crate::source::{CSource, Import, VmemAllocFn, VmemFreeFn, VmemReclaimFn, VmemXImportFn};
use crate::trace;

/// Arguments of a call, formatted only if a report needs them.
pub(crate) struct Args<F>(pub(crate) F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Args<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Reports `what` about `call` on arena `vmp` and aborts.
#[cold]
pub(crate) fn refuse(
    call: &str,
    vmp: *const Vmem,
    vm: &Vmem,
    args: &dyn fmt::Display,
    what: &dyn fmt::Display,
) -> ! {
    let args = args.to_string();
    let sep = if args.is_empty() { "" } else { ", " };
    die(format_args!(
        "{call}({vmp:p} '{}'{sep}{args}): {what}",
        vm.name()
    ))
}

/// The arena behind `vmp`; a NULL arena aborts.
///
/// # Safety
/// `vmp` is NULL or a live arena (the contract of every exported function
/// that takes one).
pub(crate) unsafe fn arena<'a>(call: &str, vmp: *mut Vmem, args: &dyn fmt::Display) -> &'a Vmem {
    // SAFETY: forwarded from this function's contract.
    match unsafe { ptr::vmem_ref(vmp) } {
        Some(vm) => vm,
        None => null_arena(call, args),
    }
}

/// Reports a NULL arena passed to `call` and aborts.
#[cold]
#[inline(never)]
pub(crate) fn null_arena(call: &str, args: &dyn fmt::Display) -> ! {
    let args = args.to_string();
    let sep = if args.is_empty() { "" } else { ", " };
    die(format_args!("{call}(NULL{sep}{args}): NULL arena"))
}

/// What an allocation returns for `failure`: NULL when nothing fits (unless
/// `VM_PANIC`), an abort otherwise.
fn failed(
    call: &str,
    vmp: *const Vmem,
    vm: &Vmem,
    args: &dyn fmt::Display,
    vmflag: c_int,
    failure: Failure,
) -> *mut c_void {
    let panics = vmflag & VM_PANIC != 0;
    match failure {
        // VM_PANIC turns any failure to fit into an abort.
        Failure::NoRoom(why) | Failure::NeverFits(why) if panics => refuse(
            call,
            vmp,
            vm,
            args,
            &format_args!("cannot satisfy mandatory allocation: {why}"),
        ),
        Failure::NoRoom(_) => null_mut(),
        // A request nothing can ever satisfy fails softly under VM_NOSLEEP
        // and VM_ABORT; VM_SLEEP would wait for ever, so it aborts.
        Failure::NeverFits(_) if vmflag & (VM_NOSLEEP | VM_ABORT) != 0 => null_mut(),
        Failure::NeverFits(why) => refuse(
            call,
            vmp,
            vm,
            args,
            &format_args!("VM_SLEEP allocation can never be satisfied: {why}"),
        ),
        Failure::Bad(why) => refuse(call, vmp, vm, args, &why),
    }
}

/// The arena name given to `vmem_create` (NULL reads as "(null)", as
/// libumem's `snprintf` would print it).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
unsafe fn name_of(name: *const c_char) -> String {
    // SAFETY: forwarded from this function's contract.
    match unsafe { ptr::c_str(name) } {
        Some(name) => name.to_string_lossy().into_owned(),
        None => "(null)".into(),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the arguments of vmem_create and vmem_xcreate, in one place"
)]
pub(crate) fn create(
    call: &str,
    name: &str,
    base: usize,
    size: usize,
    quantum: usize,
    import: Option<Import>,
    ffunc: VmemFreeFn,
    source: *mut Vmem,
    qcache_max: usize,
    vmflag: c_int,
) -> *mut Vmem {
    let args = Args(|f: &mut fmt::Formatter<'_>| {
        write!(
            f,
            "\"{name}\", base {base:#x}, size {size}, quantum {quantum}, source {source:p}, qcache_max {qcache_max}, vmflag {vmflag:#x}"
        )
    });
    let refuse = |what: &dyn fmt::Display| -> ! { die(format_args!("{call}({args}): {what}")) };
    if !quantum.is_power_of_two() {
        refuse(&"quantum is not a power of two");
    }
    if (base != 0 || size != 0) && (base == 0 || size == 0) {
        refuse(&"bad initial span: vmem_add of a NULL base or a zero size");
    }
    // Every arena of the C API keeps its boundary tags and hash tables in
    // the process layer's `vmem_seg` arena.
    let mut builder = Arena::builder(name)
        .quantum(quantum)
        .tag_pool(vmem_umem::tag_pool());
    let mut c_source = None;
    let mut parent = None;
    if let Some(import) = import {
        // SAFETY: a `source` that is a live arena outlives its child:
        // `vmem_destroy` refuses it while this arena lives.
        parent = unsafe { registry::live_arena(source) };
        let source_quantum = parent.map_or(quantum, Vmem::quantum);
        let functions = Arc::new(CSource::new(import, ffunc, source, source_quantum, quantum));
        builder = builder.source(functions.clone() as Arc<dyn vmem_core::Source>);
        c_source = Some(functions);
    }
    if size != 0 {
        builder = builder.span(base, size);
    }
    let arena = match builder.build().map_err(Failure::of_core) {
        Ok(arena) => arena,
        Err(Failure::NoRoom(_) | Failure::NeverFits(_)) => return null_mut(),
        Err(Failure::Bad(why)) => refuse(&why),
    };
    let qcache_max = if vmflag & VMC_NO_QCACHE != 0 {
        0
    } else {
        qcache_max
    };
    arena.set_mtbf(vmem_umem::get().options().mtbf);
    let mut vm = Box::new(Vmem::with_source(arena, qcache_max, c_source.clone()));
    if let Some(parent) = parent {
        vm.imports_from(parent);
    }
    let vmp = ptr::into_handle(vm);
    if let Some(c_source) = &c_source {
        c_source.set_owner(vmp);
    }
    register(vmp);
    trace::start();
    if let Some(trace) = trace::on() {
        // SAFETY: just made, and not yet returned to the caller.
        let vm = unsafe { &*vmp };
        trace.create(vmp, vm, (size != 0).then_some((base, size)));
    }
    vmp
}

/// Creates an arena named `name` with the initial span `[base, base +
/// size)` (none if both are 0), handing out multiples of `quantum` (a power
/// of two). When `afunc` is given, the arena imports spans with
/// `afunc(source, size, vmflag)` when it runs dry and gives them back with
/// `ffunc(source, addr, size)` once wholly free; `source` is usually another
/// arena, with `vmem_alloc` and `vmem_free` as the functions. Sizes up to
/// `qcache_max` are served by quantum caches (at most 16 quanta), unless
/// `VMC_NO_QCACHE` is in `vmflag`; the other creation flags are accepted.
/// The name is copied (up to 31 bytes). Returns NULL if boundary-tag memory
/// runs out; aborts on bad arguments.
///
/// The caller owns the arena: destroy it with `vmem_destroy`, after every
/// arena that imports from it.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string. `source` is NULL, a live
/// arena that outlives this one, or any pointer `afunc`/`ffunc` accept;
/// `afunc` and `ffunc` are thread-safe.
#[no_mangle]
pub unsafe extern "C" fn vmem_create(
    name: *const c_char,
    base: *mut c_void,
    size: usize,
    quantum: usize,
    afunc: VmemAllocFn,
    ffunc: VmemFreeFn,
    source: *mut Vmem,
    qcache_max: usize,
    vmflag: c_int,
) -> *mut Vmem {
    guard("vmem_create", || {
        // SAFETY: forwarded from this function's contract.
        let name = unsafe { name_of(name) };
        // As illumos: the import-style flags belong to vmem_xcreate.
        let vmflag = vmflag & !(VMC_XALLOC | VMC_XALIGN);
        let import = afunc.map(Import::Alloc);
        create(
            "vmem_create",
            &name,
            base as usize,
            size,
            quantum,
            import,
            ffunc,
            source,
            qcache_max,
            vmflag,
        )
    })
}

/// Like `vmem_create()`, with an import function that receives the
/// alignment wanted and may enlarge the size it imports (illumos'
/// `vmem_xcreate`). With `VMC_XALIGN` the function promises to honour the
/// alignment; without it, a misaligned span is replaced by a larger one
/// from which an aligned part is used.
///
/// # Safety
/// As `vmem_create()`.
#[no_mangle]
pub unsafe extern "C" fn vmem_xcreate(
    name: *const c_char,
    base: *mut c_void,
    size: usize,
    quantum: usize,
    afunc: VmemXImportFn,
    ffunc: VmemFreeFn,
    source: *mut Vmem,
    qcache_max: usize,
    vmflag: c_int,
) -> *mut Vmem {
    guard("vmem_xcreate", || {
        // SAFETY: forwarded from this function's contract.
        let name = unsafe { name_of(name) };
        let vmflag = (vmflag & !VMC_POPULATOR) | VMC_XALLOC;
        let import = afunc.map(|func| Import::XImport {
            func,
            aligned: vmflag & VMC_XALIGN != 0,
        });
        create(
            "vmem_xcreate",
            &name,
            base as usize,
            size,
            quantum,
            import,
            ffunc,
            source,
            qcache_max,
            vmflag,
        )
    })
}

/// Destroys an arena made by `vmem_create()` or `vmem_xcreate()`: destroy
/// every arena that imports from it first. Allocations still outstanding
/// are reported on stderr (`vmem_destroy('name'): leaked N bytes`), as
/// libumem does, and the call goes on; imported spans that still hold
/// allocations stay with the source. Aborts if `vmp` is NULL or not a live
/// arena (destroyed already, say). `vmp` is invalid once this returns.
///
/// # Safety
/// No other thread uses `vmp` during or after the call, and no arena
/// imports from it any more.
#[no_mangle]
pub unsafe extern "C" fn vmem_destroy(vmp: *mut Vmem) {
    guard("vmem_destroy", || {
        if vmp.is_null() {
            die(format_args!("vmem_destroy(NULL): NULL arena"));
        }
        if crate::process::is_heap(vmp) || crate::process::is_internal(vmp) {
            die(format_args!(
                "vmem_destroy({vmp:p}): the process's own arenas (the heap of vmem_heap_arena) are never destroyed"
            ));
        }
        if !unregister(vmp) {
            die(format_args!(
                "vmem_destroy({vmp:p}): not a live arena (destroyed twice?)"
            ));
        }
        if let Some(trace) = trace::on() {
            trace.destroy(vmp);
        }
        // SAFETY: `vmp` was on the list of live arenas, so it is a handle
        // not yet taken back; it is off the list now, so no other destroy
        // can take it, and the caller promises no other use.
        let vm = unsafe { ptr::from_handle(vmp) };
        // Not in libumem, which frees the source and leaves the child to
        // release its spans into freed memory later.
        let importers = vm.importers();
        if importers != 0 {
            let (arenas, import, whom) = match importers {
                1 => ("arena", "imports", "that child"),
                _ => ("arenas", "import", "those children"),
            };
            die(format_args!(
                "vmem_destroy('{}'): {importers} {arenas} still {import} from it; destroy {whom} first",
                vm.name()
            ));
        }
        vm.reap_caches();
        let leaked = vm.arena().size(SegmentTypes::ALLOC);
        if leaked != 0 {
            warn(format_args!(
                "vmem_destroy('{}'): leaked {leaked} bytes",
                vm.name()
            ));
        }
        let parent = vm.parent();
        // The child's spans go back to its parent as the arena drops.
        drop(vm);
        if let Some(parent) = parent {
            // SAFETY: `parent` came from `Vmem::parent`, and the parent
            // is alive: it could not be destroyed while this arena was.
            unsafe { Vmem::leave_parent(parent) };
        }
    })
}

/// Allocates `size` bytes: from the quantum cache of that size when
/// `size - 1 < qcache_max`, else from the arena with the policy in `vmflag`
/// (`VM_BESTFIT`, `VM_FIRSTFIT`, `VM_NEXTFIT`, default instant-fit;
/// `VM_ENDALLOC` for the high end). When nothing fits, after importing and
/// reclaiming: `VM_NOSLEEP` returns NULL, `VM_SLEEP` waits for a free,
/// `VM_ABORT` returns NULL even with `VM_SLEEP`, and `VM_PANIC` aborts the
/// process instead of returning NULL. Free with `vmem_free`, same size.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_alloc(vmp: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void {
    // A dispatcher that saves no registers: each case ends in a jump to the
    // function that finishes it (design.md §16).
    // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
    if let Some(vm) = unsafe { ptr::vmem_ref(vmp) } {
        // SAFETY (each call): this function's own contract.
        return match vm.cached_arena().cache_for(size) {
            Some(cache) => unsafe { alloc_cached(vmp, cache, size, vmflag) },
            None if is_instant_fit(vmflag) => unsafe { alloc_instant(vmp, size, vmflag) },
            None => unsafe { alloc_placed(vmp, size, vmflag) },
        };
    }
    // SAFETY: this function's own contract.
    unsafe { alloc_whole(vmp, size, vmflag) }
}

/// A `vmem_alloc` of a cached size: the hit in the loaded magazine, which
/// calls nothing, or a jump to [`alloc_whole`]. Like every function
/// `vmem_alloc` and `vmem_free` jump to, it is `extern "C"`, so that it
/// cannot unwind and a caller may jump to it rather than call it; nothing
/// on its own path can panic (`alloc_loaded` is call-free and checks its
/// bounds with `get`).
///
/// # Safety
/// As for `vmem_alloc`, with `cache` one of `vmp`'s caches.
#[inline(never)]
unsafe extern "C" fn alloc_cached(
    vmp: *mut Vmem,
    cache: &ObjectCache,
    size: usize,
    vmflag: c_int,
) -> *mut c_void {
    // Tracing is asked first: a traced allocation runs whole, and records
    // what it allocated.
    if !trace::is_on() {
        if let Some(addr) = cache.alloc_loaded() {
            return addr as *mut c_void;
        }
    }
    // SAFETY: this function's own contract.
    unsafe { alloc_whole(vmp, size, vmflag) }
}

/// A `vmem_alloc` of an uncached size under instant-fit from the low end
/// (see [`alloc_cached`] for why `extern "C"`). It is first tried at once
/// (`Arena::try_instant_fit`), which needs nothing but the size: the
/// flags are translated, and the request's arguments kept, only on the
/// way to [`alloc_placed`], where a miss goes.
///
/// # Safety
/// As for `vmem_alloc`.
#[inline(never)]
unsafe extern "C" fn alloc_instant(vmp: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void {
    if !trace::is_on() {
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        if let Some(vm) = unsafe { ptr::vmem_ref(vmp) } {
            if let Some(addr) = guard("vmem_alloc", || vm.arena().try_instant_fit(size)) {
                return addr as *mut c_void;
            }
        }
    }
    // SAFETY: this function's own contract.
    unsafe { alloc_placed(vmp, size, vmflag) }
}

/// An uncached `vmem_alloc`, whole: any policy, failures and tracing
/// (see [`alloc_cached`] for why `extern "C"`).
///
/// # Safety
/// As for `vmem_alloc`.
#[inline(never)]
unsafe extern "C" fn alloc_placed(vmp: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void {
    guard("vmem_alloc", || {
        // A failure and tracing are handled out of line (`alloc_end`), so
        // that neither an error nor a report's arguments are set up on
        // every call.
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_alloc", &AllocArgs(size, vmflag))
        };
        match vm.arena().alloc(size, alloc_flags(vmflag)) {
            Ok(addr) if !trace::is_on() => addr as *mut c_void,
            result => alloc_end(vmp, vm, size, vmflag, result.map_err(Missed::Arena)),
        }
    })
}

/// A whole `vmem_alloc`: the one the fast path of `vmem_alloc` did not
/// finish (a NULL arena, an empty magazine, tracing on). Out of line and
/// `extern "C"`, as [`alloc_cached`].
///
/// # Safety
/// As for `vmem_alloc`.
#[cold]
#[inline(never)]
unsafe extern "C" fn alloc_whole(vmp: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void {
    guard("vmem_alloc", || {
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_alloc", &AllocArgs(size, vmflag))
        };
        let result = match vm.cached_arena().cache_for(size) {
            Some(cache) => cache.alloc_loaded().ok_or(Missed::Cache),
            None => vm
                .arena()
                .alloc(size, alloc_flags(vmflag))
                .map_err(Missed::Arena),
        };
        alloc_end(vmp, vm, size, vmflag, result)
    })
}

/// Why an allocation or a free left the fast path of `vmem_alloc` or
/// `vmem_free`.
enum Missed {
    /// The quantum cache's loaded magazine could not serve it (empty for an
    /// allocation; full, or a free to refuse or with sleepers to wake): the
    /// cache's whole operation runs, out of line.
    Cache,
    /// The arena refused.
    Arena(vmem_core::Error),
}

/// The arguments of a `vmem_alloc` call, as its reports print them.
struct AllocArgs(usize, c_int);

impl fmt::Display for AllocArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "size {}, vmflag {:#x}", self.0, self.1)
    }
}

/// The arguments of a `vmem_free` or `vmem_xfree` call, as their reports
/// print them.
struct FreeArgs(*mut c_void, usize);

impl fmt::Display for FreeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}, size {}", self.0, self.1)
    }
}

/// The rest of a `vmem_alloc` that missed its loaded magazine, failed or
/// is traced.
#[cold]
#[inline(never)]
fn alloc_end(
    vmp: *mut Vmem,
    vm: &Vmem,
    size: usize,
    vmflag: c_int,
    result: Result<usize, Missed>,
) -> *mut c_void {
    let result = match result {
        Ok(addr) => Ok(addr),
        Err(Missed::Cache) => vm.alloc(size, alloc_flags(vmflag)),
        Err(Missed::Arena(err)) => Err(Failure::of_core(err)),
    };
    let addr = match result {
        Ok(addr) => addr as *mut c_void,
        Err(failure) => failed(
            "vmem_alloc",
            vmp,
            vm,
            &AllocArgs(size, vmflag),
            vmflag,
            failure,
        ),
    };
    if let Some(trace) = trace::on() {
        trace.alloc(vmp, size, vmflag, addr as usize);
    }
    addr
}

/// Allocates `size` bytes at `phase` past a multiple of `align` (0: the
/// quantum), not straddling a multiple of `nocross` (0: none), inside
/// `[minaddr, maxaddr)` (NULL: no bound). `vmflag` as for `vmem_alloc`.
/// Bypasses the quantum caches: free with `vmem_xfree`. Aborts on
/// `phase >= align`, values not multiples of the quantum, non-power-of-two
/// `align`/`nocross` or an over-constrained request. A window that cannot
/// hold the request fails like any request that does not fit: NULL with
/// `VM_NOSLEEP`, an abort with `VM_PANIC`, and an abort with `VM_SLEEP`,
/// which could never be woken.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_xalloc(
    vmp: *mut Vmem,
    size: usize,
    align: usize,
    phase: usize,
    nocross: usize,
    minaddr: *mut c_void,
    maxaddr: *mut c_void,
    vmflag: c_int,
) -> *mut c_void {
    guard("vmem_xalloc", || {
        let constraints = Constraints::new()
            .align(align)
            .phase(phase)
            .nocross(nocross)
            .min(minaddr as usize)
            .max(maxaddr as usize);
        // As in `vmem_alloc`: reports and tracing out of line.
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_xalloc", &XallocArgs(size, &constraints, vmflag))
        };
        match vm.xalloc(size, &constraints, alloc_flags(vmflag)) {
            Ok(addr) if !trace::is_on() => addr as *mut c_void,
            result => xalloc_end(vmp, vm, size, &constraints, vmflag, result),
        }
    })
}

/// The arguments of a `vmem_xalloc` call, as its reports print them.
struct XallocArgs<'a>(usize, &'a Constraints, c_int);

impl fmt::Display for XallocArgs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let XallocArgs(size, c, vmflag) = *self;
        write!(
            f,
            "size {size}, align {:#x}, phase {:#x}, nocross {:#x}, minaddr {:p}, maxaddr {:p}, vmflag {vmflag:#x}",
            c.get_align(),
            c.get_phase(),
            c.get_nocross(),
            c.get_min() as *const c_void,
            c.get_max() as *const c_void,
        )
    }
}

/// The rest of a `vmem_xalloc` whose allocation failed or is traced.
#[cold]
#[inline(never)]
fn xalloc_end(
    vmp: *mut Vmem,
    vm: &Vmem,
    size: usize,
    constraints: &Constraints,
    vmflag: c_int,
    result: Result<usize, vmem_core::Error>,
) -> *mut c_void {
    let args = XallocArgs(size, constraints, vmflag);
    let addr = match result {
        Ok(addr) => addr as *mut c_void,
        Err(err) => failed("vmem_xalloc", vmp, vm, &args, vmflag, Failure::of_core(err)),
    };
    if let Some(trace) = trace::on() {
        trace.xalloc(vmp, size, constraints, vmflag, addr as usize);
    }
    addr
}

/// Frees `[vaddr, vaddr + size)` from `vmem_alloc()` (to the quantum cache
/// the size selects, or the arena). Aborts on a bad free: an address not
/// allocated, or the wrong size.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_free(vmp: *mut Vmem, vaddr: *mut c_void, size: usize) {
    // As in `vmem_alloc`: a dispatcher that jumps to the function that
    // finishes each case.
    // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
    if let Some(vm) = unsafe { ptr::vmem_ref(vmp) } {
        // SAFETY (each call): this function's own contract.
        return match vm.cached_arena().cache_for(size) {
            Some(cache) => unsafe { free_cached(vmp, cache, vaddr, size) },
            None => unsafe { free_to_arena(vmp, vaddr, size) },
        };
    }
    // SAFETY: this function's own contract.
    unsafe { free_whole(vmp, vaddr, size) }
}

/// A `vmem_free` of a cached size: the loaded magazine takes the object,
/// calling nothing, or a jump to [`free_whole`] (see [`alloc_cached`]).
///
/// # Safety
/// As for `vmem_free`, with `cache` one of `vmp`'s caches.
#[inline(never)]
unsafe extern "C" fn free_cached(
    vmp: *mut Vmem,
    cache: &ObjectCache,
    vaddr: *mut c_void,
    size: usize,
) {
    // Tracing first, as in `alloc_cached`.
    if !trace::is_on() && cache.free_loaded(vaddr as usize) {
        return;
    }
    // SAFETY: this function's own contract.
    unsafe { free_whole(vmp, vaddr, size) }
}

/// A `vmem_free` of an uncached size (see [`alloc_cached`] for why
/// `extern "C"`).
///
/// # Safety
/// As for `vmem_free`.
#[inline(never)]
unsafe extern "C" fn free_to_arena(vmp: *mut Vmem, vaddr: *mut c_void, size: usize) {
    guard("vmem_free", || {
        // SAFETY: `vmp` is a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_free", &FreeArgs(vaddr, size))
        };
        match vm.arena().free(vaddr as usize, size) {
            Ok(()) if !trace::is_on() => {}
            result => free_end(vmp, vm, vaddr, size, result.map_err(Missed::Arena)),
        }
    })
}

/// A whole `vmem_free`: the one the fast path of `vmem_free` did not
/// finish (a NULL arena, a full magazine, sleepers to wake, a free to
/// refuse, tracing on). Out of line and `extern "C"`, as
/// [`free_to_arena`].
///
/// # Safety
/// As for `vmem_free`.
#[cold]
#[inline(never)]
unsafe extern "C" fn free_whole(vmp: *mut Vmem, vaddr: *mut c_void, size: usize) {
    guard("vmem_free", || {
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_free", &FreeArgs(vaddr, size))
        };
        let result = match vm.cached_arena().cache_for(size) {
            Some(cache) if cache.free_loaded(vaddr as usize) => Ok(()),
            Some(_) => Err(Missed::Cache),
            None => vm.arena().free(vaddr as usize, size).map_err(Missed::Arena),
        };
        free_end(vmp, vm, vaddr, size, result);
    })
}

/// The rest of a `vmem_free` that the fast path did not finish (a full
/// magazine, sleepers to wake, or a bad free, which aborts) or that is
/// traced.
#[cold]
#[inline(never)]
fn free_end(
    vmp: *mut Vmem,
    vm: &Vmem,
    vaddr: *mut c_void,
    size: usize,
    result: Result<(), Missed>,
) {
    let result = match result {
        Ok(()) => Ok(()),
        // `free_loaded` changed nothing: the whole free runs, and says why
        // it is refused, if it is.
        Err(Missed::Cache) => vm.free(vaddr as usize, size),
        Err(Missed::Arena(err)) => Err(Failure::of_core(err)),
    };
    if let Err(failure) = result {
        refuse("vmem_free", vmp, vm, &FreeArgs(vaddr, size), &failure);
    }
    if let Some(trace) = trace::on() {
        trace.free(vmp, vaddr as usize, size);
    }
}

/// The rest of a `vmem_xfree` that was refused or is traced: a refused free
/// aborts.
#[cold]
#[inline(never)]
fn xfree_end(
    vmp: *mut Vmem,
    vm: &Vmem,
    vaddr: *mut c_void,
    size: usize,
    result: Result<(), vmem_core::Error>,
) {
    if let Err(err) = result {
        let failure = Failure::of_core(err);
        refuse("vmem_xfree", vmp, vm, &FreeArgs(vaddr, size), &failure);
    }
    if let Some(trace) = trace::on() {
        trace.free(vmp, vaddr as usize, size);
    }
}

/// Frees `[vaddr, vaddr + size)` from `vmem_xalloc()` (never through the
/// quantum caches). Aborts on a bad free.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_xfree(vmp: *mut Vmem, vaddr: *mut c_void, size: usize) {
    guard("vmem_xfree", || {
        // As in `vmem_free`.
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let Some(vm) = (unsafe { ptr::vmem_ref(vmp) }) else {
            null_arena("vmem_xfree", &FreeArgs(vaddr, size))
        };
        let result = vm.xfree(vaddr as usize, size);
        if result.is_err() || trace::is_on() {
            xfree_end(vmp, vm, vaddr, size, result);
        }
    })
}

/// Adds the span `[vaddr, vaddr + size)` and returns `vaddr`, or NULL if
/// boundary-tag memory ran out (abort instead with `VM_PANIC`). Aborts on a
/// NULL `vaddr`, a zero size, values not multiples of the quantum, or a
/// range overlapping a span of the arena.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_add(
    vmp: *mut Vmem,
    vaddr: *mut c_void,
    size: usize,
    vmflag: c_int,
) -> *mut c_void {
    guard("vmem_add", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| {
            write!(f, "{vaddr:p}, size {size}, vmflag {vmflag:#x}")
        });
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let vm = unsafe { arena("vmem_add", vmp, &args) };
        if vaddr.is_null() || size == 0 {
            refuse(
                "vmem_add",
                vmp,
                vm,
                &args,
                &"bad arguments: NULL address or zero size",
            );
        }
        let added = match vm.add(vaddr as usize, size) {
            Ok(()) => vaddr,
            Err(failure) => failed("vmem_add", vmp, vm, &args, vmflag, failure),
        };
        if let Some(trace) = trace::on() {
            trace.add(vmp, vaddr as usize, size, !added.is_null());
        }
        added
    })
}

/// 1 if `[vaddr, vaddr + size)` lies inside one span of the arena, else 0.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_contains(vmp: *mut Vmem, vaddr: *mut c_void, size: usize) -> c_int {
    guard("vmem_contains", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "{vaddr:p}, size {size}"));
        c_int::from(
            // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
            unsafe { arena("vmem_contains", vmp, &args) }
                .arena()
                .contains(vaddr as usize, size),
        )
    })
}

/// Calls `func(arg, start, size)` for every segment whose type is in
/// `typemask` (`VMEM_ALLOC`, `VMEM_FREE`, `VMEM_SPAN`, `VMEM_ROTOR`), in
/// the arena's order. The arena lock is held throughout, so `func` must not
/// call into this arena, unless `VMEM_REENTRANT` is in `typemask`: then the
/// lock is dropped around each call and `func` may allocate and free here.
/// A mask with `VMEM_WALKER` walks nothing (as in libumem).
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena; `func` is NULL (which
/// aborts) or a function safe to call with `arg`.
#[no_mangle]
pub unsafe extern "C" fn vmem_walk(
    vmp: *mut Vmem,
    typemask: c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void, start: *mut c_void, size: usize)>,
    arg: *mut c_void,
) {
    guard("vmem_walk", || {
        let fp = func.map_or(null_mut(), |f| f as *mut c_void);
        let args = Args(|f: &mut fmt::Formatter<'_>| {
            write!(f, "typemask {typemask:#x}, func {fp:p}, arg {arg:p}")
        });
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let vm = unsafe { arena("vmem_walk", vmp, &args) };
        let Some(func) = func else {
            refuse("vmem_walk", vmp, vm, &args, &"NULL callback");
        };
        let bits = typemask as c_uint;
        if bits & VMEM_WALKER != 0 {
            return;
        }
        let visit = |seg: Segment| {
            // SAFETY: the caller gave `func` and `arg` for exactly this call.
            unsafe { func(arg, seg.start as *mut c_void, seg.size) }
        };
        let types = segment_types(typemask);
        if bits & VMEM_REENTRANT != 0 {
            vm.arena().walk_reentrant(types, visit);
        } else {
            vm.arena().walk(types, visit);
        }
    })
}

/// Bytes in segments of the types in `typemask`: `VMEM_ALLOC` in use,
/// `VMEM_FREE` free, both the arena's total. Extension: `VMEM_MAXFREE`
/// alone gives the size of the largest free segment.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_size(vmp: *mut Vmem, typemask: c_int) -> usize {
    guard("vmem_size", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "typemask {typemask:#x}"));
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let vm = unsafe { arena("vmem_size", vmp, &args) };
        let bits = typemask as c_uint;
        if bits & VMEM_MAXFREE != 0 {
            if bits & (VMEM_ALLOC | VMEM_FREE) != 0 {
                refuse(
                    "vmem_size",
                    vmp,
                    vm,
                    &args,
                    &"VMEM_MAXFREE cannot be combined with VMEM_ALLOC or VMEM_FREE",
                );
            }
            return vm.arena().max_free();
        }
        vm.arena().size(segment_types(typemask))
    })
}

// ----- extensions -----------------------------------------------------------------

/// Extension (FreeBSD): caps the bytes the arena may import from its
/// source; 0 removes the cap. Imports past the cap fail as if the source
/// were empty.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_set_limit(vmp: *mut Vmem, limit: usize) {
    guard("vmem_set_limit", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "limit {limit}"));
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        unsafe { arena("vmem_set_limit", vmp, &args) }
            .arena()
            .set_limit(limit);
    })
}

/// Extension (FreeBSD): installs `func`, called as `func(vmp, VM_NOSLEEP)`
/// when an allocation is about to fail, after the arena's quantum caches
/// have been reaped; the allocation is retried once if free space grew.
/// NULL removes it. `func` may free to the arena.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena; `func` is thread-safe.
#[no_mangle]
pub unsafe extern "C" fn vmem_set_reclaim(vmp: *mut Vmem, func: VmemReclaimFn) {
    guard("vmem_set_reclaim", || {
        let fp = func.map_or(null_mut(), |f| f as *mut c_void);
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "func {fp:p}"));
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        unsafe { arena("vmem_set_reclaim", vmp, &args) }.set_reclaim(vmp, func);
    })
}

/// Extension (FreeBSD): `size` rounded up to the arena's quantum (wrapping
/// to 0 past `SIZE_MAX`, as FreeBSD's does).
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_roundup_size(vmp: *mut Vmem, size: usize) -> usize {
    guard("vmem_roundup_size", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "size {size}"));
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        let mask = unsafe { arena("vmem_roundup_size", vmp, &args) }.quantum() - 1;
        size.wrapping_add(mask) & !mask
    })
}

/// Extension: copies the arena's counters (libumem's kstats and more) into
/// `*out`.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena; `out` is NULL (which
/// aborts) or points at writable memory for one `vmem_kstat_t`.
#[no_mangle]
pub unsafe extern "C" fn vmem_get_kstat(vmp: *mut Vmem, out: *mut VmemKstat) {
    guard("vmem_get_kstat", || {
        let args = Args(|f: &mut fmt::Formatter<'_>| write!(f, "out {out:p}"));
        // SAFETY: forwarded from this function's contract.
        let vm = unsafe { arena("vmem_get_kstat", vmp, &args) };
        // SAFETY: `out` is NULL or writable for one `vmem_kstat_t`, by this
        // function's contract.
        let Some(slot) = (unsafe { ptr::out_slot(out) }) else {
            refuse("vmem_get_kstat", vmp, vm, &args, &"NULL output struct");
        };
        slot.write(VmemKstat::of(vm));
    })
}

/// Extension: one arena's periodic maintenance, what libumem's
/// `vmem_update` does to each arena: rescales the allocated-segment hash if
/// it is out of proportion, updates the quantum caches' working sets and
/// wakes sleepers to retry. Optional: arenas rescale on their own.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_update(vmp: *mut Vmem) {
    guard("vmem_arena_update", || {
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        unsafe { arena("vmem_arena_update", vmp, &"") }.update();
    })
}

/// Extension (illumos kernel's `vmem_qcache_reap`): gives every object
/// cached in the arena's quantum caches back to the arena, and wholly free
/// slabs with it. Does nothing for an arena without quantum caches.
///
/// # Safety
/// `vmp` is NULL (which aborts) or a live arena.
#[no_mangle]
pub unsafe extern "C" fn vmem_qcache_reap(vmp: *mut Vmem) {
    guard("vmem_qcache_reap", || {
        // SAFETY: `vmp` is NULL or a live arena, by this function's contract.
        unsafe { arena("vmem_qcache_reap", vmp, &"") }.reap_caches();
        if let Some(trace) = trace::on() {
            trace.reap(vmp);
        }
    })
}
