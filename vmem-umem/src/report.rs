//! Reports: the counters of arenas as a text table, the format of
//! `vmem-cli stat` (like mdb's `::vmem`), and the exit report of the
//! `report=` option, which prints that table for every arena of the
//! process.
//!
//! [`ArenaReport`] is a snapshot of one arena (and its quantum caches);
//! [`render`] lays snapshots out as one line per arena, then a table of
//! counters per arena that has quantum caches. [`table`] is the table
//! layout itself, which `vmem-cli` uses for all its output.
//!
//! ```
//! use vmem_core::{AllocFlags, Arena};
//! use vmem_umem::report::{render, ArenaReport};
//!
//! let ids = Arena::new("ids", 0x1000, 0x1000, 1)?;
//! let id = ids.alloc(0x10, AllocFlags::new())?;
//! let text = render(&[ArenaReport::of(&ids, None)]);
//! assert!(text.starts_with("NAME"));
//! assert!(text.lines().nth(1).unwrap().starts_with("ids "));
//! ids.free(id, 0x10)?;
//! # Ok::<(), vmem_core::Error>(())
//! ```

pub mod table;

use std::io::{self, Write};

use vmem_core::{Arena, SegmentTypes, Stats};
use vmem_slab::{CacheStats, CachedArena};

use crate::options::Report;
use crate::registry;
use table::{hex, Align, Table};

/// A snapshot of one arena's counters, taken by [`ArenaReport::of`].
#[derive(Clone, Debug, PartialEq)]
pub struct ArenaReport {
    /// The arena's name (a report may show a longer name than the arena
    /// keeps: `vmem-cli` shows the scenario's).
    pub name: String,
    /// Its quantum.
    pub quantum: usize,
    /// The largest size its quantum caches serve (0: none).
    pub qcache_max: usize,
    /// Spans it holds now.
    pub spans: usize,
    /// Its counters.
    pub stats: Stats,
    /// Its largest free segment.
    pub max_free: usize,
    /// One entry per quantum cache, smallest size first.
    pub qcaches: Vec<CacheStats>,
}

impl ArenaReport {
    /// Snapshots `arena` and, if given, the quantum caches in front of it
    /// (`caches.arena()` must be `arena`). Takes the arena's lock a few
    /// times; the figures are each exact but not taken at one instant.
    pub fn of(arena: &Arena, caches: Option<&CachedArena>) -> ArenaReport {
        let mut spans = 0;
        arena.walk(SegmentTypes::SPAN, |_| spans += 1);
        ArenaReport {
            name: arena.name().to_string(),
            quantum: arena.quantum(),
            qcache_max: caches.map_or(0, CachedArena::qcache_max),
            spans,
            stats: arena.stats(),
            max_free: arena.max_free(),
            qcaches: caches.map(CachedArena::cache_stats).unwrap_or_default(),
        }
    }

    /// `1 - largest free segment / free bytes`: 0 when all free space is
    /// one segment (or there is none), near 1 when it is in crumbs.
    pub fn fragmentation(&self) -> f64 {
        fragmentation(self.max_free, self.stats.mem_total - self.stats.mem_inuse)
    }
}

/// `1 - max_free / free`, 0 when nothing is free.
pub fn fragmentation(max_free: usize, free: usize) -> f64 {
    if free == 0 {
        0.0
    } else {
        1.0 - max_free as f64 / free as f64
    }
}

