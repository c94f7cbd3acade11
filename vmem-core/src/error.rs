//! Typed errors. Every error names the arena and carries the values that
//! caused it, so a log line is enough to reproduce the call.

use crate::name::ArenaName;

/// Why an arena operation failed.
///
/// Non-exhaustive: new failure kinds may be added in minor releases, so a
/// `match` needs a catch-all arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A no-sleep request found nothing that fits and the arena has nowhere
    /// to import from: a sleeping request would wait for a free or an `add`.
    #[error("arena '{arena}': no room for {size:#x} bytes now (a sleeping allocation would wait)")]
    WouldBlock {
        /// The arena.
        arena: ArenaName,
        /// The requested size.
        size: usize,
    },
    /// A no-sleep request found nothing that fits, and importing from the
    /// arena's source (or obtaining tag memory) failed too.
    #[error(
        "arena '{arena}': exhausted: cannot allocate {size:#x} bytes, the source has none to give"
    )]
    Exhausted {
        /// The arena.
        arena: ArenaName,
        /// The requested size.
        size: usize,
    },
    /// No address at all satisfies the request: its `[min, max)` window
    /// (with the alignment, phase and boundary) cannot hold `size` bytes,
    /// whatever spans the arena has. Not an invalid argument: libumem fails
    /// such a request like any other that does not fit. It fails at once
    /// even for a sleeping allocation, which nothing could ever wake.
    #[error("arena '{arena}': no address in the window [{min:#x}, {max:#x}) can hold {size:#x} bytes under the constraints")]
    NeverFits {
        /// The arena.
        arena: ArenaName,
        /// The requested size.
        size: usize,
        /// Window start.
        min: usize,
        /// Window end (exclusive; 0 for none).
        max: usize,
    },
    /// A sleeping allocation with a deadline ran out of time.
    #[error("arena '{arena}': timed out after {waited_ms} ms waiting for {size:#x} bytes")]
    TimedOut {
        /// The arena.
        arena: ArenaName,
        /// The requested size.
        size: usize,
        /// How long the caller was willing to wait, in milliseconds.
        waited_ms: u64,
    },
    /// The arguments can never be satisfied or break the API's rules.
    #[error("arena '{arena}': invalid arguments to {call}: {reason}")]
    InvalidArgument {
        /// The arena.
        arena: ArenaName,
        /// The call that was refused (`"xalloc"`, `"add"`, ...).
        call: &'static str,
        /// What was wrong, with the offending values.
        reason: InvalidReason,
    },
    /// A free of an address that is not the start of an allocated segment.
    #[error("arena '{arena}': bad free of [{addr:#x}, +{size:#x}): address is not allocated")]
    NotAllocated {
        /// The arena.
        arena: ArenaName,
        /// The address passed to free.
        addr: usize,
        /// The size passed to free.
        size: usize,
    },
    /// A free whose size differs from the size that was allocated.
    #[error("arena '{arena}': bad free of [{addr:#x}, +{size:#x}): wrong size, allocated as {expected:#x}")]
    WrongSize {
        /// The arena.
        arena: ArenaName,
        /// The address passed to free.
        addr: usize,
        /// The size passed to free.
        size: usize,
        /// The size the segment was allocated with.
        expected: usize,
    },
    /// `add` or `extend` of a range that overlaps a span already present.
    #[error("arena '{arena}': span [{base:#x}, +{size:#x}) overlaps existing span [{existing_start:#x}, {existing_end:#x})")]
    OverlappingSpan {
        /// The arena.
        arena: ArenaName,
        /// Start of the new range.
        base: usize,
        /// Size of the new range.
        size: usize,
        /// Start of the span it overlaps.
        existing_start: usize,
        /// End of the span it overlaps.
        existing_end: usize,
    },
    /// The page source could not provide memory for boundary tags.
    #[error("arena '{arena}': out of tag memory (the page source refused a page)")]
    OutOfTags {
        /// The arena.
        arena: ArenaName,
    },
}

/// The specific rule an invalid request broke.
///
/// Non-exhaustive, as [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Sizes must be non-zero.
    #[error("size is zero")]
    ZeroSize,
    /// The quantum must be a power of two.
    #[error("quantum {quantum:#x} is not a power of two")]
    BadQuantum {
        /// The quantum given.
        quantum: usize,
    },
    /// A value that must be a multiple of the quantum is not.
    #[error("{what} {value:#x} is not a multiple of the quantum {quantum:#x}")]
    NotQuantumMultiple {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: usize,
        /// The arena's quantum.
        quantum: usize,
    },
    /// Alignments and boundaries must be powers of two.
    #[error("{what} {value:#x} is not a power of two")]
    NotPowerOfTwo {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: usize,
    },
    /// The phase must be below the alignment.
    #[error("phase {phase:#x} is not below align {align:#x}")]
    PhaseTooLarge {
        /// The phase given.
        phase: usize,
        /// The alignment given.
        align: usize,
    },
    /// The alignment, phase and size cannot fit between two nocross boundaries.
    #[error("over-constrained: size {size:#x} at phase {phase:#x} of align {align:#x} cannot fit within nocross {nocross:#x}")]
    Overconstrained {
        /// The size.
        size: usize,
        /// The alignment.
        align: usize,
        /// The phase.
        phase: usize,
        /// The nocross boundary.
        nocross: usize,
    },
    /// The range would wrap past the top of the address space.
    #[error("range [{base:#x}, +{size:#x}) wraps past the end of the address space")]
    Wraps {
        /// Range start.
        base: usize,
        /// Range size.
        size: usize,
    },
    /// A `no_std` arena was built without a tag pool.
    #[error("no tag pool given (required without the `std` feature)")]
    NoTagPool,
    /// `extend_alloc` asked for more than it adds.
    #[error("allocation of {alloc:#x} exceeds the {size:#x} bytes being added")]
    AllocExceedsExtension {
        /// The allocation size.
        alloc: usize,
        /// The size of the range added.
        size: usize,
    },
}
