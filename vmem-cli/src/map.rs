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
//!
//! [`MapOptions::range`] zooms in on an address range; [`Scale::Arena`]
//! gives all bands of an arena one bytes-per-pixel scale.

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

/// How bytes map to pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Every band is the full width, whatever its size (small spans are
    /// stretched: best for seeing inside each one).
    #[default]
    Band,
    /// One scale per arena: its largest band is the full width and the
    /// others are drawn shorter in proportion, so spans compare by length.
    Arena,
}

impl Scale {
    /// Parses `band` or `arena`.
    pub fn parse(text: &str) -> Result<Scale, String> {
        match text {
            "band" => Ok(Scale::Band),
            "arena" => Ok(Scale::Arena),
            other => Err(format!("unknown scale `{other}` (expected band or arena)")),
        }
    }
}

/// Settings of a picture.
#[derive(Clone, Copy, Debug)]
pub struct MapOptions {
    /// Width of a band in pixels (the picture is `2 * 20` wider).
    pub width: u32,
    /// Draw only addresses in `[start, end)`: spans outside it are left
    /// out, the others cut to it.
    pub range: Option<(usize, usize)>,
    /// How bytes map to pixels.
    pub scale: Scale,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            width: 1000,
            range: None,
            scale: Scale::Band,
        }
    }
}

/// Parses an address range `START..END` (numbers as in scenarios: `0x`
/// hex, `K`/`M`/`G` suffixes), with `START < END`.
pub fn parse_range(text: &str) -> Result<(usize, usize), String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("expected START..END, found `{text}`"))?;
    let number = |part: &str| {
        crate::scenario::parse_number(part.trim())
            .ok_or_else(|| format!("expected a number, found `{part}` in `{text}`"))
    };
    let (start, end) = (number(start)?, number(end)?);
    if start >= end {
        return Err(format!(
            "the range `{text}` is empty (START must be below END)"
        ));
    }
    Ok((start, end))
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

/// `[lo, hi)` cut to `range`, if anything is left.
fn clip(lo: usize, hi: usize, range: Option<(usize, usize)>) -> Option<(usize, usize)> {
    let (start, end) = range.unwrap_or((lo, hi));
    let (lo, hi) = (lo.max(start), hi.min(end));
    (lo < hi).then_some((lo, hi))
}

/// The title of a span's band (noting the part shown when it is cut).
fn span_title(seg: &Segment, lo: usize, hi: usize) -> String {
    let kind = if seg.kind == SegmentKind::ImportedSpan {
        "imported span"
    } else {
        "span"
    };
    let end = seg.start + seg.size;
    let mut title = format!(
        "{kind} [{}, {}) {}",
        hex(seg.start),
        hex(end),
        hex(seg.size)
    );
    if (lo, hi) != (seg.start, end) {
        title.push_str(&format!(" (showing [{}, {}))", hex(lo), hex(hi)));
    }
    title
}

/// One band per span in `range`, each with the segments that reach into it.
fn span_bands(view: &ArenaView, range: Option<(usize, usize)>) -> Vec<Band<'_>> {
    let mut bands: Vec<Band<'_>> = Vec::new();
    // Whether the last span seen is drawn (its segments go to the last band).
    let mut drawn = false;
    for seg in &view.segments {
        match seg.kind {
            SegmentKind::Span | SegmentKind::ImportedSpan => {
                let cut = clip(seg.start, seg.start + seg.size, range);
                drawn = cut.is_some();
                if let Some((lo, hi)) = cut {
                    bands.push(Band {
                        title: span_title(seg, lo, hi),
                        lo,
                        hi,
                        segments: Vec::new(),
                    });
                }
            }
            SegmentKind::Alloc | SegmentKind::Free if drawn => {
                let band = bands.last_mut().expect("a drawn span has a band");
                if clip(seg.start, seg.start + seg.size, Some((band.lo, band.hi))).is_some() {
                    band.segments.push(seg);
                }
            }
            _ => {}
        }
    }
    bands
}

/// The bands of an arena: one per span, or past [`MAX_BANDS`] spans one
/// over all of them.
fn bands(view: &ArenaView, range: Option<(usize, usize)>) -> Vec<Band<'_>> {
    let spans = span_bands(view, range);
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

/// Where a band is drawn: its top, its width in pixels, and its bytes.
#[derive(Clone, Copy)]
struct Place {
    y: f64,
    width: f64,
    lo: usize,
    hi: usize,
}

impl Place {
    /// Pixels from the band's left edge to `addr` (cut to the band).
    fn x_of(&self, addr: usize) -> f64 {
        let span = (self.hi - self.lo).max(1) as f64;
        (addr.clamp(self.lo, self.hi) - self.lo) as f64 * (self.width / span)
    }
}

