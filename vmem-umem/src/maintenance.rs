//! Process-wide maintenance: [`update`] (libumem's `vmem_update`), [`reap`]
//! (libumem's `vmem_reap`) with its deferral while a populate is under way,
//! and the optional thread that runs [`update`] periodically, which starts
//! only once the process has other threads ([`want_updater`]).
//!
//! *Reap deferral.* Obtaining tag memory for an arena (a *populate*: the
//! process tag pool taking a page from `vmem_seg`) can run out of heap and
//! make the heap reap every quantum cache. A reap gives objects back to
//! their slabs and slabs back to their arenas, and a thread that is in the
//! middle of a populate must not start that from inside it. So a reap
//! requested while the current thread is inside a populate is recorded and
//! runs once the outermost populate ends: deferred, never skipped.
//!
//! The caches' own *automatic* reaps (`vmem-slab`: a slab shortage, the
//! arena's reclaim hook, a free that finds sleepers, the working-set
//! update) follow the same rule. `vmem-slab` cannot depend on this crate,
//! so it asks a process-wide reap gate ([`vmem_slab::set_reap_gate`]),
//! which [`World`](crate::World) installs when it starts: [`reap_gate`]
//! answers "defer" inside a populate and records the pending reap exactly
//! as [`reap`] does, so the deferred reap runs when the populate ends (and
//! the cache also owes it, for a cache not on the registry).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::registry;

thread_local! {
    /// How deep the current thread is in populates.
    static POPULATING: Cell<u32> = const { Cell::new(0) };
    /// A reap was requested during a populate of this thread.
    static REAP_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as a populate of the current thread: every reap requested
/// meanwhile on this thread ([`reap`], the heap's reclaim hook, the
/// caches' automatic reaps through the reap gate) waits, and runs once the
/// outermost populate ends. Populates nest.
///
/// The process tag pool's page source runs each refill inside one. A page
/// source of your own that allocates from vmem arenas (for a tag pool of
/// your own) should do the same, so that no reap starts in the middle of
/// it.
///
/// ```
/// assert!(!vmem_umem::in_populate());
/// let inside = vmem_umem::populating(|| {
///     vmem_umem::reap(); // recorded, not run
///     vmem_umem::in_populate()
/// }); // the reap runs here
/// assert!(inside && !vmem_umem::in_populate());
/// ```
pub fn populating<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let depth = POPULATING.with(|d| {
                d.set(d.get() - 1);
                d.get()
            });
            crate::populate::left(depth);
            if depth == 0 && REAP_PENDING.with(|p| p.replace(false)) {
                tracing::debug!("populate ended: running the deferred reap");
                reap();
            }
        }
    }
    let depth = POPULATING.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    crate::populate::entered(depth);
    let _leave = Leave;
    f()
}

/// Whether the current thread is inside a populate.
pub fn in_populate() -> bool {
    POPULATING.with(Cell::get) != 0
}

/// Drains every quantum cache of every registered arena back to its arena
/// (libumem's `vmem_reap`). Inside a populate of the current thread it is
/// deferred until the populate ends (see the module docs).
pub fn reap() {
    if defer_reap() {
        return;
    }
    tracing::debug!("reap of every quantum cache");
    registry::for_each(|arena| {
        if let Some(caches) = arena.caches() {
            caches.reap();
        }
    });
}

/// Inside a populate of the current thread, records a reap for when the
/// outermost one ends and returns true; otherwise false.
fn defer_reap() -> bool {
    if !in_populate() {
        return false;
    }
    REAP_PENDING.with(|p| p.set(true));
    tracing::debug!("reap deferred: this thread is populating");
    true
}

/// The reap gate this crate installs in `vmem-slab`
/// ([`vmem_slab::set_reap_gate`]) when the world starts: a cache's
/// automatic reap asks it first. Inside a populate of the current thread
/// it records a pending reap, which runs when the outermost populate ends
/// (as for [`reap`]), and answers `true`: defer. Otherwise `false`: reap
/// now.
pub fn reap_gate() -> bool {
    defer_reap()
}

/// Periodic maintenance of every registered arena (libumem's
/// `vmem_update`): each quantum cache's working-set update, each arena's
/// hash rescale, and a wake-up of sleeping allocations so they retry after
/// the reaps others may have done.
pub fn update() {
    tracing::debug!(arenas = registry::len(), "update");
    registry::for_each(|arena| match arena.caches() {
        Some(caches) => caches.update(),
        None => arena.arena().update(),
    });
}

/// Starts the thread that calls [`update`] every `interval`, once per
/// process; later calls (and [`want_updater`]'s lazy start) do nothing.
pub fn start_updater(interval: Duration) {
    UPDATER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("vmem-update".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                update();
            });
        match spawned {
            Ok(_) => tracing::debug!(?interval, "maintenance thread started"),
            Err(err) => tracing::warn!(%err, "vmem: maintenance thread not started"),
        }
    });
}

/// The maintenance thread, started at most once.
static UPDATER: Once = Once::new();

/// The period [`want_updater`] asked for, in milliseconds; 0 while none
/// was asked for.
static WANTED_MS: AtomicU64 = AtomicU64::new(0);

/// Asks for the maintenance thread without starting it yet: it starts at
/// the first slow path (`updater_check`) that finds the process running
/// other threads, or at once if it already does. `World::start` asks this
/// way for the `update_interval` of the options.
///
/// Why not at once: a second thread makes every lock of the process,
/// ours and the C library's, pay its atomic instructions, which a
/// single-threaded program is otherwise spared
/// ([`vmem_core::sync::single_threaded`]); libumem's allocations in such a
/// program are a third cheaper for it. A single-threaded program keeps its
/// caches trimmed without the thread: each cache updates itself every
/// [`vmem_slab::UPDATE_INTERVAL`] depot exchanges, and `vmem_update` can be
/// called at any time.
pub fn want_updater(interval: Duration) {
    let ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    WANTED_MS.store(ms, Ordering::Relaxed);
    updater_check();
}

/// Starts the maintenance thread [`want_updater`] asked for if the
/// process now runs other threads. Called on slow paths only: an arena
/// joining the list, a heap span handed out, a refill of the process tag
/// pool.
pub(crate) fn updater_check() {
    let ms = WANTED_MS.load(Ordering::Relaxed);
    if ms != 0 && !UPDATER.is_completed() && !vmem_core::sync::single_threaded() {
        start_updater(Duration::from_millis(ms));
    }
}

/// Whether the maintenance thread has been started in this process.
pub fn updater_started() -> bool {
    UPDATER.is_completed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reap_inside_a_populate_waits_for_its_end() {
        assert!(!in_populate());
        let ran_inside = populating(|| {
            populating(|| {
                reap();
                REAP_PENDING.with(Cell::get)
            })
        });
        assert!(ran_inside, "deferred, not run, inside");
        assert!(!REAP_PENDING.with(Cell::get), "run at the outermost end");
        assert!(!in_populate());
    }

    #[test]
    fn the_gate_defers_and_records_inside_a_populate_only() {
        assert!(!reap_gate(), "outside a populate: reap now");
        assert!(!REAP_PENDING.with(Cell::get));
        let (deferred, pending) = populating(|| (reap_gate(), REAP_PENDING.with(Cell::get)));
        assert!(deferred && pending);
        assert!(!REAP_PENDING.with(Cell::get), "run when the populate ended");
    }
}
