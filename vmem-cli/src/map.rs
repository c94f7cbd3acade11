//! `vmem-cli map`: an SVG picture of an arena's address space.
//!
//! Each arena gets a heading and one horizontal *band* per span (or, past
//! [`MAX_BANDS`] spans, one band over the whole range, gaps between spans
//! left blank). A band is `width` pixels for its address range. When a band
//! has at most one segment per pixel column, every allocated and free
//! segment is its own rectangle (class `seg alloc` / `seg free`, with a
//! tooltip); otherwise each pixel column is *aggregated*: its colour goes
//! from the free colour to the allocated colour with the fraction of its
//! bytes allocated, and equal neighbouring columns merge into one rectangle
//! (class `agg`). The element count is then bounded by the pixels, not by
//! the segments, so an arena of millions of segments makes a small file.

use svg::node::element::{Group, Line, Rectangle, Text, Title};
use svg::Document;
use vmem_core::{Segment, SegmentKind};

use crate::scenario::ArenaView;
use crate::stat::percent;
use crate::table::hex;

/// Most spans drawn as bands of their own; past that one band covers them all.
pub const MAX_BANDS: usize = 16;
/// Colour of allocated bytes.
pub const ALLOC_COLOR: (u8, u8, u8) = (0x3b, 0x6e, 0xa5);
/// Colour of free bytes.
pub const FREE_COLOR: (u8, u8, u8) = (0xf2, 0xc1, 0x4e);
/// Colour of addresses in no span (between spans of a combined band).
pub const GAP_COLOR: &str = "#eeeeee";
/// Shades between the free and allocated colours in an aggregated column.
const LEVELS: u32 = 16;

const MARGIN: f64 = 20.0;
const BAR_HEIGHT: f64 = 24.0;
const LABEL_GAP: f64 = 16.0;
const TICK_SPACE: f64 = 22.0;
const FONT: &str = "font-family:monospace;font-size:11px";

/// Settings of a picture.
#[derive(Clone, Copy, Debug)]
pub struct MapOptions {
    /// Width of a band in pixels (the picture is `2 * 20` wider).
    pub width: u32,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions { width: 1000 }
    }
}

/// What a picture holds (for the command's summary line and the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapSummary {
    /// Bands drawn.
    pub bands: usize,
    /// Segments drawn as rectangles of their own.
    pub segment_rects: usize,
    /// Segments drawn inside aggregated columns.
    pub aggregated_segments: usize,
    /// Rectangles of aggregated columns.
    pub aggregate_rects: usize,
}

fn rgb((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The colour of a column whose allocated fraction is `level / LEVELS`.
fn mix(level: u32) -> String {
    let t = f64::from(level) / f64::from(LEVELS);
    let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    rgb((
        lerp(FREE_COLOR.0, ALLOC_COLOR.0),
        lerp(FREE_COLOR.1, ALLOC_COLOR.1),
        lerp(FREE_COLOR.2, ALLOC_COLOR.2),
    ))
}

fn text(x: f64, y: f64, content: impl Into<String>) -> Text {
    Text::new(content)
        .set("x", x)
        .set("y", y)
        .set("style", FONT)
}

/// An address range drawn as one bar, and the segments inside it.
struct Band<'a> {
    title: String,
    lo: usize,
    hi: usize,
    segments: Vec<&'a Segment>,
}

fn bands(view: &ArenaView) -> Vec<Band<'_>> {
    let mut spans: Vec<Band<'_>> = Vec::new();
    for seg in &view.segments {
        match seg.kind {
            SegmentKind::Span | SegmentKind::ImportedSpan => spans.push(Band {
                title: format!(
                    "{} [{}, {}) {}",
                    if seg.kind == SegmentKind::ImportedSpan {
                        "imported span"
                    } else {
                        "span"
                    },
                    hex(seg.start),
                    hex(seg.start + seg.size),
                    hex(seg.size)
                ),
                lo: seg.start,
                hi: seg.start + seg.size,
                segments: Vec::new(),
            }),
            SegmentKind::Alloc | SegmentKind::Free => {
                if let Some(band) = spans.last_mut() {
                    band.segments.push(seg);
                }
            }
            SegmentKind::Rotor | SegmentKind::Walker => {}
        }
    }
    if spans.len() <= MAX_BANDS {
        return spans;
    }
    let lo = spans.iter().map(|b| b.lo).min().unwrap_or(0);
    let hi = spans.iter().map(|b| b.hi).max().unwrap_or(0);
    vec![Band {
        title: format!(
            "{} spans in [{}, {}) (gaps between spans in grey)",
            spans.len(),
            hex(lo),
            hex(hi)
        ),
        lo,
        hi,
        segments: spans.into_iter().flat_map(|b| b.segments).collect(),
    }]
}

