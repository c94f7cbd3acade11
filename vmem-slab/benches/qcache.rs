//! Quantum-cache benchmarks: a cached alloc+free pair against the plain
//! arena and an uncontended mutex, throughput with 1 and 2 threads, and a
//! producer/consumer pair of threads.

// `criterion_group!` generates an undocumented public function.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use vmem_core::{AllocFlags, Arena};
use vmem_slab::CachedArena;

const QUANTUM: usize = 4096;

fn cached() -> CachedArena {
    CachedArena::new(
        Arena::new("bench", 0x1000_0000, 1 << 36, QUANTUM).unwrap(),
        16 * QUANTUM,
    )
}

fn pairs(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair");
    let ca = cached();
    g.bench_function("qcache_alloc_free_1_quantum", |b| {
        b.iter(|| {
            let a = ca.alloc(black_box(QUANTUM), AllocFlags::NOSLEEP).unwrap();
            ca.free(black_box(a), QUANTUM).unwrap();
        })
    });
    let arena = Arena::new("plain", 0x1000_0000, 1 << 36, QUANTUM).unwrap();
    g.bench_function("arena_instant_fit_alloc_free", |b| {
        b.iter(|| {
            let a = arena
                .alloc(black_box(QUANTUM), AllocFlags::NOSLEEP)
                .unwrap();
            arena.free(black_box(a), QUANTUM).unwrap();
        })
    });
    // The project's unit: an uncontended pthread mutex lock + unlock pair.
    let mutex = Box::new(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
    let ptr = mutex.get();
    g.bench_function("pthread_mutex_lock_unlock", |b| {
        b.iter(|| {
            let m = black_box(ptr);
            // SAFETY: `m` points to an initialised, unlocked mutex that lives
            // (boxed, never moved) until after the benchmark, and only this
            // thread uses it.
            unsafe {
                libc::pthread_mutex_lock(m);
                libc::pthread_mutex_unlock(m);
            }
        })
    });
    // SAFETY: the mutex is unlocked and nothing uses it any more.
    unsafe { libc::pthread_mutex_destroy(ptr) };
    g.finish();
}

/// `threads` threads each doing `ops` cached alloc+free pairs; returns the
/// wall time of the slowest.
fn run_threads(ca: &Arc<CachedArena>, threads: usize, ops: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (ca, barrier) = (ca.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Eight objects in flight per thread, sizes of 1 to 4 quanta.
                let mut held = [(0usize, 0usize); 8];
                for i in 0..ops as usize {
                    let (addr, size) = held[i & 7];
                    if size != 0 {
                        ca.free(addr, size).unwrap();
                    }
                    let size = QUANTUM * (1 + (i & 3));
                    held[i & 7] = (ca.alloc(size, AllocFlags::NOSLEEP).unwrap(), size);
                }
                for (addr, size) in held {
                    ca.free(addr, size).unwrap();
                }
            })
        })
        .collect();
    let start = Instant::now();
    barrier.wait();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("throughput");
    let ca = Arc::new(cached());
    for threads in [1usize, 2] {
        // Long enough (tens of ms) that thread start-up and the barrier
        // do not blur the comparison between one and two threads.
        let ops = 2_000_000u64;
        g.throughput(Throughput::Elements(ops * threads as u64));
        g.bench_function(format!("{threads}_threads_alloc_free"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_threads(&ca, threads, ops)).sum())
        });
    }
    g.finish();
}

fn producer_consumer(c: &mut Criterion) {
    let mut g = c.benchmark_group("producer_consumer");
    let ca = Arc::new(cached());
    let ops = 100_000u64;
    g.throughput(Throughput::Elements(ops));
    g.bench_function("alloc_on_one_thread_free_on_another", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<usize>>(64);
                let consumer = {
                    let ca = ca.clone();
                    std::thread::spawn(move || {
                        for batch in rx {
                            for a in batch {
                                ca.free(a, QUANTUM).unwrap();
                            }
                        }
                    })
                };
                let start = Instant::now();
                let mut batch = Vec::with_capacity(64);
                for _ in 0..ops {
                    batch.push(ca.alloc(QUANTUM, AllocFlags::NOSLEEP).unwrap());
                    if batch.len() == 64 {
                        tx.send(std::mem::replace(&mut batch, Vec::with_capacity(64)))
                            .unwrap();
                    }
                }
                tx.send(batch).unwrap();
                drop(tx);
                consumer.join().unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = pairs, throughput, producer_consumer
}
criterion_main!(benches);
