//! The allocator's locks, shared with the layers above, so that every lock
//! of the project is one of two types with one set of rules. See design.md
//! §9; §17 model-checks [`RawSpinLock`].
//!
//! - [`Lock`] guards an arena's state. With the `std` feature it is
//!   `RawFutexLock` behind [`lock_api::Mutex`]: one compare-and-swap to
//!   take when free, a few sparse polls when contended (so that the
//!   holder keeps the arena's cache lines), then the waiter
//!   *sleeps* in the kernel (a futex, through the `atomic-wait` crate)
//!   instead of burning its time slice. On two cores a preempted lock
//!   holder no longer makes the other thread spin and yield in a loop for
//!   a whole scheduling quantum, which is what made a contended arena
//!   swing by 10x between runs. It is *eventually fair*: a free lock goes
//!   to whoever asks first, but a sleeper that has waited a millisecond
//!   has the next unlock hand the lock to it, so a thread that unlocks
//!   and relocks at once cannot keep it out for ever. Without `std` it is
//!   [`RawSpinLock`].
//!
//!   Why not `parking_lot`? Its unlock may *hand the lock over* to a thread
//!   parked on it, and a child process inherits the parked-thread records of
//!   threads that do not exist in it: unlocking in the child then gives the
//!   lock to a ghost and the child hangs (one fork in thirty did, in
//!   `vmem-umem`'s fork test). A futex lock keeps all its state in its one
//!   word, which the fork handlers can release in the child; its own
//!   hand-over to a starving sleeper expires (`HANDED_PATIENCE`), so a
//!   child that inherits one is delayed for two milliseconds once, not
//!   hung.
//! - [`SpinLock`] guards per-CPU state that is almost never contended (the
//!   magazine slots of `vmem-slab`). It is [`RawSpinLock`]: one
//!   compare-and-swap to take and a plain release store to drop, where a
//!   parking lock must use a second atomic read-modify-write to learn
//!   whether anyone sleeps. That second RMW is 3 ns per operation on this
//!   project's machines, a fifth of a cached allocation. Waiters spin
//!   briefly, then yield (with `std`).
//!
//! - Both take a *single-threaded path* while the process has one thread
//!   ([`single_threaded`], glibc's `__libc_single_threaded`): a plain load
//!   and store instead of the compare-and-swap, and a plain store instead
//!   of the unlock's swap. glibc's own mutexes do the same, which is why
//!   libumem's allocations in a single-threaded C program paid no atomic
//!   instruction; with this path an instant-fit pair went from 1.34 to
//!   0.76 times libumem's time (docs/performance.md). Why it is sound is in
//!   `single.rs`.
//!
//! Going through `lock_api` gives the guards the auto-traits of
//! `std::sync::MutexGuard` (a guard is `Sync` only when `T` is: the
//! hand-written guard this replaces was `Sync` for every `T: Send`, which
//! let two threads race on a `Cell` through a shared `&Guard`), and it
//! brings `try_lock`, guard mapping, `MutexGuard::unlocked` and
//! `force_unlock`, which a fork handler needs to release in the child the
//! locks it took in the parent.
//!
//! # Hazards
//!
//! The locks are exported for the layers of this project; a user taking one
//! directly should know three things:
//!
//! - they are **not reentrant**: taking a lock the thread already holds
//!   deadlocks;
//! - there is **no poisoning**: a panic while a lock is held unlocks it and
//!   the next holder sees whatever state the panicking code left. The
//!   allocator's own critical sections run no user code, so its state is
//!   always consistent when a lock is dropped;
//! - a [`SpinLock`] waiter (and, without `std`, a [`Lock`] waiter) spins:
//!   never hold one across anything that can block, and never take one from
//!   a signal or interrupt handler that may have interrupted the holder.
//!
//! ```
//! use vmem_core::sync::{Lock, SpinLock};
//! let counter = Lock::new(0u64);
//! *counter.lock() += 1;
//! assert_eq!(*counter.lock(), 1);
//! assert!(counter.try_lock().is_some());
//! let slot = SpinLock::new(0u32);
//! *slot.lock() += 1;
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
//!
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! let lock = vmem_core::sync::SpinLock::new(core::cell::Cell::new(0u64));
//! let guard = lock.lock();
//! shared(&guard); // error: `Cell<u64>` is not `Sync`
//! ```

