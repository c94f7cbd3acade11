//! The reap gate: a process-wide hook through which the layer above may
//! hold back the reaps that caches start on their own.
//!
//! A cache reaps by itself in four places: when its arena cannot supply a
//! slab (before the one retry), when the arena's reclaim hook asks the
//! quantum caches to give memory back, when a free finds the arena with
//! sleeping allocations, and in its working-set update (the depot's idle
//! magazines, and the purge after a magazine resize). Such an *automatic*
//! reap gives objects back to their slabs and slabs back to the arena,
//! which is work a caller in the middle of certain operations must not
//! start. `vmem-umem` is such a caller: a thread that is obtaining tag
//! memory (a *populate*) must not reap from inside it (libumem's rule,
//! `docs/process.md` §3). This crate sits below `vmem-umem` and knows
//! nothing of populates, so the rule reaches it through this gate.
//!
//! - With no gate installed (this crate used alone), every automatic reap
//!   runs at once, as it always has.
//! - With a gate installed ([`set_reap_gate`], once per process), each
//!   automatic reap first calls it. `false`: the reap runs now. `true`: the
//!   reap is *deferred*. The gate has then taken charge of a reap later
//!   (`vmem-umem`'s gate records it, and reaps every registered arena's
//!   quantum caches when the current thread's outermost populate ends),
//!   and the cache also records that it owes one
//!   ([`ObjectCache::reap_owed`](crate::ObjectCache::reap_owed)): the next
//!   reap of the cache, explicit or automatic, pays it, and so do the
//!   cache's next update and its next magazine exchange with the depot on
//!   a thread the gate lets reap. A deferred reap is therefore never skipped, also for a
//!   cache the layer above does not know of.
//!
//! The gate is consulted only on those slow paths, never on the
//! allocation or free fast path, and only outside every cache lock. An
//! explicit [`ObjectCache::reap`](crate::ObjectCache::reap) (or
//! [`CachedArena::reap`](crate::CachedArena::reap)) and the reap of a cache
//! being dropped are never gated: they are requests, not decisions of the
//! cache's own.

use std::sync::OnceLock;

/// A reap gate: called before an automatic reap, it returns `true` to
/// defer it. A gate that returns `true` takes charge of running a reap
/// later (see the module docs); it must not call into any cache or arena
/// itself, and should be cheap (a thread-local look-up, say).
pub type ReapGate = fn() -> bool;

/// The installed gate, if any. `OnceLock` makes reading it one acquire
/// load, and it can be set once only.
static GATE: OnceLock<ReapGate> = OnceLock::new();

/// Installs the process-wide reap gate. It can be installed once: a later
/// call leaves the first gate in place and returns the one it was given.
///
/// ```
/// fn never_defer() -> bool {
///     false
/// }
/// vmem_slab::set_reap_gate(never_defer).unwrap();
/// assert!(vmem_slab::set_reap_gate(never_defer).is_err(), "once only");
/// assert!(vmem_slab::reap_gate().is_some());
/// ```
pub fn set_reap_gate(gate: ReapGate) -> Result<(), ReapGate> {
    GATE.set(gate)?;
    tracing::debug!("reap gate installed");
    Ok(())
}

/// The installed reap gate, if any.
pub fn reap_gate() -> Option<ReapGate> {
    GATE.get().copied()
}

/// Whether an automatic reap must wait: asks the gate, if there is one.
pub(crate) fn defer_reap() -> bool {
    match GATE.get() {
        Some(gate) => gate(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vmem_core::{AllocFlags, Arena, SegmentTypes};

    use crate::{CachedArena, ObjectCache};

    // The unit tests never install a gate (the integration test
    // `tests/reap_gate.rs`, a process of its own, does).

    #[test]
    fn no_gate_means_every_automatic_reap_runs_at_once() {
        assert!(super::reap_gate().is_none());
        assert!(!super::defer_reap());
        // Quantum 1, slabs of 16 units, an arena of 32: two sizes' cached
        // slabs fill it, and a third size's slab import must reap first.
        let ca = CachedArena::new(Arena::new("ungated", 0, 32, 1).unwrap(), 4);
        let a = ca.alloc(1, AllocFlags::NOSLEEP).unwrap();
        let b = ca.alloc(2, AllocFlags::NOSLEEP).unwrap();
        ca.free(a, 1).unwrap();
        ca.free(b, 2).unwrap();
        let c = ca.alloc(3, AllocFlags::NOSLEEP).unwrap();
        assert!(ca.caches().iter().all(|cache| !cache.reap_owed()));
        assert_eq!(ca.cache_stats()[0].objects_cached, 0, "reaped at once");
        ca.free(c, 3).unwrap();
        ca.reap();
        assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    }

    #[test]
    fn no_gate_working_set_reap_runs_at_once() {
        let arena = Arc::new(Arena::new("ungated-ws", 0, 1 << 20, 16).unwrap());
        let cache = ObjectCache::builder("ws", 16, arena).build().unwrap();
        let objects: Vec<_> = (0..300).map(|_| cache.alloc().unwrap()).collect();
        objects.iter().for_each(|&o| cache.free(o).unwrap());
        cache.update();
        cache.update();
        assert!(!cache.reap_owed());
        assert!(cache.stats().objects_cached <= 30, "idle magazines reaped");
    }
}
