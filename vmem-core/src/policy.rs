//! How an allocation chooses its segment, and what it does when nothing fits.

#[cfg(feature = "std")]
use std::time::Duration;

/// Segment-selection policy (libumem's `VM_BESTFIT`, `VM_FIRSTFIT`,
/// `VM_NEXTFIT`, and the default instant-fit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Constant time: take the head of the smallest freelist whose segments
    /// are all large enough. The default.
    #[default]
    InstantFit,
    /// The smallest free segment that fits (searched within one freelist).
    BestFit,
    /// The first segment that fits on the first freelist that may fit.
    FirstFit,
    /// The first segment that fits after the previous allocation, cycling
    /// through the whole arena before any address is reused (IDs, PIDs,
    /// use-after-free detection). For `xalloc`, behaves as instant-fit, as in
    /// libumem.
    NextFit,
}

/// What an allocation does when nothing fits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once (libumem's `VM_NOSLEEP`). The default.
    #[default]
    NoSleep,
    /// Block until a free or an `add` makes room (libumem's `VM_SLEEP`).
    #[cfg(feature = "std")]
    Sleep,
    /// Block at most this long, then fail with [`Error::TimedOut`](crate::Error::TimedOut).
    #[cfg(feature = "std")]
    SleepFor(Duration),
}

/// Options of one allocation: policy, wait mode, and whether failure panics.
///
/// ```
/// use vmem_core::{AllocFlags, Policy};
/// let flags = AllocFlags::new().policy(Policy::NextFit).panic_on_failure(true);
/// assert_eq!(flags.get_policy(), Policy::NextFit);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocFlags {
    policy: Policy,
    wait: Wait,
    panic_on_failure: bool,
    from_end: bool,
}

impl AllocFlags {
    /// Instant-fit, no-sleep, no panic.
    pub const fn new() -> AllocFlags {
        AllocFlags {
            policy: Policy::InstantFit,
            wait: Wait::NoSleep,
            panic_on_failure: false,
            from_end: false,
        }
    }

    /// Instant-fit, no-sleep (libumem's `VM_NOSLEEP`).
    pub const NOSLEEP: AllocFlags = AllocFlags::new();

    /// Sets the policy.
    pub const fn policy(mut self, policy: Policy) -> AllocFlags {
        self.policy = policy;
        self
    }

    /// Sets the wait mode.
    pub const fn wait(mut self, wait: Wait) -> AllocFlags {
        self.wait = wait;
        self
    }

    /// Panics instead of returning an error when the request cannot be met
    /// (libumem's `VM_PANIC`). Invalid arguments are still returned as errors.
    pub const fn panic_on_failure(mut self, yes: bool) -> AllocFlags {
        self.panic_on_failure = yes;
        self
    }

    /// Places the allocation at the highest suitable address of the chosen
    /// segment instead of the lowest (the illumos kernel's `VM_ENDALLOC`).
    pub const fn from_end(mut self, yes: bool) -> AllocFlags {
        self.from_end = yes;
        self
    }

    /// Instant-fit from the low end, no sleeping, no panic: the flags of the
    /// allocation fast path.
    #[inline]
    pub(crate) const fn is_plain_instant_fit(&self) -> bool {
        matches!(self.policy, Policy::InstantFit)
            && matches!(self.wait, Wait::NoSleep)
            && !self.panic_on_failure
            && !self.from_end
    }

    /// The policy.
    pub const fn get_policy(&self) -> Policy {
        self.policy
    }

    /// The wait mode.
    pub const fn get_wait(&self) -> Wait {
        self.wait
    }

    /// Whether failure panics.
    pub const fn get_panic_on_failure(&self) -> bool {
        self.panic_on_failure
    }

    /// Whether the allocation is placed at the high end.
    pub const fn get_from_end(&self) -> bool {
        self.from_end
    }
}

impl From<Policy> for AllocFlags {
    fn from(policy: Policy) -> AllocFlags {
        AllocFlags::new().policy(policy)
    }
}

/// Placement constraints of [`Arena::xalloc`](crate::Arena::xalloc).
///
/// The result `addr` satisfies `addr % align == phase`, `[addr, addr + size)`
/// does not straddle a multiple of `nocross`, and lies inside `[min, max)`.
/// Zero means "none" for `align` (the quantum), `nocross` and `max`.
///
/// ```
/// use vmem_core::Constraints;
/// let dma = Constraints::new().align(0x1000).nocross(0x10000).max(1 << 32);
/// assert_eq!(dma.get_align(), 0x1000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    align: usize,
    phase: usize,
    nocross: usize,
    min: usize,
    max: usize,
}

impl Constraints {
    /// No constraint beyond the quantum.
    pub const fn new() -> Constraints {
        Constraints {
            align: 0,
            phase: 0,
            nocross: 0,
            min: 0,
            max: 0,
        }
    }

    /// Alignment: a power of two, multiple of the quantum (0: the quantum).
    pub const fn align(mut self, align: usize) -> Constraints {
        self.align = align;
        self
    }

    /// Offset from the alignment, below `align` and a multiple of the quantum.
    pub const fn phase(mut self, phase: usize) -> Constraints {
        self.phase = phase;
        self
    }

    /// A power-of-two boundary the allocation must not straddle (0: none).
    pub const fn nocross(mut self, nocross: usize) -> Constraints {
        self.nocross = nocross;
        self
    }

    /// Lowest acceptable address.
    pub const fn min(mut self, min: usize) -> Constraints {
        self.min = min;
        self
    }

    /// End (exclusive) of the acceptable addresses (0: none).
    pub const fn max(mut self, max: usize) -> Constraints {
        self.max = max;
        self
    }

    /// The alignment (0 means the quantum).
    pub const fn get_align(&self) -> usize {
        self.align
    }
    /// The phase.
    pub const fn get_phase(&self) -> usize {
        self.phase
    }
    /// The nocross boundary.
    pub const fn get_nocross(&self) -> usize {
        self.nocross
    }
    /// The lowest address.
    pub const fn get_min(&self) -> usize {
        self.min
    }
    /// The exclusive end of the window (0: none).
    pub const fn get_max(&self) -> usize {
        self.max
    }
}
