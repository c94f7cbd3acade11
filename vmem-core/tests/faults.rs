//! Fault injection through the arena layer: the process-wide injected
//! failures (`set_global_mtbf`, so this file is a test binary of its own),
//! per-arena ones (`set_mtbf`), a source whose imports fail at random and a
//! page source that refuses tag pages at random, all seeded.
//!
//! Long seeded workloads run through all of it. Every failure must come
//! back as an error of a kind a resource shortage may cause, never as a
//! panic or an invalid-argument error; every success is recorded. At the
//! end, after freeing every allocation that succeeded, each arena is back
//! to zero in use, `check()` passes, every imported span went back to its
//! source, and the private tag pool has every tag back.

use core::ptr::NonNull;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vmem_core::{
    set_global_mtbf, AllocFlags, Arena, Constraints, Error, PageSource, Policy, SegmentTypes,
    Source, SystemPages, TagPool, Wait, PAGE_SIZE, TAGS_PER_PAGE,
};

/// Operations per workload: fewer in debug builds, very few under Miri.
fn ops(release: usize) -> usize {
    if cfg!(miri) {
        100
    } else if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

/// xorshift64: a seeded, reproducible stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A page source that refuses one request in `every` (seeded) while armed,
/// and counts what is out.
struct FlakyPages {
    state: AtomicU64,
    every: AtomicU64,
    out: AtomicUsize,
    refused: AtomicUsize,
}

impl FlakyPages {
    /// Pools and their page sources are statics (a leaked box would be a
    /// leak to Miri).
    const fn new(seed: u64, every: u64) -> FlakyPages {
        FlakyPages {
            state: AtomicU64::new(seed | 1),
            every: AtomicU64::new(every),
            out: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        }
    }

    fn roll(&self) -> u64 {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        x
    }
}

// SAFETY: pages come from `SystemPages` and go back to it unchanged.
unsafe impl PageSource for FlakyPages {
    fn alloc_pages(&self, bytes: usize) -> Option<NonNull<u8>> {
        // Refuse the pool's large first request, so it falls back to one
        // page at a time and meets the random refusals below often.
        if bytes > vmem_core::PAGE_SIZE {
            return None;
        }
        let every = self.every.load(Ordering::Relaxed);
        if every != 0 && self.roll() % every == 0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let page = SystemPages.alloc_pages(bytes)?;
        self.out.fetch_add(bytes, Ordering::Relaxed);
        Some(page)
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, bytes: usize) {
        self.out.fetch_sub(bytes, Ordering::Relaxed);
        // SAFETY: forwarded; the pages came from `SystemPages`.
        unsafe { SystemPages.free_pages(ptr, bytes) }
    }
}

/// A source over a parent arena whose imports fail one time in `every`
/// (seeded), and which checks every release against what it gave.
struct FlakySource {
    parent: Arc<Arena>,
    rng: Mutex<Rng>,
    every: u64,
    given: Mutex<BTreeMap<usize, usize>>,
    refused: AtomicU64,
}

impl Source for FlakySource {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        if self.rng.lock().unwrap().below(self.every) == 0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let (start, size) = self.parent.import(size, align, wait)?;
        assert!(self.given.lock().unwrap().insert(start, size).is_none());
        Some((start, size))
    }

    fn release(&self, start: usize, size: usize) {
        let given = self.given.lock().unwrap().remove(&start);
        assert_eq!(given, Some(size), "released a span it was not given");
        self.parent.release(start, size);
    }

    fn quantum(&self) -> usize {
        self.parent.quantum()
    }
}

/// The error kinds a shortage (real or injected) may produce.
fn is_shortage(err: &Error) -> bool {
    matches!(
        err,
        Error::WouldBlock { .. }
            | Error::Exhausted { .. }
            | Error::OutOfTags { .. }
            | Error::TimedOut { .. }
    )
}

#[derive(Clone, Copy)]
struct Live {
    size: usize,
    x: bool,
}

