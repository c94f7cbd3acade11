//! Soak: N threads of mixed traffic for a given time, then a conservation
//! check. Not run in CI; see docs/testing.md for how long and how often.
//!
//!     cargo run --release -p vmem-slab --example soak -- --threads 8 --seconds 600
//!
//! The arenas: `heap`, a quantum-cached arena (quantum 16, sizes up to 256
//! cached), and `child`, an arena importing 64 KiB spans from `heap`. Each
//! thread allocates cached and uncached sizes and constrained (`xalloc`)
//! ranges from both, frees most of what it allocated, and hands some
//! allocations to a shared pool that any thread frees (cross-thread frees);
//! now and then one thread reaps, updates and checks. Every live
//! allocation is also recorded in a sharded global set, so an address
//! handed out twice at once is caught the moment it happens.
//!
//! At the end everything is freed, the caches are reaped, and the program
//! verifies conservation: zero in use in both arenas, no object left in any
//! cache, every span back in `heap`, `check()` passing. It prints ops/s and
//! exits non-zero on any failure.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vmem_core::{AllocFlags, Arena, Constraints, Policy, SegmentTypes};
use vmem_slab::CachedArena;

const SHARDS: usize = 64;

/// Live allocations of both arenas, across all threads.
struct Registry {
    shards: Vec<Mutex<HashSet<(u8, usize)>>>,
}

impl Registry {
    fn shard(&self, key: (u8, usize)) -> &Mutex<HashSet<(u8, usize)>> {
        &self.shards[(key.1 >> 4).wrapping_mul(0x9e37_79b9) % SHARDS]
    }

    fn insert(&self, key: (u8, usize)) {
        assert!(
            self.shard(key).lock().unwrap().insert(key),
            "address {:#x} of arena {} handed out while live",
            key.1,
            key.0
        );
    }

    fn remove(&self, key: (u8, usize)) {
        assert!(
            self.shard(key).lock().unwrap().remove(&key),
            "free of {key:?} not live"
        );
    }
}

#[derive(Clone, Copy)]
struct Live {
    arena: u8,
    addr: usize,
    size: usize,
    x: bool,
}

struct World {
    heap: Arc<CachedArena>,
    child: Arena,
    registry: Registry,
    pool: Mutex<Vec<Live>>,
    stop: AtomicBool,
    ops: AtomicU64,
    failures: AtomicU64,
}

impl World {
    fn free(&self, l: Live) {
        self.registry.remove((l.arena, l.addr));
        let result = match (l.arena, l.x) {
            (0, false) => self.heap.free(l.addr, l.size).map_err(|e| e.to_string()),
            (0, true) => self.heap.xfree(l.addr, l.size).map_err(|e| e.to_string()),
            (_, false) => self.child.free(l.addr, l.size).map_err(|e| e.to_string()),
            (_, true) => self.child.xfree(l.addr, l.size).map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            panic!("free of a live allocation refused: {e}");
        }
    }
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

fn worker(w: &World, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut mine: BTreeMap<usize, Live> = BTreeMap::new();
    let mut keys: Vec<(u8, usize)> = Vec::new();
    let (mut ops, mut failures) = (0u64, 0u64);
    let policies = [
        Policy::InstantFit,
        Policy::BestFit,
        Policy::FirstFit,
        Policy::NextFit,
    ];
    while !w.stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            ops += 1;
            let roll = if keys.len() > 4096 {
                70
            } else {
                rng.below(100)
            };
            let made = match roll {
                // Cached sizes from the heap.
                0..=29 => {
                    let size = 16 * (1 + rng.below(16) as usize);
                    w.heap
                        .alloc(size, AllocFlags::NOSLEEP)
                        .ok()
                        .map(|a| (0, a, size, false))
                }
                // Uncached sizes, any policy.
                30..=39 => {
                    let size = 272 + 16 * rng.below(256) as usize;
                    let flags = AllocFlags::new().policy(policies[rng.below(4) as usize]);
                    w.heap.alloc(size, flags).ok().map(|a| (0, a, size, false))
                }
                // Constrained ranges from the heap.
                40..=46 => {
                    let size = 16 * (1 + rng.below(64) as usize);
                    let c = Constraints::new()
                        .align(64 << rng.below(4))
                        .nocross(1 << 16);
                    w.heap.xalloc(size, &c, AllocFlags::NOSLEEP).ok().map(|a| {
                        assert_eq!(a % c.get_align(), 0);
                        assert_eq!(a >> 16, (a + size - 1) >> 16, "crosses");
                        (0, a, size, true)
                    })
                }
                // The child: imports from the heap as it goes.
                47..=59 => {
                    let size = 16 * (1 + rng.below(128) as usize);
                    if rng.below(4) == 0 {
                        let c = Constraints::new().align(256).phase(16);
                        w.child.xalloc(size, &c, AllocFlags::NOSLEEP).ok().map(|a| {
                            assert_eq!(a % 256, 16);
                            (1, a, size, true)
                        })
                    } else {
                        w.child
                            .alloc(size, AllocFlags::NOSLEEP)
                            .ok()
                            .map(|a| (1, a, size, false))
                    }
                }
                // Free one of mine; now and then hand it to another thread.
                60..=94 if !keys.is_empty() => {
                    let i = rng.below(keys.len() as u64) as usize;
                    let key = keys.swap_remove(i);
                    let l = mine
                        .remove(&key.1.wrapping_add(key.0 as usize))
                        .expect("mine");
                    if rng.below(8) == 0 {
                        w.pool.lock().unwrap().push(l);
                    } else {
                        w.free(l);
                    }
                    None
                }
                // Free something another thread handed over.
                95..=97 => {
                    let l = w.pool.lock().unwrap().pop();
                    if let Some(l) = l {
                        w.free(l);
                    }
                    None
                }
                _ => {
                    if rng.below(64) == 0 {
                        match rng.below(3) {
                            0 => w.heap.reap(),
                            1 => w.heap.update(),
                            _ => {
                                w.child.check().expect("child invariants");
                                w.heap.arena().check().expect("heap invariants");
                            }
                        }
                    }
                    None
                }
            };
            if let Some((arena, addr, size, x)) = made {
                w.registry.insert((arena, addr));
                let l = Live {
                    arena,
                    addr,
                    size,
                    x,
                };
                // Both arenas share one address space (the child's spans
                // come from the heap), so key by address plus arena.
                assert!(mine.insert(addr.wrapping_add(arena as usize), l).is_none());
                keys.push((arena, addr));
            } else if roll < 60 {
                failures += 1;
            }
        }
    }
    for (_, l) in mine {
        w.free(l);
    }
    w.ops.fetch_add(ops, Ordering::Relaxed);
    w.failures.fetch_add(failures, Ordering::Relaxed);
}

