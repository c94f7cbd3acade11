//! Fault injection through the C API: the process-wide injected failures
//! (`vmem_core::set_global_mtbf`, so this file is a test binary of its
//! own), and a child arena whose C import function fails at random
//! (seeded), driven through `vmem_alloc`, `vmem_xalloc` and their frees.
//!
//! Every failure must come back as NULL (never an abort: the inputs are all
//! ones the documentation accepts); at the end, after freeing all that
//! succeeded, every arena is at zero in use, `check()` passes, the import
//! function got back every span it gave, and once every arena is destroyed
//! the process-wide tag pool has every tag back.

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use vmem::*;
use vmem_core::{TagPool, TAGS_PER_PAGE};

fn ops(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

static IMPORT_RNG: AtomicU64 = AtomicU64::new(0x1f_5eed);
static IMPORT_REFUSED: AtomicU64 = AtomicU64::new(0);
/// Bytes the flaky import function has handed out and not had back.
static IMPORTED: AtomicI64 = AtomicI64::new(0);

fn roll(state: &AtomicU64) -> u64 {
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    x
}

/// A C import function: `vmem_alloc` from the source, failing one call in 4.
unsafe extern "C" fn flaky_alloc(source: *mut Vmem, size: usize, vmflag: c_int) -> *mut c_void {
    if roll(&IMPORT_RNG) % 4 == 0 {
        IMPORT_REFUSED.fetch_add(1, Ordering::Relaxed);
        return null_mut();
    }
    // SAFETY: `source` is the live parent the child was created with.
    let p = unsafe { vmem_alloc(source, size, vmflag) };
    if !p.is_null() {
        IMPORTED.fetch_add(size as i64, Ordering::Relaxed);
    }
    p
}

/// Its free function: gives the span back to the source.
unsafe extern "C" fn flaky_free(source: *mut Vmem, addr: *mut c_void, size: usize) {
    IMPORTED.fetch_sub(size as i64, Ordering::Relaxed);
    // SAFETY: a span `flaky_alloc` obtained from `source`, whole.
    unsafe { vmem_free(source, addr, size) }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A seeded workload through the C calls on `vmp`; returns the failures.
///
/// # Safety
/// `vmp` is a live arena of quantum `q` used by nobody else.
unsafe fn workload(vmp: *mut Vmem, q: usize, seed: u64, steps: usize) -> u64 {
    let mut rng = Rng(seed | 1);
    let mut live: BTreeMap<usize, (usize, bool)> = BTreeMap::new();
    let mut failures = 0;
    let policies = [0, VM_BESTFIT, VM_FIRSTFIT, VM_NEXTFIT];
    for _ in 0..steps {
        let roll = if live.len() >= 2048 { 6 } else { rng.below(10) };
        // SAFETY: every call gets a live arena and arguments the
        // documentation accepts (non-zero sizes, valid constraints, frees
        // of live allocations with their sizes).
        unsafe {
            match roll {
                0..=3 => {
                    let size = q * (1 + rng.below(24) as usize);
                    let flags = VM_NOSLEEP | policies[rng.below(4) as usize];
                    let p = vmem_alloc(vmp, size, flags);
                    if p.is_null() {
                        failures += 1;
                    } else {
                        assert_eq!(p as usize % q, 0);
                        assert!(live.insert(p as usize, (size, false)).is_none());
                    }
                }
                4..=5 => {
                    let size = q * (1 + rng.below(8) as usize);
                    let align = q << (1 + rng.below(3));
                    let p = vmem_xalloc(vmp, size, align, 0, 0, null_mut(), null_mut(), VM_NOSLEEP);
                    if p.is_null() {
                        failures += 1;
                    } else {
                        assert_eq!(p as usize % align, 0);
                        assert!(live.insert(p as usize, (size, true)).is_none());
                    }
                }
                6..=8 if !live.is_empty() => {
                    let i = rng.below(live.len() as u64) as usize;
                    let (&a, &(size, x)) = live.iter().nth(i).unwrap();
                    if x {
                        vmem_xfree(vmp, a as *mut c_void, size);
                    } else {
                        vmem_free(vmp, a as *mut c_void, size);
                    }
                    live.remove(&a);
                }
                9 if rng.below(4) == 0 => {
                    vmem_arena_update(vmp);
                    if rng.below(2) == 0 {
                        vmem_qcache_reap(vmp);
                    }
                    (*vmp).arena().check().expect("invariants under faults");
                }
                _ => {}
            }
        }
    }
    for (a, (size, x)) in live {
        // SAFETY: live allocations with their sizes.
        unsafe {
            if x {
                vmem_xfree(vmp, a as *mut c_void, size);
            } else {
                vmem_free(vmp, a as *mut c_void, size);
            }
        }
    }
    failures
}

/// Frees nothing (the caller did), reaps, checks zero in use, destroys.
///
/// # Safety
/// `vmp` is live, has no children and is used by nobody else.
unsafe fn empty_and_destroy(vmp: *mut Vmem) {
    // SAFETY: forwarded from the caller.
    unsafe {
        vmem_qcache_reap(vmp);
        assert_eq!(vmem_size(vmp, VMEM_ALLOC as c_int), 0, "in use at the end");
        (*vmp).arena().check().expect("invariants at the end");
        vmem_destroy(vmp);
    }
}

#[test]
fn c_arenas_under_global_faults_and_a_flaky_import_function() {
    vmem_core::set_global_mtbf(9);
    // SAFETY: NUL-terminated names, valid spans and quanta; the children
    // import from live parents and are destroyed first.
    unsafe {
        let parent = vmem_create(
            c"fparent".as_ptr(),
            0x1000_0000 as *mut c_void,
            1 << 28,
            0x1000,
            None,
            None,
            null_mut(),
            4 * 0x1000,
            VM_SLEEP,
        );
        assert!(!parent.is_null());
        let plain = vmem_create(
            c"fplain".as_ptr(),
            0x1000 as *mut c_void,
            1 << 24,
            16,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        let child = vmem_create(
            c"fchild".as_ptr(),
            null_mut(),
            0,
            64,
            Some(flaky_alloc),
            Some(flaky_free),
            parent,
            8 * 64,
            VM_SLEEP,
        );
        assert!(!plain.is_null() && !child.is_null());
        let mut failures = 0;
        failures += workload(plain, 16, 0xf_0001, ops(60_000));
        failures += workload(child, 64, 0xf_0002, ops(60_000));
        failures += workload(parent, 0x1000, 0xf_0003, ops(30_000));
        assert!(failures > 0, "faults were injected");
        assert!(
            IMPORT_REFUSED.load(Ordering::Relaxed) > 0,
            "imports were refused"
        );
        empty_and_destroy(child);
        assert_eq!(
            IMPORTED.load(Ordering::Relaxed),
            0,
            "every imported span went back"
        );
        empty_and_destroy(parent);
        empty_and_destroy(plain);
    }
    let stats = TagPool::global().stats();
    assert_eq!(
        stats.spare_tags,
        stats.pages * TAGS_PER_PAGE,
        "tags leaked once every arena is destroyed"
    );
}
