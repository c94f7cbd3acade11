//! C import functions as a `vmem-core` [`Source`], and C reclaim callbacks
//! as a [`Reclaim`] hook.

use core::ffi::{c_int, c_void};
use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

use vmem_core::{Arena, Reclaim, Source, Wait};

use crate::flags::{import_vmflag, VM_NOSLEEP};
use crate::handle::Vmem;
use crate::ptr;

/// libumem's `vmem_alloc_t *`: imports `size` bytes from `source` (NULL
/// when nothing is given).
pub type VmemAllocFn =
    Option<unsafe extern "C" fn(source: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void>;
/// libumem's `vmem_free_t *`: gives `[addr, addr + size)` back to `source`.
pub type VmemFreeFn =
    Option<unsafe extern "C" fn(source: *mut Vmem, addr: *mut c_void, size: usize)>;
/// illumos' `vmem_ximport_t *`: imports at least `*size` bytes, may enlarge
/// `*size`, and is told the alignment wanted.
pub type VmemXImportFn = Option<
    unsafe extern "C" fn(
        source: *mut Vmem,
        size: *mut usize,
        align: usize,
        vmflag: c_int,
    ) -> *mut c_void,
>;
/// FreeBSD's `vmem_reclaim_t *`: called before an allocation of `vmp` fails.
pub type VmemReclaimFn = Option<unsafe extern "C" fn(vmp: *mut Vmem, vmflag: c_int)>;

/// The function behind a non-NULL [`VmemAllocFn`].
pub(crate) type AllocFn = unsafe extern "C" fn(*mut Vmem, usize, c_int) -> *mut c_void;
/// The function behind a non-NULL [`VmemXImportFn`].
pub(crate) type XImportFn =
    unsafe extern "C" fn(*mut Vmem, *mut usize, usize, c_int) -> *mut c_void;

/// How an arena calls its C import function.
#[derive(Clone, Copy)]
pub(crate) enum Import {
    /// `vmem_create`: `afunc(source, size, vmflag)`.
    Alloc(AllocFn),
    /// `vmem_xcreate`: `afunc(source, &size, align, vmflag)`; `aligned` when
    /// `VMC_XALIGN` promises the result honours `align`.
    XImport {
        /// The import function.
        func: XImportFn,
        /// Whether the function aligns its result itself.
        aligned: bool,
    },
}

/// A C import/free pair and its `source` argument, as a [`Source`].
///
/// `vmem-core` wants every imported span to start on the alignment it asks
/// for. A plain `vmem_alloc_t` is not told the alignment, so when its result
/// is misaligned the span is given back and a larger one imported, from
/// which an aligned part is carved (as the illumos kernel does for sources
/// without `VMC_XALIGN`); `carved` remembers the whole span so that it goes
/// back to the C free function as it came.
pub(crate) struct CSource {
    import: Import,
    release: VmemFreeFn,
    /// The opaque first argument of both functions (usually the parent
    /// arena); never dereferenced here.
    source: *mut Vmem,
    /// The source's quantum (the parent arena's), or the importing arena's
    /// own when the source is not an arena.
    source_quantum: usize,
    /// The importing arena's quantum: spans must be multiples of it.
    arena_quantum: usize,
    /// Carved span start -> (start, size) the C function returned.
    carved: Mutex<HashMap<usize, (usize, usize)>>,
    /// The handle of the arena this is the source of (set once it exists),
    /// for the trace's `import` lines.
    owner: AtomicPtr<Vmem>,
}

// SAFETY: the fields are function pointers (code addresses, callable from
// any thread) and `source`, an opaque pointer this crate only hands back to
// those functions. libumem's contract, which C users of this API accept, is
// that an arena's import and free functions may run on any thread that uses
// the arena; `carved` is behind a mutex.
unsafe impl Send for CSource {}
// SAFETY: as for `Send`: no field is mutated without the mutex, and the
// C functions are required to be thread-safe.
unsafe impl Sync for CSource {}

impl CSource {
    pub(crate) fn new(
        import: Import,
        release: VmemFreeFn,
        source: *mut Vmem,
        source_quantum: usize,
        arena_quantum: usize,
    ) -> CSource {
        CSource {
            import,
            release,
            source,
            source_quantum,
            arena_quantum,
            carved: Mutex::new(HashMap::new()),
            owner: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Records the handle of the arena this is the source of.
    pub(crate) fn set_owner(&self, vmp: *mut Vmem) {
        self.owner.store(vmp, Ordering::Release);
    }

    /// One call of the C import function: `(start, size)` or `None`.
    fn call(&self, size: usize, align: usize, vmflag: c_int) -> Option<(usize, usize)> {
        match self.import {
            Import::Alloc(afunc) => {
                // SAFETY: `afunc` was given to vmem_create as this arena's
                // import function, with `source` as its argument; its
                // contract is libumem's `vmem_alloc_t`.
                let addr = unsafe { afunc(self.source, size, vmflag) };
                (!addr.is_null()).then_some((addr as usize, size))
            }
            Import::XImport { func, .. } => {
                let mut got = size;
                // SAFETY: as above, with illumos' `vmem_ximport_t` contract;
                // `got` is a live local the function may write.
                let addr = unsafe { func(self.source, &mut got, align, vmflag) };
                if addr.is_null() {
                    return None;
                }
                if got < size {
                    // The function shrank the request: unusable.
                    self.free_raw(addr as usize, got);
                    return None;
                }
                Some((addr as usize, got))
            }
        }
    }

    fn free_raw(&self, start: usize, size: usize) {
        if let Some(ffunc) = self.release {
            // SAFETY: `ffunc` is the free function given with the import
            // function, called on a span that import function returned.
            unsafe { ffunc(self.source, start as *mut c_void, size) }
        }
    }
}

impl CSource {
    /// Takes the bookkeeping lock (a leaf: nothing is called under it) and
    /// holds it until dropped, for the fork handlers.
    pub(crate) fn lockup(&self) -> std::sync::MutexGuard<'_, HashMap<usize, (usize, usize)>> {
        self.carved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl core::fmt::Debug for CSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CSource")
            .field("source", &self.source)
            .field("source_quantum", &self.source_quantum)
            .finish_non_exhaustive()
    }
}

impl Source for CSource {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        let span = self.import_span(size, align, wait);
        if let (Some((start, size)), Some(trace)) = (span, crate::trace::on()) {
            trace.import(self.owner.load(Ordering::Acquire), start, size);
        }
        span
    }

    fn release(&self, start: usize, size: usize) {
        self.release_span(start, size);
    }

    fn quantum(&self) -> usize {
        self.source_quantum
    }
}

impl CSource {
    /// A span for the arena: what the C import function returned, or an
    /// aligned part carved out of a larger import.
    fn import_span(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        let vmflag = import_vmflag(wait);
        let unit = align.max(self.arena_quantum);
        let (start, got) = self.call(size, align, vmflag)?;
        let usable = |start: usize, size: usize| {
            (start | size) & (self.arena_quantum - 1) == 0 && start & (unit - 1) == 0
        };
        if usable(start, got) {
            return Some((start, got));
        }
        if let Import::XImport { aligned: true, .. } = self.import {
            // VMC_XALIGN promised alignment: hand it over as is, so the
            // arena refuses (and frees) it as a broken import.
            return Some((start, got));
        }
        // Misaligned: import enough to carve an aligned span out of.
        self.free_raw(start, got);
        // A source that keeps to its own quantum (at least ours) wastes at
        // most `unit - source_quantum` in front; any other source may waste
        // up to a unit in front and a quantum at the end.
        let slack = if self.source_quantum >= self.arena_quantum {
            unit - self.source_quantum.min(unit)
        } else {
            unit + self.arena_quantum
        };
        let bigger = size.checked_add(slack)?;
        let (start, got) = self.call(bigger, align, vmflag)?;
        let end = start.checked_add(got);
        let lo = start.checked_add(unit - 1).map(|n| n & !(unit - 1));
        match (lo, end) {
            (Some(lo), Some(end))
                if (end & !(self.arena_quantum - 1)).saturating_sub(lo) >= size =>
            {
                let hi = end & !(self.arena_quantum - 1);
                self.carved
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(lo, (start, got));
                Some((lo, hi - lo))
            }
            _ => {
                self.free_raw(start, got);
                None
            }
        }
    }

    /// Gives a span back through the C free function: the whole import it
    /// was carved from, if it was.
    fn release_span(&self, start: usize, size: usize) {
        let whole = self
            .carved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&start);
        let (start, size) = whole.unwrap_or((start, size));
        self.free_raw(start, size);
    }
}

