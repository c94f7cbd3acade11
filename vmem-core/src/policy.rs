//! How an allocation chooses its segment, and what it does when nothing fits:
//! the public flags and constraints, and [`Fit`], the pure arithmetic that
//! validates a request and places it inside one free range.

use crate::bits::{
    align_down, crosses_boundary, distance_to_boundary, is_power_of_two, phase_up, round_up,
};
use crate::error::InvalidReason;

#[cfg(feature = "std")]
use std::time::Duration;

/// Segment-selection policy (libumem's `VM_BESTFIT`, `VM_FIRSTFIT`,
/// `VM_NEXTFIT`, and the default instant-fit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Constant time: take the head of the smallest freelist whose segments
    /// are all large enough. The default.
    #[default]
    InstantFit = 0,
    /// The smallest free segment that fits (searched within one freelist).
    BestFit = 1,
    /// The first segment that fits on the first freelist that may fit.
    FirstFit = 2,
    /// The first segment that fits after the previous allocation, cycling
    /// through the whole arena before any address is reused (IDs, PIDs,
    /// use-after-free detection). For `xalloc`, behaves as instant-fit, as in
    /// libumem.
    NextFit = 3,
}

/// What an allocation does when nothing fits.
///
/// Non-exhaustive: the sleeping variants exist only with the `std` feature,
/// and Cargo unifies features, so a `no_std` crate's `match` must not assume
/// they are absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocFlags {
    // Two words, so the value travels in two registers and the fast path
    // tests it with one instruction: `bits` packs the policy, the wait
    // kind and the two switches in its low byte (instant-fit from the low
    // end, the fast path, is zero in the policy and from-end bits) and the sub-second nanoseconds of a
    // `Wait::SleepFor` limit in its high half; `limit_secs` holds the
    // limit's whole seconds. A struct of separate small fields was passed
    // through memory, built with byte stores and read back with wide
    // loads, which stalled the CPU on every allocation.
    bits: u64,
    limit_secs: u64,
}

// The layout of `AllocFlags::bits`.
const POLICY_MASK: u64 = 0b11;
const WAIT_SHIFT: u32 = 2;
const WAIT_MASK: u64 = 0b11 << WAIT_SHIFT;
const WAIT_NOSLEEP: u64 = 0;
#[cfg(feature = "std")]
const WAIT_SLEEP: u64 = 1 << WAIT_SHIFT;
#[cfg(feature = "std")]
const WAIT_SLEEP_FOR: u64 = 2 << WAIT_SHIFT;
const PANIC_ON_FAILURE: u64 = 1 << 4;
const FROM_END: u64 = 1 << 5;
/// Every bit that takes a request off the fast path: another policy, or
/// allocating from the top. The wait mode and the panic switch do not:
/// they matter only once the fast path has missed, and its miss goes to
/// the searching path, which sleeps, times out or panics as asked.
const NOT_PLAIN: u64 = POLICY_MASK | FROM_END;
#[cfg(feature = "std")]
const NANOS_SHIFT: u32 = 32;

impl AllocFlags {
    /// Instant-fit, no-sleep, no panic.
    pub const fn new() -> AllocFlags {
        AllocFlags {
            bits: 0,
            limit_secs: 0,
        }
    }

    /// Instant-fit, no-sleep (libumem's `VM_NOSLEEP`).
    pub const NOSLEEP: AllocFlags = AllocFlags::new();

    /// Sets the policy.
    pub const fn policy(mut self, policy: Policy) -> AllocFlags {
        self.bits = (self.bits & !POLICY_MASK) | policy as u64;
        self
    }

    /// Sets the wait mode.
    pub const fn wait(mut self, wait: Wait) -> AllocFlags {
        let keep = self.bits & (POLICY_MASK | PANIC_ON_FAILURE | FROM_END);
        (self.bits, self.limit_secs) = match wait {
            Wait::NoSleep => (keep | WAIT_NOSLEEP, 0),
            #[cfg(feature = "std")]
            Wait::Sleep => (keep | WAIT_SLEEP, 0),
            #[cfg(feature = "std")]
            Wait::SleepFor(limit) => (
                keep | WAIT_SLEEP_FOR | (limit.subsec_nanos() as u64) << NANOS_SHIFT,
                limit.as_secs(),
            ),
        };
        self
    }

