//! The slab layer: objects carved from slabs imported from an arena.
//!
//! Objects are integers, not memory this process may touch (libumem's
//! `UMC_NOTOUCH`), so all bookkeeping lives here, outside the objects: each
//! slab keeps a stack of its free object indices and a bitmap of the objects
//! it has handed out. Slabs sit in a `BTreeMap` keyed by base address; a
//! free finds its slab with one range look-up (the greatest base at or below
//! the address). A per-object hash table would answer in O(1) but cost a
//! table entry for every object; the map costs one entry per slab and is
//! consulted only on magazine misses, which the magazine layer bounds to one
//! in M operations.
//!
//! Partially used slabs are kept in a set ordered by address and allocation
//! takes from the lowest one, so objects concentrate in few slabs and the
//! others empty out and go back to the arena (the paper's and libumem's aim
//! of preferring the fullest slabs, approximated by address order).
//!
//! *Slab owners.* Each slab remembers the CPU slot that last carved from
//! it, and a slot carves from the lowest partial slab it owns or nobody
//! owns; it starts a slab of its own rather than carve from another slot's
//! while there are fewer partial slabs than slots. So two CPUs' objects
//! come from different slabs, and the object directory's state bytes, one
//! block per slab written on every allocation and free (`directory.rs`),
//! are not written by two CPUs at once: with one slab shared, two threads
//! on a quantum cache ran at 0.75 times one thread's speed in total, the
//! cache line of the state bytes bouncing between the cores on every
//! operation. With as many partial slabs as slots, any slot takes the
//! lowest, so at most one partial slab per slot is kept apart this way.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::BadFreeReason;

/// One slab: `objects` objects of the cache's size from `base`.
#[derive(Debug)]
struct Slab {
    /// Indices of free objects, the lowest on top.
    free: Vec<u32>,
    /// One bit per object: set while the object is out of the slab layer.
    out: Vec<u64>,
    /// The CPU slot that last carved from this slab.
    owner: usize,
}

impl Slab {
    fn new(objects: usize, owner: usize) -> Slab {
        Slab {
            free: (0..objects as u32).rev().collect(),
            out: vec![0; objects.div_ceil(64)],
            owner,
        }
    }
}

/// A slab no slot carves from (yet).
const NOBODY: usize = usize::MAX;

/// The slabs of one cache. Not synchronised: the cache holds it in a mutex.
#[derive(Debug)]
pub(crate) struct SlabLayer {
    object_size: usize,
    slab_size: usize,
    objects_per_slab: usize,
    slabs: BTreeMap<usize, Slab>,
    /// Bases of slabs with at least one free object.
    partial: BTreeSet<usize>,
    /// Objects currently out of the slab layer (in magazines or with users).
    outstanding: usize,
}

impl SlabLayer {
    pub(crate) fn new(object_size: usize, slab_size: usize) -> SlabLayer {
        SlabLayer {
            object_size,
            slab_size,
            objects_per_slab: slab_size / object_size,
            slabs: BTreeMap::new(),
            partial: BTreeSet::new(),
            outstanding: 0,
        }
    }

    /// Bytes of one slab (what is imported from the arena).
    pub(crate) fn slab_size(&self) -> usize {
        self.slab_size
    }

    /// Slabs currently held.
    pub(crate) fn slab_count(&self) -> usize {
        self.slabs.len()
    }

    /// Objects out of the slab layer.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Takes a free object from the lowest partial slab, if any.
    #[cfg(test)]
    pub(crate) fn alloc(&mut self) -> Option<usize> {
        self.alloc_for(NOBODY, 1)
    }

    /// Takes a free object for CPU slot `slot` (of `slots`): from the
    /// lowest partial slab it owns or nobody owns; from the lowest of all
    /// only when there are at least `slots` partial slabs. `None` means:
    /// import a slab for this slot (see the module docs).
    pub(crate) fn alloc_for(&mut self, slot: usize, slots: usize) -> Option<usize> {
        // A bounded look: past the first few partial slabs, any will do.
        let mine = self
            .partial
            .iter()
            .take(2 * slots)
            .find(|base| {
                let owner = self.slabs[base].owner;
                owner == slot || owner == NOBODY
            })
            .copied();
        let base = match mine {
            Some(base) => base,
            None if self.partial.len() >= slots => *self.partial.first()?,
            None => return None,
        };
        Some(self.alloc_from(base, slot))
    }

    /// Takes a free object from the partial slab at `base` for `slot`.
    fn alloc_from(&mut self, base: usize, slot: usize) -> usize {
        let slab = self
            .slabs
            .get_mut(&base)
            .expect("partial slab is in the map");
        slab.owner = slot;
        let index = slab.free.pop().expect("partial slab has a free object") as usize;
        slab.out[index / 64] |= 1 << (index % 64);
        if slab.free.is_empty() {
            self.partial.remove(&base);
        }
        self.outstanding += 1;
        base + index * self.object_size
    }

    /// Adds a freshly imported slab at `base` and takes its first object.
    /// The object must come from the new slab even if another slab gained a
    /// free object meanwhile: a slab is released only when its last object
    /// is freed, so a new slab left untouched would never go back.
    pub(crate) fn add_slab_and_alloc(&mut self, base: usize, slot: usize) -> usize {
        let previous = self
            .slabs
            .insert(base, Slab::new(self.objects_per_slab, slot));
        debug_assert!(previous.is_none(), "slab {base:#x} imported twice");
        self.partial.insert(base);
        self.alloc_from(base, slot)
    }

