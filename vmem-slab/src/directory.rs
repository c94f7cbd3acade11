//! The object directory: where a cache finds, without a lock, whether an
//! object is with a user. It is what lets the magazine layer refuse a
//! double free or a misaligned free at the moment it happens instead of
//! caching the bad address and handing it out twice.
//!
//! Every slab is imported aligned to a power of two (`align`, at least its
//! size), so the slab holding an address is `addr / align`: its *slab
//! number*. The directory maps slab numbers to a [`SlabStates`]: one cache
//! line per object of the slab, holding its state byte. Finding an object's
//! byte is a shift (the address's quantum within the slab) and a look-up in
//! the directory's [`Layout`], not a division by the object size. The
//! object's first quantum maps to its state ([`FREE`], [`CACHED`],
//! [`OUT`]); its other quanta map to a byte holding [`INSIDE`] and the
//! slab's unused tail to one holding [`TAIL`], which never change, so a
//! free of a misaligned address is refused by the same load. The map is an
//! open-addressing table that only ever grows:
//!
//! - readers (every alloc and free) never lock and never pin: they load the
//!   current table, probe for the slab number and read or write a state
//!   byte with relaxed atomics;
//! - writers (slab creation, under the cache's slab mutex) insert a key by
//!   storing its value first and its key second, both with release order,
//!   so a reader that sees the key sees the value;
//! - a full table is replaced by one twice its size; the old table and every
//!   `SlabStates` stay allocated until the directory is dropped, so a reader
//!   holding a pointer from an old table still reads valid memory. An entry
//!   is never removed: a slab given back to the arena keeps its entry, with
//!   every byte `FREE`, and is found again if the same range becomes a slab
//!   later. The directory therefore holds one entry for every distinct slab
//!   address the cache has used, and the old tables add at most the size of
//!   the current one.
//!
//! State bytes are updated with plain relaxed loads and stores, not
//! read-modify-writes, to keep the fast path free of a second atomic
//! instruction. An object moves between states only in the hands of one
//! thread at a time (the user who holds it, or the magazine layer), and the
//! hand-over between threads is the caller's own synchronisation, so this
//! catches every sequential double free. Two threads freeing the *same*
//! object at the same instant can both pass; that is a race in the caller,
//! outside what the check promises.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::BadFreeReason;

/// In the slab layer (or never handed out).
pub(crate) const FREE: u8 = 0;
/// In a magazine or the depot: free as far as users are concerned.
pub(crate) const CACHED: u8 = 1;
/// With a user.
pub(crate) const OUT: u8 = 2;
/// Not the start of an object: a later quantum of one.
const INSIDE: u8 = 3;
/// The unused tail of a slab, after its last object.
const TAIL: u8 = 4;

/// The first table's slot count.
const INITIAL_SLOTS: usize = 16;

/// The state of every object of one slab: one cache line per object, whose
/// first byte is the object's state ([`FREE`], [`CACHED`], [`OUT`]); the
/// next two hold the constants [`INSIDE`] and [`TAIL`] that the later
/// quanta of the object, and the slab's unused tail, are mapped to (see
/// [`Layout`]). Every allocation and free writes its object's state byte,
/// so two objects never share a line: two threads working on two objects
/// of one slab would otherwise bounce that line between their cores on
/// every operation. Slabs do end up shared: a thread that moves to another
/// CPU keeps the objects it took on the first one (see `docs/design.md`,
/// bad frees).
pub(crate) struct SlabStates {
    base: usize,
    lines: Box<[StateLine]>,
}

/// Bytes per [`StateLine`]: a cache line.
const LINE: usize = 64;

/// One object's state byte and the two constants, alone on a cache line.
// `repr(align)` takes a literal: keep it equal to `LINE`.
#[repr(align(64))]
struct StateLine([AtomicU8; LINE]);

const _: () = assert!(core::mem::align_of::<StateLine>() == LINE);

/// Where the state byte of each quantum of a slab is: the same for every
/// slab of a directory, so it is computed once and only read afterwards.
/// Entry `unit` is `line * LINE + byte` into [`SlabStates::lines`].
struct Layout {
    /// One entry per quantum of the slab.
    index: Box<[u32]>,
    /// Lines per [`SlabStates`]: one per object (at least one, which also
    /// holds the [`TAIL`] byte).
    lines: usize,
}

/// The byte of a [`StateLine`] that holds [`INSIDE`].
const INSIDE_BYTE: u32 = 1;
/// The byte of a [`StateLine`] that holds [`TAIL`].
const TAIL_BYTE: u32 = 2;

