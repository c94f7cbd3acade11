//! The tag reserve: the spare boundary tags each arena keeps so that no
//! operation runs out of tags halfway through (libumem's `vmem_populate`).
//! An operation tops the reserve up before it starts; a free gives the
//! surplus back to the tag pool.

use crate::log::debug;
use crate::sync::Guard;

use super::state::State;
use super::Arena;

/// Spare tags an arena keeps before any operation: the worst case of one
/// operation, a span created for an import (2) plus an allocation from the
/// middle of a segment (2), as libumem's `VMEM_SEGS_PER_ALLOC_MAX`, plus two
/// for a walk marker and the next-fit rotor's coalescing.
pub(super) const RESERVE_LOW: usize = 6;
/// Tags taken from the pool per refill, so the pool lock is rarely touched.
pub(super) const RESERVE_REFILL: usize = 32;
/// Above this many spare tags, an arena hands half back to the pool.
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