/// A fraction as a percentage with one decimal: `12.5%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// The arena table (one line per report, in order), then one table of
/// quantum-cache counters per arena that has caches.
pub fn render(reports: &[ArenaReport]) -> String {
    let mut arenas = Table::new(&[
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
    for r in reports {
        let s = &r.stats;
        arenas.row(vec![
            r.name.clone(),
            hex(r.quantum),
            hex(s.mem_inuse),
            hex(s.mem_total),
            hex(s.mem_import),
            s.alloc.to_string(),
            s.fail.to_string(),
            s.free.to_string(),
            r.spans.to_string(),
            s.imports.to_string(),
            s.releases.to_string(),
            hex(r.max_free),
            percent(r.fragmentation()),
            r.qcaches.len().to_string(),
        ]);
    }
    let mut out = arenas.render();
    for r in reports.iter().filter(|r| !r.qcaches.is_empty()) {
        out.push_str(&format!(
            "\nquantum caches of {} (qcache_max {}, slab {}):\n",
            r.name,
            hex(r.qcache_max),
            hex(r.qcaches[0].slab_size)
        ));
        out.push_str(&cache_table(&r.qcaches).render());
    }
    out
}

fn cache_table(caches: &[CacheStats]) -> Table {
    let mut table = Table::new(&[
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
    for c in caches {
        table.row(vec![
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
    table
}

/// Snapshots every arena of the process's list ([`registry`]), in
/// creation order: the process layer's own hierarchy first.
pub fn process_reports() -> Vec<ArenaReport> {
    let mut reports = Vec::new();
    registry::for_each(|m| reports.push(ArenaReport::of(m.arena(), m.caches())));
    reports
}

/// Writes the table of every arena of the process to `to` (a file is
/// created or truncated), under a title line.
pub fn write_process_report(to: &Report) -> io::Result<()> {
    let text = format!(
        "vmem report of process {}: {} arenas\n{}",
        std::process::id(),
        registry::len(),
        render(&process_reports())
    );
    match to {
        Report::Stderr => io::stderr().lock().write_all(text.as_bytes()),
        Report::File(path) => std::fs::write(path, text),
    }
}

/// Registers (once) the exit handler of the `report=` option: at `exit`
/// (or a return from `main`), the table of every arena goes where the
/// option says. A report that cannot be written is said on stderr.
pub(crate) fn write_at_exit() {
    extern "C" fn at_exit() {
        let Some(to) = crate::world().and_then(|w| w.options().report.as_ref()) else {
            return;
        };
        if let Err(err) = write_process_report(to) {
            let to = match to {
                Report::Stderr => "stderr".into(),
                Report::File(path) => path.display().to_string(),
            };
            eprintln!("vmem: report={to}: cannot write the exit report: {err}");
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `at_exit` is a plain function with C linkage that unwinds
        // nothing (it reports errors instead of panicking), as atexit needs.
        if unsafe { libc::atexit(at_exit) } != 0 {
            eprintln!("vmem: report=: cannot register the exit report (atexit failed)");
        }
    });
}

#[cfg(test)]
mod tests {
    use vmem_core::AllocFlags;

    use super::*;

    #[test]
    fn one_line_per_arena_then_the_caches() {
        let plain = Arena::new("plain", 0x1000, 0x4000, 0x10).unwrap();
        let a = plain.alloc(0x100, AllocFlags::new()).unwrap();
        let cached = CachedArena::new(Arena::new("cached", 0x10000, 0x10000, 0x10).unwrap(), 0x20);
        let b = cached.alloc(0x10, AllocFlags::new()).unwrap();
        let reports = [
            ArenaReport::of(&plain, None),
            ArenaReport::of(cached.arena(), Some(&cached)),
        ];
        assert_eq!(reports[0].spans, 1);
        assert_eq!(reports[0].stats.mem_inuse, 0x100);
        assert_eq!(reports[0].max_free, 0x3f00);
        assert_eq!(reports[1].qcaches.len(), 2);
        let text = render(&reports);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0][..3], ["NAME", "QUANTUM", "INUSE"], "{text}");
        // NAME QUANTUM INUSE TOTAL IMPORTED SUCCEED FAIL FREES SPANS ...
        assert_eq!(
            rows[1][..9],
            ["plain", "0x10", "0x100", "0x4000", "0x0", "1", "0", "0", "1"],
            "{text}"
        );
        assert_eq!(
            rows[1][rows[1].len() - 3..],
            ["0x3f00", "0.0%", "0"],
            "{text}"
        );
        assert_eq!(rows[2][0], "cached", "{text}");
        assert_eq!(rows[2].last(), Some(&"2"), "{text}");
        assert!(
            text.contains("quantum caches of cached (qcache_max 0x20"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("cached_")).count(),
            2,
            "{text}"
        );
        plain.free(a, 0x100).unwrap();
        cached.free(b, 0x10).unwrap();
    }

    #[test]
    fn fragmentation_is_the_share_of_free_space_outside_the_largest_piece() {
        assert_eq!(fragmentation(0, 0), 0.0);
        assert_eq!(fragmentation(0x100, 0x100), 0.0);
        assert_eq!(fragmentation(0x100, 0x400), 0.75);
        assert_eq!(percent(0.75), "75.0%");
    }

    #[test]
    fn the_process_report_lists_the_hierarchy() {
        crate::get();
        let reports = process_reports();
        let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        for name in ["heap", "vmem_internal", "vmem_seg", "vmem_hash"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let path = std::env::temp_dir().join(format!("vmem-report-{}.txt", std::process::id()));
        write_process_report(&Report::File(path.clone())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(text.starts_with("vmem report of process "), "{text}");
        assert!(text.contains("\nheap "), "{text}");
    }
}
