//! The worst case of one refill of the process tag pool, as named
//! constants whose sums the compiler does, and the per-thread statistics
//! that test it (`docs/process.md` §2).
//!
//! A refill (a *populate*, [`crate::populating`]) is the process tag pool
//! asking `vmem_seg` for pages. It walks down the hierarchy, at most once
//! per level:
//!
//! ```text
//!   level 0  vmem_seg        allocates the pages; may import from
//!   level 1  vmem_internal   which may import, through heap_source, from
//!   level 2  heap            which may import from
//!   level 3  mmap_top        which may reserve address space (mmap), or
//!            sbrk_top        move the program break
//! ```
//!
//! and each of those arenas may top its reserve of spare tags up first
//! from the *bootstrap* pool, whose growth is one `mmap` and touches no
//! arena, and may rescale its hash table after its allocation, one more
//! `mmap` from the bootstrap pool's page source. No arena on the path
//! takes its tags from the process pool, so a refill never starts another
//! refill: populates do not nest.
//!
//! The bound holds for the reasons the constants' docs name: each level
//! makes one allocation and, finding no fit, imports once (a second import
//! needs a reclaim hook that frees memory, and the only one on the path,
//! the heap's, is a reap, which is deferred inside a populate); one
//! growth of the bootstrap pool gives far more tags than one top-up takes;
//! an allocation rescales its hash table at most once; and no level's tags
//! come from the process pool.
//!
//! The same chain serves the process pool's other page requests, the hash
//! tables of the arenas built on it, so every populate has this bound, not
//! only tag refills.

use std::cell::Cell;

use vmem_core::{GROW_PAGES, TAGS_PER_PAGE};

/// Arenas one refill can pass through: `vmem_seg`, `vmem_internal`,
/// `heap`, and the top arena (`mmap_top` or `sbrk_top`).
pub const REFILL_LEVELS: usize = 4;

/// Arenas of the hierarchy off the refill path: `vmem_hash` and
/// `vmem_vmem`, `vmem_seg`'s siblings under `vmem_internal`.
pub const ARENAS_OFF_REFILL_PATH: usize = 2;

/// Arenas of the hierarchy: the length of [`World::own_arenas`]
/// (checked at compile time against the two counts above).
///
/// [`World::own_arenas`]: crate::World::own_arenas
pub const OWN_ARENAS: usize = 6;

const _: () = assert!(
    REFILL_LEVELS + ARENAS_OFF_REFILL_PATH == OWN_ARENAS,
    "every arena of the hierarchy is on the refill path or off it"
);

/// Allocations each level makes in one refill: `vmem_seg`'s allocation of
/// the pages, and at each level below the allocation that serves the
/// import of the level above.
pub const ARENA_ALLOCS_PER_LEVEL: usize = 1;

/// Imports each level makes from the level below in one refill (the top
/// level's import is from the system). An allocation imports once when
/// nothing fits; it imports again only if its reclaim hook freed memory,
/// and the only hook on the path, the heap's, is a reap, which a populate
/// defers.
pub const IMPORTS_PER_LEVEL: usize = 1;

/// Growths of the bootstrap pool (one `mmap` of
/// [`GROW_PAGES`] pages each) one level's tag
/// top-up needs in one refill. One growth gives
/// [`TAGS_PER_BOOTSTRAP_GROWTH`] tags, and a top-up takes at most a batch of
/// 32. The pool is shared by the hierarchy alone; another thread would
/// have to take all of a growth's tags between this thread's growth and
/// its next take for a second one to be needed.
pub const BOOTSTRAP_GROWTHS_PER_LEVEL: usize = 1;

/// Hash-table rescales each level makes in one refill: an allocation asks
/// for at most one, once it is done, and the table of a hierarchy arena
/// comes from the bootstrap pool's page source (one `mmap`).
pub const HASH_RESCALES_PER_LEVEL: usize = 1;

/// Tags one growth of the bootstrap pool adds.
pub const TAGS_PER_BOOTSTRAP_GROWTH: usize = GROW_PAGES * TAGS_PER_PAGE;