    /// Panics instead of returning an error when the request cannot be met
    /// (libumem's `VM_PANIC`). Invalid arguments are still returned as errors.
    pub const fn panic_on_failure(mut self, yes: bool) -> AllocFlags {
        self.bits = (self.bits & !PANIC_ON_FAILURE) | if yes { PANIC_ON_FAILURE } else { 0 };
        self
    }

    /// Places the allocation at the highest suitable address of the chosen
    /// segment instead of the lowest (the illumos kernel's `VM_ENDALLOC`).
    pub const fn from_end(mut self, yes: bool) -> AllocFlags {
        self.bits = (self.bits & !FROM_END) | if yes { FROM_END } else { 0 };
        self
    }

    /// Instant-fit from the low end, in any wait mode, panicking or not:
    /// the flags of the allocation fast path.
    #[inline]
    pub(crate) const fn is_plain_instant_fit(&self) -> bool {
        self.bits & NOT_PLAIN == 0
    }

    /// Next-fit, in any wait mode, panicking or not (next-fit ignores
    /// [`from_end`](AllocFlags::from_end)): the flags of the next-fit quick
    /// path.
    #[inline]
    pub(crate) const fn is_next_fit(&self) -> bool {
        self.bits & POLICY_MASK == Policy::NextFit as u64
    }

    /// Whether the wait mode is [`Wait::NoSleep`] (without building the
    /// `Wait`, which the hot paths do not need).
    #[inline]
    pub(crate) const fn is_nosleep(&self) -> bool {
        self.bits & WAIT_MASK == WAIT_NOSLEEP
    }

    /// Whether the wait mode is [`Wait::SleepFor`].
    #[inline]
    pub(crate) const fn has_time_limit(&self) -> bool {
        #[cfg(feature = "std")]
        return self.bits & WAIT_MASK == WAIT_SLEEP_FOR;
        #[cfg(not(feature = "std"))]
        return false;
    }

    /// The policy.
    pub const fn get_policy(&self) -> Policy {
        match self.bits & POLICY_MASK {
            0 => Policy::InstantFit,
            1 => Policy::BestFit,
            2 => Policy::FirstFit,
            _ => Policy::NextFit,
        }
    }

    /// The wait mode.
    pub const fn get_wait(&self) -> Wait {
        match self.bits & WAIT_MASK {
            #[cfg(feature = "std")]
            WAIT_SLEEP => Wait::Sleep,
            #[cfg(feature = "std")]
            WAIT_SLEEP_FOR => Wait::SleepFor(Duration::new(
                self.limit_secs,
                (self.bits >> NANOS_SHIFT) as u32,
            )),
            _ => Wait::NoSleep,
        }
    }

    /// Whether failure panics.
    pub const fn get_panic_on_failure(&self) -> bool {
        self.bits & PANIC_ON_FAILURE != 0
    }

    /// Whether the allocation is placed at the high end.
    pub const fn get_from_end(&self) -> bool {
        self.bits & FROM_END != 0
    }
}

impl core::fmt::Debug for AllocFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AllocFlags")
            .field("policy", &self.get_policy())
            .field("wait", &self.get_wait())
            .field("panic_on_failure", &self.get_panic_on_failure())
            .field("from_end", &self.get_from_end())
            .finish()
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

/// One placement request resolved against an arena's quantum: the size and
/// constraints of an allocation, with `align` 0 replaced by the quantum.
///
/// This is pure arithmetic, testable without an arena: [`Fit::check`]
/// applies libumem's argument rules, and [`Fit::lowest_in`] and
/// [`Fit::highest_in`] place the request inside one free range, with every
/// step checked against the top of the address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fit {
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) phase: usize,
    pub(crate) nocross: usize,
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) policy: Policy,
    pub(crate) from_end: bool,
}

impl Fit {
    /// The request of `size` bytes under `c` and `flags`, unchecked.
    pub(crate) const fn new(
        size: usize,
        quantum: usize,
        c: &Constraints,
        flags: AllocFlags,
    ) -> Fit {
        Fit {
            size,
            align: if c.align == 0 { quantum } else { c.align },
            phase: c.phase,
            nocross: c.nocross,
            min: c.min,
            max: c.max,
            policy: flags.get_policy(),
            from_end: flags.get_from_end(),
        }
    }

