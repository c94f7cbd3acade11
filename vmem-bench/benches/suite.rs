//! The benchmark suite: the same workloads on this project's arena and on
//! the Rust peers from crates.io, one criterion group per allocator, in one
//! run. `cargo bench -p vmem-bench` runs it all in a few minutes on two
//! cores; `cargo bench -p vmem-bench -- --test` runs each benchmark once.
//!
//! What a peer cannot do is not run here; `cargo run -p vmem-bench --bin
//! matrix` prints which workloads each allocator supports and why.

// `criterion_group!` generates an undocumented public function.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use vmem_bench::*;
use vmem_core::{AllocFlags, Arena, Constraints, Policy};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Live-segment counts of the `pair/...` benchmarks.
const LIVE: [usize; 4] = [0, 1_000, 100_000, 1_000_000];
/// free+alloc steps per thread in one `threads/...` iteration.
const THREAD_OPS: usize = 200_000;
/// Objects passed from producer to consumer in one iteration.
const PC_OPS: usize = 100_000;

const OUR_POLICIES: [(&str, Policy); 4] = [
    ("instant", Policy::InstantFit),
    ("best", Policy::BestFit),
    ("first", Policy::FirstFit),
    ("next", Policy::NextFit),
];
const PEER_POLICIES: [(&str, vmem_peer::AllocPolicy); 3] = [
    ("instant", vmem_peer::AllocPolicy::InstantFit),
    ("best", vmem_peer::AllocPolicy::BestFit),
    ("next", vmem_peer::AllocPolicy::NextFit),
];

/// An alloc+free pair of [`PAIR_QUANTA`] quanta.
fn pair<P: Peer>(g: &mut Group, name: &str, p: &mut P) {
    g.bench_function(name, |b| {
        b.iter(|| {
            let h = p.alloc(black_box(PAIR_QUANTA)).unwrap();
            p.free(black_box(h));
        })
    });
}

/// `pair/N` for each live count whose state can be built in seconds.
fn pairs<P: Peer>(g: &mut Group, max_live: usize, mut new: impl FnMut(usize) -> P) {
    for n in LIVE.into_iter().filter(|&n| n <= max_live) {
        let mut p = new(n);
        // The live segments are dropped with the allocator, not freed: for
        // some peers freeing them one by one is quadratic.
        let _live = p.fill(n);
        pair(g, &format!("pair/{n}"), &mut p);
    }
}

fn churn<P: Peer>(g: &mut Group, name: &str, p: P) {
    let mut c = Churn::new(p);
    g.bench_function(name, |b| b.iter(|| c.step()));
    c.drain();
}

fn threads<S: SharedPeer + 'static>(g: &mut Group, name: &str, p: Arc<S>) {
    for n in [1usize, 2] {
        g.throughput(Throughput::Elements((THREAD_OPS * n) as u64));
        g.bench_function(format!("{name}/{n}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_threads(&p, n, THREAD_OPS)).sum())
        });
    }
    g.throughput(Throughput::Elements(PC_OPS as u64));
    g.bench_function(format!("producer_consumer/{name}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| producer_consumer(&p, PC_OPS)).sum())
    });
    // The group keeps the last throughput: one element per iteration again.
    g.throughput(Throughput::Elements(1));
}

