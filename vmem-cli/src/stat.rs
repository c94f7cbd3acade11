//! `vmem-cli stat`: one line per arena, like mdb's `::vmem`, then the
//! counters of every quantum cache.

use crate::scenario::ArenaView;
use crate::table::{hex, Align, Table};

/// Fragmentation as a percentage with one decimal.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// The arena table, then one quantum-cache table per arena that has caches.
pub fn render<'a>(views: impl IntoIterator<Item = &'a ArenaView>) -> String {
    let views: Vec<&ArenaView> = views.into_iter().collect();
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("QUANTUM", Align::Right),
        ("INUSE", Align::Right),
        ("TOTAL", Align::Right),
        ("IMPORTED", Align::Right),
        ("SUCCEED", Align::Right),
        ("FAIL", Align::Right),
        ("FREES", Align::Right),
        ("SPANS", Align::Right),
        ("IMPORTS", Align::Right),
        ("RELEASES", Align::Right),
        ("LARGEST FREE", Align::Right),
        ("FRAG", Align::Right),
        ("QCACHES", Align::Right),
    ]);
    for v in &views {
        let spans = v
            .segments
            .iter()
            .filter(|s| {
                matches!(
                    s.kind,
                    vmem_core::SegmentKind::Span | vmem_core::SegmentKind::ImportedSpan
                )
            })
            .count();
        let s = &v.stats;
        table.row(vec![
            v.name.clone(),
            hex(v.quantum),
            hex(s.mem_inuse),
            hex(s.mem_total),
            hex(s.mem_import),
            s.alloc.to_string(),
            s.fail.to_string(),
            s.free.to_string(),
            spans.to_string(),
            s.imports.to_string(),
            s.releases.to_string(),
            hex(v.max_free),
            percent(v.fragmentation()),
            v.qcaches.len().to_string(),
        ]);
    }
    let mut out = table.render();
    for v in views.iter().filter(|v| !v.qcaches.is_empty()) {
        out.push_str(&format!(
            "\nquantum caches of {} (qcache_max {}, slab {}):\n",
            v.name,
            hex(v.qcache_max),
            hex(v.qcaches[0].slab_size)
        ));
        let mut caches = Table::new(&[
            ("CACHE", Align::Left),
            ("SIZE", Align::Right),
            ("ALLOCS", Align::Right),
            ("FREES", Align::Right),
            ("MAG HITS", Align::Right),
            ("DEPOT ALLOCS", Align::Right),
            ("DEPOT FREES", Align::Right),
            ("SLAB ALLOCS", Align::Right),
            ("SLABS", Align::Right),
            ("CREATED", Align::Right),
            ("DESTROYED", Align::Right),
            ("CACHED", Align::Right),
            ("OUTSTANDING", Align::Right),
        ]);
        for c in &v.qcaches {
            caches.row(vec![
                c.name.to_string(),
                hex(c.object_size),
                c.allocs.to_string(),
                c.frees.to_string(),
                c.magazine_hits.to_string(),
                c.depot_allocs.to_string(),
                c.depot_frees.to_string(),
                c.slab_allocs.to_string(),
                c.slabs.to_string(),
                c.slabs_created.to_string(),
                c.slabs_destroyed.to_string(),
                c.objects_cached.to_string(),
                c.objects_outstanding.to_string(),
            ]);
        }
        out.push_str(&caches.render());
    }
    out
}
