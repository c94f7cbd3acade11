//! Typed errors. Every error names the arena and carries the values that
//! caused it, so a log line is enough to reproduce the call.
//!
//! [`Error`] comes back from every allocation, so its size is the size of
//! `Result<usize, Error>` on the fast path. The failures an allocation meets
//! in normal running (no room, a timeout, no tag memory) carry their values
//! inline and never allocate: they happen when memory is short, and the
//! global allocator may itself be built on an arena. The failures that only
//! a mistake in the caller causes (a bad free, invalid arguments, an
//! overlapping span, a window no address fits) carry their values in a
//! [`Details`] box, so they do not make every `Result` larger. See
//! `docs/design.md` §14.

use core::fmt;
use core::ops::Deref;

use crate::name::ArenaName;

/// The storage of a [`Details`]: a box with the `alloc` feature, the value
/// itself without (there is no heap then, and the error is larger).
#[cfg(feature = "alloc")]
type DetailsRepr<T> = alloc::boxed::Box<T>;
#[cfg(not(feature = "alloc"))]
type DetailsRepr<T> = T;

/// The values of a rarely made [`Error`], kept out of line (boxed, with the
/// `alloc` feature) so the common errors stay small. Derefs to the values;
/// `Display` and `Debug` are the values' own.
///
/// ```
/// use vmem_core::{error::Details, error::NotAllocated, ArenaName, Error};
/// let err = Error::from(NotAllocated { arena: ArenaName::new("a"), addr: 0x10, size: 8 });
/// if let Error::NotAllocated(bad) = &err {
///     assert_eq!(bad.addr, 0x10);
/// }
/// assert_eq!(Details::new(3).into_inner(), 3);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Details<T>(DetailsRepr<T>);

impl<T> Details<T> {
    /// Stores `value` (in a box, with the `alloc` feature).
    pub fn new(value: T) -> Details<T> {
        #[cfg(feature = "alloc")]
        let repr = alloc::boxed::Box::new(value);
        #[cfg(not(feature = "alloc"))]
        let repr = value;
        Details(repr)
    }

    /// The values, moved out.
    pub fn into_inner(self) -> T {
        #[cfg(feature = "alloc")]
        let value = *self.0;
        #[cfg(not(feature = "alloc"))]
        let value = self.0;
        value
    }
}

impl<T> Deref for Details<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Details<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for Details<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

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
    /// No address at all satisfies the request: its window (with the
    /// alignment, phase and boundary) cannot hold its size, whatever spans
    /// the arena has. See [`NeverFits`].
    #[error("{0}")]
    NeverFits(Details<NeverFits>),
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
    #[error("{0}")]
    InvalidArgument(Details<InvalidArgument>),
    /// A free of an address that is not the start of an allocated segment.
    #[error("{0}")]
    NotAllocated(Details<NotAllocated>),
    /// A free whose size differs from the size that was allocated.
    #[error("{0}")]
    WrongSize(Details<WrongSize>),
    /// `add` or `extend` of a range that overlaps a span already present,
    /// or an allocation whose import brought a span that overlaps one the
    /// arena was given with `add` (the span goes back to the source).
    #[error("{0}")]
    OverlappingSpan(Details<OverlappingSpan>),
    /// The page source could not provide memory for boundary tags.
    #[error("arena '{arena}': out of tag memory (the page source refused a page)")]
    OutOfTags {
        /// The arena.
        arena: ArenaName,
    },
}

/// The values of [`Error::NeverFits`]. Not an invalid argument: libumem
/// fails such a request like any other that does not fit. It fails at once
/// even for a sleeping allocation, which nothing could ever wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("arena '{arena}': no address in the window [{min:#x}, {max:#x}) can hold {size:#x} bytes under the constraints")]
pub struct NeverFits {
    /// The arena.
    pub arena: ArenaName,
    /// The requested size.
    pub size: usize,
    /// Window start.
    pub min: usize,
    /// Window end (exclusive; 0 for none).
    pub max: usize,
}

