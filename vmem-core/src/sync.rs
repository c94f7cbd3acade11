//! The one lock type the core uses: `std::sync::Mutex` with the `std`
//! feature (so sleeping allocations can wait on a condition variable), and a
//! small test-and-test-and-set spin lock without it.
//!
//! Poisoning is ignored: every critical section in this crate leaves the
//! protected state consistent before it runs user code, so a panic in a
//! callback never exposes a half-updated arena.

#[cfg(feature = "std")]
mod imp {
    use std::sync::{Mutex, MutexGuard, PoisonError};

    pub(crate) struct Lock<T>(Mutex<T>);
    pub(crate) type Guard<'a, T> = MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Lock(Mutex::new(value))
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use core::cell::UnsafeCell;
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicBool, Ordering};

    pub(crate) struct Lock<T> {
        held: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the value is only reached through a `Guard`, and at most one
    // guard exists at a time (the `held` flag is taken with acquire ordering
    // and released with release ordering), so `T: Send` suffices for sharing.
    unsafe impl<T: Send> Sync for Lock<T> {}
    // SAFETY: moving the lock moves the value; `T: Send` is all that needs.
    unsafe impl<T: Send> Send for Lock<T> {}

    pub(crate) struct Guard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Lock {
                held: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            loop {
                if self
                    .held
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Guard { lock: self };
                }
                while self.held.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            }
        }
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: this guard is the only one (see `Sync` above).
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: this guard is the only one (see `Sync` above).
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.lock.held.store(false, Ordering::Release);
        }
    }
}

pub(crate) use imp::{Guard, Lock};
