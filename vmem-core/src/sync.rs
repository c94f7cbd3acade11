//! The arena lock: a small test-and-test-and-set lock, also used by the
//! layers above for their own short critical sections (the per-CPU slots of
//! `vmem-slab`), so the crate's lock-level `unsafe` lives in one place.
//!
//! Why not `std::sync::Mutex`? An uncontended lock/unlock pair of a futex
//! mutex costs two atomic read-modify-writes (the unlock must swap to learn
//! whether to wake anyone) plus poison bookkeeping; the arena's critical
//! sections are a few dozen instructions, so that overhead would be most of
//! an allocation. This lock takes one compare-and-swap to acquire and a plain
//! release store to unlock. Waiters spin briefly, then yield the CPU (with
//! `std`) instead of sleeping in the kernel, which suits critical sections
//! this short. Sleeping *allocations* do not wait on this lock: they use a
//! separate condition variable (see `Arena::sleep`).
//!
//! The same lock serves `no_std` builds, where it only spins.
//!
//! There is no poisoning: every critical section in this crate leaves the
//! protected state consistent before it runs user code, so a panic in a
//! callback never exposes a half-updated arena.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Spins before yielding; about the length of a short critical section.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A test-and-test-and-set lock around a `T` (see the module docs).
pub struct Lock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a `Guard`, and at most one guard
// exists at a time (the `held` flag is taken with an acquire CAS and released
// with a release store), so sharing the lock only needs `T: Send`.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: moving the lock moves the value; `T: Send` is all that needs.
unsafe impl<T: Send> Send for Lock<T> {}

/// Proof of holding a [`Lock`]; unlocks on drop.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    /// An unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        Lock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning and then yielding while another thread
    /// holds it.
    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        if self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        Guard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            while self.held.load(Ordering::Relaxed) {
                if spins < SPINS_BEFORE_YIELD {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    #[cfg(feature = "std")]
                    std::thread::yield_now();
                    #[cfg(not(feature = "std"))]
                    core::hint::spin_loop();
                }
            }
            if self
                .held
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one alive (see `Sync` above).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one alive (see `Sync` above).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}
