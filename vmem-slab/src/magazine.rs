//! Magazines: fixed-capacity stacks of cached objects (the paper's M-element
//! magazines), and the table of sizes a cache grows through.

/// Magazine capacities (rounds) a cache moves through when its depot lock is
/// contended. The paper starts small and grows on contention; we start at 15
/// rounds (the size at which a miss every 15 allocations already makes the
/// shared-lock rate negligible for most workloads) and roughly double each
/// step. The values are libumem's 2^k - 1, where a magazine is one link word
/// plus its rounds, 2^k words in all. Here the rounds are a heap block of
/// their own, `capacity + 2 * PAD` words, and the count sits in the
/// `Magazine` beside the pointer, so nothing depends on the exact values.
pub const MAGAZINE_SIZES: [usize; 5] = [15, 31, 63, 127, 255];

/// Words of padding on each side of a magazine's rounds: 128 bytes, a cache
/// line plus the adjacent one x86 prefetches with it. Magazines of different
/// CPUs are separate heap blocks that may be neighbours; the padding keeps a
/// push on one CPU from invalidating the line another CPU is popping from
/// (without it, two threads ran at 1.1x the throughput of one). Indexing past
/// the padding costs nothing: the offset folds into the address.
const PAD: usize = 16;

/// A magazine: up to `capacity` object addresses, used as a stack.
///
/// A magazine of capacity 0 (the `Default`) is the placeholder a per-CPU slot starts with:
/// it never holds a round and costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Magazine {
    rounds: Box<[usize]>,
    count: usize,
}

impl Magazine {
    /// An empty magazine of `capacity` rounds.
    pub(crate) fn empty(capacity: usize) -> Magazine {
        Magazine {
            rounds: vec![0; capacity + 2 * PAD].into_boxed_slice(),
            count: 0,
        }
    }

    /// Rounds the magazine holds.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Rounds the magazine can hold.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.rounds.len().saturating_sub(2 * PAD)
    }

    /// Whether the magazine holds no round.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Takes the most recently pushed round (the one most likely still warm).
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<usize> {
        if self.count == 0 {
            return None;
        }
        self.count -= 1;
        // SAFETY: `count <= capacity` always holds (only `push` and
        // `push_unchecked` raise it, and both stop at the capacity), so
        // after the decrement `PAD + count < PAD + capacity <= rounds.len()`.
        Some(unsafe { *self.rounds.get_unchecked(PAD + self.count) })
    }

    /// Whether the magazine has no room for a round (always, for the
    /// capacity-0 placeholder).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        // `count == capacity`, without the placeholder's saturation:
        // `rounds.len()` is 0 or `capacity + 2 * PAD`.
        self.count + 2 * PAD >= self.rounds.len()
    }

    /// Pushes a round; gives it back when the magazine is full.
    #[inline]
    pub(crate) fn push(&mut self, object: usize) -> Result<(), usize> {
        if self.is_full() {
            return Err(object);
        }
        // SAFETY: just checked.
        unsafe { self.push_unchecked(object) };
        Ok(())
    }

    /// Pushes a round onto a magazine that is not full.
    ///
    /// # Safety
    /// The caller has seen [`is_full`](Magazine::is_full) return `false`
    /// with no change to the magazine since.
    #[inline]
    pub(crate) unsafe fn push_unchecked(&mut self, object: usize) {
        debug_assert!(!self.is_full());
        // SAFETY: not full means `count < capacity` (and a real magazine:
        // the placeholder is always full), so `PAD + count` is inside the
        // `capacity + 2 * PAD` rounds.
        unsafe { *self.rounds.get_unchecked_mut(PAD + self.count) = object };
        self.count += 1;
    }

    /// Removes every round, for the caller to hand back to the slab layer.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = usize> + '_ {
        let n = core::mem::take(&mut self.count);
        // The placeholder magazine has no rounds at all, padding included.
        self.rounds.get(PAD..PAD + n).unwrap_or(&[]).iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::Magazine;

    #[test]
    fn stack_order_and_bounds() {
        let mut m = Magazine::empty(3);
        assert_eq!(m.pop(), None);
        for x in [0, 10, 20] {
            m.push(x).unwrap();
        }
        assert_eq!(m.push(30), Err(30), "full magazine refuses");
        assert_eq!(m.pop(), Some(20), "last in, first out");
        assert_eq!(m.len(), 2);
        let drained: Vec<_> = m.drain().collect();
        assert_eq!(drained, [0, 10]);
        assert!(m.is_empty());
        let mut none = Magazine::default();
        assert_eq!(none.capacity(), 0);
        assert_eq!(none.push(1), Err(1));
    }
}
