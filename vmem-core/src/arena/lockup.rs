//! Taking every lock of an arena at once, for a process about to fork
//! (libumem's `vmem_lockup`): a child process gets a copy of every lock in
//! the state it had at the fork, so a lock some other thread held then
//! would stay held in the child for ever. Taking them all just before the
//! fork, and dropping them just after it in both processes, makes every
//! lock free in both.

use super::state::State;
use super::Arena;
use crate::source::{Reclaim, Shared};
use crate::sync::Guard;

/// Every lock of one arena, held until dropped (see [`Arena::lockup`]).
#[must_use = "the locks are released when this is dropped"]
pub struct Lockup<'a> {
    #[cfg(feature = "std")]
    _sleepers: std::sync::MutexGuard<'a, u64>,
    _reclaim: Guard<'a, Option<Shared<dyn Reclaim>>>,
    _state: Guard<'a, State>,
}

impl core::fmt::Debug for Lockup<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Lockup")
    }
}

impl Arena {
    /// Takes every lock of the arena, in the order its operations nest
    /// them (the state, then the reclaim hook, then the sleepers), and
    /// holds them until the returned value is dropped. For fork handlers:
    /// take every arena's locks before `fork`, drop them after it in the
    /// parent and in the child. The arena must not be used by this thread
    /// meanwhile (it would deadlock).
    pub fn lockup(&self) -> Lockup<'_> {
        let state = self.state.lock();
        let reclaim = self.reclaim.lock();
        Lockup {
            #[cfg(feature = "std")]
            _sleepers: self.sleepers.lock_generation(),
            _reclaim: reclaim,
            _state: state,
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use crate::{AllocFlags, Arena};

    #[test]
    fn lockup_holds_and_releases_every_lock() {
        let arena = Arena::new("lockup", 0x1000, 0x1000, 1).unwrap();
        let held = arena.lockup();
        assert!(arena.state.try_lock().is_none());
        assert!(arena.reclaim.try_lock().is_none());
        assert!(arena.sleepers.generation.0.try_lock().is_err());
        drop(held);
        let a = arena.alloc(0x10, AllocFlags::new()).unwrap();
        arena.free(a, 0x10).unwrap();
    }
}