/// One seeded workload on `arena`: allocations of every kind, frees,
/// walks and updates; returns the failures seen.
fn workload(arena: &Arena, seed: u64, steps: usize) -> u64 {
    let mut rng = Rng(seed);
    let q = arena.quantum();
    let mut live: BTreeMap<usize, Live> = BTreeMap::new();
    let mut failures = 0;
    for _ in 0..steps {
        // Keep the live set bounded, so `check()` stays cheap.
        let roll = if live.len() >= 2048 { 6 } else { rng.below(10) };
        match roll {
            0..=3 => {
                let size = ((1 + rng.below(32) as usize) * q - rng.below(2) as usize).max(1);
                let policy = [
                    Policy::InstantFit,
                    Policy::BestFit,
                    Policy::FirstFit,
                    Policy::NextFit,
                ][rng.below(4) as usize];
                let mut flags = AllocFlags::new().policy(policy);
                if rng.below(8) == 0 {
                    flags = flags.wait(Wait::SleepFor(std::time::Duration::ZERO));
                }
                match arena.alloc(size, flags) {
                    Ok(addr) => {
                        assert!(live.insert(addr, Live { size, x: false }).is_none());
                    }
                    Err(err) => {
                        assert!(is_shortage(&err), "alloc({size:#x}): {err}");
                        failures += 1;
                    }
                }
            }
            4..=5 => {
                let size = (1 + rng.below(16) as usize) * q;
                let align = q << rng.below(4);
                let c = Constraints::new()
                    .align(align)
                    .phase(if align == q || rng.below(2) == 0 {
                        0
                    } else {
                        q
                    })
                    .nocross(if rng.below(3) == 0 {
                        0
                    } else {
                        align.max(size.next_power_of_two()) << 1
                    });
                match arena.xalloc(size, &c, AllocFlags::new()) {
                    Ok(addr) => {
                        assert_eq!(addr % align, c.get_phase());
                        assert!(live.insert(addr, Live { size, x: true }).is_none());
                    }
                    Err(err) => {
                        assert!(
                            is_shortage(&err) || matches!(err, Error::NeverFits { .. }),
                            "xalloc({size:#x}, {c:?}): {err}"
                        );
                        failures += 1;
                    }
                }
            }
            6..=8 if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let (&addr, &l) = live.iter().nth(i).unwrap();
                let result = if l.x {
                    arena.xfree(addr, l.size)
                } else {
                    arena.free(addr, l.size)
                };
                result.unwrap_or_else(|e| panic!("free of a live allocation: {e}"));
                live.remove(&addr);
            }
            9 if rng.below(8) == 0 => {
                if rng.below(2) == 0 {
                    arena.update();
                } else {
                    let mut n = 0;
                    arena.walk(SegmentTypes::ALL, |_| n += 1);
                }
                arena.check().expect("invariants hold under faults");
            }
            _ => {}
        }
    }
    for (addr, l) in live {
        let result = if l.x {
            arena.xfree(addr, l.size)
        } else {
            arena.free(addr, l.size)
        };
        result.expect("final free");
    }
    arena.check().expect("invariants hold after the workload");
    failures
}

fn assert_pool_whole(pool: &TagPool, pages: &FlakyPages) {
    let stats = pool.stats();
    assert_eq!(stats.spare_tags, stats.pages * TAGS_PER_PAGE, "tags leaked");
    assert_eq!(
        pages.out.load(Ordering::Relaxed),
        stats.pages * PAGE_SIZE,
        "pages leaked besides tag pages"
    );
}

static GLOBAL_ON: AtomicBool = AtomicBool::new(false);

/// Every test here runs with the global rate on (each sets it; none turns
/// it off, so tests running in parallel agree).
fn global_faults() {
    set_global_mtbf(13);
    GLOBAL_ON.store(true, Ordering::Relaxed);
}

#[test]
fn plain_arena_under_global_and_local_faults_and_flaky_tag_pages() {
    global_faults();
    static PAGES: FlakyPages = FlakyPages::new(0xfa_0001, 7);
    static POOL: TagPool = TagPool::new(&PAGES);
    let (pages, pool) = (&PAGES, &POOL);
    for (i, quantum) in [1usize, 16, 4096].into_iter().enumerate() {
        let arena = Arena::builder("faulty")
            .quantum(quantum)
            .tag_pool(pool)
            .build();
        // Creation itself may fail for want of tags: that is an error too.
        let arena = match arena {
            Ok(a) => a,
            Err(err) => {
                assert!(matches!(err, Error::OutOfTags { .. }), "{err}");
                continue;
            }
        };
        // Spans: some adds may fail for want of tags, and must change nothing.
        let mut added = 0;
        for k in 0..8 {
            match arena.add(0x100_0000 * (k + 1), 0x40_0000) {
                Ok(()) => added += 1,
                Err(err) => assert!(matches!(err, Error::OutOfTags { .. }), "{err}"),
            }
            arena.check().unwrap();
        }
        assert_eq!(arena.size(SegmentTypes::ALL), added * 0x40_0000);
        arena.set_mtbf(5 + i as u32);
        let failures = workload(&arena, 0x5eed ^ i as u64, ops(60_000));
        assert!(cfg!(miri) || failures > 0, "faults were injected");
        assert_eq!(arena.stats().mem_inuse, 0, "everything freed");
        drop(arena);
    }
    assert!(
        cfg!(miri) || pages.refused.load(Ordering::Relaxed) > 0,
        "pages were refused"
    );
    pages.every.store(0, Ordering::Relaxed);
    assert_pool_whole(pool, pages);
}