fn main() {
    let mut threads = 2usize;
    let mut seconds = 10u64;
    let mut seed = 0x50a_c0de_u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--threads", Some(v)) => threads = v as usize,
            ("--seconds", Some(v)) => seconds = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: soak [--threads N] [--seconds S] [--seed X]");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let heap = Arc::new(CachedArena::new(
        Arena::new("soak-heap", 0x1_0000_0000, 1 << 34, 16).expect("heap"),
        16 * 16,
    ));
    let child = Arena::builder("soak-child")
        .quantum(16)
        .source(heap.clone())
        .import_quantum(1 << 16)
        .build()
        .expect("child");
    let world = Arc::new(World {
        heap,
        child,
        registry: Registry {
            shards: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect(),
        },
        pool: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        failures: AtomicU64::new(0),
    });
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let w = world.clone();
            std::thread::spawn(move || {
                worker(
                    &w,
                    seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                )
            })
        })
        .collect();
    let deadline = start + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200).min(deadline - Instant::now()));
        if handles.iter().any(|h| h.is_finished()) {
            break; // a worker panicked
        }
    }
    world.stop.store(true, Ordering::Relaxed);
    let mut panicked = 0;
    for h in handles {
        panicked += usize::from(h.join().is_err());
    }
    let elapsed = start.elapsed().as_secs_f64();
    if panicked != 0 {
        eprintln!("soak: FAILED: {panicked} worker(s) panicked");
        std::process::exit(1);
    }
    let leftovers: Vec<Live> = std::mem::take(&mut *world.pool.lock().unwrap());
    for l in leftovers {
        world.free(l);
    }
    // Conservation.
    let w = &world;
    w.child.check().expect("child invariants at the end");
    let child_stats = w.child.stats();
    assert_eq!(child_stats.mem_inuse, 0, "child: in use at the end");
    w.heap.reap();
    let qcache: usize = w
        .heap
        .cache_stats()
        .iter()
        .map(|s| s.objects_outstanding)
        .sum();
    assert_eq!(qcache, 0, "objects left in the quantum caches");
    let late: u64 = w.heap.cache_stats().iter().map(|s| s.late_bad_frees).sum();
    assert_eq!(late, 0, "bad frees found late");
    let ops = w.ops.load(Ordering::Relaxed);
    let failures = w.failures.load(Ordering::Relaxed);
    let imports = child_stats.imports;
    let world = Arc::try_unwrap(world).ok().expect("workers are done");
    let World { heap, child, .. } = world;
    drop(child);
    heap.reap();
    heap.arena().check().expect("heap invariants at the end");
    let inuse = heap.arena().size(SegmentTypes::ALLOC);
    assert_eq!(inuse, 0, "heap: in use once the child is gone");
    println!(
        "soak: {threads} threads, {elapsed:.0} s: {ops} ops, {:.0} ops/s, {failures} failed allocations, {imports} child imports; conservation OK (0 in use, check passed)",
        ops as f64 / elapsed
    );
}