impl Layout {
    fn new(units: usize, per_object: usize, objects: usize) -> Layout {
        let index = (0..units)
            .map(|unit| {
                let (object, within) = (unit / per_object, unit % per_object);
                if object >= objects {
                    return TAIL_BYTE;
                }
                let line = u32::try_from(object * LINE).expect("a slab of few objects");
                if within == 0 {
                    line
                } else {
                    line + INSIDE_BYTE
                }
            })
            .collect::<Box<[u32]>>();
        let lines = objects.max(1);
        // What `Directory::state_hinted` relies on to index without a check.
        assert!(index.iter().all(|&i| (i as usize) < lines * LINE));
        Layout { index, lines }
    }
}

impl SlabStates {
    /// A fresh slab's states: every object [`FREE`].
    fn new(base: usize, layout: &Layout) -> SlabStates {
        let lines = (0..layout.lines)
            .map(|_| {
                StateLine(core::array::from_fn(|i| {
                    AtomicU8::new(match i as u32 {
                        INSIDE_BYTE => INSIDE,
                        TAIL_BYTE => TAIL,
                        _ => FREE,
                    })
                }))
            })
            .collect();
        SlabStates { base, lines }
    }

    /// The state byte of the slab's quantum `unit`.
    #[inline(always)]
    fn unit(&self, layout: &Layout, unit: usize) -> Option<&AtomicU8> {
        let index = *layout.index.get(unit)? as usize;
        Some(&self.lines[index / LINE].0[index % LINE])
    }

    /// Bytes held for one slab.
    fn footprint(layout: &Layout) -> usize {
        core::mem::size_of::<SlabStates>() + layout.lines * LINE
    }
}

struct Table {
    /// `slots - 1`; the slot count is a power of two.
    mask: usize,
    /// `log2(slots)`, for the hash.
    bits: u32,
    /// Slab number + 1 per slot; 0 marks an empty slot.
    keys: Box<[AtomicUsize]>,
    values: Box<[AtomicPtr<SlabStates>]>,
}

impl Table {
    fn new(slots: usize) -> Table {
        Table {
            mask: slots - 1,
            bits: slots.trailing_zeros(),
            keys: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
            values: (0..slots)
                .map(|_| AtomicPtr::new(core::ptr::null_mut()))
                .collect(),
        }
    }

    #[inline]
    fn home(&self, key: usize) -> usize {
        // Fibonacci hashing: the top `bits` bits of the product.
        if self.bits == 0 {
            return 0;
        }
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize)) >> (usize::BITS - self.bits)
    }

    #[inline]
    fn find(&self, key: usize) -> Option<*mut SlabStates> {
        let mut slot = self.home(key);
        loop {
            // `slot` is always below the table's length (`home` and the
            // mask keep it so); `get` rather than indexing only because an
            // index's panic would unwind through the magazine fast paths
            // that inline this, which then keep their values in
            // callee-saved registers for the landing pad.
            match self.keys.get(slot)?.load(Ordering::Acquire) {
                0 => return None,
                k if k == key => return Some(self.values.get(slot)?.load(Ordering::Acquire)),
                _ => slot = (slot + 1) & self.mask,
            }
        }
    }

    /// Inserts `key` (absent, with room to spare). Writer only.
    fn insert(&self, key: usize, value: *mut SlabStates) {
        let mut slot = self.home(key);
        while self.keys[slot].load(Ordering::Relaxed) != 0 {
            slot = (slot + 1) & self.mask;
        }
        self.values[slot].store(value, Ordering::Release);
        self.keys[slot].store(key, Ordering::Release);
    }
}

/// The slab a CPU slot looked up last (see [`Directory::state_hinted`]):
/// its key and the two fields of its [`SlabStates`] a look-up needs, so a
/// hit reads nothing but the hint and the directory's [`Layout`]. Only ever
/// used with the directory that filled it.
#[derive(Debug)]
pub(crate) struct SlabHint {
    /// Slab number + 1; 0 for none yet.
    key: usize,
    /// The slab's first address.
    base: usize,
    /// The first byte of the slab's state lines (dangling while `key` is
    /// 0, which matches no slab, so it is never read then). Non-null by
    /// type, so that the compiler knows a state found through it is there.
    lines: NonNull<AtomicU8>,
}

impl Default for SlabHint {
    fn default() -> SlabHint {
        SlabHint {
            key: 0,
            base: 0,
            lines: NonNull::dangling(),
        }
    }
}

