//! The list of every arena of the process (libumem's `vmem_list`), for
//! process-wide maintenance ([`crate::update`], [`crate::reap`]), fork
//! handling and reports.
//!
//! The process layer registers its own arenas; a layer above (the C API)
//! registers each arena it creates and unregisters it before destroying
//! it. An entry is a pointer: registering promises that it stays valid
//! until it is unregistered.

use vmem_core::sync::{Guard, Lock};
use vmem_core::Arena;
use vmem_slab::CachedArena;

/// An arena the process layer can maintain: a plain arena, or one with
/// quantum caches in front.
pub trait Managed: Send + Sync {
    /// The arena (behind its caches, if any).
    fn arena(&self) -> &Arena;
    /// The quantum caches, if any.
    fn caches(&self) -> Option<&CachedArena> {
        None
    }
    /// Every lock of the arena and its caches, held until dropped (for the
    /// fork handlers). An implementation with locks of its own (a C import
    /// function's bookkeeping, say) adds them with [`Held::hold`]; they must
    /// be leaf locks or nest after the arena's.
    fn lockup(&self) -> Held<'_> {
        match self.caches() {
            Some(caches) => Held::new().hold(caches.lockup()),
            None => Held::new().hold(self.arena().lockup()),
        }
    }
}

/// Anything held until dropped: lock guards of any type.
trait Part {}
impl<T> Part for T {}

/// The locks of one registered arena, held until dropped (see
/// [`Managed::lockup`]).
#[must_use = "the locks are released when this is dropped"]
pub struct Held<'a> {
    parts: Vec<Box<dyn Part + 'a>>,
}

impl core::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Held")
            .field("parts", &self.parts.len())
            .finish()
    }
}

impl Default for Held<'_> {
    fn default() -> Self {
        Held::new()
    }
}

impl<'a> Held<'a> {
    /// Nothing held yet.
    pub fn new() -> Held<'a> {
        Held { parts: Vec::new() }
    }

    /// Also holds `guard` (a lock guard, or a value holding several).
    pub fn hold<T: 'a>(mut self, guard: T) -> Held<'a> {
        self.parts.push(Box::new(guard));
        self
    }
}

impl Managed for Arena {
    fn arena(&self) -> &Arena {
        self
    }
}

impl Managed for CachedArena {
    fn arena(&self) -> &Arena {
        CachedArena::arena(self)
    }
    fn caches(&self) -> Option<&CachedArena> {
        Some(self)
    }
}

pub(crate) struct Entry(pub(crate) *const dyn Managed);

// SAFETY: an entry points to a `Managed` (which is `Send + Sync`) that its
// registrant keeps alive until it is unregistered, which needs the list
// lock; so the pointer may be used from any thread holding that lock.
unsafe impl Send for Entry {}

static LIST: Lock<Vec<Entry>> = Lock::new(Vec::new());

/// Adds `arena` to the list, after every arena registered before it.
///
/// # Safety
/// `arena` must stay valid (not moved, not dropped) until
/// [`unregister`] has returned for it.
pub unsafe fn register(arena: *const dyn Managed) {
    LIST.lock().push(Entry(arena));
    crate::maintenance::updater_check();
}

/// Takes the arena at `arena` (the address registered) off the list;
/// false if it was not on it.
pub fn unregister(arena: *const ()) -> bool {
    let mut list = LIST.lock();
    match list.iter().position(|e| e.0.cast::<()>() == arena) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// Whether an arena at `arena` is registered. Never dereferences it, so it
/// can vet a pointer from C.
pub fn contains(arena: *const ()) -> bool {
    LIST.lock().iter().any(|e| e.0.cast::<()>() == arena)
}

/// Calls `f` on every registered arena, in registration order, with the
/// list locked: `f` must not register or unregister arenas.
pub fn for_each(mut f: impl FnMut(&dyn Managed)) {
    let list = LIST.lock();
    for entry in list.iter() {
        // SAFETY: registered pointers are valid until unregistered, which
        // needs the lock we hold.
        f(unsafe { &*entry.0 });
    }
}

/// How many arenas are registered.
pub fn len() -> usize {
    LIST.lock().len()
}

/// The list lock itself, for the fork handlers.
pub(crate) fn lock_list() -> Guard<'static, Vec<Entry>> {
    LIST.lock()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_find_and_unregister() {
        let a = Box::new(Arena::new("reg-a", 0x1000, 0x1000, 1).unwrap());
        let p: *const dyn Managed = &*a;
        // SAFETY: `a` outlives its registration (unregistered below).
        unsafe { register(p) };
        assert!(contains(p.cast()));
        let mut seen = false;
        for_each(|m| seen |= m.arena().name().as_str() == "reg-a");
        assert!(seen);
        assert!(unregister(p.cast()));
        assert!(!unregister(p.cast()));
        assert!(!contains(p.cast()));
    }
}
