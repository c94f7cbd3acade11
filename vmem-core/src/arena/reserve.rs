//! The tag reserve: the spare boundary tags each arena keeps so that no
//! operation runs out of tags halfway through (libumem's `vmem_populate`).
//! An operation tops the reserve up before it starts; a free gives the
//! surplus back to the tag pool. See design.md §8.

use crate::log::debug;
use crate::sync::Guard;

use super::state::State;
use super::Arena;

// The low-water mark is the worst case of one operation under one hold of
// the lock, summed from its parts. See design.md §8.1.

/// Tags a new span takes: its span tag and the free segment covering it
/// (libumem's `VMEM_SEGS_PER_SPAN_CREATE`).
const SEGS_PER_SPAN_CREATE: usize = 2;
/// Tags an allocation from the middle of a free segment adds: the allocated
/// segment and the free rest after it (libumem's `VMEM_SEGS_PER_MIDDLE_ALLOC`).
const SEGS_PER_MIDDLE_ALLOC: usize = 2;
/// The worst allocation: an import's new span, then an allocation from its
/// middle (libumem's `VMEM_SEGS_PER_ALLOC_MAX`).
const SEGS_PER_ALLOC_MAX: usize = SEGS_PER_SPAN_CREATE + SEGS_PER_MIDDLE_ALLOC;
/// The marker tag of a reentrant walk (`walk.rs`).
const SEGS_PER_WALKER: usize = 1;
/// Headroom: the first version of the arena counted one tag for the next-fit
/// rotor, whose moves take none; kept so refills happen where they did.
const SEGS_HEADROOM: usize = 1;
/// Spare tags an arena keeps before any operation (6).
pub(super) const RESERVE_LOW: usize = SEGS_PER_ALLOC_MAX + SEGS_PER_WALKER + SEGS_HEADROOM;
/// Tags a new arena takes for itself: its list head and its rotor.
pub(super) const SEGS_PER_ARENA: usize = 2;
/// Tags taken from the pool per refill: a batch, so an arena takes the pool
/// lock rarely (see design.md §8).
pub(super) const RESERVE_REFILL: usize = 32;
/// Above this many spare tags, an arena hands half back to the pool, so one
/// arena's burst of frees does not keep tags the others need (§8).
const RESERVE_HIGH: usize = 128;

impl Arena {
    /// Makes sure the reserve covers an operation's worst case, refilling
    /// from the pool (a leaf lock, so fine under the arena lock) and, when
    /// the pool is dry, growing it with the arena lock dropped.
    #[inline(always)]
    pub(super) fn populate<'a>(
        &'a self,
        state: Guard<'a, State>,
    ) -> Result<Guard<'a, State>, Guard<'a, State>> {
        if state.reserve.len >= RESERVE_LOW {
            return Ok(state);
        }
        self.refill(state)
    }

    /// The slow half of [`populate`](Arena::populate): takes a batch from
    /// the pool, growing the pool with the lock dropped while it is dry.
    #[cold]
    pub(super) fn refill<'a>(
        &'a self,
        mut state: Guard<'a, State>,
    ) -> Result<Guard<'a, State>, Guard<'a, State>> {
        while state.reserve.len < RESERVE_LOW {
            self.pool.take(&mut state.reserve, RESERVE_REFILL);
            if state.reserve.len >= RESERVE_LOW {
                break;
            }
            drop(state);
            let grew = self.pool.grow();
            debug!(arena = %self.name, grew, "populate: tag pool grown from the page source");
            state = self.state.lock();
            if !grew && state.reserve.len < RESERVE_LOW {
                state.counters.populate_fail += 1;
                return Err(state);
            }
        }
        Ok(state)
    }

    /// Gives surplus spare tags back to the pool.
    #[inline]
    pub(super) fn trim_reserve(&self, state: &mut State) {
        if state.reserve.len > RESERVE_HIGH {
            self.pool.give(&mut state.reserve, RESERVE_HIGH / 2);
        }
    }
}