use core::sync::atomic::{AtomicBool, Ordering};

mod single;
pub use single::single_threaded;

/// A mutual-exclusion lock around a `T` that parks contended waiters
/// (with `std`; see the module docs).
pub type Lock<T> = lock_api::Mutex<RawLock, T>;

/// Proof of holding a [`Lock`]; unlocks on drop.
pub type Guard<'a, T> = lock_api::MutexGuard<'a, RawLock, T>;

/// A spin lock around a `T`, for short, rarely contended critical sections.
pub type SpinLock<T> = lock_api::Mutex<RawSpinLock, T>;

/// Proof of holding a [`SpinLock`]; unlocks on drop.
pub type SpinGuard<'a, T> = lock_api::MutexGuard<'a, RawSpinLock, T>;

/// The raw lock behind [`Lock`]: [`RawFutexLock`] with `std`, else
/// [`RawSpinLock`].
#[cfg(feature = "std")]
pub type RawLock = RawFutexLock;

/// The raw lock behind [`Lock`]: `RawFutexLock` with `std`, else
/// [`RawSpinLock`].
#[cfg(not(feature = "std"))]
pub type RawLock = RawSpinLock;

/// Free.
#[cfg(feature = "std")]
const UNLOCKED: u32 = 0;
/// Held, nobody asleep on it.
#[cfg(feature = "std")]
const LOCKED: u32 = 1;
/// Held, and a waiter may be asleep on it: the unlocker must wake one.
#[cfg(feature = "std")]
const CONTENDED: u32 = 2;
/// Held, and a waiter has been asleep on it for [`FAIR_AFTER`] or longer:
/// the unlocker hands the lock over ([`HANDED`]) instead of freeing it.
#[cfg(feature = "std")]
const STARVING: u32 = 3;
/// Given by its last holder to a sleeper it woke, not yet claimed: only a
/// thread that has slept on the lock may take it (a newcomer waits, for
/// [`HANDED_PATIENCE`] at most).
#[cfg(feature = "std")]
const HANDED: u32 = 4;

/// Polls of a held lock before its waiter goes to sleep on it.
///
/// The first poll is at once; before each later one the waiter pauses
/// [`FIRST_PAUSES`], then twice as many, up to [`MAX_PAUSES_PER_POLL`]:
/// 16, 32, 64, 64 pauses, 176 in all (4.4 us where a pause takes 25 ns),
/// then it sleeps. Two things are traded. Each poll takes the lock's
/// cache line from the holder, and if it finds the lock free for the
/// moment between two of the holder's operations, the arena's lines move
/// to the waiter and back again soon after: polls that start at once and
/// double from one pause handed the lock over every few operations (two
/// threads hammering one arena on 2 vCPUs: 64 to 126 ns per pair). A
/// waiter that sleeps at once, or after a few quick spins, makes the
/// holder pay a wake-up system call, on this VM a slow one at times (48
/// to 228 ns per pair from run to run). Sparse polls for a few
/// microseconds, then sleep: 34 to 51 ns in 12 interleaved runs, where
/// libumem's mutex ran at 57 to 476 (`docs/performance.md`).
#[cfg(feature = "std")]
const POLLS_BEFORE_SLEEP: u32 = 4;
/// Pauses before a waiter's second poll of a held lock (see
/// [`POLLS_BEFORE_SLEEP`]).
#[cfg(feature = "std")]
const FIRST_PAUSES: u32 = 16;
/// The longest pause between two polls of a held lock (see
/// [`POLLS_BEFORE_SLEEP`]).
#[cfg(feature = "std")]
const MAX_PAUSES_PER_POLL: u32 = 64;

