//! The per-CPU slot lock: `vmem-core`'s arena lock (one compare-and-swap to
//! take, a plain store to drop, spin then yield when contended), padded to
//! its own cache lines.
//!
//! The slot of a CPU is almost always taken by the thread running on that
//! CPU, so the lock is uncontended. A thread that was preempted while holding
//! it, or that migrated, makes others spin briefly, then yield.

use vmem_core::sync::{Guard, Lock};

/// A lock around a `T`, aligned to 128 bytes (two cache lines, as the
/// adjacent-line prefetcher of x86 pulls pairs) so that two CPUs' slots never
/// share a line.
#[repr(align(128))]
pub(crate) struct SpinLock<T>(Lock<T>);

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock(Lock::new(value))
    }

    /// Takes the lock.
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.0.lock()
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
