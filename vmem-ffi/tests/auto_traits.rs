//! The auto-traits of the C layer's handle, checked at compile time: a
//! `vmem_t *` is used by any number of C threads at once.

use static_assertions::assert_impl_all;
use vmem::{Vmem, VmemKstat};

assert_impl_all!(Vmem: Send, Sync);
assert_impl_all!(VmemKstat: Send, Sync);

#[test]
fn auto_traits_are_checked_at_compile_time() {
    // The assertions above fail the build, not this test.
}
