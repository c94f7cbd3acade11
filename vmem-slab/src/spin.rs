//! A per-CPU slot lock: a test-and-set spin lock padded to its own cache
//! lines.
//!
//! The slot of a CPU is almost always taken by the thread running on that
//! CPU, so the lock is uncontended and costs one atomic swap to take and one
//! release store to drop. A thread that was preempted while holding it, or
//! that migrated, makes others spin briefly; after a few spins they yield.
//! This module holds the crate's only `unsafe` code.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Spins before a waiter starts yielding its time slice.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A spin lock around a `T`, aligned to 128 bytes (two cache lines, as the
/// adjacent-line prefetcher of x86 pulls pairs) so that two CPUs' slots never
/// share a line.
#[repr(align(128))]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the
// `locked` flag is taken with acquire ordering and released with release
// ordering), so sharing the lock between threads is sound whenever moving a
// `T` between threads is, exactly as for `std::sync::Mutex<T>`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its `T`; sending the lock sends the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding) while another thread holds it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if !self.locked.swap(true, Ordering::Acquire) {
            return SpinGuard { lock: self };
        }
        self.lock_slow()
    }

    #[cold]
    fn lock_slow(&self) -> SpinGuard<'_, T> {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < SPINS_BEFORE_YIELD {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if !self.locked.swap(true, Ordering::Acquire) {
                return SpinGuard { lock: self };
            }
        }
    }
}

/// Exclusive access to the value of a [`SpinLock`]; unlocks when dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a guard exists only while its thread holds `locked` (it is
        // created right after a successful acquire swap and releases the flag
        // in `drop`), so no other reference to `value` is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, the guard's thread holds the lock, and the
        // `&mut self` borrow makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn counts_under_contention() {
        let lock = Arc::new(SpinLock::new(0u64));
        let per_thread = if cfg!(miri) { 50 } else { 20_000 };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 4 * per_thread);
    }

    #[test]
    fn slot_is_padded() {
        assert_eq!(core::mem::align_of::<SpinLock<u8>>(), 128);
    }
}
