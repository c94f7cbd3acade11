//! Which per-CPU slot the calling thread should use.
//!
//! On Linux the answer comes from `sched_getcpu` (a vDSO call, no system
//! call), cached in a thread-local and refreshed every [`REFRESH`] calls, so
//! a thread that migrates follows its new CPU soon after. Elsewhere, and
//! under Miri, a thread uses a hash of its thread id. Either way the answer
//! is only a hint: each slot has its own lock, so two threads that pick the
//! same slot are still correct, merely slower.

use core::cell::Cell;

/// Calls between two `sched_getcpu` look-ups in one thread. A look-up costs
/// a few nanoseconds; 64 calls amortise it below half a nanosecond while
/// following a migration within microseconds.
const REFRESH: u32 = 64;

thread_local! {
    /// (cached CPU hint, calls left before the next refresh)
    static HINT: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// A CPU number (or thread hash) for the calling thread.
#[inline]
pub(crate) fn current() -> usize {
    HINT.with(|hint| {
        let (cpu, left) = hint.get();
        if left != 0 {
            hint.set((cpu, left - 1));
            return cpu as usize;
        }
        let cpu = look_up();
        hint.set((cpu, REFRESH - 1));
        cpu as usize
    })
}

/// The calling thread's CPU hint if it needs no refresh, counting the
/// call as [`current`] does; `None` when it is due (every [`REFRESH`]th
/// call, and a thread's first). The magazine fast paths use this and leave
/// the refresh to their slow paths, so that they call no function at all:
/// a call in the middle of a fast path made the compiler keep its values
/// in callee-saved registers, saved and restored on every call.
#[inline(always)]
pub(crate) fn current_if_fresh() -> Option<usize> {
    HINT.with(|hint| {
        let (cpu, left) = hint.get();
        if left == 0 {
            return None;
        }
        hint.set((cpu, left - 1));
        Some(cpu as usize)
    })
}

#[cfg(all(target_os = "linux", not(miri)))]
fn look_up() -> u32 {
    // SAFETY: `sched_getcpu` takes no arguments, touches no memory of ours
    // and is thread-safe; it returns -1 on failure, handled below.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu >= 0 {
        cpu as u32
    } else {
        thread_hash()
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn look_up() -> u32 {
    thread_hash()
}

/// The portable fallback: a hash of the thread's id.
fn thread_hash() -> u32 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut hasher);
    let h = hasher.finish();
    (h ^ (h >> 32)) as u32
}

/// The number of per-CPU slots a cache keeps: the available parallelism,
/// rounded up to a power of two so that a slot is `hint & (slots - 1)`.
/// CPU numbers above it (sparse CPU sets) fold onto the lower slots.
pub(crate) fn slot_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .next_power_of_two()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hint_is_stable_within_refresh() {
        let a = super::current();
        let b = super::current();
        // Both come from the cache unless the refresh fell in between and the
        // thread migrated; either way they are valid hints.
        let _ = (a, b);
        assert!(super::slot_count().is_power_of_two());
    }

    #[test]
    fn fresh_hint_counts_down_and_leaves_the_refresh_to_current() {
        // A new thread, so that the hint starts out due.
        std::thread::spawn(|| {
            assert_eq!(super::current_if_fresh(), None, "a new thread has no hint");
            let cpu = super::current();
            for _ in 0..super::REFRESH - 1 {
                assert_eq!(super::current_if_fresh(), Some(cpu));
            }
            assert_eq!(super::current_if_fresh(), None, "due again");
            let _ = super::current();
            assert!(super::current_if_fresh().is_some(), "refreshed");
        })
        .join()
        .unwrap();
    }
}
