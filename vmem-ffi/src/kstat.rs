//! [`VmemKstat`], the C copy of an arena's counters.

use crate::handle::Vmem;

/// An arena's counters, filled in by `vmem_get_kstat()`: libumem's
/// `vmem_kstat_t` fields, then the arena's boundary-tag and hash figures,
/// then totals over its quantum caches. Every field is a `uint64_t`; the
/// caller owns the struct (on its stack, say) and may read it at leisure,
/// as it is a copy taken at one instant.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmemKstat {
    /// Bytes allocated (quantum-cache slabs included).
    pub mem_inuse: u64,
    /// Bytes imported from the source.
    pub mem_import: u64,
    /// Bytes in all spans (added and imported).
    pub mem_total: u64,
    /// Segment allocations.
    pub alloc: u64,
    /// Segment frees.
    pub free: u64,
    /// Times a sleeping allocation waited.
    pub wait: u64,
    /// Allocations that failed.
    pub fail: u64,
    /// Hash-chain steps taken while freeing.
    pub lookup: u64,
    /// Freelist entries examined by searching allocations.
    pub search: u64,
    /// Times boundary-tag memory could not be obtained.
    pub populate_fail: u64,
    /// Calls to `vmem_contains`.
    pub contains: u64,
    /// Spans examined by `vmem_contains`.
    pub contains_search: u64,
    /// Spans imported from the source.
    pub imports: u64,
    /// Spans given back to the source.
    pub releases: u64,
    /// Hash-table rescales.
    pub rescales: u64,
    /// Allocated segments now.
    pub segments_allocated: u64,
    /// Boundary tags in use.
    pub tags_in_use: u64,
    /// Spare boundary tags held by the arena.
    pub tags_reserved: u64,
    /// Bytes per boundary tag.
    pub tag_size: u64,
    /// Buckets of the allocated-segment hash.
    pub hash_buckets: u64,
    /// Largest size served by a quantum cache (0: none).
    pub qcache_max: u64,
    /// Allocations served by the quantum caches (all caches).
    pub qcache_alloc: u64,
    /// Frees taken by the quantum caches (all caches).
    pub qcache_free: u64,
    /// Objects sitting in the quantum caches' magazines now.
    pub qcache_cached: u64,
    /// Slabs the quantum caches hold from the arena now.
    pub qcache_slabs: u64,
}

impl VmemKstat {
    /// A snapshot of `vm`'s counters.
    pub fn of(vm: &Vmem) -> VmemKstat {
        // Every field of the arena's counters, named: a counter added to
        // `vmem_core::Stats` fails to compile here until it has its field.
        let vmem_core::Stats {
            mem_inuse,
            mem_import,
            mem_total,
            alloc,
            free,
            wait,
            fail,
            lookup,
            search,
            populate_fail,
            contains,
            contains_search,
            imports,
            releases,
            rescales,
            segments_allocated,
            tags_in_use,
            tags_reserved,
            tag_size,
            hash_buckets,
        } = vm.arena().stats();
        let w = |n: usize| n as u64;
        let mut k = VmemKstat {
            mem_inuse: w(mem_inuse),
            mem_import: w(mem_import),
            mem_total: w(mem_total),
            alloc,
            free,
            wait,
            fail,
            lookup,
            search,
            populate_fail,
            contains,
            contains_search,
            imports,
            releases,
            rescales,
            segments_allocated: w(segments_allocated),
            tags_in_use: w(tags_in_use),
            tags_reserved: w(tags_reserved),
            tag_size: w(tag_size),
            hash_buckets: w(hash_buckets),
            qcache_max: w(vm.qcache_max()),
            ..VmemKstat::default()
        };
        if let Some(cached) = vm.cached() {
            for c in cached.cache_stats() {
                k.qcache_alloc += c.allocs;
                k.qcache_free += c.frees;
                k.qcache_cached += w(c.objects_cached);
                k.qcache_slabs += w(c.slabs);
            }
        }
        k
    }
}