/// How long a sleeper waits before it asks for the lock to be handed to
/// it ([`STARVING`]).
///
/// A free lock goes to whoever asks first, and a woken sleeper asks late:
/// it needs a wake-up and a CPU, tens of microseconds, while a holder that
/// unlocks and locks again asks within nanoseconds. Such a thread could
/// keep a sleeper waiting for ever (vmem-slab's stress test once starved
/// its workers for 410 s behind a reaper that retook the arena lock at
/// once, `docs/testing.md`). So the first turns go to speed, and a sleeper
/// that has waited this long gets the next one. Handing over costs the
/// holder its next turn and a wake-up: at most once per `FAIR_AFTER` per
/// waiter, a few microseconds a millisecond. `parking_lot` makes the same
/// trade with half a millisecond.
#[cfg(feature = "std")]
const FAIR_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// How long a thread that has not slept on the lock lets a [`HANDED`] lock
/// wait for the sleeper it was handed to before it takes it itself.
///
/// The sleeper normally claims it within a wake-up's time. The limit is
/// there for the case where no such sleeper exists: a process forked while
/// one of its threads was starving gives its child a lock word that says
/// STARVING, with the starving thread left behind in the parent, and the
/// child's unlock hands the lock to nobody. Its next lock waits this long,
/// once, then takes it. A sleeper that wakes later than this only loses
/// this turn: it is still starving, and the next unlock hands over again.
#[cfg(feature = "std")]
const HANDED_PATIENCE: std::time::Duration = std::time::Duration::from_millis(2);

/// A futex lock with eventual fairness.
///
/// Its word says free, held, held with sleepers (as in Mara Bos's *Rust
/// Atomics and Locks*), held with a sleeper that has waited too long, or
/// handed over. A compare-and-swap takes it when free and one drops it
/// when nobody waits; waiters poll briefly, then sleep on the word. A
/// sleeper that has waited a millisecond marks the word, and the next
/// unlock hands the lock to a sleeper instead of freeing it for whoever
/// asks first. All its state is that word, so it can be released in a
/// forked child: a hand-over that no thread claims (the child's copy of
/// one meant for a thread left in the parent) is taken by the next
/// thread to ask after 2 ms (see the module docs).
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct RawFutexLock {
    state: core::sync::atomic::AtomicU32,
}

// SAFETY: with other threads about, the lock is taken only by moving
// `state` with acquire ordering from UNLOCKED to LOCKED or CONTENDED, or
// from HANDED to CONTENDED (compare-and-swaps), and every other transition
// (LOCKED to CONTENDED, CONTENDED to STARVING by waiters) keeps it held, so
// at most one holder exists. Only the holder moves the word out of a held
// state: `unlock` stores UNLOCKED, or HANDED when a sleeper starves, with
// release ordering, so the next holder, who reads that value with acquire
// ordering, sees every write of the previous one. A sleeper marks the word
// CONTENDED or STARVING before it sleeps on that value, and every unlock
// from those states wakes one; a woken thread marks the word again before
// it sleeps again or when it takes the lock, so no sleeper is left asleep
// on a free lock. While the process is single-threaded (single.rs) the one
// thread is the only one that can touch the word, so its plain
// load-then-store cannot race, and the `pthread_create` that ends that
// state orders those stores before anything the new thread does. No
// thread affinity: guards may move (`GuardSend`).
#[cfg(feature = "std")]
unsafe impl lock_api::RawMutex for RawFutexLock {
    #[allow(
        clippy::declare_interior_mutable_const,
        reason = "lock_api's required initialiser constant"
    )]
    const INIT: RawFutexLock = RawFutexLock {
        state: core::sync::atomic::AtomicU32::new(UNLOCKED),
    };

    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        if single_threaded() {
            // No other thread exists to hold or wait on the lock
            // (single.rs), so a plain load and store take it.
            if self.state.load(Ordering::Relaxed) == UNLOCKED {
                self.state.store(LOCKED, Ordering::Relaxed);
                return;
            }
        } else if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_contended();
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        if single_threaded() {
            // Nobody can be asleep on the lock: a sleeper is a second
            // thread. Decided now, not when the lock was taken: if the
            // holder created a thread meanwhile, the atomic path runs.
            self.state.store(UNLOCKED, Ordering::Relaxed);
        } else if self
            .state
            .compare_exchange(LOCKED, UNLOCKED, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_contended();
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }
}

