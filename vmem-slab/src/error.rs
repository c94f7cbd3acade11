//! Typed errors of the object-cache layer. Each names the cache and carries
//! the values that caused it.

use vmem_core::ArenaName;

/// Why an object-cache or cached-arena operation failed.
///
/// Non-exhaustive: new failure kinds may be added in minor releases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlabError {
    /// The arena behind the cache refused a slab (or a direct allocation),
    /// even after the caches were reaped and the request retried once.
    #[error("cache '{cache}': the arena refused: {source}")]
    Arena {
        /// The cache (or cached arena) that asked.
        cache: ArenaName,
        /// The arena's error.
        #[source]
        source: vmem_core::Error,
    },
    /// The constructor callback refused to construct an object.
    #[error("cache '{cache}': constructor failed for object {addr:#x}")]
    ConstructorFailed {
        /// The cache.
        cache: ArenaName,
        /// The object that could not be constructed (it went back to its slab).
        addr: usize,
    },
    /// A free of an object this cache does not have outstanding. Nothing
    /// changed.
    #[error("cache '{cache}': bad free of {addr:#x}: {reason}")]
    BadFree {
        /// The cache.
        cache: ArenaName,
        /// The address passed to free.
        addr: usize,
        /// What is wrong with it.
        reason: BadFreeReason,
    },
    /// The cache cannot be built with these parameters.
    #[error("cache '{cache}': invalid configuration: {reason}")]
    InvalidConfig {
        /// The cache.
        cache: ArenaName,
        /// What is wrong.
        reason: ConfigReason,
    },
}

/// What is wrong with a freed address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadFreeReason {
    /// The address lies in none of the cache's slabs.
    #[error("not inside any slab of this cache")]
    NotFromCache,
    /// The address is inside a slab but not at the start of an object.
    #[error("not the start of an object (object size {object_size:#x})")]
    Misaligned {
        /// The cache's object size.
        object_size: usize,
    },
    /// The object is free already (a double free, or never allocated).
    #[error("object is not allocated (double free?)")]
    NotAllocated,
}

/// Why a cache configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigReason {
    /// Objects must have a non-zero size.
    #[error("object size is zero")]
    ZeroObjectSize,
    /// The object size must be a multiple of the arena's quantum, so that
    /// every object of a slab starts on a quantum boundary.
    #[error("object size {object_size:#x} is not a multiple of the arena quantum {quantum:#x}")]
    ObjectNotQuantumMultiple {
        /// The object size.
        object_size: usize,
        /// The arena quantum.
        quantum: usize,
    },
    /// A slab must be a multiple of the quantum and hold at least one object.
    #[error("slab size {slab_size:#x} cannot hold an object of {object_size:#x} (or is not a quantum multiple)")]
    BadSlabSize {
        /// The slab size.
        slab_size: usize,
        /// The object size.
        object_size: usize,
    },
    /// The slab size computed from the object size overflows `usize`.
    #[error("slab size for objects of {object_size:#x} overflows")]
    SlabSizeOverflow {
        /// The object size.
        object_size: usize,
    },
}
