//! `vmem-cli walk`: every arena's segments in address order, like mdb's
//! `::walk vmem_seg | ::vmem_seg`.

use vmem_core::SegmentKind;

use crate::scenario::{ArenaView, World};
use crate::table::{hex, plural, Align, Table};

/// Which segment types a walk shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeFilter {
    /// Spans (added and imported).
    pub span: bool,
    /// Allocated segments.
    pub alloc: bool,
    /// Free segments.
    pub free: bool,
    /// The next-fit rotor.
    pub rotor: bool,
}

impl Default for TypeFilter {
    fn default() -> Self {
        TypeFilter {
            span: true,
            alloc: true,
            free: true,
            rotor: true,
        }
    }
}

/// What `--types` accepts.
const TYPES: &str = "span, alloc, free or rotor";

impl TypeFilter {
    /// No type at all.
    const NONE: TypeFilter = TypeFilter {
        span: false,
        alloc: false,
        free: false,
        rotor: false,
    };

    /// Parses a comma-separated list of `span`, `alloc`, `free` and `rotor`.
    pub fn parse(list: &str) -> Result<TypeFilter, String> {
        let mut filter = TypeFilter::NONE;
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "span" | "spans" => filter.span = true,
                "alloc" | "allocated" => filter.alloc = true,
                "free" => filter.free = true,
                "rotor" => filter.rotor = true,
                other => return Err(format!("unknown segment type `{other}` (expected {TYPES})")),
            }
        }
        if filter == TypeFilter::NONE {
            return Err(format!("no segment type given (expected {TYPES})"));
        }
        Ok(filter)
    }

    /// Whether segments of `kind` are shown.
    pub fn shows(&self, kind: SegmentKind) -> bool {
        match kind {
            SegmentKind::Span | SegmentKind::ImportedSpan => self.span,
            SegmentKind::Alloc => self.alloc,
            SegmentKind::Free => self.free,
            SegmentKind::Rotor => self.rotor,
            // Markers of concurrent walks: a scenario runs none.
            SegmentKind::Walker => false,
        }
    }
}

/// The word the TYPE column shows for a segment kind.
pub fn type_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Span => "span",
        SegmentKind::ImportedSpan => "span*",
        SegmentKind::Alloc => "alloc",
        SegmentKind::Free => "free",
        SegmentKind::Rotor => "rotor",
        SegmentKind::Walker => "walker",
    }
}

/// One arena's header line and segment table.
pub fn render_arena(view: &ArenaView, filter: TypeFilter) -> String {
    let count = |f: fn(SegmentKind) -> bool| view.segments.iter().filter(|s| f(s.kind)).count();
    let spans = count(|k| matches!(k, SegmentKind::Span | SegmentKind::ImportedSpan));
    let allocs = count(|k| k == SegmentKind::Alloc);
    let frees = count(|k| k == SegmentKind::Free);
    let mut out = format!("arena {}: quantum {}", view.name, hex(view.quantum));
    if let Some(source) = &view.source {
        out.push_str(&format!(", imports from {source}"));
    }
    if view.qcache_max != 0 {
        out.push_str(&format!(", qcache_max {}", hex(view.qcache_max)));
    }
    out.push_str(&format!(
        "; {}, {} allocated, {} free\n",
        plural(spans, "span"),
        allocs,
        frees
    ));
    let mut table = Table::new(&[
        ("SEG", Align::Right),
        ("TYPE", Align::Left),
        ("START", Align::Right),
        ("END", Align::Right),
        ("SIZE", Align::Right),
    ]);
    let mut imported = false;
    for (index, seg) in view.segments.iter().enumerate() {
        if !filter.shows(seg.kind) {
            continue;
        }
        imported |= seg.kind == SegmentKind::ImportedSpan;
        table.row(vec![
            index.to_string(),
            type_name(seg.kind).to_string(),
            hex(seg.start),
            hex(seg.start + seg.size),
            hex(seg.size),
        ]);
    }
    if table.is_empty() {
        out.push_str("  (no segments)\n");
    } else {
        out.push_str(&table.render());
    }
    if imported {
        out.push_str(&format!(
            "  (span* = imported from {})\n",
            view.source.as_deref().unwrap_or("the source")
        ));
    }
    out
}

/// Renders a list of arenas, a blank line between two.
pub fn render_views<'a>(
    views: impl IntoIterator<Item = &'a ArenaView>,
    filter: TypeFilter,
) -> String {
    views
        .into_iter()
        .map(|v| render_arena(v, filter))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole `walk` output: every `print` snapshot of the script (each under
/// a `-- print at FILE:LINE` heading), then the final state of every arena
/// (under `-- end of FILE` when there were prints). `arena` restricts both
/// to one arena.
pub fn render(world: &World, file: &str, arena: Option<&str>, filter: TypeFilter) -> String {
    let keep = |v: &&ArenaView| arena.is_none_or(|name| v.name == name);
    let mut out = String::new();
    for printed in &world.prints {
        let views: Vec<&ArenaView> = printed.views.iter().filter(keep).collect();
        if views.is_empty() {
            continue;
        }
        out.push_str(&format!("-- print at {file}:{}\n", printed.line));
        out.push_str(&render_views(views, filter));
        out.push('\n');
    }
    if !out.is_empty() {
        out.push_str(&format!("-- end of {file}\n"));
    }
    let finals = world.views();
    out.push_str(&render_views(finals.iter().filter(keep), filter));
    out
}
