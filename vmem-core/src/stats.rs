//! Arena counters: libumem's kstats plus a few of our own.

/// The raw counters kept under the arena lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) mem_inuse: usize,
    pub(crate) mem_import: usize,
    pub(crate) mem_total: usize,
    pub(crate) alloc: u64,
    pub(crate) free: u64,
    pub(crate) wait: u64,
    pub(crate) fail: u64,
    pub(crate) lookup: u64,
    pub(crate) search: u64,
    pub(crate) populate_fail: u64,
    pub(crate) contains: u64,
    pub(crate) contains_search: u64,
    pub(crate) imports: u64,
    pub(crate) releases: u64,
    pub(crate) rescales: u64,
}

/// A snapshot of an arena's counters (libumem's `vmem_kstat_t`, plus tag and
/// hash figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes allocated.
    pub mem_inuse: usize,
    /// Bytes imported from the source.
    pub mem_import: usize,
    /// Bytes in all spans (added and imported).
    pub mem_total: usize,
    /// Successful segment allocations (quantum-cache imports included).
    pub alloc: u64,
    /// Segment frees.
    pub free: u64,
    /// Times a sleeping allocation waited.
    pub wait: u64,
    /// Allocations that failed.
    pub fail: u64,
    /// Hash-chain steps taken past other segments while freeing.
    pub lookup: u64,
    /// Freelist or address-list entries examined by searching allocations.
    pub search: u64,
    /// Times tag memory could not be obtained.
    pub populate_fail: u64,
    /// Calls to `contains`.
    pub contains: u64,
    /// Spans examined by `contains`.
    pub contains_search: u64,
    /// Spans imported from the source.
    pub imports: u64,
    /// Spans given back to the source.
    pub releases: u64,
    /// Hash-table rescales performed.
    pub rescales: u64,
    /// Allocated segments (entries in the hash).
    pub segments_allocated: usize,
    /// Boundary tags linked into the arena (spans, segments, rotor).
    pub tags_in_use: usize,
    /// Spare tags in the arena's private reserve.
    pub tags_reserved: usize,
    /// Bytes of one boundary tag.
    pub tag_size: usize,
    /// Buckets in the allocated-segment hash.
    pub hash_buckets: usize,
}

impl Stats {
    /// Tag memory per allocated segment, in bytes: every tag the arena holds
    /// (reserve included) divided by the allocated segments; `None` when
    /// nothing is allocated.
    pub fn tag_bytes_per_segment(&self) -> Option<usize> {
        (self.segments_allocated != 0).then(|| {
            (self.tags_in_use + self.tags_reserved) * self.tag_size / self.segments_allocated
        })
    }
}
