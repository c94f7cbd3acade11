//! The auto-traits of vmem-slab's public types, checked at compile time:
//! caches and cached arenas are shared between threads like the arenas
//! under them.

use static_assertions::{assert_impl_all, assert_not_impl_any};
use vmem_slab::{CacheBuilder, CacheStats, CachedArena, CachedLockup, ObjectCache, SlabError};

assert_impl_all!(CachedArena: Send, Sync);
assert_impl_all!(ObjectCache: Send, Sync);
assert_impl_all!(CacheBuilder: Send);
assert_impl_all!(CacheStats: Send, Sync);
assert_impl_all!(SlabError: Send, Sync, std::error::Error);
// Taken and released by the fork handlers in one thread: a cached arena's
// lockup holds its arena's (see vmem-core's tests/auto_traits.rs), which
// must stay in the thread that took it.
assert_not_impl_any!(CachedLockup<'static>: Send);

#[test]
fn auto_traits_are_checked_at_compile_time() {
    // The assertions above fail the build, not this test.
}
