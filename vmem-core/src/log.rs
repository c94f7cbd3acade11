//! Logging: `debug!` and `warning!` forward to `tracing` with the `tracing`
//! feature and compile to nothing without it, so a `no_std` build can leave
//! the dependency out (regex-automata's `logging` feature works the same
//! way). Call sites use `tracing`'s field syntax.
//!
//! The arena never logs with its lock held where it can avoid it: a
//! subscriber may allocate, and the global allocator may be an arena.

/// A `tracing::debug!` event, or nothing without the `tracing` feature.
macro_rules! debug {
    ($($event:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::debug!($($event)*);
        }
    };
}

/// A `tracing::warn!` event, or nothing without the `tracing` feature.
macro_rules! warning {
    ($($event:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::warn!($($event)*);
        }
    };
}

pub(crate) use {debug, warning};
