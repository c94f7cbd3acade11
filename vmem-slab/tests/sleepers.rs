//! A sleeping allocation on a quantum-cached arena wakes once frees into
//! the caches make room, with no maintenance thread running.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use vmem_core::{AllocFlags, Arena, SegmentTypes, Wait};
use vmem_slab::CachedArena;

/// Long enough that only a hang reaches it.
const HANG: Duration = Duration::from_secs(30);

fn fill(ca: &CachedArena, size: usize) -> Vec<usize> {
    let mut objects = Vec::new();
    while let Ok(addr) = ca.alloc(size, AllocFlags::NOSLEEP) {
        objects.push(addr);
    }
    objects
}

fn sleeper_wakes_after_cached_frees(wait: Wait) {
    // Quantum 1, caches up to 4 units with 16-unit slabs, 64 units in all.
    let ca = Arc::new(CachedArena::new(Arena::new("s", 0, 64, 1).unwrap(), 4));
    let objects = fill(&ca, 2);
    assert_eq!(objects.len(), 32);
    assert_eq!(ca.arena().size(SegmentTypes::FREE), 0);
    let (done, finished) = mpsc::channel();
    let sleeper = {
        let ca = ca.clone();
        std::thread::spawn(move || {
            // An uncached size: it can only come from the arena.
            let got = ca.alloc(32, AllocFlags::new().wait(wait));
            done.send(got.clone()).unwrap();
            got
        })
    };
    // Let the sleeper go to sleep (harmless if it has not yet: it then
    // finds room at once).
    while !ca.arena().has_sleepers() && !sleeper.is_finished() {
        std::thread::yield_now();
    }
    for addr in objects {
        ca.free(addr, 2).unwrap();
    }
    let addr = finished
        .recv_timeout(HANG)
        .expect("the sleeper is still asleep after the frees")
        .unwrap();
    assert_eq!(sleeper.join().unwrap(), Ok(addr));
    ca.free(addr, 32).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    assert!(!ca.arena().has_sleepers());
    ca.arena().check().unwrap();
}

#[test]
fn sleep_wakes_after_frees_into_magazines() {
    sleeper_wakes_after_cached_frees(Wait::Sleep);
}

#[test]
fn sleep_for_wakes_before_its_deadline() {
    sleeper_wakes_after_cached_frees(Wait::SleepFor(HANG * 2));
}

#[test]
fn sleeping_cache_import_wakes_after_frees() {
    // The sleeper is a cached size whose cache needs a new slab.
    let ca = Arc::new(CachedArena::new(Arena::new("t", 0, 32, 1).unwrap(), 4));
    let ones = fill(&ca, 1);
    assert_eq!(ones.len(), 32);
    let (done, finished) = mpsc::channel();
    let sleeper = {
        let ca = ca.clone();
        std::thread::spawn(move || {
            done.send(ca.alloc(3, AllocFlags::new().wait(Wait::Sleep)))
                .unwrap()
        })
    };
    while !ca.arena().has_sleepers() && !sleeper.is_finished() {
        std::thread::yield_now();
    }
    for addr in ones {
        ca.free(addr, 1).unwrap();
    }
    let addr = finished
        .recv_timeout(HANG)
        .expect("the sleeper is still asleep after the frees")
        .unwrap();
    sleeper.join().unwrap();
    ca.free(addr, 3).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
}
