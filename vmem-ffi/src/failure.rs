//! [`Failure`]: how the C layer classifies an error of `vmem-core` or
//! `vmem-slab`, which decides between returning NULL and aborting.

use std::fmt;

use vmem_slab::SlabError;

/// Why an operation did not succeed, as the C layer sees it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing fits now: `NULL` for `VM_NOSLEEP`, an abort for `VM_PANIC`.
    NoRoom(String),
    /// Nothing can ever fit (a window too small for the request): `NULL`
    /// for `VM_NOSLEEP`; an abort for `VM_PANIC`, and for `VM_SLEEP`, which
    /// libumem would leave asleep for ever.
    NeverFits(String),
    /// The caller broke the API's rules: always an abort.
    Bad(String),
}

impl Failure {
    /// The class of an arena error, with the text a report prints.
    pub(crate) fn of_core(err: vmem_core::Error) -> Failure {
        use vmem_core::Error;
        match err {
            Error::WouldBlock { .. }
            | Error::Exhausted { .. }
            | Error::TimedOut { .. }
            | Error::OutOfTags { .. } => Failure::NoRoom(err.to_string()),
            Error::NeverFits(_) => Failure::NeverFits(err.to_string()),
            Error::InvalidArgument(bad) => Failure::Bad(bad.reason.to_string()),
            Error::NotAllocated(_) => Failure::Bad("bad free: address is not allocated".into()),
            Error::WrongSize(bad) => Failure::Bad(format!(
                "bad free: wrong size (allocated with size {})",
                bad.expected
            )),
            Error::OverlappingSpan(overlap) => Failure::Bad(format!(
                "the span [{:#x}, +{:#x}) overlaps the arena's span [{:#x}, {:#x})",
                overlap.base, overlap.size, overlap.existing_start, overlap.existing_end
            )),
            // `vmem_core::Error` is non-exhaustive: a kind added later is
            // reported rather than guessed at.
            other => Failure::Bad(other.to_string()),
        }
    }

    /// The class of a quantum-cache error: the arena's own when the arena
    /// refused.
    pub(crate) fn of_slab(err: SlabError) -> Failure {
        match err {
            SlabError::Arena { source, .. } => Failure::of_core(source),
            SlabError::BadFree { reason, .. } => Failure::Bad(format!("bad free: {reason}")),
            SlabError::ConstructorFailed { .. } => Failure::NoRoom(err.to_string()),
            other => Failure::Bad(other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoRoom(s) | Failure::NeverFits(s) | Failure::Bad(s) => f.write_str(s),
        }
    }
}
