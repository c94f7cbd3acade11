//! [`ArenaBuilder`]: every creation-time setting of an arena.

use crate::error::{Error, InvalidArgument};
use crate::name::ArenaName;
use crate::pool::TagPool;
use crate::source::{Shared, Source};

use super::Arena;

/// Configures and creates an [`Arena`] (libumem's `vmem_create` /
/// `vmem_xcreate`, FreeBSD's `vmem_create` + `vmem_set_import`).
///
/// ```
/// # #[cfg(feature = "std")] { // `Arena::new` needs `std`
/// use std::sync::Arc;
/// use vmem_core::{AllocFlags, Arena};
/// let parent = Arc::new(Arena::new("parent", 0x10000, 0x100000, 0x1000).unwrap());
/// let child = Arena::builder("child")
///     .quantum(0x10)
///     .source(parent.clone())
///     .build()
///     .unwrap();
/// let addr = child.alloc(0x30, AllocFlags::new()).unwrap();
/// assert!(parent.contains(addr, 0x30));
/// child.free(addr, 0x30).unwrap();
/// assert_eq!(parent.stats().mem_inuse, 0, "the span went back to the parent");
/// # }
/// ```
pub struct ArenaBuilder {
    name: ArenaName,
    quantum: usize,
    span: Option<(usize, usize)>,
    source: Option<Shared<dyn Source>>,
    import_quantum: Option<usize>,
    pool: Option<&'static TagPool>,
    limit: usize,
}

impl core::fmt::Debug for ArenaBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArenaBuilder")
            .field("name", &self.name)
            .field("quantum", &self.quantum)
            .field("span", &self.span)
            .field("source", &self.source)
            .field("import_quantum", &self.import_quantum)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl ArenaBuilder {
    /// A builder for an arena called `name` (truncated to 31 bytes), quantum 1.
    pub fn new(name: &str) -> ArenaBuilder {
        ArenaBuilder {
            name: ArenaName::new(name),
            quantum: 1,
            span: None,
            source: None,
            import_quantum: None,
            pool: None,
            limit: 0,
        }
    }

    /// The quantum: a power of two; every address is a multiple of it.
    pub fn quantum(mut self, quantum: usize) -> Self {
        self.quantum = quantum;
        self
    }

    /// An initial span `[base, base + size)`.
    pub fn span(mut self, base: usize, size: usize) -> Self {
        self.span = Some((base, size));
        self
    }

    /// Where to import spans from when nothing fits.
    pub fn source(mut self, source: impl Into<Shared<dyn Source>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Round imports up to this size (FreeBSD's `import_quantum`); the
    /// default is the source's quantum, as in libumem.
    pub fn import_quantum(mut self, quantum: usize) -> Self {
        self.import_quantum = Some(quantum);
        self
    }

    /// Cap on bytes imported from the source (FreeBSD's `vmem_set_limit`).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The tag pool to draw boundary tags from (required without `std`).
    pub fn tag_pool(mut self, pool: &'static TagPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Creates the arena.
    pub fn build(self) -> Result<Arena, Error> {
        #[cfg(feature = "std")]
        let pool = self.pool.unwrap_or_else(TagPool::global);
        #[cfg(not(feature = "std"))]
        let pool = self.pool.ok_or(Error::from(InvalidArgument {
            arena: self.name,
            call: "create",
            reason: crate::error::InvalidReason::NoTagPool,
        }))?;
        if !crate::bits::is_power_of_two(self.quantum) {
            return Err(Error::from(InvalidArgument {
                arena: self.name,
                call: "create",
                reason: crate::error::InvalidReason::BadQuantum {
                    quantum: self.quantum,
                },
            }));
        }
        let import_quantum = self
            .import_quantum
            .or_else(|| self.source.as_ref().map(|s| s.quantum()))
            .unwrap_or(self.quantum)
            .max(self.quantum);
        if !crate::bits::is_power_of_two(import_quantum) {
            return Err(Error::from(InvalidArgument {
                arena: self.name,
                call: "create",
                reason: crate::error::InvalidReason::NotPowerOfTwo {
                    what: "import quantum",
                    value: import_quantum,
                },
            }));
        }
        let arena = Arena::from_parts(self.name, self.quantum, pool, self.source, import_quantum)?;
        arena.set_limit(self.limit);
        if let Some((base, size)) = self.span {
            arena.add(base, size)?;
        }
        Ok(arena)
    }
}
