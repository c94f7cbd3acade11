//! Which per-CPU slot the calling thread should use.
//!
//! With glibc 2.35 or later on x86_64 Linux, the answer is read from the
//! thread's restartable-sequences area, which glibc registers with the
//! kernel for every thread and the kernel keeps current: one load at an
//! offset from the thread pointer, always the CPU the thread is running
//! on. Otherwise it comes from `sched_getcpu` (a vDSO call, no system call),
//! cached in a thread-local and refreshed every [`REFRESH`] calls, so a
//! thread that migrates follows its new CPU soon after. Elsewhere, and
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
    if let Some(cpu) = rseq::cpu() {
        return cpu as usize;
    }
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

/// The calling thread's CPU as [`current`] gives it, if that needs no
/// call: read from the rseq area where there is one; otherwise the hint,
/// counting the call as [`current`] does, and `None` when the hint is due
/// (every [`REFRESH`]th call, and a thread's first). The magazine fast
/// paths use this and leave
/// the refresh to their slow paths, so that they call no function at all:
/// a call in the middle of a fast path made the compiler keep its values
/// in callee-saved registers, saved and restored on every call.
#[inline(always)]
pub(crate) fn current_if_fresh() -> Option<usize> {
    if let Some(cpu) = rseq::cpu() {
        return Some(cpu as usize);
    }
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
    rseq::find_once();
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

/// The CPU number glibc's restartable-sequences area holds for the calling
/// thread (x86_64 Linux with glibc).
///
/// glibc 2.35 and later register an rseq area for every thread it starts
/// and export where it is: `__rseq_offset`, its offset from the thread
/// pointer, and `__rseq_size`, 0 when registration is off (a kernel
/// without rseq, or `GLIBC_TUNABLES=glibc.pthread.rseq=0`). The kernel
/// writes the thread's current CPU into the area's `cpu_id` field (the
/// second `u32` of `struct rseq`) before the thread runs again after any
/// migration. Both symbols are looked up once, with `dlsym`, so that
/// nothing links against them: on an older glibc, or in a static program
/// where `dlsym` finds nothing, the answer is "unknown" and the
/// `sched_getcpu` hint serves.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    target_arch = "x86_64",
    not(miri)
))]
mod rseq {
    use core::sync::atomic::{AtomicIsize, Ordering};

    /// Not looked up yet.
    const UNKNOWN: isize = -1;
    /// Looked up: no registered area.
    const NONE: isize = -2;

    /// The offset of `cpu_id` from the thread pointer, or [`UNKNOWN`] or
    /// [`NONE`]. The same for every thread of the process. On x86_64 the
    /// area is inside the thread control block, which starts at the thread
    /// pointer, so a real offset is positive and a sign test tells the
    /// three apart.
    static CPU_ID_OFFSET: AtomicIsize = AtomicIsize::new(UNKNOWN);

    /// The calling thread's CPU, if glibc registered its rseq area; `None`
    /// before [`find_once`] has run, without an area, or for a thread whose
    /// registration failed (the kernel then leaves `cpu_id` negative).
    #[inline(always)]
    pub(super) fn cpu() -> Option<u32> {
        let offset = CPU_ID_OFFSET.load(Ordering::Relaxed);
        if offset < 0 {
            return None;
        }
        let cpu: u32;
        // SAFETY: `offset` came from glibc's `__rseq_offset` (+ 4, the
        // offset of `cpu_id` in `struct rseq`), with `__rseq_size` at
        // least 8, so the four bytes at thread pointer + `offset` are the
        // `cpu_id` of an area glibc keeps, for the whole life of every
        // thread, inside that thread's own control block; on x86_64 the
        // thread pointer is the `fs` segment base, so `fs:[offset]` is
        // that field of the calling thread. The load reads only it, writes
        // nothing and leaves the stack and flags alone. The kernel may
        // change the value at any time (a migration), which is why the
        // asm is not `pure`: each call reads afresh.
        unsafe {
            core::arch::asm!(
                "mov {cpu:e}, dword ptr fs:[{offset}]",
                offset = in(reg) offset,
                cpu = lateout(reg) cpu,
                options(nostack, preserves_flags, readonly),
            );
        }
        // -1 (not registered yet) and -2 (registration failed) are negative.
        (cpu as i32 >= 0).then_some(cpu)
    }

