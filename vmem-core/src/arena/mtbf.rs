//! Fault injection: on average one in `mtbf` no-sleep allocations fails on
//! purpose, per arena or process-wide, so callers can test their error
//! paths (libumem's `vm_mtbf` and `vmem_mtbf`). See design.md §11.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::error::Error;
use crate::policy::AllocFlags;

use super::Arena;

/// Process-wide mean time between injected failures (libumem's `vmem_mtbf`);
/// 0 disables. See [`Arena::set_mtbf`].
static GLOBAL_MTBF: AtomicU32 = AtomicU32::new(0);

/// Sets the process-wide fault-injection rate: on average one in `mtbf`
/// no-sleep allocations of every arena fails (0 turns it off).
pub fn set_global_mtbf(mtbf: u32) {
    GLOBAL_MTBF.store(mtbf, Ordering::Relaxed);
}

/// One arena's fault-injection setting and the counter that decides which
/// allocation fails.
#[derive(Debug, Default)]
pub(super) struct FaultInjection {
    /// The arena's own rate (0: only the global one applies).
    mtbf: AtomicU32,
    /// Allocations considered so far; scrambled to pick the failures.
    clock: AtomicU64,
    /// The global rate does not apply (see [`Arena::exempt_from_global_mtbf`]).
    exempt: AtomicBool,
}

impl Arena {
    /// Fault injection: on average one in `mtbf` no-sleep allocations of this
    /// arena fails (libumem's `vm_mtbf`); 0 turns it off.
    pub fn set_mtbf(&self, mtbf: u32) {
        self.faults.mtbf.store(mtbf, Ordering::Relaxed);
    }

    /// Makes the process-wide rate ([`set_global_mtbf`]) skip this arena;
    /// its own rate ([`Arena::set_mtbf`]) still applies. For the arenas that
    /// hold an allocator's own metadata (`vmem-umem`'s `vmem_seg` and the
    /// arenas under it): a fault injected there would surface as a failure
    /// of whatever unrelated call needed a tag.
    pub fn exempt_from_global_mtbf(&self) {
        self.faults.exempt.store(true, Ordering::Relaxed);
    }

    /// The rate in force: the arena's and the global one, or 0 for none.
    #[inline]
    fn mtbf(&self) -> u32 {
        let global = if self.faults.exempt.load(Ordering::Relaxed) {
            0
        } else {
            GLOBAL_MTBF.load(Ordering::Relaxed)
        };
        global | self.faults.mtbf.load(Ordering::Relaxed)
    }

    /// Whether fault injection is on for this arena (or globally).
    #[inline]
    pub(super) fn mtbf_armed(&self) -> bool {
        self.mtbf() != 0
    }

    /// The injected failure for this allocation, if it is one of the chosen
    /// ones. Only no-sleep, non-panicking requests are ever failed.
    #[inline]
    pub(super) fn injected_failure(&self, size: usize, flags: AllocFlags) -> Option<Error> {
        if !self.mtbf_armed() {
            return None;
        }
        self.pick_failure(size, flags)
    }

    /// [`injected_failure`](Arena::injected_failure) once fault injection
    /// is on.
    #[cold]
    #[inline(never)]
    fn pick_failure(&self, size: usize, flags: AllocFlags) -> Option<Error> {
        let mtbf = self.mtbf();
        if mtbf == 0 || !flags.is_nosleep() || flags.get_panic_on_failure() {
            return None;
        }
        let tick = self.faults.clock.fetch_add(1, Ordering::Relaxed);
        // A cheap deterministic scramble of the tick, so failures are spread
        // out like libumem's clock-based ones but repeatable in tests.
        let scrambled = tick.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17;
        if scrambled % u64::from(mtbf) == 0 {
            let mut state = self.state.lock();
            state.counters.fail += 1;
            return Some(Error::WouldBlock {
                arena: self.name,
                size,
            });
        }
        None
    }
}