#[cfg(feature = "std")]
impl RawFutexLock {
    #[cold]
    fn lock_contended(&self) {
        // Sparse polls, further apart each time (see POLLS_BEFORE_SLEEP):
        // every poll pulls the word's cache line away from the holder, and
        // one that wins the lock between two of the holder's operations
        // moves the arena's lines too.
        let mut pauses = FIRST_PAUSES;
        for _ in 0..POLLS_BEFORE_SLEEP {
            match self.state.load(Ordering::Relaxed) {
                UNLOCKED => {
                    if self
                        .state
                        .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return;
                    }
                }
                LOCKED => {}
                // Someone sleeps on it already, or it is being handed to
                // a sleeper: wait behind them.
                _ => break,
            }
            for _ in 0..pauses {
                core::hint::spin_loop();
            }
            pauses = (pauses * 2).min(MAX_PAUSES_PER_POLL);
        }
        self.lock_asleep();
    }

    /// Sleeps on the word until the lock is free or handed over, then
    /// takes it, marking the word so that the unlock wakes the next
    /// sleeper (one spurious wake at most, when there is none).
    #[cold]
    fn lock_asleep(&self) {
        use std::time::Instant;
        // When this thread first went to sleep on the lock: a thread that
        // has slept may claim a handed-over lock, and one that has slept
        // for FAIR_AFTER asks for it.
        let mut asleep_since: Option<Instant> = None;
        // When this thread, not having slept, first saw the lock handed
        // over to a sleeper.
        let mut handed_seen: Option<Instant> = None;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let (from, to) = match state {
                UNLOCKED => (UNLOCKED, CONTENDED),
                HANDED => {
                    let seen = *handed_seen.get_or_insert_with(Instant::now);
                    if asleep_since.is_none() && seen.elapsed() < HANDED_PATIENCE {
                        // It is some sleeper's: let it wake and take it.
                        std::thread::yield_now();
                        state = self.state.load(Ordering::Relaxed);
                        continue;
                    }
                    (HANDED, CONTENDED)
                }
                LOCKED => (LOCKED, CONTENDED),
                CONTENDED if asleep_since.is_some_and(|t| t.elapsed() >= FAIR_AFTER) => {
                    (CONTENDED, STARVING)
                }
                // CONTENDED or STARVING: sleep while it says so.
                _ => (state, state),
            };
            if from != to {
                match self
                    .state
                    .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
                {
                    // Taken (from UNLOCKED or HANDED): the word says
                    // CONTENDED, so our unlock wakes the next sleeper.
                    Ok(_) if from == UNLOCKED || from == HANDED => return,
                    // Marked: look again at the marked state (a CONTENDED
                    // word may still need STARVING) before sleeping on it.
                    Ok(_) => state = to,
                    Err(now) => state = now,
                }
                continue;
            }
            asleep_since.get_or_insert_with(Instant::now);
            atomic_wait::wait(&self.state, state);
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Unlocks a word that says CONTENDED (free it, wake a sleeper) or
    /// STARVING (hand it over, wake a sleeper).
    #[cold]
    fn unlock_contended(&self) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let next = if state == STARVING { HANDED } else { UNLOCKED };
            match self
                .state
                .compare_exchange(state, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                // A sleeper marked the word STARVING meanwhile.
                Err(now) => state = now,
            }
        }
        if state != LOCKED {
            atomic_wait::wake_one(&self.state);
        }
    }
}

