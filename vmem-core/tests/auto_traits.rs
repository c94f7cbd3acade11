//! The auto-traits of vmem-core's public types, checked at compile time.
//!
//! An arena and its tag pool are shared between threads (`Arc<Arena>`); a
//! lock guard is as shareable as what it guards and no more, the rule whose
//! absence once let two threads race through one `&Guard<Cell<_>>`.

use core::cell::Cell;

use static_assertions::{assert_impl_all, assert_not_impl_any};
use vmem_core::sync::{Guard, Lock, SpinGuard, SpinLock};
use vmem_core::{
    Arena, ArenaBuilder, ArenaName, CheckError, Constraints, Error, Lockup, PoolLockup, PoolStats,
    Segment, Stats, SystemPages, TagPool,
};

assert_impl_all!(Arena: Send, Sync);
assert_impl_all!(TagPool: Send, Sync);
assert_impl_all!(SystemPages: Send, Sync);
assert_impl_all!(ArenaBuilder: Send);
assert_impl_all!(Error: Send, Sync, std::error::Error);
assert_impl_all!(CheckError: Send, Sync);
assert_impl_all!(ArenaName: Send, Sync, Copy);
assert_impl_all!(Constraints: Send, Sync, Copy);
assert_impl_all!(Segment: Send, Sync);
assert_impl_all!(Stats: Send, Sync);
assert_impl_all!(PoolStats: Send, Sync);
// A lockup holds the mutex of the arena's sleepers (std's, whose guard
// must be released by the thread that took it): it stays in the thread
// that took it, as the fork handlers use it. The tag pool's holds only
// futex locks, which have no thread affinity.
assert_not_impl_any!(Lockup<'static>: Send);
assert_impl_all!(PoolLockup<'static>: Send);

assert_impl_all!(Lock<u64>: Send, Sync);
assert_impl_all!(Lock<Cell<u64>>: Send, Sync);
assert_not_impl_any!(Lock<std::rc::Rc<u64>>: Send, Sync);
assert_impl_all!(Guard<'static, u64>: Send, Sync);
assert_not_impl_any!(Guard<'static, Cell<u64>>: Sync);
assert_impl_all!(SpinLock<Cell<u64>>: Send, Sync);
assert_not_impl_any!(SpinGuard<'static, Cell<u64>>: Sync);

#[test]
fn auto_traits_are_checked_at_compile_time() {
    // The assertions above fail the build, not this test; it exists so the
    // file shows up in the test list.
}
