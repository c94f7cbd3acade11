//! The reap gate installed (this test binary is a process of its own; the
//! unit tests cover the crate with no gate): automatic reaps are deferred
//! while the gate says so, the caches owe them, and the debt is paid later,
//! never dropped.

use std::cell::Cell;
use std::sync::{mpsc, Arc, Once};
use std::time::Duration;

use vmem_core::{AllocFlags, Arena, SegmentTypes, Wait};
use vmem_slab::{CachedArena, ObjectCache};

thread_local! {
    /// The gate defers on this thread.
    static DEFER: Cell<bool> = const { Cell::new(false) };
    /// Reaps the gate deferred on this thread.
    static DEFERRED: Cell<u32> = const { Cell::new(0) };
}

/// The test's gate: a thread-local switch, so that tests running in
/// parallel do not see each other's setting.
fn gate() -> bool {
    let defer = DEFER.with(Cell::get);
    if defer {
        DEFERRED.with(|n| n.set(n.get() + 1));
    }
    defer
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| vmem_slab::set_reap_gate(gate).expect("the first gate"));
}

/// Runs `f` with the gate deferring on this thread; returns what it
/// returned and how many reaps the gate deferred.
fn deferring<R>(f: impl FnOnce() -> R) -> (R, u32) {
    install();
    DEFER.with(|d| d.set(true));
    let before = DEFERRED.with(Cell::get);
    let r = f();
    DEFER.with(|d| d.set(false));
    (r, DEFERRED.with(Cell::get) - before)
}

/// Quantum 1, sizes up to 4 cached in slabs of 16, an arena of 32: after
/// one object of size 1 and one of size 2 go back to their caches, the two
/// cached slabs fill the arena.
fn full_of_cached_slabs(name: &str) -> CachedArena {
    let ca = CachedArena::new(Arena::new(name, 0, 32, 1).unwrap(), 4);
    let a = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
    let b = ca.alloc(2, AllocFlags::NOSLEEP).unwrap();
    ca.free(a, 1).unwrap();
    ca.free(b, 2).unwrap();
    assert_eq!(ca.arena().size(SegmentTypes::FREE), 0);
    ca
}

#[test]
fn the_gate_is_installed_once() {
    install();
    assert!(vmem_slab::reap_gate().is_some());
    fn other() -> bool {
        false
    }
    assert!(
        vmem_slab::set_reap_gate(other).is_err(),
        "the first one stays"
    );
    // Not deferring on this thread: the installed gate lets reaps run.
    assert!(!vmem_slab::reap_gate().unwrap()());
}

#[test]
fn a_shortage_reap_is_deferred_and_owed_until_a_reap() {
    let ca = full_of_cached_slabs("shortage");
    // The size-3 cache needs a slab: the arena's reclaim hook and the
    // cache's own shortage reap both ask the gate, which defers them.
    let (got, deferred) = deferring(|| ca.alloc(3, AllocFlags::NOSLEEP));
    assert!(got.is_err(), "nothing was reaped, so there is no room");
    assert!(deferred >= 2, "the reclaim hook and the retry: {deferred}");
    let stats = ca.cache_stats();
    assert_eq!((stats[0].objects_cached, stats[1].objects_cached), (1, 1));
    assert!(
        ca.caches().iter().all(ObjectCache::reap_owed),
        "every cache owes"
    );
    // An explicit reap is never gated, and pays the debt.
    ca.reap();
    assert!(ca.caches().iter().all(|c| !c.reap_owed()));
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    let c = ca.alloc(3, AllocFlags::NOSLEEP).unwrap();
    ca.free(c, 3).unwrap();
}

#[test]
fn an_owed_reap_is_paid_at_the_next_depot_exchange() {
    let ca = full_of_cached_slabs("exchange");
    let (got, _) = deferring(|| ca.alloc(3, AllocFlags::NOSLEEP));
    assert!(got.is_err());
    let one = &ca.caches()[0];
    assert!(one.reap_owed());
    // The first allocation pops the loaded magazine (fast path, no check);
    // the second finds both magazines empty and visits the depot, which
    // pays the debt (the gate no longer defers on this thread).
    let a = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
    assert!(one.reap_owed(), "the fast path does not look");
    let b = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
    assert!(!one.reap_owed(), "paid at the depot visit");
    ca.free(a, 1).unwrap();
    ca.free(b, 1).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
}

#[test]
fn a_working_set_reap_is_deferred_then_paid_by_an_update() {
    let arena = Arc::new(Arena::new("ws", 0, 1 << 20, 16).unwrap());
    let cache = ObjectCache::builder("ws", 16, arena.clone())
        .build()
        .unwrap();
    let n = if cfg!(miri) { 100 } else { 300 };
    let objects: Vec<_> = (0..n).map(|_| cache.alloc().unwrap()).collect();
    objects.iter().for_each(|&o| cache.free(o).unwrap());
    let ((), deferred) = deferring(|| {
        cache.update();
        cache.update();
    });
    // The first update only starts an interval; the second finds idle
    // magazines (deferred), then tries to pay the debt (deferred again).
    assert_eq!(deferred, 2);
    assert_eq!(cache.stats().objects_cached, n, "none reaped");
    assert!(cache.reap_owed());
    cache.update();
    assert!(!cache.reap_owed());
    assert_eq!(cache.stats().objects_cached, 0, "the owed reap is whole");
    assert_eq!(arena.size(SegmentTypes::ALLOC), 0);
}

#[test]
fn a_sleeper_reap_is_deferred_and_the_sleeper_still_wakes() {
    // Quantum 1, sizes up to 4 cached in slabs of 16, 64 units in all.
    let ca = Arc::new(CachedArena::new(Arena::new("sleepy", 0, 64, 1).unwrap(), 4));
    let mut objects = Vec::new();
    while let Ok(addr) = ca.alloc(2, AllocFlags::NOSLEEP) {
        objects.push(addr);
    }
    let (done, finished) = mpsc::channel();
    let sleeper = {
        let ca = ca.clone();
        std::thread::spawn(move || {
            let got = ca.alloc(32, AllocFlags::new().wait(Wait::Sleep));
            done.send(got.clone()).unwrap();
            got
        })
    };
    while !ca.arena().has_sleepers() {
        std::thread::yield_now();
    }
    // Every free sees the sleeper and asks for a reap; the gate defers
    // them all, so the objects stay cached and the sleeper sleeps on.
    let ((), deferred) = deferring(|| {
        for &addr in &objects {
            ca.free(addr, 2).unwrap();
        }
    });
    assert!(deferred as usize >= objects.len(), "{deferred}");
    assert!(ca.caches()[1].reap_owed());
    assert!(ca.arena().has_sleepers());
    assert!(
        finished.recv_timeout(Duration::from_millis(50)).is_err(),
        "no room was made"
    );
    // The next update pays the debt: the slabs go back, the sleeper wakes.
    ca.update();
    let addr = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the owed reap woke the sleeper")
        .unwrap();
    assert_eq!(sleeper.join().unwrap(), Ok(addr));
    ca.free(addr, 32).unwrap();
    ca.reap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    ca.arena().check().unwrap();
}
