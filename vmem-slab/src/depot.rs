//! The depot: a cache's shared lists of full and empty magazines, with the
//! working-set bookkeeping that lets excess magazines be reaped.
//!
//! Each list remembers the lowest length it reached during the current
//! interval. At the end of an interval that low-water mark becomes the
//! list's *reap limit*: that many magazines sat unused for a whole interval,
//! so they are outside the working set and may go. This is libumem's
//! working-set update and reap, with the interval counted in depot
//! operations instead of seconds (see [`UPDATE_INTERVAL`]).

use crate::magazine::Magazine;

/// Depot operations (magazine exchanges) between two working-set updates.
/// libumem updates every 15 seconds from a timer thread; this crate has no
/// thread of its own, so it counts exchanges instead. With magazines of 15
/// rounds, 256 exchanges are about 4,000 allocations or frees that missed
/// the per-CPU layer: long enough that a steady workload's working set is
/// seen whole, short enough that a burst's leftovers are reaped soon after.
pub const UPDATE_INTERVAL: u32 = 256;

/// Depot lock contentions (failed try-locks) in one interval above which the
/// magazine size grows. libumem uses 3 per 15-second interval; our interval
/// is 256 exchanges, so more than 1 in 16 exchanges found the lock taken.
pub const CONTENTION_THRESHOLD: u64 = 16;

/// One list of magazines (all full, or all empty) with its working set.
#[derive(Debug, Default)]
pub(crate) struct MagazineList {
    magazines: Vec<Magazine>,
    /// Lowest length during the current interval.
    low: usize,
    /// Low-water mark of the previous interval: the excess.
    reap_limit: usize,
}

impl MagazineList {
    pub(crate) fn push(&mut self, magazine: Magazine) {
        self.magazines.push(magazine);
    }

    pub(crate) fn pop(&mut self) -> Option<Magazine> {
        let m = self.magazines.pop()?;
        self.low = self.low.min(self.magazines.len());
        Some(m)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.magazines.len()
    }

    /// Rounds held by the list's magazines.
    pub(crate) fn rounds(&self) -> usize {
        self.magazines.iter().map(Magazine::len).sum()
    }

    /// Ends an interval: the low-water mark becomes the reap limit.
    pub(crate) fn update_working_set(&mut self) {
        self.reap_limit = self.low;
        self.low = self.magazines.len();
    }

    /// How many magazines [`take_excess`](MagazineList::take_excess)
    /// would remove now.
    pub(crate) fn excess(&self) -> usize {
        self.reap_limit.min(self.low).min(self.magazines.len())
    }

    /// Removes the magazines outside the working set (at most the reap
    /// limit, and no more than the list has not touched since).
    pub(crate) fn take_excess(&mut self) -> Vec<Magazine> {
        let n = self.excess();
        self.reap_limit -= n;
        self.low -= n;
        // The bottom of the stack is the least recently used.
        self.magazines.drain(..n).collect()
    }

    /// Removes every magazine.
    pub(crate) fn take_all(&mut self) -> Vec<Magazine> {
        self.low = 0;
        self.reap_limit = 0;
        core::mem::take(&mut self.magazines)
    }
}

/// The depot of one cache, kept under the cache's depot lock.
#[derive(Debug, Default)]
pub(crate) struct Depot {
    pub(crate) full: MagazineList,
    pub(crate) empty: MagazineList,
    /// Full magazines handed to CPUs.
    pub(crate) allocs: u64,
    /// Full magazines taken back from CPUs.
    pub(crate) frees: u64,
    /// Exchanges since the last working-set update.
    pub(crate) ops: u32,
    /// The contention counter's value at the last update.
    pub(crate) contention_seen: u64,
}

impl Depot {
    /// Counts one exchange; true when a working-set update is due.
    pub(crate) fn tick(&mut self) -> bool {
        self.ops += 1;
        if self.ops >= UPDATE_INTERVAL {
            self.ops = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::MagazineList;
    use crate::magazine::Magazine;

    #[test]
    fn unused_magazines_are_excess_after_an_interval() {
        let mut list = MagazineList::default();
        for _ in 0..5 {
            list.push(Magazine::empty(2));
        }
        list.update_working_set();
        // During this interval the list never drops below 3.
        list.pop();
        list.pop();
        list.push(Magazine::empty(2));
        list.update_working_set();
        assert_eq!(list.take_excess().len(), 3);
        assert_eq!(list.len(), 1);
        assert!(list.take_excess().is_empty(), "the limit is used up");
        list.update_working_set();
        assert_eq!(list.take_excess().len(), 1, "a whole idle interval");
    }
}
