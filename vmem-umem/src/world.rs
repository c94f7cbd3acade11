//! The process's vmem world: the arena hierarchy libumem's `vmem_init`
//! builds, set up once, explicitly ([`init`]) or on first use ([`get`]).
//!
//! ```text
//!   mmap_top | sbrk_top    address space (mmap: reserved, no access)
//!        |
//!      heap                page-quantum arena of that space
//!        |  vmem_heap_arena's functions: commit on the way out (mmap)
//!   vmem_internal          vmem's own memory
//!     |      |      \
//!  vmem_seg vmem_hash vmem_vmem
//! ```
//!
//! `vmem_seg` supplies the pages of the *process tag pool* ([`tag_pool`]):
//! arenas built with it keep their boundary tags and hash tables in vmem
//! memory. The arenas above take their own tags from a bootstrap pool that
//! maps pages directly, which is what keeps a tag refill from needing a tag
//! (see [`crate::pages`]).

use std::sync::{Arc, Once, OnceLock};

use vmem_core::{Arena, ArenaBuilder, Error, Reclaim, Shared, Source, TagPool, Wait};

use crate::backend::{page_size, Committed, MmapReserve, SbrkTop};
use crate::options::{Backend, Options};
use crate::pages::{MmapPages, SegPages};
use crate::populate::{self, Level, OWN_ARENAS};
use crate::registry::{self, Managed};

/// Address space reserved from the system at a time (mmap backend).
pub const RESERVE_CHUNK: usize = 64 << 20;

/// The tag pool of the process layer's own arenas: pages straight from
/// `mmap`.
static BOOTSTRAP_POOL: TagPool = TagPool::new(&MmapPages);

/// The tag pool of every other arena: pages from `vmem_seg`.
static PROCESS_POOL: TagPool = TagPool::new(&SegPages);

static WORLD: OnceLock<World> = OnceLock::new();

/// The process's arena hierarchy (see the module docs).
pub struct World {
    options: Options,
    top: Arc<dyn Managed>,
    heap: Arc<Arena>,
    committed: Arc<Committed>,
    internal: Arc<Arena>,
    seg: Arc<Arena>,
    hash: Arc<Arena>,
    vmem: Arc<Arena>,
}

impl core::fmt::Debug for World {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("World")
            .field("options", &self.options)
            .field("heap", &self.heap)
            .finish_non_exhaustive()
    }
}

/// Why the world could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The world exists already (set up explicitly or on first use).
    #[error("the vmem world is already initialised (with {0})")]
    AlreadyInitialized(String),
    /// An arena of the hierarchy could not be created.
    #[error("cannot create the vmem world: {0}")]
    Arena(#[from] Error),
}

/// The heap's reclaim hook: drain every quantum cache before failing.
struct ReapAll;

impl Reclaim for ReapAll {
    fn reclaim(&self, _arena: &Arena, _size: usize) {
        crate::maintenance::reap();
    }
}

/// A level's source, counting the level's imports made inside a populate
/// (the observed side of [`crate::populate`]'s bound).
struct Counted {
    level: Level,
    source: Shared<dyn Source>,
}

impl Counted {
    fn wrap(level: Level, source: Shared<dyn Source>) -> Shared<dyn Source> {
        Shared::Arc(Arc::new(Counted { level, source }))
    }
}

impl Source for Counted {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        populate::note_import(self.level);
        self.source.import(size, align, wait)
    }

    fn release(&self, start: usize, size: usize) {
        self.source.release(start, size);
    }

    fn quantum(&self) -> usize {
        self.source.quantum()
    }
}

fn internal(name: &str) -> ArenaBuilder {
    Arena::builder(name).tag_pool(&BOOTSTRAP_POOL)
}

impl World {
    fn build(options: Options) -> Result<World, Error> {
        let page = page_size();
        let (top, heap_source, commit): (Arc<dyn Managed>, Shared<dyn Source>, bool) =
            match options.backend {
                Backend::Mmap => {
                    let top = Arc::new(
                        internal("mmap_top")
                            .quantum(page)
                            .source(Counted::wrap(
                                Level::Top,
                                Shared::Arc(Arc::new(MmapReserve)),
                            ))
                            .import_quantum(RESERVE_CHUNK)
                            .build()?,
                    );
                    (top.clone(), Shared::Arc(top), true)
                }
                Backend::Sbrk => {
                    let top = Arc::new(SbrkTop::new(internal("sbrk_top").quantum(page).build()?));
                    (
                        Arc::new(SbrkTopEntry(top.clone())),
                        Shared::Arc(top as Arc<dyn Source>),
                        false,
                    )
                }
            };
        let heap = Arc::new(
            internal("heap")
                .quantum(page)
                .source(Counted::wrap(Level::Heap, heap_source))
                .build()?,
        );
        heap.set_reclaim(Some(Shared::Arc(Arc::new(ReapAll))));
        let committed = Arc::new(Committed::new(heap.clone(), commit));
        let internal_arena = Arc::new(
            internal("vmem_internal")
                .quantum(page)
                .source(Counted::wrap(
                    Level::Internal,
                    Shared::Arc(committed.clone() as Arc<dyn Source>),
                ))
                .build()?,
        );
        let child = |name: &str, quantum: usize| -> Result<Arc<Arena>, Error> {
            Ok(Arc::new(
                internal(name)
                    .quantum(quantum)
                    .source(Counted::wrap(
                        Level::Seg,
                        Shared::Arc(internal_arena.clone() as Arc<dyn Source>),
                    ))
                    .import_quantum(page)
                    .build()?,
            ))
        };
        let seg = child("vmem_seg", page)?;
        let hash = child("vmem_hash", 8)?;
        let vmem = child("vmem_vmem", 1)?;
        Ok(World {
            options,
            top,
            heap,
            committed,
            internal: internal_arena,
            seg,
            hash,
            vmem,
        })
    }