/// Draws one band at `y`; returns its group.
fn draw_band(band: &Band<'_>, y: f64, width: f64, summary: &mut MapSummary) -> Group {
    let span = (band.hi - band.lo).max(1) as f64;
    let scale = width / span;
    let mut group = Group::new().set("class", "band-group");
    group = group.add(text(MARGIN, y - 4.0, band.title.clone()));
    group = group.add(
        Rectangle::new()
            .set("class", "band")
            .set("x", MARGIN)
            .set("y", y)
            .set("width", width)
            .set("height", BAR_HEIGHT)
            .set("fill", GAP_COLOR)
            .set("stroke", "#888888")
            .set("stroke-width", 0.5),
    );
    let x_of = |addr: usize| (addr - band.lo) as f64 * scale;
    if band.segments.len() <= width as usize {
        for seg in &band.segments {
            let alloc = seg.kind == SegmentKind::Alloc;
            let x0 = x_of(seg.start);
            let w = (x_of(seg.start + seg.size) - x0).max(0.5);
            let kind = if alloc { "alloc" } else { "free" };
            group = group.add(
                Rectangle::new()
                    .set("class", format!("seg {kind}"))
                    .set("x", MARGIN + x0)
                    .set("y", y)
                    .set("width", w)
                    .set("height", BAR_HEIGHT)
                    .set("fill", rgb(if alloc { ALLOC_COLOR } else { FREE_COLOR }))
                    .set("stroke", "#ffffff")
                    .set("stroke-width", 0.3)
                    .add(Title::new(format!(
                        "{kind} [{}, {}) {}",
                        hex(seg.start),
                        hex(seg.start + seg.size),
                        hex(seg.size)
                    ))),
            );
            summary.segment_rects += 1;
        }
    } else {
        let columns = width as usize;
        let mut allocated = vec![0f64; columns];
        let mut covered = vec![0f64; columns];
        for seg in &band.segments {
            let (x0, x1) = (x_of(seg.start), x_of(seg.start + seg.size));
            let first = (x0.floor() as usize).min(columns - 1);
            let last = (x1.ceil() as usize).clamp(first + 1, columns);
            for c in first..last {
                let part = (x1.min(c as f64 + 1.0) - x0.max(c as f64)).max(0.0);
                covered[c] += part;
                if seg.kind == SegmentKind::Alloc {
                    allocated[c] += part;
                }
            }
        }
        summary.aggregated_segments += band.segments.len();
        let level = |c: usize| {
            (covered[c] > 0.0)
                .then(|| ((allocated[c] / covered[c]) * f64::from(LEVELS)).round() as u32)
        };
        let mut c = 0;
        while c < columns {
            let here = level(c);
            let mut end = c + 1;
            while end < columns && level(end) == here {
                end += 1;
            }
            if let Some(l) = here {
                group = group.add(
                    Rectangle::new()
                        .set("class", "agg")
                        .set("x", MARGIN + c as f64)
                        .set("y", y)
                        .set("width", (end - c) as f64)
                        .set("height", BAR_HEIGHT)
                        .set("fill", mix(l))
                        .add(Title::new(format!(
                            "{}% allocated",
                            (f64::from(l) * 100.0 / f64::from(LEVELS)).round()
                        ))),
                );
                summary.aggregate_rects += 1;
            }
            c = end;
        }
    }
    // Scale: five ticks with their addresses.
    for i in 0..=4 {
        let x = MARGIN + width * f64::from(i) / 4.0;
        let addr = band.lo + ((band.hi - band.lo) as f64 * f64::from(i) / 4.0) as usize;
        group = group.add(
            Line::new()
                .set("x1", x)
                .set("x2", x)
                .set("y1", y + BAR_HEIGHT)
                .set("y2", y + BAR_HEIGHT + 4.0)
                .set("stroke", "#444444"),
        );
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        group = group.add(text(x, y + BAR_HEIGHT + 15.0, hex(addr)).set("text-anchor", anchor));
    }
    summary.bands += 1;
    group
}

