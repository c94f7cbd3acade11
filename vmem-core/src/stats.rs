//! Arena counters: libumem's kstats plus a few of our own, in one type.
//!
//! The arena keeps a [`Stats`] under its lock and bumps its fields where the
//! events happen; [`Arena::stats`](crate::Arena::stats) copies it out and
//! fills in the gauges that live elsewhere (hash, tag lists). A new counter
//! is one field here plus the line that bumps it; the C layer's
//! `vmem_kstat_t` copies every field by name, so the compiler points at the
//! one line it needs there.

/// An arena's counters (libumem's `vmem_kstat_t`, plus tag and hash
/// figures). Inside the arena this is the live tally; what
/// [`Arena::stats`](crate::Arena::stats) returns is a snapshot of it.
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
    // The gauges below are filled in by the snapshot; the live tally keeps
    // them at 0.
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