// One growth must cover many top-ups (of at most 32 tags) for
// `BOOTSTRAP_GROWTHS_PER_LEVEL` to hold.
const _: () = assert!(
    TAGS_PER_BOOTSTRAP_GROWTH >= 100 * 32,
    "a growth of the bootstrap pool covers many top-ups"
);

/// Levels of the refill path that take their tags from the *process* pool:
/// none (they use the bootstrap pool). Each one would let a refill start
/// a refill of its own inside it.
pub const LEVELS_ON_PROCESS_POOL: usize = 0;

/// Arena operations (allocations) one refill makes, at most.
pub const MAX_ARENA_OPS_PER_REFILL: usize = REFILL_LEVELS * ARENA_ALLOCS_PER_LEVEL;

/// Imports one refill makes, at most, all levels together.
pub const MAX_IMPORTS_PER_REFILL: usize = REFILL_LEVELS * IMPORTS_PER_LEVEL;

/// Growths of the bootstrap pool (`mmap` calls) one refill makes, at most.
pub const MAX_BOOTSTRAP_GROWTHS_PER_REFILL: usize = REFILL_LEVELS * BOOTSTRAP_GROWTHS_PER_LEVEL;

/// Mappings the bootstrap pool's page source (`MmapPages`) makes in one
/// refill, at most: the pool's growths and the levels' hash tables.
pub const MAX_BOOTSTRAP_MAPPINGS_PER_REFILL: usize =
    REFILL_LEVELS * (BOOTSTRAP_GROWTHS_PER_LEVEL + HASH_RESCALES_PER_LEVEL);

/// The deepest populates nest on one thread: the refill itself, and one
/// more for each level that could refill the process pool from inside it.
pub const MAX_POPULATE_DEPTH: usize = 1 + LEVELS_ON_PROCESS_POOL * IMPORTS_PER_LEVEL;

/// A level of the refill path, for counting its imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// `vmem_seg` (and its siblings, off the path) importing from
    /// `vmem_internal`.
    Seg = 0,
    /// `vmem_internal` importing from the heap.
    Internal = 1,
    /// The heap importing from the top arena.
    Heap = 2,
    /// The top arena getting address space from the system.
    Top = 3,
}

/// What one thread saw of its populates (see [`populate_stats`]). The
/// per-populate figures count everything the thread did from the start of
/// an outermost populate to its end, nested populates included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopulateStats {
    /// Outermost populates this thread ran.
    pub populates: u64,
    /// The deepest the thread's populates nested (1: never nested).
    pub max_depth: usize,
    /// The most imports one level made in one populate.
    pub max_imports_per_level: usize,
    /// The most imports in one populate, all levels.
    pub max_imports: usize,
    /// The most arena allocations on the refill path in one populate: the
    /// allocation from `vmem_seg`, and one for each import an arena
    /// served.
    pub max_arena_ops: usize,
    /// The most mappings of the bootstrap pool's page source in one
    /// populate: its growths and the hierarchy's hash tables (one page
    /// source serves both, so they are counted together).
    pub max_bootstrap_mappings: usize,
}

/// Counts of the current outermost populate.
#[derive(Clone, Copy, Default)]
struct Current {
    imports: [usize; REFILL_LEVELS],
    mappings: usize,
}

thread_local! {
    static STATS: Cell<PopulateStats> = const {
        Cell::new(PopulateStats {
            populates: 0,
            max_depth: 0,
            max_imports_per_level: 0,
            max_imports: 0,
            max_arena_ops: 0,
            max_bootstrap_mappings: 0,
        })
    };
    static CURRENT: Cell<Current> = const {
        Cell::new(Current { imports: [0; REFILL_LEVELS], mappings: 0 })
    };
}