fn legend(y: f64, width: f64) -> Group {
    let mut group = Group::new().set("class", "legend");
    let items = [
        (rgb(ALLOC_COLOR), "allocated".to_string()),
        (rgb(FREE_COLOR), "free".to_string()),
        (
            mix(LEVELS / 2),
            "mixed pixel (shade = fraction allocated)".to_string(),
        ),
        (GAP_COLOR.to_string(), "in no span".to_string()),
    ];
    let mut x = MARGIN;
    for (color, label) in items {
        group = group.add(
            Rectangle::new()
                .set("x", x)
                .set("y", y)
                .set("width", 12)
                .set("height", 12)
                .set("fill", color)
                .set("stroke", "#888888")
                .set("stroke-width", 0.5),
        );
        let w = 22.0 + 7.0 * label.len() as f64;
        group = group.add(text(x + 16.0, y + 10.0, label));
        x += w;
        if x > MARGIN + width {
            break;
        }
    }
    group
}

/// Draws `views` (one section per arena) and returns the document and what
/// it holds.
pub fn render(views: &[&ArenaView], options: MapOptions) -> (Document, MapSummary) {
    let width = f64::from(options.width.max(100));
    let mut summary = MapSummary::default();
    let mut body = Group::new().set("class", "map");
    let mut y = MARGIN + 12.0;
    body = body.add(text(MARGIN, y, "vmem arena map").set(
        "style",
        "font-family:sans-serif;font-size:15px;font-weight:bold",
    ));
    y += 10.0;
    body = body.add(legend(y, width));
    y += 30.0;
    for view in views {
        let s = &view.stats;
        let heading = format!(
            "arena {}: quantum {}, in use {} of {} ({}), largest free {}, fragmentation {}",
            view.name,
            hex(view.quantum),
            hex(s.mem_inuse),
            hex(s.mem_total),
            percent(if s.mem_total == 0 {
                0.0
            } else {
                s.mem_inuse as f64 / s.mem_total as f64
            }),
            hex(view.max_free),
            percent(view.fragmentation())
        );
        y += 6.0;
        body = body.add(text(MARGIN, y, heading).set(
            "style",
            "font-family:sans-serif;font-size:13px;font-weight:bold",
        ));
        y += 8.0;
        let bands = bands(view);
        if bands.is_empty() {
            y += 14.0;
            body = body.add(text(MARGIN, y, "(no spans)"));
            y += 10.0;
        }
        for band in &bands {
            y += LABEL_GAP;
            let px_bytes = (band.hi - band.lo) as f64 / width;
            let mut group = draw_band(band, y, width, &mut summary);
            group = group.add(
                text(
                    MARGIN + width,
                    y - 4.0,
                    format!("1 px = {px_bytes:.1} bytes"),
                )
                .set("text-anchor", "end"),
            );
            body = body.add(group);
            y += BAR_HEIGHT + TICK_SPACE;
        }
        y += 10.0;
    }
    let total_w = width + 2.0 * MARGIN;
    let total_h = y + MARGIN;
    let doc = Document::new()
        .set("width", total_w)
        .set("height", total_h)
        .set("viewBox", (0, 0, total_w, total_h))
        .add(
            Rectangle::new()
                .set("class", "background")
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(body);
    (doc, summary)
}