    /// Registers the hierarchy's arenas and starts what the options ask.
    fn start(&'static self) {
        for arena in self.own_arenas() {
            arena.arena().exempt_from_global_mtbf();
            // SAFETY: the world is 'static: its arenas are never dropped.
            unsafe { registry::register(arena as *const dyn Managed) };
        }
        // The caches' automatic reaps obey reap deferral (docs/process.md
        // §3). Only a program that installed a gate of its own first
        // keeps it.
        if vmem_slab::set_reap_gate(crate::maintenance::reap_gate).is_err() {
            tracing::warn!("vmem: a reap gate was installed already; caches' automatic reaps are not deferred during populates");
        }
        if let Some(interval) = self.options.update_interval {
            crate::maintenance::want_updater(interval);
        }
        crate::fork::install();
        if self.options.report.is_some() {
            crate::report::write_at_exit();
        }
        tracing::debug!(options = %self.options, "vmem world initialised");
    }

    /// The hierarchy's own arenas, top first: `mmap_top` or `sbrk_top`,
    /// `heap`, `vmem_internal`, `vmem_seg`, `vmem_hash`, `vmem_vmem`. The
    /// first [`REFILL_LEVELS`](crate::populate::REFILL_LEVELS) are the
    /// path of a refill of the process tag pool, top first
    /// (`docs/process.md` §2).
    pub fn own_arenas(&self) -> [&dyn Managed; OWN_ARENAS] {
        [
            &*self.top,
            &*self.heap,
            &*self.internal,
            &*self.seg,
            &*self.hash,
            &*self.vmem,
        ]
    }

    /// The options the world was set up with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The heap arena: page-quantum address space. Its segments are
    /// committed by [`heap_source`](World::heap_source), not by the arena.
    pub fn heap(&self) -> &Arc<Arena> {
        &self.heap
    }

    /// The heap's import and release pair (what `vmem_heap_arena` returns
    /// to C): committed, writable memory. Use it as the source of an arena
    /// over real memory.
    pub fn heap_source(&self) -> &Arc<Committed> {
        &self.committed
    }

    /// The top arena (`mmap_top` or `sbrk_top`).
    pub fn top(&self) -> &Arena {
        self.top.arena()
    }

    /// `vmem_internal`: vmem's own memory.
    pub fn internal_arena(&self) -> &Arc<Arena> {
        &self.internal
    }

    /// `vmem_seg`: the pages of the process tag pool.
    pub fn seg_arena(&self) -> &Arc<Arena> {
        &self.seg
    }

    /// `vmem_hash`: for hash tables.
    pub fn hash_arena(&self) -> &Arc<Arena> {
        &self.hash
    }

    /// `vmem_vmem`: for arena structures.
    pub fn vmem_arena(&self) -> &Arc<Arena> {
        &self.vmem
    }
}

/// The sbrk top arena as a registry entry.
struct SbrkTopEntry(Arc<SbrkTop>);

impl Managed for SbrkTopEntry {
    fn arena(&self) -> &Arena {
        self.0.arena()
    }
}

/// Runs [`World::start`] once, whoever set the world up; callers wait for
/// it to finish.
fn started(world: &'static World) -> &'static World {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| world.start());
    world
}

/// Sets up the world with `options` (libumem's `vmem_init`). Fails if it
/// exists already, also when it was set up on first use.
///
/// ```
/// let world = vmem_umem::get();
/// assert!(vmem_umem::init(vmem_umem::Options::default()).is_err());
/// assert_eq!(world.heap().name().as_str(), "heap");
/// ```
pub fn init(options: Options) -> Result<&'static World, InitError> {
    let mut outcome = None;
    let world = WORLD.get_or_init(|| match World::build(options.clone()) {
        Ok(world) => {
            outcome = Some(Ok(()));
            world
        }
        Err(err) => {
            // The bootstrap pool maps its pages directly, so only a system
            // out of address space gets here: try the defaults, then give up.
            outcome = Some(Err(err));
            World::build(Options::default()).expect("vmem: cannot build the vmem world")
        }
    });
    let world = started(world);
    match outcome {
        Some(Ok(())) => Ok(world),
        Some(Err(err)) => Err(InitError::Arena(err)),
        None => Err(InitError::AlreadyInitialized(world.options.to_string())),
    }
}

/// The world, set up from `VMEM_OPTIONS` on first use.
pub fn get() -> &'static World {
    match WORLD.get() {
        Some(world) => started(world),
        None => match init(Options::from_env()) {
            Ok(world) => world,
            Err(_) => started(WORLD.get().expect("set up by init")),
        },
    }
}

/// The world if it is set up already (never sets it up).
pub fn world() -> Option<&'static World> {
    WORLD.get()
}

/// The process tag pool: give it to [`ArenaBuilder::tag_pool`] so an
/// arena's boundary tags and hash tables come from `vmem_seg`. Sets up the
/// world if needed.
pub fn tag_pool() -> &'static TagPool {
    get();
    &PROCESS_POOL
}

/// The bootstrap tag pool (the process layer's own arenas).
pub fn bootstrap_pool() -> &'static TagPool {
    &BOOTSTRAP_POOL
}

/// The process tag pool, without setting the world up.
pub(crate) fn process_pool() -> &'static TagPool {
    &PROCESS_POOL
}
