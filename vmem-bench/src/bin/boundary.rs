//! The cost of the C boundary, measured so that a busy machine disturbs it
//! as little as possible: the same pair through the Rust API and through
//! the exported C functions (`vmem_alloc`/`vmem_free`, called through the
//! vmem-ffi rlib), in alternating passes of 10^6 pairs, 21 passes each.
//! Prints the median and the fastest pass per side and their difference
//! (the fastest pass is the one least disturbed by other processes).
//!
//! `cargo run --release -p vmem-bench --bin boundary`

use std::hint::black_box;
use std::time::Instant;

use ffi::{vmem_alloc, vmem_create, vmem_destroy, vmem_free, Vmem, VM_NOSLEEP};
use vmem_bench::{Cached, BASE, BIG, QUANTUM};
use vmem_core::{AllocFlags, Arena};

const PAIRS: u32 = 1_000_000;
const PASSES: usize = 21;

/// ns per pair of one pass of `f`.
fn pass(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..PAIRS {
        f();
    }
    t.elapsed().as_nanos() as f64 / PAIRS as f64
}

/// A C-API arena like the Rust one (`qcache_max` in bytes, 0: none).
fn c_arena(qcache_max: usize) -> *mut Vmem {
    // SAFETY: a name literal, no source and no import functions.
    let vmp = unsafe {
        vmem_create(
            c"c".as_ptr(),
            BASE as *mut _,
            BIG as usize * QUANTUM,
            QUANTUM,
            None,
            None,
            std::ptr::null_mut(),
            qcache_max,
            VM_NOSLEEP,
        )
    };
    assert!(!vmp.is_null());
    vmp
}

/// A C-API pair on `vmp`.
fn c_pair(vmp: *mut Vmem, size: usize) {
    // SAFETY: `vmp` is a live arena used by this thread only; the free
    // matches the allocation.
    unsafe {
        let a = vmem_alloc(black_box(vmp), black_box(size), VM_NOSLEEP);
        assert!(!a.is_null());
        vmem_free(vmp, black_box(a), size);
    }
}

/// `Arena::alloc`, instant-fit, behind a call the compiler may not inline
/// (as `vmem_alloc` is to a C caller).
#[inline(never)]
fn alloc_out_of_line(arena: &Arena, size: usize) -> Result<usize, vmem_core::Error> {
    arena.alloc(size, AllocFlags::NOSLEEP)
}

/// `Arena::free` behind a call the compiler may not inline.
#[inline(never)]
fn free_out_of_line(arena: &Arena, addr: usize, size: usize) -> Result<(), vmem_core::Error> {
    arena.free(addr, size)
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn compare(name: &str, mut rust: impl FnMut(), mut c: impl FnMut()) {
    let (mut r, mut k) = (Vec::new(), Vec::new());
    pass(&mut rust);
    pass(&mut c);
    for _ in 0..PASSES {
        r.push(pass(&mut rust));
        k.push(pass(&mut c));
    }
    let ((rm, rmin), (cm, cmin)) = (stats(r), stats(k));
    println!(
        "| {name} | {rm:.1} ({rmin:.1}) | {cm:.1} ({cmin:.1}) | {:+.1} ({:+.1}) |",
        cm - rm,
        cmin - rmin
    );
}

fn main() {
    println!("| pair | Rust API: median (fastest) ns | C API: median (fastest) ns | C − Rust ns |");
    println!("|---|---:|---:|---:|");
    let size = 4 * QUANTUM;
    let arena = Arena::new("rust", BASE, BIG as usize * QUANTUM, QUANTUM).unwrap();
    let vmp = c_arena(0);
    compare(
        "instant-fit, 16 KiB, no caches",
        || {
            let a = arena.alloc(black_box(size), AllocFlags::NOSLEEP).unwrap();
            arena.free(black_box(a), size).unwrap()
        },
        || c_pair(vmp, size),
    );
    // SAFETY: `vmp` is live until the `vmem_destroy` below.
    let own = unsafe { &*vmp }.arena();
    compare(
        "instant-fit, the C arena's own `Arena` through the Rust API",
        || {
            let a = own.alloc(black_box(size), AllocFlags::NOSLEEP).unwrap();
            own.free(black_box(a), size).unwrap()
        },
        || c_pair(vmp, size),
    );
    // The Rust calls above are inlined into the loop, alloc and free
    // whole; a C caller cannot inline `vmem_alloc`. The same pair through
    // Rust functions that are not inlined separates what any call costs
    // from what the C API adds to it.
    compare(
        "instant-fit, the C arena's own `Arena` through out-of-line Rust calls",
        || {
            let a = alloc_out_of_line(own, black_box(size)).unwrap();
            free_out_of_line(own, black_box(a), size).unwrap()
        },
        || c_pair(vmp, size),
    );
    // SAFETY: nothing uses the arena any more.
    unsafe { vmem_destroy(vmp) };
    let cached = Cached::new();
    let vmp = c_arena(Cached::QCACHE_QUANTA * QUANTUM);
    compare(
        "quantum cache, 4 KiB (qcache_max 8 quanta)",
        || {
            let a = cached
                .0
                .alloc(black_box(QUANTUM), AllocFlags::NOSLEEP)
                .unwrap();
            cached.0.free(black_box(a), QUANTUM).unwrap()
        },
        || c_pair(vmp, QUANTUM),
    );
    // The same comparison on one arena: what remains is the boundary alone.
    // SAFETY: `vmp` is live until the `vmem_destroy` below.
    let ca = unsafe { &*vmp }.cached().unwrap();
    compare(
        "quantum cache, the C arena's own `CachedArena` through the Rust API",
        || {
            let a = ca.alloc(black_box(QUANTUM), AllocFlags::NOSLEEP).unwrap();
            ca.free(black_box(a), QUANTUM).unwrap()
        },
        || c_pair(vmp, QUANTUM),
    );
    // SAFETY: nothing uses the arena any more.
    unsafe { vmem_destroy(vmp) };
}