// SAFETY: the pointer is into a `SlabStates` (atomics) owned by the
// directory, which is `Sync`; a hint moved to another thread still points
// into that directory, used only while it lives.
unsafe impl Send for SlabHint {}

/// The directory's writers' lock, held (see [`Directory::lock`]).
pub(crate) struct DirectoryLock<'a> {
    _owned: std::sync::MutexGuard<'a, Owned>,
}

/// What the directory owns, freed on drop. Only writers touch it.
struct Owned {
    /// Every table ever published, the current one last.
    tables: Vec<*mut Table>,
    /// Every slab's states.
    states: Vec<*mut SlabStates>,
}

/// Slab number -> object states, readable without a lock (see the module
/// docs).
pub(crate) struct Directory {
    /// `log2(align)`: the slab number of `addr` is `addr >> shift`.
    shift: u32,
    /// `log2(quantum)`: the unit of the state bytes.
    quantum_shift: u32,
    /// `quantum - 1`.
    quantum_mask: usize,
    object_size: usize,
    /// Where each quantum's state byte is in a slab's [`SlabStates`].
    layout: Layout,
    table: AtomicPtr<Table>,
    owned: Mutex<Owned>,
}

// SAFETY: the raw pointers in `Owned` and behind `table` point to `Table`s
// and `SlabStates` that the directory allocated and frees only in `drop`;
// they are written only under the `owned` mutex and read through atomics
// with acquire order after a release publication. Every field they lead to
// is itself `Sync` (atomics and immutable data), so sharing and sending the
// directory is sound.
unsafe impl Send for Directory {}
// SAFETY: as above.
unsafe impl Sync for Directory {}

impl Directory {
    /// A directory for slabs of `slab_size` aligned to `align` (a power of
    /// two), carved into objects of `object_size`; both sizes are multiples
    /// of `quantum` (a power of two).
    pub(crate) fn new(
        align: usize,
        quantum: usize,
        object_size: usize,
        slab_size: usize,
    ) -> Directory {
        debug_assert!(align.is_power_of_two() && quantum.is_power_of_two());
        debug_assert!(object_size % quantum == 0 && slab_size % quantum == 0);
        let per_object = object_size / quantum;
        let objects = slab_size / object_size;
        let layout = Layout::new(slab_size / quantum, per_object, objects);
        let first = Box::into_raw(Box::new(Table::new(INITIAL_SLOTS)));
        Directory {
            shift: align.trailing_zeros(),
            quantum_shift: quantum.trailing_zeros(),
            quantum_mask: quantum - 1,
            object_size,
            layout,
            table: AtomicPtr::new(first),
            owned: Mutex::new(Owned {
                tables: vec![first],
                states: Vec::new(),
            }),
        }
    }

    /// The alignment every slab is imported with (a power of two at least
    /// the slab size): what makes `addr >> shift` its slab number.
    pub(crate) fn slab_align(&self) -> usize {
        1 << self.shift
    }

    /// The key of the slab holding `addr` (slab number + 1), or `None` for
    /// the one slab number that cannot start a slab.
    #[inline]
    fn key(&self, addr: usize) -> Option<usize> {
        (addr >> self.shift).checked_add(1)
    }

    /// The states of the slab with `key`, if it was ever a slab.
    #[inline]
    fn slab(&self, key: usize) -> Option<&SlabStates> {
        // SAFETY: tables are freed only when the directory is dropped, and
        // `&self` keeps it alive; the pointer was published with release
        // order after the table was fully built.
        let table = unsafe { &*self.table.load(Ordering::Acquire) };
        // SAFETY: values are set before their keys (release/acquire) and
        // point to `SlabStates` freed only when the directory is dropped.
        table.find(key).map(|states| unsafe { &*states })
    }

    /// The state byte of the object starting at `addr` and its current
    /// value, or why `addr` is not the start of one of this cache's objects.
    #[inline]
    pub(crate) fn object(&self, addr: usize) -> Result<(&AtomicU8, u8), BadFreeReason> {
        let key = self.key(addr).ok_or(BadFreeReason::NotFromCache)?;
        let slab = self.slab(key).ok_or(BadFreeReason::NotFromCache)?;
        self.state_in(slab, addr)
    }

