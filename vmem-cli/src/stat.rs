//! `vmem-cli stat`: one line per arena, like mdb's `::vmem`, then the
//! counters of every quantum cache. The table is the process layer's
//! report ([`vmem_umem::report`]), the one a C program's `report=` option
//! writes at exit, so the two read alike.

use vmem_umem::report::{self, ArenaReport};

use crate::scenario::ArenaView;

pub use vmem_umem::report::percent;

/// The arena table, then one quantum-cache table per arena that has caches.
pub fn render<'a>(views: impl IntoIterator<Item = &'a ArenaView>) -> String {
    let reports: Vec<ArenaReport> = views.into_iter().map(ArenaView::report).collect();
    report::render(&reports)
}