    /// The request, if its arguments are valid: the rules libumem's
    /// `vmem_xalloc` enforces with a panic (phase below align; align, phase
    /// and nocross multiples of the quantum; size, align and phase fitting
    /// between two nocross boundaries), plus two of this crate's own (a
    /// non-zero size; align and nocross powers of two, which libumem's
    /// arithmetic silently assumes).
    ///
    /// A window `[min, max)` that cannot hold the request is *not* invalid:
    /// the request simply never fits (see [`Fit::can_ever_fit`]).
    #[cfg(test)]
    pub(crate) fn validate(
        size: usize,
        quantum: usize,
        c: &Constraints,
        flags: AllocFlags,
    ) -> Result<Fit, InvalidReason> {
        let fit = Fit::new(size, quantum, c, flags);
        fit.check(quantum)?;
        Ok(fit)
    }

    /// Checks the request against libumem's rules for `vmem_xalloc`
    /// arguments, naming the first it breaks.
    #[inline]
    pub(crate) fn check(&self, quantum: usize) -> Result<(), InvalidReason> {
        // Every rule in one test, for the valid requests that are nearly
        // all of them: a quantum multiple has no low bits, a power of two
        // (or 0) shares no bit with itself minus one, and `align` is never
        // 0 here (0 asked for the quantum).
        let low_bits = (self.align | self.phase | self.nocross) & (quantum - 1);
        let not_powers = (self.align & self.align.wrapping_sub(1))
            | (self.nocross & self.nocross.wrapping_sub(1));
        if self.size != 0
            && low_bits | not_powers == 0
            && self.phase < self.align
            && (self.nocross == 0 || self.fits_between_boundaries())
        {
            return Ok(());
        }
        self.first_broken_rule(quantum)
    }

    /// The rules of [`check`](Fit::check) one at a time, in libumem's
    /// order, to name the first that the request breaks.
    #[cold]
    #[inline(never)]
    fn first_broken_rule(&self, quantum: usize) -> Result<(), InvalidReason> {
        let fit = self;
        let size = fit.size;
        if size == 0 {
            return Err(InvalidReason::ZeroSize);
        }
        if fit.phase != 0 && fit.phase >= fit.align {
            return Err(InvalidReason::PhaseTooLarge {
                phase: fit.phase,
                align: fit.align,
            });
        }
        for (what, value) in [("align", fit.align), ("nocross", fit.nocross)] {
            if value != 0 && !is_power_of_two(value) {
                return Err(InvalidReason::NotPowerOfTwo { what, value });
            }
        }
        for (what, value) in [
            ("align", fit.align),
            ("phase", fit.phase),
            ("nocross", fit.nocross),
        ] {
            if value & (quantum - 1) != 0 {
                return Err(InvalidReason::NotQuantumMultiple {
                    what,
                    value,
                    quantum,
                });
            }
        }
        if fit.nocross != 0 && !fit.fits_between_boundaries() {
            return Err(InvalidReason::Overconstrained {
                size,
                align: fit.align,
                phase: fit.phase,
                nocross: fit.nocross,
            });
        }
        Ok(())
    }

    /// libumem's over-constraint test: the alignment is at most the
    /// boundary, and `phase + size` rounded up to the alignment fits in one
    /// boundary block (computed without wrapping).
    fn fits_between_boundaries(&self) -> bool {
        if self.align > self.nocross {
            return false;
        }
        match self.phase.checked_add(self.size) {
            Some(n) => {
                let rounded = round_up(n, self.align);
                rounded >= n && rounded <= self.nocross
            }
            None => false,
        }
    }

    /// Whether any address at all satisfies the request: some range inside
    /// the window `[min, max)` is aligned, does not cross a boundary and
    /// holds `size` bytes. When not, no span the arena has or will ever get
    /// can satisfy it, so even a sleeping allocation fails at once.
    pub(crate) fn can_ever_fit(&self) -> bool {
        self.lowest_in(0, usize::MAX).is_some()
    }