    /// The state byte of the object starting at `addr`, through a per-CPU
    /// `hint`, the last slab this CPU looked up, so the common case (alloc
    /// and free in the same slab) skips the table. `None` for an address in
    /// no slab or not on a quantum boundary. A quantum boundary that is not
    /// the start of an object gets one of the constant bytes, holding
    /// [`INSIDE`] or [`TAIL`]: a caller that finds anything but the state it
    /// expects asks [`object`](Directory::object) why.
    #[inline(always)]
    pub(crate) fn state_hinted(&self, addr: usize, hint: &mut SlabHint) -> Option<&AtomicU8> {
        let key = self.key(addr)?;
        if key != hint.key {
            let slab = self.slab(key)?;
            *hint = SlabHint {
                key,
                base: slab.base,
                lines: NonNull::from(&*slab.lines).cast::<AtomicU8>(),
            };
        }
        // `addr` and `base` share a slab number, so `addr >= base`.
        let offset = addr - hint.base;
        if offset & self.quantum_mask != 0 {
            return None;
        }
        let index = *self.layout.index.get(offset >> self.quantum_shift)?;
        // SAFETY: `hint.lines` is the start of the `lines` of a `SlabStates`
        // of this directory (filled just above or by an earlier call with
        // the same directory), which lives until the directory is dropped;
        // every slab has `layout.lines` lines of `LINE` bytes, and every
        // entry of `layout.index` is below `layout.lines * LINE`
        // (`Layout::new`), so the byte is inside that allocation.
        Some(unsafe { hint.lines.add(index as usize).as_ref() })
    }