    /// Looks glibc's rseq registration up, the first time it is called.
    pub(super) fn find_once() {
        if CPU_ID_OFFSET.load(Ordering::Relaxed) == UNKNOWN {
            CPU_ID_OFFSET.store(find(), Ordering::Relaxed);
        }
    }

    fn find() -> isize {
        // SAFETY: `dlsym` with the default handle and NUL-terminated names
        // only searches the loaded objects; it returns null for a symbol
        // none of them defines.
        let (offset, size) = unsafe {
            (
                libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()),
                libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()),
            )
        };
        if offset.is_null() || size.is_null() {
            return NONE;
        }
        // SAFETY: glibc defines these as `const ptrdiff_t __rseq_offset`
        // and `const unsigned int __rseq_size` (<sys/rseq.h>), set before
        // any user code runs and never changed; the pointers are theirs.
        let (offset, size) = unsafe { (*offset.cast::<isize>(), *size.cast::<u32>()) };
        match offset.checked_add(4) {
            Some(cpu_id) if size >= 8 && cpu_id >= 0 => cpu_id,
            _ => NONE,
        }
    }

    #[cfg(test)]
    pub(super) fn known() -> bool {
        CPU_ID_OFFSET.load(Ordering::Relaxed) >= 0
    }
}

/// Without glibc's rseq area (other systems, C libraries and
/// architectures, Miri): never an answer, so the hint serves.
#[cfg(not(all(
    target_os = "linux",
    target_env = "gnu",
    target_arch = "x86_64",
    not(miri)
)))]
mod rseq {
    #[inline(always)]
    pub(super) fn cpu() -> Option<u32> {
        None
    }

    #[cfg(all(target_os = "linux", not(miri)))]
    pub(super) fn find_once() {}

    #[cfg(test)]
    pub(super) fn known() -> bool {
        false
    }
}

/// Whether [`current`] and [`current_if_fresh`] read glibc's rseq area
/// (found by a thread's first look-up), so that every answer is the CPU
/// the thread runs on and none is ever due for a refresh.
#[cfg(test)]
pub(crate) fn reads_rseq() -> bool {
    rseq::known()
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

    /// Where glibc registered an rseq area, the CPU read from it is the
    /// one `sched_getcpu` reports (retried, in case the thread migrated
    /// between the two reads), and the fast path's answer comes from it.
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn rseq_cpu_is_the_running_cpu() {
        std::thread::spawn(|| {
            // A new thread's first look-up finds the area.
            let _ = super::current();
            if !super::rseq::known() {
                return; // no area: the hint serves, tested below
            }
            let agreed = (0..1000).any(|_| {
                // SAFETY: no arguments, thread-safe.
                let kernel = unsafe { libc::sched_getcpu() };
                super::rseq::cpu().map(|c| c as i32) == Some(kernel)
            });
            assert!(agreed, "rseq cpu_id never matched sched_getcpu");
            let fast_path_reads_it = (0..1000).any(|_| {
                super::current_if_fresh().is_some()
                    && super::current_if_fresh() == super::rseq::cpu().map(|c| c as usize)
            });
            assert!(fast_path_reads_it, "the fast path does not read the area");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn fresh_hint_counts_down_and_leaves_the_refresh_to_current() {
        // A new thread's first look-up finds glibc's rseq area, if any;
        // with one, the fast path reads it and has no hint to count.
        std::thread::spawn(|| {
            let _ = super::current();
        })
        .join()
        .unwrap();
        if super::rseq::known() {
            return;
        }
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