fn ours(c: &mut Criterion) {
    let mut g = c.benchmark_group("vmem");
    for n in LIVE {
        // One state per live count, seen through each policy; every pair
        // leaves it as it found it.
        let mut base = Ours::new(BIG);
        let live = base.fill(n);
        for (name, policy) in OUR_POLICIES {
            pair(
                &mut g,
                &format!("pair/{name}/{n}"),
                &mut base.with_policy(policy),
            );
        }
        if n == 1_000 || n == 100_000 {
            // 16 KiB aligned to 64 KiB, not straddling 1 MiB.
            let cons = Constraints::new()
                .align(16 * QUANTUM)
                .nocross(256 * QUANTUM);
            for (name, policy) in &OUR_POLICIES[..2] {
                let p = base.with_policy(*policy);
                g.bench_function(format!("xalloc/{name}/{n}"), |b| {
                    b.iter(|| p.xfree(black_box(p.xalloc(4, &cons)), 4))
                });
            }
        }
        live.into_iter().for_each(|h| base.free(h));
    }
    for (name, policy) in OUR_POLICIES {
        churn(
            &mut g,
            &format!("churn/{name}"),
            Ours::new(CHURN_QUANTA).with_policy(policy),
        );
    }
    let cached = Arc::new(Cached::new());
    g.bench_function("qcache_pair", |b| {
        b.iter(|| cached.free(black_box(cached.alloc(black_box(1)).unwrap())))
    });
    let ids = Arena::new("ids", 1, ID_SPACE, 1).unwrap();
    let next = AllocFlags::new().policy(Policy::NextFit);
    let mut ring = IdRing::new(|| ids.alloc(1, next).unwrap());
    g.bench_function("next_fit_ids", |b| {
        b.iter(|| {
            ring.step(
                |id| ids.free(id, 1).unwrap(),
                || ids.alloc(1, next).unwrap(),
            )
        })
    });
    // Last: the first thread the process creates ends glibc's
    // single-threaded state for good, and with it the plain load-and-store
    // lock path (vmem-core's sync/single.rs). Everything of ours above, and
    // `c_boundary` before this group, runs single-threaded; these and the
    // peers' groups after them run in a multi-threaded process.
    threads(&mut g, "threads_qcache", cached);
    threads(&mut g, "threads_arena", Arc::new(Ours::new(BIG)));
    g.finish();
}

fn vmem_peer(c: &mut Criterion) {
    let mut g = c.benchmark_group("vmem-1.0.0");
    // Building and tearing down its state grows faster than quadratically
    // (its allocation hash has 64 fixed buckets): 10^5 live segments took
    // over three minutes to build here, so only 0 and 10^3 are run.
    for n in LIVE.into_iter().filter(|&n| n <= 1_000) {
        let mut base = VmemPeer::new(BIG);
        let _live = base.fill(n);
        for (name, policy) in PEER_POLICIES {
            pair(
                &mut g,
                &format!("pair/{name}/{n}"),
                &mut base.with_policy(policy),
            );
        }
        if n == 1_000 {
            let layout = vmem_peer::Layout::from_size_align(4 * QUANTUM, 16 * QUANTUM)
                .unwrap()
                .with_nocross(256 * QUANTUM)
                .unwrap();
            for (name, policy) in &PEER_POLICIES[..2] {
                let a = &base.arena;
                g.bench_function(format!("xalloc/{name}/{n}"), |b| {
                    b.iter(|| {
                        let addr = a.xalloc(black_box(layout.clone()), *policy).unwrap();
                        a.free(black_box(addr)).unwrap()
                    })
                });
            }
        }
    }
    for (name, policy) in PEER_POLICIES {
        churn(
            &mut g,
            &format!("churn/{name}"),
            VmemPeer::new(CHURN_QUANTA).with_policy(policy),
        );
    }
    threads(&mut g, "threads_arena", Arc::new(VmemPeer::new(BIG)));
    let ids = VmemPeer::with_quantum(1, ID_SPACE, 1).with_policy(vmem_peer::AllocPolicy::NextFit);
    let a = &ids.arena;
    let next = vmem_peer::AllocPolicy::NextFit;
    let mut ring = IdRing::new(|| a.alloc(1, next).unwrap());
    g.bench_function("next_fit_ids", |b| {
        b.iter(|| ring.step(|id| a.free(id).unwrap(), || a.alloc(1, next).unwrap()))
    });
    g.finish();
}

fn range_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("range-alloc");
    // Every operation scans or shifts its Vec of free ranges: building
    // 10^6 live segments with holes is quadratic (hours), so 10^6 is not run.
    pairs(&mut g, 100_000, |_| RangeAlloc::new(BIG));
    churn(&mut g, "churn", RangeAlloc::new(CHURN_QUANTA));
    threads(
        &mut g,
        "threads_mutex",
        Arc::new(Locked(Mutex::new(RangeAlloc::new(BIG)))),
    );
    g.finish();
}

fn offset_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("offset-allocator");
    // Offsets are u32: 2^32 - 1 units.
    pairs(&mut g, usize::MAX, |n| {
        OffsetAlloc::new(BIG, 2 * n as u32 + 1024)
    });
    churn(
        &mut g,
        "churn",
        OffsetAlloc::new(CHURN_QUANTA, 4 * CHURN_LIVE as u32),
    );
    threads(
        &mut g,
        "threads_mutex",
        Arc::new(Locked(Mutex::new(OffsetAlloc::new(BIG, 1 << 16)))),
    );
    g.finish();
}

