//! Whether the process has a single thread, for the locks' fast paths.
//!
//! A lock that only one thread can ever reach needs no atomic
//! read-modify-write: a plain load and store of its word exclude nobody
//! because there is nobody to exclude. glibc (2.32 and later) keeps a flag
//! for exactly this, `__libc_single_threaded`, documented in
//! `<sys/single_threaded.h>`: it is true until the process creates its
//! first thread, and glibc's own private mutexes skip their atomic
//! instructions while it is. That is most of what a one-thread program
//! pays for a lock: on this project's machines an arena's lock and unlock
//! were about a third of an instant-fit pair, and libumem's pthread
//! mutexes paid none of it in a single-threaded program.
//!
//! The flag is safe to trust for a lock because of who can change it. A
//! single-threaded process creates its next thread only from its one
//! thread, so while that thread reads "single" no other thread exists that
//! could be inside or waiting on any lock. Everything the thread wrote
//! before `pthread_create` (a lock word stored with a plain store among
//! it) is visible to the new thread, which starts after the call. And the
//! locks decide at each operation, not once: a lock taken while the
//! process was single and released after it created a thread is released
//! with the atomic swap that wakes any sleeper (`RawFutexLock::unlock`).
//! glibc may leave the flag false once the process has had threads; that
//! only keeps the atomic path.
//!
//! Elsewhere (no `std`, other C libraries, other systems, Miri, loom) the
//! answer is always "not single" and every operation is atomic.

#[cfg(all(
    feature = "std",
    target_os = "linux",
    target_env = "gnu",
    not(miri),
    not(loom)
))]
mod flag {
    use core::sync::atomic::{AtomicU8, Ordering};

    extern "C" {
        /// glibc's flag: nonzero while the process has one thread.
        static __libc_single_threaded: u8;
    }

    #[inline]
    pub(super) fn single_threaded() -> bool {
        // SAFETY: `__libc_single_threaded` is a byte glibc defines for the
        // whole life of the process (it is the library's exported data,
        // never freed). Reading it through `AtomicU8` (same size and
        // alignment as `u8`) makes the read a relaxed atomic load, so a
        // concurrent write by glibc in another thread's `pthread_create`
        // is not a data race on our side; a relaxed load compiles to a
        // plain byte load.
        let flag = unsafe { &*core::ptr::addr_of!(__libc_single_threaded).cast::<AtomicU8>() };
        flag.load(Ordering::Relaxed) != 0
    }
}

/// Where the C library keeps no such flag (or Miri or loom cannot read
/// it): never single.
#[cfg(not(all(
    feature = "std",
    target_os = "linux",
    target_env = "gnu",
    not(miri),
    not(loom)
)))]
mod flag {
    #[inline]
    pub(super) fn single_threaded() -> bool {
        false
    }
}

/// Whether the process has a single thread, as far as the C library
/// knows; `false` when it cannot tell. While it is true, [`Lock`] and
/// [`SpinLock`] are taken and dropped with plain loads and stores instead
/// of atomic read-modify-writes (see the module docs of this file,
/// `sync/single.rs`).
///
/// [`Lock`]: super::Lock
/// [`SpinLock`]: super::SpinLock
///
/// ```
/// // True in a program's main thread before its first thread starts (on
/// // Linux with glibc); false once the process has had a second thread,
/// // and always false where the C library cannot tell.
/// std::thread::spawn(|| {}).join().unwrap();
/// assert!(!vmem_core::sync::single_threaded());
/// ```
#[inline]
pub fn single_threaded() -> bool {
    flag::single_threaded()
}
