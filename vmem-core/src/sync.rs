//! The arena lock, shared with the layers above (the per-CPU slots and the
//! depot of `vmem-slab`), so that every lock of the allocator is one type
//! with one set of rules.
//!
//! [`Lock`] is a [`lock_api::Mutex`] over [`RawLock`]:
//!
//! - with the `std` feature, `RawLock` is `parking_lot`'s raw mutex: one
//!   compare-and-swap to take when free, a short adaptive spin when
//!   contended, then the waiter *parks* in the kernel instead of burning its
//!   time slice. On two cores a lock holder that is preempted no longer makes
//!   the other thread spin and yield in a loop for a whole scheduling
//!   quantum, which is what made a contended arena swing between runs.
//! - without `std`, `RawLock` is [`RawSpinLock`], a test-and-test-and-set
//!   spin lock for targets without an OS (kernels, firmware), where there
//!   is nothing to park on.
//!
//! Going through `lock_api` gives the guard the auto-traits of
//! `std::sync::MutexGuard` (a `Guard<T>` is `Sync` only when `T` is: the
//! hand-written guard this replaces was `Sync` for every `T: Send`, which
//! let two threads race on a `Cell` through a shared `&Guard`), and it
//! brings `try_lock`, guard mapping, `MutexGuard::unlocked` and
//! `force_unlock`, which a fork handler needs to release locks taken in the
//! parent from the child.
//!
//! # Hazards
//!
//! The lock is exported for the layers of this project; a user taking it
//! directly should know three things:
//!
//! - it is **not reentrant**: taking a lock the thread already holds
//!   deadlocks (with `std`) or spins forever (without);
//! - there is **no poisoning**: a panic while the lock is held unlocks it
//!   and the next holder sees whatever state the panicking code left. The
//!   allocator's own critical sections run no user code, so its state is
//!   always consistent when the lock is dropped;
//! - without `std` a waiter spins: never hold it across anything that can
//!   block, and never take it from an interrupt handler that may have
//!   interrupted the holder.
//!
//! ```
//! use vmem_core::sync::Lock;
//! let counter = Lock::new(0u64);
//! *counter.lock() += 1;
//! assert_eq!(*counter.lock(), 1);
//! assert!(counter.try_lock().is_some());
//! ```
//!
//! A guard cannot be shared between threads unless its value can:
//!
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! let lock = vmem_core::sync::Lock::new(core::cell::Cell::new(0u64));
//! let guard = lock.lock();
//! shared(&guard); // error: `Cell<u64>` is not `Sync`
//! ```

use core::sync::atomic::{AtomicBool, Ordering};

/// A mutual-exclusion lock around a `T` (see the module docs).
pub type Lock<T> = lock_api::Mutex<RawLock, T>;

/// Proof of holding a [`Lock`]; unlocks on drop.
pub type Guard<'a, T> = lock_api::MutexGuard<'a, RawLock, T>;

/// The raw lock behind [`Lock`]: `parking_lot`'s with `std`, else
/// [`RawSpinLock`].
#[cfg(feature = "std")]
pub type RawLock = parking_lot::RawMutex;

/// The raw lock behind [`Lock`]: `parking_lot`'s with `std`, else
/// [`RawSpinLock`].
#[cfg(not(feature = "std"))]
pub type RawLock = RawSpinLock;

/// A test-and-test-and-set spin lock: one compare-and-swap to take, a plain
/// release store to drop. It never sleeps, so it suits only targets without
/// an OS, or critical sections that are never preempted.
#[derive(Debug)]
pub struct RawSpinLock {
    held: AtomicBool,
}

// SAFETY: `lock` and `try_lock` succeed only by swapping `held` from false to
// true with acquire ordering, so at most one holder exists at a time; `unlock`
// stores false with release ordering, so the next holder sees every write of
// the previous one. The lock has no thread affinity, so a guard may be sent
// to and unlocked by another thread (`GuardSend`).
unsafe impl lock_api::RawMutex for RawSpinLock {
    #[allow(
        clippy::declare_interior_mutable_const,
        reason = "lock_api's required initialiser constant"
    )]
    const INIT: RawSpinLock = RawSpinLock {
        held: AtomicBool::new(false),
    };

    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        while !self.try_lock() {
            // Wait with plain loads, so the line stays shared until the
            // holder's release store, then race for it again.
            while self.held.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.held.store(false, Ordering::Release);
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    #[test]
    fn auto_traits() {
        assert_send::<Lock<u64>>();
        assert_sync::<Lock<u64>>();
        assert_sync::<Lock<core::cell::Cell<u64>>>();
        assert_sync::<Guard<'static, u64>>();
        assert_send::<RawSpinLock>();
        assert_sync::<RawSpinLock>();
    }

    #[test]
    fn spin_lock_excludes() {
        let lock: lock_api::Mutex<RawSpinLock, u32> = lock_api::Mutex::new(1);
        let guard = lock.lock();
        assert!(lock.try_lock().is_none());
        assert!(lock.is_locked());
        drop(guard);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
    }

    #[cfg(feature = "std")]
    #[test]
    fn counts_under_contention() {
        extern crate std;
        let spin: lock_api::Mutex<RawSpinLock, u64> = lock_api::Mutex::new(0);
        let park: Lock<u64> = Lock::new(0);
        let per_thread = if cfg!(miri) { 50 } else { 20_000 };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..per_thread {
                        *spin.lock() += 1;
                        *park.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*spin.lock(), 4 * per_thread);
        assert_eq!(*park.lock(), 4 * per_thread);
    }
}