/// The current thread's populate statistics: the observed side of the
/// constants of this module.
///
/// ```
/// use vmem_umem::populate::{populate_stats, MAX_POPULATE_DEPTH};
///
/// vmem_umem::populating(|| vmem_umem::populating(|| ()));
/// let stats = populate_stats();
/// assert_eq!((stats.populates, stats.max_depth), (1, 2));
/// // A refill of the process pool itself never nests.
/// assert_eq!(MAX_POPULATE_DEPTH, 1);
/// ```
pub fn populate_stats() -> PopulateStats {
    STATS.with(Cell::get)
}

/// A populate began; `depth` counts it.
pub(crate) fn entered(depth: u32) {
    let depth = depth as usize;
    if depth == 1 {
        CURRENT.with(|c| c.set(Current::default()));
    }
    STATS.with(|s| {
        let mut stats = s.get();
        stats.max_depth = stats.max_depth.max(depth);
        s.set(stats);
    });
}

/// A populate ended; `depth` is what is left.
pub(crate) fn left(depth: u32) {
    if depth != 0 {
        return;
    }
    let current = CURRENT.with(Cell::get);
    let imports: usize = current.imports.iter().sum();
    let per_level = current.imports.iter().copied().max().unwrap_or(0);
    // Every import but the top level's is served by an arena allocation.
    let arena_ops = 1 + imports - current.imports[Level::Top as usize];
    STATS.with(|s| {
        let mut stats = s.get();
        stats.populates += 1;
        stats.max_imports_per_level = stats.max_imports_per_level.max(per_level);
        stats.max_imports = stats.max_imports.max(imports);
        stats.max_arena_ops = stats.max_arena_ops.max(arena_ops);
        stats.max_bootstrap_mappings = stats.max_bootstrap_mappings.max(current.mappings);
        s.set(stats);
    });
}

/// `level` imported (counted only inside a populate).
pub(crate) fn note_import(level: Level) {
    if crate::in_populate() {
        CURRENT.with(|c| {
            let mut current = c.get();
            current.imports[level as usize] += 1;
            c.set(current);
        });
    }
}

/// The bootstrap pool's page source mapped pages, for a growth of the pool
/// or a hash table (counted only inside a populate).
pub(crate) fn note_bootstrap_mapping() {
    if crate::in_populate() {
        CURRENT.with(|c| {
            let mut current = c.get();
            current.mappings += 1;
            c.set(current);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_sum_of_its_parts() {
        assert_eq!(MAX_ARENA_OPS_PER_REFILL, 4);
        assert_eq!(MAX_IMPORTS_PER_REFILL, 4);
        assert_eq!(MAX_BOOTSTRAP_GROWTHS_PER_REFILL, 4);
        assert_eq!(MAX_BOOTSTRAP_MAPPINGS_PER_REFILL, 8);
        assert_eq!(MAX_POPULATE_DEPTH, 1);
    }

    #[test]
    fn the_refill_path_is_the_top_of_own_arenas() {
        let world = crate::get();
        let arenas = world.own_arenas();
        assert_eq!(arenas.len(), OWN_ARENAS);
        let names: Vec<&str> = arenas[..REFILL_LEVELS]
            .iter()
            .map(|a| a.arena().name().as_str())
            .collect();
        let top = world.top().name().as_str();
        assert_eq!(names, [top, "heap", "vmem_internal", "vmem_seg"]);
        let off: Vec<&str> = arenas[REFILL_LEVELS..]
            .iter()
            .map(|a| a.arena().name().as_str())
            .collect();
        assert_eq!(off, ["vmem_hash", "vmem_vmem"]);
    }

    #[test]
    fn a_thread_counts_its_own_populates() {
        let before = populate_stats();
        crate::populating(|| {
            note_import(Level::Seg);
            note_import(Level::Internal);
            note_import(Level::Top);
            note_bootstrap_mapping();
            crate::populating(|| note_import(Level::Heap));
        });
        note_import(Level::Seg); // outside: not counted
        let after = populate_stats();
        assert_eq!(after.populates, before.populates + 1);
        assert!(after.max_depth >= 2);
        assert!(after.max_imports >= 4 && after.max_arena_ops >= 4);
        assert!(after.max_imports_per_level >= 1 && after.max_bootstrap_mappings >= 1);
    }
}