/// The values of [`Error::InvalidArgument`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("arena '{arena}': invalid arguments to {call}: {reason}")]
pub struct InvalidArgument {
    /// The arena.
    pub arena: ArenaName,
    /// The call that was refused (`"xalloc"`, `"add"`, ...).
    pub call: &'static str,
    /// What was wrong, with the offending values.
    pub reason: InvalidReason,
}

/// The values of [`Error::NotAllocated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("arena '{arena}': bad free of [{addr:#x}, +{size:#x}): address is not allocated")]
pub struct NotAllocated {
    /// The arena.
    pub arena: ArenaName,
    /// The address passed to free.
    pub addr: usize,
    /// The size passed to free.
    pub size: usize,
}

/// The values of [`Error::WrongSize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "arena '{arena}': bad free of [{addr:#x}, +{size:#x}): wrong size, allocated as {expected:#x}"
)]
pub struct WrongSize {
    /// The arena.
    pub arena: ArenaName,
    /// The address passed to free.
    pub addr: usize,
    /// The size passed to free.
    pub size: usize,
    /// The size the segment was allocated with.
    pub expected: usize,
}

/// The values of [`Error::OverlappingSpan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("arena '{arena}': span [{base:#x}, +{size:#x}) overlaps existing span [{existing_start:#x}, {existing_end:#x})")]
pub struct OverlappingSpan {
    /// The arena.
    pub arena: ArenaName,
    /// Start of the new range.
    pub base: usize,
    /// Size of the new range.
    pub size: usize,
    /// Start of the span it overlaps.
    pub existing_start: usize,
    /// End of the span it overlaps.
    pub existing_end: usize,
}

/// Each boxed kind converts into its [`Error`] variant.
macro_rules! into_error {
    ($($kind:ident),*) => {$(
        impl From<$kind> for Error {
            fn from(values: $kind) -> Error {
                Error::$kind(Details::new(values))
            }
        }
    )*};
}

into_error!(
    NeverFits,
    InvalidArgument,
    NotAllocated,
    WrongSize,
    OverlappingSpan
);

impl Error {
    /// The arena the error came from.
    pub fn arena(&self) -> &ArenaName {
        match self {
            Error::WouldBlock { arena, .. }
            | Error::Exhausted { arena, .. }
            | Error::TimedOut { arena, .. }
            | Error::OutOfTags { arena } => arena,
            Error::NeverFits(e) => &e.arena,
            Error::InvalidArgument(e) => &e.arena,
            Error::NotAllocated(e) => &e.arena,
            Error::WrongSize(e) => &e.arena,
            Error::OverlappingSpan(e) => &e.arena,
        }
    }
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

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// The size of every `Result<usize, Error>` an allocation returns. The
    /// bound is the inline variants' (a name and two words); without
    /// `alloc` the rare variants are inline too and the error is larger.
    #[test]
    fn error_stays_small() {
        assert!(
            core::mem::size_of::<Error>() <= 56,
            "{}",
            core::mem::size_of::<Error>()
        );
        assert_eq!(
            core::mem::size_of::<Result<usize, Error>>(),
            core::mem::size_of::<Error>()
        );
    }

    #[test]
    fn messages_are_unchanged() {
        let arena = ArenaName::new("a");
        let cases: [(Error, &str); 4] = [
            (
                NeverFits { arena, size: 0x10, min: 0x100, max: 0x108 }.into(),
                "arena 'a': no address in the window [0x100, 0x108) can hold 0x10 bytes under the constraints",
            ),
            (
                InvalidArgument { arena, call: "add", reason: InvalidReason::ZeroSize }.into(),
                "arena 'a': invalid arguments to add: size is zero",
            ),
            (
                WrongSize { arena, addr: 0x10, size: 8, expected: 16 }.into(),
                "arena 'a': bad free of [0x10, +0x8): wrong size, allocated as 0x10",
            ),
            (
                OverlappingSpan { arena, base: 0, size: 0x10, existing_start: 8, existing_end: 0x20 }.into(),
                "arena 'a': span [0x0, +0x10) overlaps existing span [0x8, 0x20)",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(alloc::format!("{err}"), text);
            assert_eq!(err.arena(), &arena);
        }
    }
}
