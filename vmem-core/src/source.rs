//! What an arena imports from, and who it asks before giving up.

use core::ops::Deref;

use crate::policy::Wait;

/// A supplier of spans for an importing arena: another [`Arena`](crate::Arena),
/// a quantum-cached arena, or anything else (the C layer plugs function
/// pointers in here).
///
/// The arena calls the source with its own lock dropped, so a source may
/// block or call back into other arenas.
pub trait Source: Send + Sync {
    /// Returns a span of at least `size` bytes whose start is a multiple of
    /// `align` (a power of two), as `(start, size)`; the size may be larger
    /// than asked (libumem's `vmem_ximport_t` may enlarge it). `None` when
    /// the source has nothing to give.
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)>;

    /// Takes back a span obtained from [`import`](Source::import), whole:
    /// the same start and size that `import` returned.
    fn release(&self, start: usize, size: usize);

    /// The unit the source hands out in; imports are rounded up to it.
    fn quantum(&self) -> usize;
}

/// Something an arena calls before failing an allocation, to free cached
/// resources (FreeBSD's `vmem_set_reclaim`, libumem's `vmem_reap`). The arena
/// retries once if the call made room.
pub trait Reclaim: Send + Sync {
    /// Try to give back resources to `arena`; `size` is what is wanted.
    fn reclaim(&self, arena: &crate::Arena, size: usize);
}

/// A reference an arena keeps to a source or hook: `'static` in `no_std`
/// builds, or a shared `Arc` with the `alloc` feature.
///
/// Non-exhaustive: the `Arc` variant exists only with `alloc`, and Cargo
/// unifies features, so a `match` must not assume it is absent.
#[non_exhaustive]
pub enum Shared<T: ?Sized + 'static> {
    /// A reference that outlives everything.
    Static(&'static T),
    /// A reference-counted handle.
    #[cfg(feature = "alloc")]
    Arc(alloc::sync::Arc<T>),
}

/// Names the kind of handle; the value behind it need not be `Debug`.
impl<T: ?Sized> core::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Shared::Static(_) => f.debug_tuple("Shared::Static").finish_non_exhaustive(),
            #[cfg(feature = "alloc")]
            Shared::Arc(_) => f.debug_tuple("Shared::Arc").finish_non_exhaustive(),
        }
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        match self {
            Shared::Static(r) => Shared::Static(r),
            #[cfg(feature = "alloc")]
            Shared::Arc(a) => Shared::Arc(a.clone()),
        }
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Shared::Static(r) => r,
            #[cfg(feature = "alloc")]
            Shared::Arc(a) => a,
        }
    }
}

impl<T: ?Sized> From<&'static T> for Shared<T> {
    fn from(r: &'static T) -> Self {
        Shared::Static(r)
    }
}

#[cfg(feature = "alloc")]
impl<S: Source + 'static> From<alloc::sync::Arc<S>> for Shared<dyn Source> {
    fn from(a: alloc::sync::Arc<S>) -> Self {
        Shared::Arc(a)
    }
}

#[cfg(feature = "alloc")]
impl From<alloc::sync::Arc<dyn Source>> for Shared<dyn Source> {
    fn from(a: alloc::sync::Arc<dyn Source>) -> Self {
        Shared::Arc(a)
    }
}

#[cfg(feature = "alloc")]
impl<R: Reclaim + 'static> From<alloc::sync::Arc<R>> for Shared<dyn Reclaim> {
    fn from(a: alloc::sync::Arc<R>) -> Self {
        Shared::Arc(a)
    }
}

#[cfg(feature = "alloc")]
impl From<alloc::sync::Arc<dyn Reclaim>> for Shared<dyn Reclaim> {
    fn from(a: alloc::sync::Arc<dyn Reclaim>) -> Self {
        Shared::Arc(a)
    }
}
