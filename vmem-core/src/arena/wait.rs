//! Waiting: what a sleeping allocation does when nothing fits, and how frees
//! and added spans wake it. Every `std`-only part of waiting (deadlines,
//! the condition variable) is in this file; without `std` a sleeping
//! request fails like a no-sleep one. See design.md §10; §17 model-checks
//! the generation protocol.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Error;
use crate::policy::AllocFlags;
#[cfg(feature = "std")]
use crate::policy::Wait;
use crate::sync::Guard;

use super::state::State;
use super::Arena;

/// When a `SleepFor` allocation gives up (`None`: never).
#[cfg(feature = "std")]
pub(super) type Deadline = Option<std::time::Instant>;
/// When a `SleepFor` allocation gives up: never, without `std`.
#[cfg(not(feature = "std"))]
pub(super) type Deadline = Option<()>;

/// The deadline of an allocation made with `flags`.
#[inline]
pub(super) fn deadline_for(flags: AllocFlags) -> Deadline {
    // Only a time limit needs the clock; keep its work out of line so
    // the callers' hot paths do not carry it.
    if flags.has_time_limit() {
        deadline_from_now(flags)
    } else {
        None
    }
}

/// The deadline of a [`Wait::SleepFor`] request starting now.
#[cold]
#[inline(never)]
fn deadline_from_now(flags: AllocFlags) -> Deadline {
    match flags.get_wait() {
        #[cfg(feature = "std")]
        Wait::SleepFor(limit) => std::time::Instant::now().checked_add(limit),
        _ => None,
    }
}

/// Where an arena's sleeping allocations wait.
#[derive(Debug, Default)]
pub(super) struct Sleepers {
    /// A copy of `State::waiters`, readable without the arena lock (see
    /// [`Arena::has_sleepers`]).
    count: AtomicUsize,
    /// A wake-up generation counter, bumped by every waker, and the
    /// condition variable sleepers wait on for it to change (see
    /// [`Arena::sleep`]).
    #[cfg(feature = "std")]
    pub(super) generation: (std::sync::Mutex<u64>, std::sync::Condvar),
}

#[cfg(feature = "std")]
impl Sleepers {
    /// Takes the generation lock (for `Arena::lockup`).
    pub(super) fn lock_generation(&self) -> std::sync::MutexGuard<'_, u64> {
        self.generation
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Arena {
    /// Whether an allocation is asleep waiting for room (one relaxed load).
    ///
    /// For layers that keep freed ranges instead of returning them at once,
    /// such as the magazines of `vmem-slab`: after caching a free they check
    /// this and, if it is set, give their cache back to the arena so the
    /// sleeper wakes. The sleeper registers under the arena lock and then
    /// calls the reclaim hook, so a range cached before it registered is
    /// reaped by the hook, and a free cached after it (in a critical section
    /// ordered after the hook's) sees the flag.
    #[inline]
    pub fn has_sleepers(&self) -> bool {
        self.sleepers.count.load(Ordering::Relaxed) != 0
    }

    /// Waits for a free or an `add` (std), or reports that waiting is
    /// impossible.
    ///
    /// Sleepers do not wait on the arena lock: they wait on a condition
    /// variable guarding a wake-up generation. The generation is read while
    /// the arena lock is still held, and every waker bumps it while holding
    /// the arena lock, so a wake-up that happens between our dropping the
    /// arena lock and starting to wait is never lost.
    #[cfg(feature = "std")]
    pub(super) fn sleep<'a>(
        &'a self,
        mut state: Guard<'a, State>,
        size: usize,
        flags: AllocFlags,
        deadline: Deadline,
    ) -> Result<Guard<'a, State>, Error> {
        use std::sync::PoisonError;
        let (lock, condvar) = &self.sleepers.generation;
        let timed_out = |limit: std::time::Duration| Error::TimedOut {
            arena: self.name,
            size,
            waited_ms: limit.as_millis().min(u64::MAX as u128) as u64,
        };
        if let (Wait::SleepFor(limit), Some(deadline)) = (flags.get_wait(), deadline) {
            if std::time::Instant::now() >= deadline {
                return Err(timed_out(limit));
            }
        }
        state.counters.wait += 1;
        state.waiters += 1;
        self.sleepers.count.store(state.waiters, Ordering::Relaxed);
        let generation = *lock.lock().unwrap_or_else(PoisonError::into_inner);
        drop(state);
        // Now that the sleeper is visible, ask the reclaim hook once more:
        // ranges a cache took in before this point are given back now (and
        // any that reach it later see `has_sleepers`). A free that this
        // causes bumps the generation, so the wait below ends at once.
        let hook = self.reclaim.lock().clone();
        if let Some(hook) = hook {
            hook.reclaim(self, size);
        }
        let mut current = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while *current == generation {
            current = match (flags.get_wait(), deadline) {
                (Wait::SleepFor(_), Some(deadline)) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
                    condvar
                        .wait_timeout(current, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                _ => condvar
                    .wait(current)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
        drop(current);
        let mut state = self.state.lock();
        state.waiters -= 1;
        self.sleepers.count.store(state.waiters, Ordering::Relaxed);
        Ok(state)
    }

    /// Without `std` there is nothing to wait on: the request fails as a
    /// no-sleep one would.
    #[cfg(not(feature = "std"))]
    pub(super) fn sleep<'a>(
        &'a self,
        _state: Guard<'a, State>,
        size: usize,
        _flags: AllocFlags,
        _deadline: Deadline,
    ) -> Result<Guard<'a, State>, Error> {
        Err(Error::WouldBlock {
            arena: self.name,
            size,
        })
    }

    /// Wakes sleeping allocations after something was freed or added. Call
    /// with the arena lock held (see [`Arena::sleep`]).
    #[inline]
    pub(super) fn wake(&self, state: &State) {
        if state.waiters != 0 {
            self.wake_all();
        }
    }

    /// Bumps the generation and wakes every sleeper.
    #[cfg(feature = "std")]
    #[cold]
    fn wake_all(&self) {
        let (lock, condvar) = &self.sleepers.generation;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        condvar.notify_all();
    }

    /// Without `std` nobody sleeps, so there is nobody to wake.
    #[cfg(not(feature = "std"))]
    #[cold]
    fn wake_all(&self) {}
}