    /// The lowest address of the free range `[start, end)` that satisfies
    /// the request, found as libumem finds it: clip to the window, round up
    /// to the phase, and hop to the next `nocross` boundary if the request
    /// would straddle one. Every step is checked, so a request near the top
    /// of the address space fails instead of wrapping. `end` must be above
    /// `start`.
    #[inline]
    pub(crate) fn lowest_in(&self, start: usize, end: usize) -> Option<usize> {
        let max_last = self.max.wrapping_sub(1);
        if end - 1 < self.min || start > max_last {
            return None;
        }
        let start = start.max(self.min);
        // Both terms are below `usize::MAX`, so the `+ 1` cannot wrap.
        let end = (end - 1).min(max_last) + 1;
        if start >= end {
            return None; // an empty window (min at or past max)
        }
        let mut addr = phase_up(start, self.align, self.phase);
        if addr < start {
            return None; // rounding up wrapped past the top
        }
        if crosses_boundary(addr, self.size, self.nocross) {
            let hop = round_up(distance_to_boundary(addr, self.nocross), self.align);
            addr = addr.checked_add(hop)?;
        }
        let offset = addr - start;
        let room = end - start;
        (offset <= room && room - offset >= self.size).then_some(addr)
    }

    /// The highest address of `[start, end)` that satisfies the request
    /// (for `from_end`), its rounded size taken as `round_up(size, quantum)`.
    pub(crate) fn highest_in(&self, start: usize, end: usize, quantum: usize) -> Option<usize> {
        let start = start.max(self.min);
        let end = (end - 1).min(self.max.wrapping_sub(1)) + 1;
        let last = end.checked_sub(round_up(self.size, quantum))?;
        if last < start {
            return None;
        }
        // The highest address at `phase` past an `align` multiple, <= x.
        let phase_down = |x: usize| -> Option<usize> {
            let candidate = align_down(x.checked_sub(self.phase)?, self.align) + self.phase;
            (candidate >= start).then_some(candidate)
        };
        let mut addr = phase_down(last)?;
        if crosses_boundary(addr, self.size, self.nocross) {
            // `addr + size <= end`, so this cannot wrap.
            let boundary = align_down(addr + self.size - 1, self.nocross);
            addr = phase_down(boundary.checked_sub(self.size)?)?;
        }
        Some(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(size: usize, c: Constraints) -> Fit {
        Fit::validate(size, 0x1000, &c, AllocFlags::new()).unwrap()
    }

    #[test]
    fn the_one_test_agrees_with_the_rules_one_by_one() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let q = 0x1000;
        let pick = |rng: &mut fastrand::Rng| match rng.u8(0..6) {
            0 => 0,
            1 => q << rng.u32(0..20),
            2 => rng.usize(..) & !(q - 1),
            3 => (q << rng.u32(0..20)) + q,
            4 => rng.usize(1..q),
            _ => usize::MAX << rng.u32(12..64),
        };
        for _ in 0..if cfg!(miri) { 200 } else { 200_000 } {
            let size = pick(&mut rng);
            let c = Constraints::new()
                .align(pick(&mut rng))
                .phase(pick(&mut rng))
                .nocross(pick(&mut rng));
            let fit = Fit::new(size, q, &c, AllocFlags::new());
            assert_eq!(
                fit.check(q),
                fit.first_broken_rule(q),
                "size {size:#x}, {c:?}"
            );
        }
    }

    #[test]
    fn flags_fit_in_two_registers_and_keep_their_wait() {
        assert_eq!(core::mem::size_of::<AllocFlags>(), 16);
        for policy in [
            Policy::InstantFit,
            Policy::BestFit,
            Policy::FirstFit,
            Policy::NextFit,
        ] {
            for (panic, end) in [(false, false), (true, false), (false, true), (true, true)] {
                let f = AllocFlags::new()
                    .from_end(end)
                    .policy(policy)
                    .panic_on_failure(panic);
                assert_eq!(f.get_policy(), policy);
                assert_eq!(f.get_panic_on_failure(), panic);
                assert_eq!(f.get_from_end(), end);
                assert_eq!(f.get_wait(), Wait::NoSleep);
                assert_eq!(
                    f.is_plain_instant_fit(),
                    policy == Policy::InstantFit && !end
                );
                assert_eq!(f.policy(Policy::BestFit).policy(policy), f);
            }
        }
        assert_eq!(AllocFlags::new().get_wait(), Wait::NoSleep);
        #[cfg(feature = "std")]
        {
            let limit = Duration::new(u64::MAX, 999_999_999);
            let f = AllocFlags::new()
                .wait(Wait::SleepFor(limit))
                .policy(Policy::BestFit);
            assert_eq!(f.get_wait(), Wait::SleepFor(limit));
            assert_eq!(f.get_policy(), Policy::BestFit);
            assert_eq!(f.wait(Wait::Sleep).get_wait(), Wait::Sleep);
            assert!(!f.is_plain_instant_fit());
            // Sleeping is decided after the fast path has missed.
            let instant = f.policy(Policy::InstantFit);
            assert!(instant.is_plain_instant_fit());
            assert!(instant.wait(Wait::Sleep).is_plain_instant_fit());
            assert!(!instant.from_end(true).is_plain_instant_fit());
            assert_eq!(
                f.wait(Wait::NoSleep),
                f.wait(Wait::SleepFor(limit)).wait(Wait::NoSleep)
            );
        }
    }

    #[test]
    fn validate_applies_libumem_rules() {
        let q = 0x1000;
        let v = |size, c: Constraints| Fit::validate(size, q, &c, AllocFlags::new());
        assert_eq!(v(0, Constraints::new()), Err(InvalidReason::ZeroSize));
        assert!(matches!(
            v(q, Constraints::new().align(0x2000).phase(0x2000)),
            Err(InvalidReason::PhaseTooLarge { .. })
        ));
        assert!(matches!(
            v(q, Constraints::new().align(0x3000)),
            Err(InvalidReason::NotPowerOfTwo { what: "align", .. })
        ));
        assert!(matches!(
            v(q, Constraints::new().phase(0x10).align(0x4000)),
            Err(InvalidReason::NotQuantumMultiple { what: "phase", .. })
        ));
        assert!(matches!(
            v(0x3000, Constraints::new().align(0x2000).nocross(0x2000)),
            Err(InvalidReason::Overconstrained { .. })
        ));
        assert!(matches!(
            v(usize::MAX - 0x10, Constraints::new().nocross(1 << 20)),
            Err(InvalidReason::Overconstrained { .. })
        ));
        // A window too small for the request is valid; it just never fits.
        let small = v(0x4000, Constraints::new().min(0x1_0000).max(0x1_2000)).unwrap();
        assert!(!small.can_ever_fit());
        assert_eq!(small.align, q);
    }

    #[test]
    fn lowest_in_follows_libumem() {
        let f = fit(0x2000, Constraints::new().align(0x4000).phase(0x1000));
        assert_eq!(f.lowest_in(0x1000, 0x10000), Some(0x1000));
        assert_eq!(f.lowest_in(0x2000, 0x10000), Some(0x5000));
        assert_eq!(f.lowest_in(0x2000, 0x6000), None);
        let f = fit(0x2000, Constraints::new().nocross(0x4000));
        // 0x3000 + 0x2000 would cross 0x4000: hop to the boundary.
        assert_eq!(f.lowest_in(0x3000, 0x10000), Some(0x4000));
        let f = fit(0x1000, Constraints::new().min(0x8000).max(0x9000));
        assert_eq!(f.lowest_in(0x1000, 0x10000), Some(0x8000));
        assert_eq!(f.lowest_in(0x9000, 0x10000), None);
        assert_eq!(f.lowest_in(0x1000, 0x8000), None);
        assert!(f.can_ever_fit());
    }

    #[test]
    fn nothing_wraps_at_the_top_of_the_address_space() {
        // The request that once wrapped: nearly the whole address space at
        // a 2^40 alignment, in a segment starting just above zero.
        let f = fit(
            usize::MAX - 0x100 - 0xfff,
            Constraints::new().align(1 << 40),
        );
        assert_eq!(f.lowest_in(0x1000, usize::MAX - 0x1000), None);
        // (It would fit at address 0, in a span that started there.)
        assert_eq!(f.lowest_in(0, usize::MAX - 0x1000), Some(0));
        // Rounding up to the alignment wraps past the top.
        let f = fit(0x1000, Constraints::new().align(1 << 40));
        assert_eq!(f.lowest_in(usize::MAX - 0x2fff, usize::MAX - 0xfff), None);
        // Hopping to the next boundary would wrap past the top.
        let f = fit(0x2000, Constraints::new().nocross(1 << 40));
        assert_eq!(f.lowest_in(usize::MAX - 0xfff, usize::MAX), None);
        let top_block = usize::MAX - (1 << 40) + 1;
        assert_eq!(f.lowest_in(top_block - 0x1000, usize::MAX), Some(top_block));
        // The highest fit of a from-end request stays inside the range.
        let f = fit(0x1000, Constraints::new());
        assert_eq!(
            f.highest_in(usize::MAX - 0x2fff, usize::MAX - 0xfff, 0x1000),
            Some(usize::MAX - 0x1fff)
        );
    }
}