/// The reclaim hook of an arena made by this crate: reaps the arena's
/// quantum caches (what `vmem-slab` installs by default), then calls the C
/// function given to `vmem_set_reclaim`, if any.
pub(crate) struct CReclaim {
    /// The arena's handle, for the C callback and for its caches.
    vmp: *mut Vmem,
    func: VmemReclaimFn,
}

// SAFETY: `vmp` points at the `Vmem` that owns the arena this hook is
// installed in; the hook only runs during an allocation from that arena,
// while the `Vmem` is alive, and `Vmem` is `Sync`. `func` is a C function
// pointer the caller of `vmem_set_reclaim` declared callable from any thread
// that allocates from the arena.
unsafe impl Send for CReclaim {}
// SAFETY: see `Send`; nothing in the hook is mutable.
unsafe impl Sync for CReclaim {}

impl CReclaim {
    pub(crate) fn new(vmp: *mut Vmem, func: VmemReclaimFn) -> CReclaim {
        CReclaim { vmp, func }
    }
}

impl Reclaim for CReclaim {
    fn reclaim(&self, _arena: &Arena, _size: usize) {
        // SAFETY: the hook is installed in the arena this `Vmem` owns and
        // runs only during an allocation from it, so the handle is live.
        if let Some(vm) = unsafe { ptr::vmem_ref(self.vmp) } {
            vm.reap_caches();
        }
        if let Some(func) = self.func {
            // SAFETY: a C reclaim callback given to vmem_set_reclaim for this
            // arena, called with the arena's own handle.
            unsafe { func(self.vmp, VM_NOSLEEP) }
        }
    }
}