    /// The slab base and object index of `addr`, if it is an object of ours.
    fn locate(&self, addr: usize) -> Result<(usize, usize), BadFreeReason> {
        let (&base, _) = self
            .slabs
            .range(..=addr)
            .next_back()
            .ok_or(BadFreeReason::NotFromCache)?;
        let offset = addr - base;
        let index = offset / self.object_size;
        if index >= self.objects_per_slab {
            return Err(BadFreeReason::NotFromCache);
        }
        if offset % self.object_size != 0 {
            return Err(BadFreeReason::Misaligned {
                object_size: self.object_size,
            });
        }
        Ok((base, index))
    }

    /// Checks that `addr` is an object out of the slab layer, changing
    /// nothing.
    pub(crate) fn check_out(&self, addr: usize) -> Result<(), BadFreeReason> {
        let (base, index) = self.locate(addr)?;
        let slab = &self.slabs[&base];
        if slab.out[index / 64] & (1 << (index % 64)) == 0 {
            return Err(BadFreeReason::NotAllocated);
        }
        Ok(())
    }

    /// Returns an object to its slab. When the slab becomes wholly free it
    /// leaves the layer and its base is returned, for the caller to give back
    /// to the arena (with no lock held). A bad address changes nothing.
    pub(crate) fn free(&mut self, addr: usize) -> Result<Option<usize>, BadFreeReason> {
        let (base, index) = self.locate(addr)?;
        let slab = self.slabs.get_mut(&base).expect("located slab exists");
        let bit = 1u64 << (index % 64);
        if slab.out[index / 64] & bit == 0 {
            return Err(BadFreeReason::NotAllocated);
        }
        slab.out[index / 64] &= !bit;
        slab.free.push(index as u32);
        self.outstanding -= 1;
        if slab.free.len() == self.objects_per_slab {
            self.slabs.remove(&base);
            self.partial.remove(&base);
            return Ok(Some(base));
        }
        if slab.free.len() == 1 {
            self.partial.insert(base);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::SlabLayer;
    use crate::error::BadFreeReason;

    #[test]
    fn carves_and_returns_whole_slabs() {
        // Objects of 3 units in slabs of 8 units: 2 objects, 2 units unused.
        let mut layer = SlabLayer::new(3, 8);
        assert_eq!(layer.alloc(), None, "no slab yet");
        assert_eq!(
            layer.add_slab_and_alloc(0, super::NOBODY),
            0,
            "address 0 is an ordinary object"
        );
        assert_eq!(layer.alloc(), Some(3));
        assert_eq!(layer.alloc(), None);
        assert_eq!(layer.add_slab_and_alloc(8, super::NOBODY), 8);
        assert_eq!(layer.outstanding(), 3);

        assert_eq!(
            layer.free(6),
            Err(BadFreeReason::NotFromCache),
            "slack tail"
        );
        assert_eq!(layer.free(20), Err(BadFreeReason::NotFromCache));
        assert_eq!(
            layer.free(4),
            Err(BadFreeReason::Misaligned { object_size: 3 })
        );
        assert_eq!(layer.free(11), Err(BadFreeReason::NotAllocated));
        assert_eq!(layer.check_out(3), Ok(()));

        assert_eq!(layer.free(3), Ok(None));
        assert_eq!(
            layer.free(3),
            Err(BadFreeReason::NotAllocated),
            "double free"
        );
        assert_eq!(layer.alloc(), Some(3), "the partial slab at 0 comes first");
        assert_eq!(layer.free(8), Ok(Some(8)), "wholly free slab leaves");
        assert_eq!(layer.slab_count(), 1);
        assert_eq!(layer.free(0), Ok(None));
        assert_eq!(layer.free(3), Ok(Some(0)));
        assert_eq!((layer.slab_count(), layer.outstanding()), (0, 0));
    }

    #[test]
    fn each_slot_carves_from_a_slab_of_its_own() {
        // Slabs of 4 units holding 2 objects of 2; two CPU slots.
        let mut layer = SlabLayer::new(2, 4);
        assert_eq!(layer.alloc_for(0, 2), None, "no slab yet");
        assert_eq!(layer.add_slab_and_alloc(0, 0), 0);
        assert_eq!(
            layer.alloc_for(1, 2),
            None,
            "slot 1 starts its own slab rather than share slot 0's"
        );
        assert_eq!(layer.add_slab_and_alloc(4, 1), 4);
        assert_eq!(layer.alloc_for(0, 2), Some(2), "slot 0's own slab");
        assert_eq!(layer.alloc_for(1, 2), Some(6), "slot 1's own slab");
        // Both slabs full; one object back to each.
        assert_eq!(layer.free(2), Ok(None));
        assert_eq!(layer.free(6), Ok(None));
        assert_eq!(layer.alloc_for(1, 2), Some(6), "its own, though higher");
        assert_eq!(
            layer.alloc_for(1, 2),
            None,
            "one partial slab (slot 0's) for two slots: start another"
        );
        // With as many partial slabs as slots, any slot takes the lowest.
        assert_eq!(layer.free(6), Ok(None));
        assert_eq!(layer.alloc_for(3, 2), Some(2), "the lowest of two partials");
        assert_eq!(layer.alloc_for(1, 2), Some(6), "slot 1 still has its own");
        assert_eq!(layer.outstanding(), 4);
    }
}
