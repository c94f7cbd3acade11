//! The heap's page import and release: what an arena over real memory pays
//! to get a span from `vmem_heap_arena`'s functions (commit) and give it
//! back (decommit), next to the bare system calls.
//!
//! Run: `cargo bench -p vmem-umem --bench heap`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vmem_core::Wait;

fn heap_import_release(c: &mut Criterion) {
    let world = vmem_umem::get();
    let heap = world.heap_source();
    let page = vmem_umem::backend::page_size();
    let mut group = c.benchmark_group("heap");
    group.measurement_time(Duration::from_secs(2));
    for pages in [1usize, 16, 256] {
        let size = pages * page;
        group.bench_with_input(
            BenchmarkId::new("commit_release", pages),
            &size,
            |b, &size| {
                b.iter(|| {
                    let addr = heap
                        .alloc(black_box(size), page, Wait::NoSleep)
                        .expect("heap");
                    heap.free(addr, size);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("commit_touch_release", pages),
            &size,
            |b, &size| {
                b.iter(|| {
                    let addr = heap
                        .alloc(black_box(size), page, Wait::NoSleep)
                        .expect("heap");
                    for p in (0..size).step_by(page) {
                        // SAFETY: committed by the heap for this allocation.
                        unsafe { ((addr + p) as *mut u8).write(1) };
                    }
                    heap.free(addr, size);
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("mmap_munmap", pages), &size, |b, &size| {
            b.iter(|| {
                // SAFETY: a fresh anonymous mapping, unmapped right after.
                unsafe {
                    let p = libc::mmap(
                        core::ptr::null_mut(),
                        black_box(size),
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    );
                    assert_ne!(p, libc::MAP_FAILED);
                    libc::munmap(p, size);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, heap_import_release);
criterion_main!(benches);