#[test]
fn child_arena_with_a_source_that_fails_at_random() {
    global_faults();
    static PAGES: FlakyPages = FlakyPages::new(0xfa_0002, 11);
    static POOL: TagPool = TagPool::new(&PAGES);
    let (pages, pool) = (&PAGES, &POOL);
    for seed in 0..3u64 {
        let parent = Arc::new(
            Arena::builder("parent")
                .quantum(4096)
                .span(0x1000_0000, 1 << 28)
                .tag_pool(pool)
                .build()
                .or_else(|_| {
                    pages.every.store(0, Ordering::Relaxed);
                    Arena::builder("parent")
                        .quantum(4096)
                        .span(0x1000_0000, 1 << 28)
                        .tag_pool(pool)
                        .build()
                })
                .unwrap(),
        );
        pages.every.store(11, Ordering::Relaxed);
        parent.set_mtbf(9);
        let source = Arc::new(FlakySource {
            parent: parent.clone(),
            rng: Mutex::new(Rng(0xbad_5eed ^ seed)),
            every: 4,
            given: Mutex::new(BTreeMap::new()),
            refused: AtomicU64::new(0),
        });
        let child = loop {
            match Arena::builder("child")
                .quantum(16)
                .source(source.clone())
                .import_quantum(1 << 16)
                .limit(if seed == 2 { 1 << 20 } else { 0 })
                .tag_pool(pool)
                .build()
            {
                Ok(c) => break c,
                Err(err) => assert!(matches!(err, Error::OutOfTags { .. }), "{err}"),
            }
        };
        child.set_mtbf(17);
        let failures = workload(&child, 0xc41d ^ seed, ops(60_000));
        assert!(cfg!(miri) || failures > 0);
        assert_eq!(child.stats().mem_inuse, 0, "everything freed");
        assert!(
            cfg!(miri) || source.refused.load(Ordering::Relaxed) > 0,
            "imports were refused"
        );
        drop(child);
        assert!(
            source.given.lock().unwrap().is_empty(),
            "every imported span went back"
        );
        assert_eq!(parent.stats().mem_inuse, 0);
        parent.check().unwrap();
        drop(source);
        drop(Arc::try_unwrap(parent).expect("the child is gone"));
    }
    pages.every.store(0, Ordering::Relaxed);
    assert_pool_whole(pool, pages);
}

#[test]
fn two_threads_share_a_faulty_child() {
    global_faults();
    static PAGES: FlakyPages = FlakyPages::new(0xfa_0003, 0);
    static POOL: TagPool = TagPool::new(&PAGES);
    let (pages, pool) = (&PAGES, &POOL);
    let parent = Arc::new(
        Arena::builder("parent2")
            .quantum(4096)
            .span(0x1000_0000, 1 << 30)
            .tag_pool(pool)
            .build()
            .unwrap(),
    );
    let source = Arc::new(FlakySource {
        parent: parent.clone(),
        rng: Mutex::new(Rng(0x7_4ead)),
        every: 5,
        given: Mutex::new(BTreeMap::new()),
        refused: AtomicU64::new(0),
    });
    let child = Arc::new(
        Arena::builder("child2")
            .quantum(64)
            .source(source.clone())
            .tag_pool(pool)
            .build()
            .unwrap(),
    );
    pages.every.store(13, Ordering::Relaxed);
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let child = child.clone();
            std::thread::spawn(move || workload(&child, 0x2_7ead ^ t, ops(20_000)))
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap() > 0 || cfg!(miri));
    }
    pages.every.store(0, Ordering::Relaxed);
    child.check().unwrap();
    assert_eq!(child.stats().mem_inuse, 0);
    drop(Arc::try_unwrap(child).expect("threads are done"));
    assert!(source.given.lock().unwrap().is_empty());
    assert_eq!(parent.stats().mem_inuse, 0);
    drop(source);
    drop(Arc::try_unwrap(parent).unwrap());
    assert_pool_whole(pool, pages);
    assert!(GLOBAL_ON.load(Ordering::Relaxed));
}