    #[inline]
    fn state_in<'a>(
        &self,
        slab: &'a SlabStates,
        addr: usize,
    ) -> Result<(&'a AtomicU8, u8), BadFreeReason> {
        let misaligned = BadFreeReason::Misaligned {
            object_size: self.object_size,
        };
        // `addr` and `base` share a slab number, so `addr >= base`.
        let offset = addr - slab.base;
        if offset & self.quantum_mask != 0 {
            return Err(misaligned);
        }
        let state = slab
            .unit(&self.layout, offset >> self.quantum_shift)
            .ok_or(BadFreeReason::NotFromCache)?;
        match state.load(Ordering::Relaxed) {
            INSIDE => Err(misaligned),
            TAIL => Err(BadFreeReason::NotFromCache),
            value => Ok((state, value)),
        }
    }

    /// Makes sure the slab at `base` has an entry (every state `FREE`).
    /// Called with the cache's slab mutex held, before any object of the
    /// slab is handed out.
    pub(crate) fn register(&self, base: usize) {
        let key = self.key(base).expect("a slab starts below usize::MAX");
        let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the current table is the last one owned; writers hold the
        // mutex, so it is not replaced meanwhile.
        let mut table = unsafe { &*self.table.load(Ordering::Acquire) };
        if let Some(states) = table.find(key) {
            // SAFETY: states live until drop (see `slab`).
            let states = unsafe { &*states };
            debug_assert!((0..self.layout.index.len()).all(|unit| matches!(
                states
                    .unit(&self.layout, unit)
                    .map(|s| s.load(Ordering::Relaxed)),
                Some(FREE | INSIDE | TAIL)
            )));
            return;
        }
        let entries = owned.states.len();
        if (entries + 1) * 2 > table.mask + 1 {
            let bigger = Table::new((table.mask + 1) * 2);
            for (k, v) in table.keys.iter().zip(table.values.iter()) {
                let k = k.load(Ordering::Relaxed);
                if k != 0 {
                    bigger.insert(k, v.load(Ordering::Relaxed));
                }
            }
            let bigger = Box::into_raw(Box::new(bigger));
            owned.tables.push(bigger);
            self.table.store(bigger, Ordering::Release);
            tracing::debug!(
                slots = (table.mask + 1) * 2,
                entries,
                "object directory grown"
            );
            // SAFETY: just allocated and published; freed only on drop.
            table = unsafe { &*bigger };
        }
        let states = Box::into_raw(Box::new(SlabStates::new(base, &self.layout)));
        owned.states.push(states);
        table.insert(key, states);
    }

    /// Takes the writers' lock and holds it until dropped (for `lockup`).
    pub(crate) fn lock(&self) -> DirectoryLock<'_> {
        DirectoryLock {
            _owned: self.owned.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Bytes the directory holds (tables and state bytes), for the stats.
    pub(crate) fn bytes(&self) -> usize {
        let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        let word = core::mem::size_of::<usize>();
        let tables: usize = owned
            .tables
            .iter()
            // SAFETY: owned tables live until drop.
            .map(|&t| (unsafe { &*t }.mask + 1) * 2 * word)
            .sum();
        tables + owned.states.len() * SlabStates::footprint(&self.layout)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let owned = self.owned.get_mut().unwrap_or_else(|p| p.into_inner());
        for &table in &owned.tables {
            // SAFETY: each came from `Box::into_raw` and is freed once, here,
            // when no reader can exist (`&mut self`).
            drop(unsafe { Box::from_raw(table) });
        }
        for &states in &owned.states {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(states) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(dir: &Directory, addr: usize) -> u8 {
        dir.object(addr).unwrap().1
    }

    fn set(dir: &Directory, addr: usize, state: u8) {
        dir.object(addr).unwrap().0.store(state, Ordering::Relaxed);
    }

    #[test]
    fn finds_objects_and_classifies_bad_addresses() {
        // Quantum 1: slabs of 16 units aligned to 16 hold 3 objects of 5.
        let dir = Directory::new(16, 1, 5, 16);
        assert_eq!(dir.object(0x20).err(), Some(BadFreeReason::NotFromCache));
        dir.register(0x20);
        set(&dir, 0x20, OUT);
        assert_eq!(value(&dir, 0x25), FREE);
        assert_eq!(value(&dir, 0x20), OUT);
        assert_eq!(
            dir.object(0x22).err(),
            Some(BadFreeReason::Misaligned { object_size: 5 })
        );
        // The slack tail of the slab (15 of its 16 units are objects).
        assert_eq!(dir.object(0x2f).err(), Some(BadFreeReason::NotFromCache));
        assert_eq!(dir.object(0x30).err(), Some(BadFreeReason::NotFromCache));
        assert_eq!(
            dir.object(usize::MAX).err(),
            Some(BadFreeReason::NotFromCache)
        );
        // Registering again keeps the entry.
        set(&dir, 0x20, FREE);
        dir.register(0x20);
        assert_eq!(value(&dir, 0x2a), FREE);
    }

    #[test]
    fn no_two_objects_of_a_slab_share_a_cache_line() {
        // Quantum 16: objects of 1, 3 and 8 quanta in slabs of 32 quanta.
        for per_object in [1, 3, 8] {
            let dir = Directory::new(512, 16, 16 * per_object, 512);
            dir.register(0x1000);
            let lines: Vec<usize> = (0..32 / per_object)
                .map(|k| {
                    let (state, value) = dir.object(0x1000 + k * 16 * per_object).unwrap();
                    assert_eq!(value, FREE);
                    (state as *const AtomicU8).addr() / 64
                })
                .collect();
            let mut distinct = lines.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                lines.len(),
                "objects of {per_object} quanta"
            );
        }
    }

    #[test]
    fn sub_quantum_addresses_are_misaligned() {
        // Quantum 16: objects of 48 in slabs of 128 aligned to 128.
        let dir = Directory::new(128, 16, 48, 128);
        dir.register(0x100);
        assert_eq!(value(&dir, 0x100), FREE);
        assert_eq!(value(&dir, 0x130), FREE);
        let bad = Some(BadFreeReason::Misaligned { object_size: 48 });
        assert_eq!(dir.object(0x108).err(), bad);
        assert_eq!(dir.object(0x110).err(), bad);
        assert_eq!(dir.object(0x160).err(), Some(BadFreeReason::NotFromCache));
    }

    #[test]
    fn grows_and_keeps_every_entry() {
        let dir = Directory::new(64, 64, 64, 64);
        let n = if cfg!(miri) { 40 } else { 5000 };
        for i in 0..n {
            dir.register(i * 64 * 7);
            set(&dir, i * 64 * 7, OUT);
        }
        for i in 0..n {
            assert_eq!(value(&dir, i * 64 * 7), OUT);
            // The slab number after each one was never registered.
            assert!(dir.object(i * 64 * 7 + 64).is_err());
        }
        assert!(dir.bytes() > n);
    }

    #[test]
    fn readers_see_slabs_registered_by_other_threads() {
        let dir = Directory::new(16, 16, 16, 16);
        let n = if cfg!(miri) { 30 } else { 3000 };
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let dir = &dir;
            s.spawn(move || {
                for i in 0..n {
                    dir.register(i * 16);
                    set(dir, i * 16, OUT);
                    tx.send(i * 16).unwrap();
                }
            });
            for _ in 0..n {
                let addr = rx.recv().unwrap();
                assert_eq!(value(dir, addr), OUT);
            }
        });
    }
}
