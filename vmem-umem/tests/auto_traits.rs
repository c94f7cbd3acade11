//! The auto-traits of vmem-umem's public types, checked at compile time:
//! the process's world is one static that every thread uses.

use static_assertions::{assert_impl_all, assert_not_impl_any};
use vmem_umem::backend::{MmapReserve, SbrkTop};
use vmem_umem::pages::{MmapPages, SegPages};
use vmem_umem::registry::Held;
use vmem_umem::{Committed, InitError, OptionError, Options, World};

assert_impl_all!(World: Send, Sync);
assert_impl_all!(Committed: Send, Sync);
assert_impl_all!(MmapReserve: Send, Sync);
assert_impl_all!(SbrkTop: Send, Sync);
assert_impl_all!(MmapPages: Send, Sync);
assert_impl_all!(SegPages: Send, Sync);
assert_impl_all!(Options: Send, Sync, Clone);
assert_impl_all!(InitError: Send, Sync, std::error::Error);
assert_impl_all!(OptionError: Send, Sync, std::error::Error);
// Taken in the fork's prepare handler and released by the parent and
// child handlers, all in the forking thread; it holds arenas' lockups,
// which must stay in the thread that took them.
assert_not_impl_any!(Held<'static>: Send);

#[test]
fn auto_traits_are_checked_at_compile_time() {
    // The assertions above fail the build, not this test.
}
