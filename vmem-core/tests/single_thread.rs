//! The locks' single-threaded path (`sync/single.rs`), in a process that
//! really has one thread: this test has no harness (`harness = false` in
//! Cargo.toml), so `main` runs on the process's only thread until it
//! spawns one itself.
//!
//! It checks that a lock taken with plain stores (by `lock` or
//! `try_lock`) still excludes, that a
//! lock taken while the process was single-threaded and released after it
//! started a thread wakes the thread waiting on it, and that an arena used
//! first by one thread and then by several stays consistent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vmem_core::sync::{single_threaded, Lock, SpinLock};
use vmem_core::{AllocFlags, Arena};

/// Whether this target can tell that the process is single-threaded
/// (Linux with glibc); elsewhere the locks are always atomic.
const TELLS: bool = cfg!(all(target_os = "linux", target_env = "gnu", not(miri)));

/// Operations per worker thread (fewer under Miri, which is slow).
const ROUNDS: usize = if cfg!(miri) { 200 } else { 20_000 };

fn main() {
    assert_eq!(single_threaded(), TELLS, "one thread so far");

    // Exclusion on the plain-store path.
    let lock = Lock::new(0u32);
    let spin = SpinLock::new(0u32);
    {
        let _held = lock.lock();
        assert!(lock.is_locked());
        assert!(
            lock.try_lock().is_none(),
            "a held lock cannot be taken again"
        );
        let _spun = spin.lock();
        assert!(spin.is_locked());
        assert!(spin.try_lock().is_none());
    }
    assert!(!lock.is_locked() && !spin.is_locked());
    // `try_lock` on a free spin lock takes it on the same plain-store path
    // (the magazine fast paths use it), and still excludes.
    {
        let _taken = spin.try_lock().expect("a free lock");
        assert!(spin.is_locked());
        assert!(spin.try_lock().is_none());
    }
    assert!(!spin.is_locked());
    *lock.lock() += 1;
    *spin.lock() += 1;
    assert_eq!((*lock.lock(), *spin.lock()), (1, 1));

    // An arena on one thread: the plain-store lock around every call.
    let arena = Arc::new(Arena::new("single", 0x10_0000, 1 << 30, 4096).unwrap());
    let mut held = Vec::new();
    for i in 1..=ROUNDS / 20 {
        held.push((
            arena.alloc(4096 * (i % 7 + 1), AllocFlags::new()).unwrap(),
            4096 * (i % 7 + 1),
        ));
    }
    for &(addr, size) in held.iter().step_by(2) {
        arena.free(addr, size).unwrap();
    }
    arena.check().unwrap();
    assert_eq!(single_threaded(), TELLS, "still one thread");

    // A lock taken single-threaded, contended by a thread started while it
    // is held, released after that: the waiter must be let in.
    let shared = Arc::new(Lock::new(0u32));
    let entered = Arc::new(AtomicBool::new(false));
    let guard = shared.lock();
    let waiter = {
        let (shared, entered) = (shared.clone(), entered.clone());
        std::thread::spawn(move || {
            *shared.lock() += 1;
            entered.store(true, Ordering::SeqCst);
        })
    };
    assert!(!single_threaded(), "a second thread exists");
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !entered.load(Ordering::SeqCst),
        "the waiter got in while the lock was held"
    );
    drop(guard);
    waiter.join().unwrap();
    assert!(entered.load(Ordering::SeqCst));
    assert_eq!(*shared.lock(), 1);

    // The arena built single-threaded, now shared by four threads.
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let arena = arena.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..ROUNDS {
                    let size = 4096 * ((i + t) % 5 + 1);
                    mine.push((arena.alloc(size, AllocFlags::new()).unwrap(), size));
                    if i % 3 != 0 {
                        let (addr, size) = mine.swap_remove(i % mine.len());
                        arena.free(addr, size).unwrap();
                    }
                }
                for (addr, size) in mine {
                    arena.free(addr, size).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    arena.check().unwrap();
    for &(addr, size) in held.iter().skip(1).step_by(2) {
        arena.free(addr, size).unwrap();
    }
    assert_eq!(arena.stats().mem_inuse, 0);
    println!("single_thread: ok");
}