fn vm_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("vm-allocator");
    pairs(&mut g, usize::MAX, |_| VmAlloc::new(BIG));
    churn(&mut g, "churn", VmAlloc::new(CHURN_QUANTA));
    threads(
        &mut g,
        "threads_mutex",
        Arc::new(Locked(Mutex::new(VmAlloc::new(BIG)))),
    );
    // Not next-fit: it hands out the lowest freed ID first.
    let mut ids = vm_allocator::IdAllocator::new(1, ID_SPACE as u32).unwrap();
    let mut ring = IdRing::new(|| ids.allocate_id().unwrap());
    g.bench_function("lowest_free_ids", |b| {
        b.iter(|| {
            // Both calls need `&mut ids`: the ring is stepped in halves.
            ids.free_id(ring.pop()).unwrap();
            ring.push(ids.allocate_id().unwrap());
        })
    });
    g.finish();
}

fn buddy(c: &mut Criterion) {
    let mut g = c.benchmark_group("buddy_system_allocator");
    pairs(&mut g, usize::MAX, |_| Buddy::new(BIG));
    churn(&mut g, "churn", Buddy::new(CHURN_QUANTA));
    threads(
        &mut g,
        "threads_mutex",
        Arc::new(Locked(Mutex::new(Buddy::new(BIG)))),
    );
    g.finish();
}

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.bench_function("pthread_mutex_pair", |b| b.iter_custom(pthread_pairs));
    let m = Mutex::new(0u64);
    g.bench_function("std_mutex_pair", |b| {
        b.iter(|| *black_box(&m).lock().unwrap() += 1)
    });
    g.finish();
}

/// The C boundary: the same pairs through the Rust API and through the C
/// functions `vmem_alloc`/`vmem_free` (the rlib of vmem-ffi, so the calls
/// cross the same `extern "C"` entry points a C program uses).
fn c_boundary(c: &mut Criterion) {
    use ffi::{vmem_alloc, vmem_create, vmem_destroy, vmem_free, VM_NOSLEEP};
    let mut g = c.benchmark_group("c-boundary");
    let size = 4 * QUANTUM;
    let arena = Arena::new("rust", BASE, BIG as usize * QUANTUM, QUANTUM).unwrap();
    g.bench_function("rust/instant_pair_16k", |b| {
        b.iter(|| {
            let a = arena.alloc(black_box(size), AllocFlags::NOSLEEP).unwrap();
            arena.free(black_box(a), size).unwrap()
        })
    });
    let cached = Cached::new();
    g.bench_function("rust/qcache_pair_4k", |b| {
        b.iter(|| {
            let a = cached
                .0
                .alloc(black_box(QUANTUM), AllocFlags::NOSLEEP)
                .unwrap();
            cached.0.free(black_box(a), QUANTUM).unwrap()
        })
    });
    for (name, qcache, size) in [
        ("c/instant_pair_16k", 0, size),
        ("c/qcache_pair_4k", Cached::QCACHE_QUANTA * QUANTUM, QUANTUM),
    ] {
        // SAFETY: a fresh arena with no source, used by this thread only and
        // destroyed after its last use; every free matches its allocation.
        unsafe {
            let vmp = vmem_create(
                c"c".as_ptr(),
                BASE as *mut _,
                BIG as usize * QUANTUM,
                QUANTUM,
                None,
                None,
                std::ptr::null_mut(),
                qcache,
                VM_NOSLEEP,
            );
            assert!(!vmp.is_null());
            g.bench_function(name, |b| {
                b.iter(|| {
                    let a = vmem_alloc(black_box(vmp), black_box(size), VM_NOSLEEP);
                    vmem_free(vmp, black_box(a), size)
                })
            });
            vmem_destroy(vmp);
        }
    }
    g.finish();
}

/// Short runs sized for two shared cores: the whole suite takes a few
/// minutes.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
}

criterion_group! {
    name = benches;
    config = config();
    targets = baseline, c_boundary, ours, vmem_peer, range_alloc, offset_alloc, vm_alloc, buddy
}
criterion_main!(benches);