/// Spins before each yield (with `std`) while the lock is held.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A test-and-test-and-set spin lock: one compare-and-swap to take, a plain
/// release store to drop. A waiter spins, then (with `std`) yields its time
/// slice between rounds of spinning; it never sleeps in the kernel.
#[derive(Debug)]
pub struct RawSpinLock {
    held: AtomicBool,
}

// SAFETY: with other threads about, `lock` and `try_lock` succeed only by
// swapping `held` from false to true with acquire ordering, so at most one
// holder exists at a time; `unlock` stores false with release ordering, so
// the next holder sees every write of the previous one. While the process
// is single-threaded, `lock` and `try_lock` take it with a plain load and
// store, which no other thread can race with (as argued for
// `RawFutexLock`). The lock has
// no thread affinity, so a guard may be sent to and unlocked by another
// thread (`GuardSend`).
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
        if single_threaded() {
            // As for `RawFutexLock::lock`: no other thread to exclude.
            if !self.held.load(Ordering::Relaxed) {
                self.held.store(true, Ordering::Relaxed);
                return;
            }
        } else if self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_contended();
    }

    #[inline]
    fn try_lock(&self) -> bool {
        if single_threaded() {
            // As in `lock`.
            if self.held.load(Ordering::Relaxed) {
                return false;
            }
            self.held.store(true, Ordering::Relaxed);
            return true;
        }
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
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

impl RawSpinLock {
    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            // Wait with plain loads, so the line stays shared until the
            // holder's release store, then race for it again.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    /// The word of a futex lock, for tests that watch (or, as a waiter
    /// would, mark) its state.
    #[cfg(feature = "std")]
    fn word<T>(lock: &lock_api::Mutex<RawFutexLock, T>) -> &core::sync::atomic::AtomicU32 {
        // SAFETY: `raw` is unsafe because a raw lock can be unlocked behind
        // the guards' backs; only its word is touched here, by the same
        // atomic operations a waiter uses.
        &unsafe { lock.raw() }.state
    }

    #[test]
    fn auto_traits() {
        assert_send::<Lock<u64>>();
        assert_sync::<Lock<u64>>();
        assert_sync::<Lock<core::cell::Cell<u64>>>();
        assert_sync::<Guard<'static, u64>>();
        assert_sync::<SpinLock<core::cell::Cell<u64>>>();
        assert_sync::<SpinGuard<'static, u64>>();
        assert_send::<SpinGuard<'static, u64>>();
        assert_send::<RawSpinLock>();
        assert_sync::<RawSpinLock>();
    }

    #[test]
    fn spin_lock_excludes() {
        let lock: SpinLock<u32> = SpinLock::new(1);
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
        let spin: SpinLock<u64> = SpinLock::new(0);
        let park: Lock<u64> = Lock::new(0);
        let futex: lock_api::Mutex<RawFutexLock, u64> = lock_api::Mutex::new(0);
        let per_thread = if cfg!(miri) { 50 } else { 20_000 };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..per_thread {
                        *spin.lock() += 1;
                        *park.lock() += 1;
                        *futex.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*spin.lock(), 4 * per_thread);
        assert_eq!(*park.lock(), 4 * per_thread);
        assert_eq!(*futex.lock(), 4 * per_thread);
    }

    /// A waiter that outlasts its polls sleeps, and the holder's unlock
    /// wakes it: the lock is held far longer than the whole backoff, so
    /// the waiter has gone to sleep (the word says CONTENDED) before it is
    /// let go.
    #[cfg(feature = "std")]
    #[test]
    fn a_waiter_past_its_backoff_sleeps_and_is_woken() {
        extern crate std;
        let lock: lock_api::Mutex<RawFutexLock, u32> = lock_api::Mutex::new(0);
        let guard = lock.lock();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| *lock.lock() += 1);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            // CONTENDED, or STARVING if a spurious wake let it see that it
            // had slept for FAIR_AFTER.
            while word(&lock).load(Ordering::Relaxed) < CONTENDED {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the waiter never slept"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            drop(guard);
            waiter.join().unwrap();
        });
        assert_eq!(*lock.lock(), 1);
        assert!(!lock.is_locked());
    }

    /// A sleeper that has waited FAIR_AFTER asks for the lock (STARVING)
    /// the next time it wakes, and the unlock then hands the lock to it
    /// instead of freeing it: a thread asking right after the unlock does
    /// not get it. (Without the hand-over, a thread that unlocks and locks
    /// again at once can keep a sleeper out for ever: woken, it finds the
    /// lock retaken and sleeps again.) Each step waits for the word to say
    /// what it should, so the test does not depend on timing beyond
    /// sleeping for longer than FAIR_AFTER.
    #[cfg(feature = "std")]
    #[test]
    fn a_starving_sleeper_is_handed_the_lock() {
        extern crate std;
        use std::time::{Duration, Instant};
        let lock: lock_api::Mutex<RawFutexLock, u32> = lock_api::Mutex::new(0);
        let wait_for = |state: u32| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while word(&lock).load(Ordering::Relaxed) != state {
                assert!(Instant::now() < deadline, "the word never said {state}");
                std::thread::sleep(Duration::from_micros(200));
            }
        };
        let holding = AtomicBool::new(false);
        let let_go = AtomicBool::new(false);
        std::thread::scope(|s| {
            // Taken in here, so that a failing assertion drops it and the
            // sleeper can finish instead of holding up the scope's join.
            let held = lock.lock();
            let sleeper = s.spawn(|| {
                let mut guard = lock.lock();
                *guard += 1;
                holding.store(true, Ordering::Release);
                let deadline = Instant::now() + Duration::from_secs(10);
                while !let_go.load(Ordering::Acquire) && Instant::now() < deadline {
                    std::thread::yield_now();
                }
            });
            wait_for(CONTENDED);
            std::thread::sleep(FAIR_AFTER * 3);
            // Wake it without unlocking, as a spurious wake would: it
            // finds the lock held, and asks for it.
            atomic_wait::wake_one(word(&lock));
            wait_for(STARVING);
            drop(held);
            assert!(
                lock.try_lock().is_none(),
                "the lock was freed, not handed to the sleeper"
            );
            while !holding.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            let_go.store(true, Ordering::Release);
            sleeper.join().unwrap();
        });
        assert_eq!(*lock.lock(), 1);
        assert!(!lock.is_locked());
    }

    /// A lock handed to a sleeper that does not exist (a child process
    /// forked while one of its parent's threads was starving keeps the
    /// word, not the thread) is taken by the next thread to ask, once it
    /// has waited HANDED_PATIENCE, instead of blocking it for ever.
    #[cfg(feature = "std")]
    #[test]
    fn a_lock_handed_to_nobody_is_taken_after_a_while() {
        extern crate std;
        let lock: lock_api::Mutex<RawFutexLock, u32> = lock_api::Mutex::new(0);
        let held = lock.lock();
        // As a starving waiter would have marked it.
        word(&lock).store(STARVING, Ordering::Relaxed);
        drop(held);
        // With the process single-threaded the unlock is a plain store
        // (nobody can be waiting); otherwise it hands over.
        let left = word(&lock).load(Ordering::Relaxed);
        assert!(left == HANDED || (left == UNLOCKED && single_threaded()));
        let started = std::time::Instant::now();
        *lock.lock() += 1;
        if left == HANDED {
            assert!(started.elapsed() >= HANDED_PATIENCE);
        }
        assert_eq!(word(&lock).load(Ordering::Relaxed), UNLOCKED);
        assert_eq!(*lock.lock(), 1);
    }
}