/// Draws one band at `y`, `width` pixels wide; returns its group.
fn draw_band(band: &Band<'_>, y: f64, width: f64, summary: &mut MapSummary) -> Group {
    let place = Place {
        y,
        width,
        lo: band.lo,
        hi: band.hi,
    };
    let mut group = band_frame(band, &place);
    let rects = if band.segments.len() <= width as usize {
        segment_rects(band, &place, summary)
    } else {
        aggregate_rects(band, &place, summary)
    };
    for rect in rects {
        group = group.add(rect);
    }
    group = ticks(group, &place);
    summary.bands += 1;
    group
}

/// A band's title and its grey background (the colour of "no span").
fn band_frame(band: &Band<'_>, place: &Place) -> Group {
    Group::new()
        .set("class", "band-group")
        .add(text(MARGIN, place.y - 4.0, band.title.clone()))
        .add(
            Rectangle::new()
                .set("class", "band")
                .set("x", MARGIN)
                .set("y", place.y)
                .set("width", place.width)
                .set("height", BAR_HEIGHT)
                .set("fill", GAP_COLOR)
                .set("stroke", "#888888")
                .set("stroke-width", 0.5),
        )
}

/// One rectangle per segment, with a tooltip.
fn segment_rects(band: &Band<'_>, place: &Place, summary: &mut MapSummary) -> Vec<Rectangle> {
    let mut rects = Vec::with_capacity(band.segments.len());
    for seg in &band.segments {
        let alloc = seg.kind == SegmentKind::Alloc;
        let x0 = place.x_of(seg.start);
        let w = (place.x_of(seg.start + seg.size) - x0).max(0.5);
        let kind = if alloc { "alloc" } else { "free" };
        rects.push(
            Rectangle::new()
                .set("class", format!("seg {kind}"))
                .set("x", MARGIN + x0)
                .set("y", place.y)
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
    rects
}

/// Per pixel column, the pixels' worth of bytes covered by a segment and
/// the part of it allocated.
fn column_coverage(band: &Band<'_>, place: &Place, columns: usize) -> (Vec<f64>, Vec<f64>) {
    let mut allocated = vec![0f64; columns];
    let mut covered = vec![0f64; columns];
    for seg in &band.segments {
        let (x0, x1) = (place.x_of(seg.start), place.x_of(seg.start + seg.size));
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
    (allocated, covered)
}

/// Shaded pixel columns, equal neighbours merged into one rectangle.
fn aggregate_rects(band: &Band<'_>, place: &Place, summary: &mut MapSummary) -> Vec<Rectangle> {
    let columns = (place.width as usize).max(1);
    let (allocated, covered) = column_coverage(band, place, columns);
    summary.aggregated_segments += band.segments.len();
    let level = |c: usize| {
        (covered[c] > 0.0).then(|| ((allocated[c] / covered[c]) * f64::from(LEVELS)).round() as u32)
    };
    let mut rects = Vec::new();
    let mut c = 0;
    while c < columns {
        let here = level(c);
        let mut end = c + 1;
        while end < columns && level(end) == here {
            end += 1;
        }
        if let Some(l) = here {
            rects.push(
                Rectangle::new()
                    .set("class", "agg")
                    .set("x", MARGIN + c as f64)
                    .set("y", place.y)
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
    rects
}

/// The scale under a band: five ticks with their addresses.
fn ticks(mut group: Group, place: &Place) -> Group {
    let y = place.y;
    for i in 0..=4 {
        let x = MARGIN + place.width * f64::from(i) / 4.0;
        let addr = place.lo + ((place.hi - place.lo) as f64 * f64::from(i) / 4.0) as usize;
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
    group
}

/// Bytes per pixel of each band: its own size over `width`, or under
/// [`Scale::Arena`] the largest band's.
fn bytes_per_px(bands: &[Band<'_>], width: f64, scale: Scale) -> Vec<f64> {
    let own = |b: &Band<'_>| (b.hi - b.lo) as f64 / width;
    match scale {
        Scale::Band => bands.iter().map(own).collect(),
        Scale::Arena => {
            let widest = bands.iter().map(own).fold(0.0, f64::max);
            vec![widest; bands.len()]
        }
    }
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

/// The heading of an arena's section.
fn arena_heading(view: &ArenaView) -> String {
    let s = &view.stats;
    format!(
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
    )
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
        y += 6.0;
        body = body.add(text(MARGIN, y, arena_heading(view)).set(
            "style",
            "font-family:sans-serif;font-size:13px;font-weight:bold",
        ));
        y += 8.0;
        let bands = bands(view, options.range);
        if bands.is_empty() {
            y += 14.0;
            let note = if options.range.is_some() {
                "(no span in the range)"
            } else {
                "(no spans)"
            };
            body = body.add(text(MARGIN, y, note));
            y += 10.0;
        }
        let scales = bytes_per_px(&bands, width, options.scale);
        for (band, px_bytes) in bands.iter().zip(scales) {
            y += LABEL_GAP;
            let band_width = match options.scale {
                Scale::Band => width,
                Scale::Arena => ((band.hi - band.lo) as f64 / px_bytes).clamp(1.0, width),
            };
            let mut group = draw_band(band, y, band_width, &mut summary);
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
