//! `map` writes well-formed SVG whose segments match `walk`; `replay` runs
//! a generated trace under every policy.

use std::path::Path;
use std::process::Command;

use vmem_cli::map::{MapOptions, Scale};
use vmem_cli::scenario::{self, RunOptions};

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vmem-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Alloc and free rows of a walk, counted from the text itself.
fn walk_segment_rows(walk: &str) -> usize {
    walk.lines()
        .filter(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() == 5 && (t[1] == "alloc" || t[1] == "free")
        })
        .count()
}

#[test]
fn map_svg_parses_back_and_has_one_rect_per_walked_segment() {
    for name in ["demo.vmem", "fragment.vmem", "import.vmem", "extend.vmem"] {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        let out = temp(&format!("{name}.svg"));
        let summary = vmem_cli::map_file(&script, &out, None, MapOptions::default()).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let class_has = |n: &roxmltree::Node<'_, '_>, c: &str| {
            n.attribute("class")
                .is_some_and(|v| v.split(' ').any(|w| w == c))
        };
        let rects: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .collect();
        let segs = rects.iter().filter(|n| class_has(n, "seg")).count();
        let walk = vmem_cli::walk_file(&script, None, Default::default()).unwrap();
        // Walk shows the final state after any `print` snapshots: count the
        // final section only.
        let final_walk = walk.rsplit("-- end of ").next().unwrap();
        assert_eq!(segs, walk_segment_rows(final_walk), "{name}");
        assert_eq!(segs, summary.segment_rects);
        assert_eq!(
            summary.aggregate_rects, 0,
            "small scenarios are not aggregated"
        );
        let spans = final_walk
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|t| t.starts_with("span"))
            })
            .count();
        let bands = rects.iter().filter(|n| class_has(n, "band")).count();
        assert_eq!(bands, spans, "{name}: one band per span");
        assert!(
            text.contains("allocated") && text.contains("1 px ="),
            "legend and scale"
        );
    }
}

#[test]
fn map_aggregates_many_segments_per_pixel() {
    // 20000 segments in one span, drawn 500 pixels wide.
    let source = "arena big base=0 size=0x100000 quantum=0x10\n\
                  repeat 20000 alloc big 0x20 as o\n\
                  repeat 10000 step=2 free o\n";
    let script = scenario::parse("big.vmem", source).unwrap();
    let world = scenario::run(&script, &RunOptions::default()).unwrap();
    let view = world.view(0);
    let options = MapOptions {
        width: 500,
        ..MapOptions::default()
    };
    let (doc, summary) = vmem_cli::map::render(&[&view], options);
    assert_eq!(summary.segment_rects, 0);
    assert!(summary.aggregated_segments > 20000);
    assert!(summary.aggregate_rects <= 500, "bounded by pixels");
    let text = doc.to_string();
    assert!(text.len() < 200_000, "small file: {} bytes", text.len());
    roxmltree::Document::parse(&text).expect("well-formed SVG");
}

#[test]
fn replay_small_generated_trace_through_the_binary() {
    let trace = temp("trace.vmem");
    let bin = env!("CARGO_BIN_EXE_vmem-cli");
    let status = Command::new(bin)
        .args([
            "gen-trace",
            "--ops",
            "20000",
            "--seed",
            "3",
            "--live",
            "500",
            "-o",
        ])
        .arg(&trace)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(bin)
        .arg("replay")
        .arg(&trace)
        .arg("--compare-policies")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "no progress bar off a terminal");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 4, "{text}");
    for (row, policy) in rows.iter().zip(["instant", "best", "first", "next"]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], policy);
        assert_eq!(cells[2], "20001", "ops");
        assert!(cells[10].ends_with('%'), "fragmentation");
    }
}

#[test]
fn replay_counts_failures_instead_of_stopping() {
    let source = "arena tiny base=0 size=0x100 quantum=0x10\n\
                  a 0x80 1\na 0x80 2\na 0x80 3\nf 3\nf 1\na 0x40 4\n";
    let script = scenario::parse("t", source).unwrap();
    let results = vmem_cli::replay::replay(&script, None, false, &|_, _| {}).unwrap();
    let r = &results[0];
    assert_eq!(r.failed_allocs, 1);
    assert_eq!(r.arenas[0].peak_in_use, 0x100);
    assert_eq!(r.arenas[0].in_use, 0xc0);
}

/// The `width` of every `rect` of class `band`, in document order.
fn band_widths(svg: &str) -> Vec<f64> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("band"))
        .map(|n| n.attribute("width").unwrap().parse().unwrap())
        .collect()
}

fn scenario(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

#[test]
fn map_range_draws_only_what_is_inside() {
    // demo.vmem: va spans [0x100000, 0x200000); heap imported 64 KiB of it.
    let options = MapOptions {
        range: Some((0x100000, 0x100400)),
        ..MapOptions::default()
    };
    let (svg, summary) = vmem_cli::map_svg(&scenario("demo.vmem"), Some("heap"), options).unwrap();
    assert_eq!(summary.bands, 1);
    assert!(svg.contains("(showing [0x100000, 0x100400))"), "{svg}");
    // heap's segments below 0x100400: alloc, free, alloc, free, and the
    // free [0x100370, 0x100410), cut at the range's end; the alloc at
    // 0x100410 is left out.
    assert_eq!(summary.segment_rects, 5);
    assert!(svg.contains("free [0x100370, 0x100410)"), "{svg}");
    assert!(!svg.contains("[0x100410,"), "nothing past the range");
    // A range no span reaches leaves the arena empty.
    let away = MapOptions {
        range: Some((0x10, 0x20)),
        ..MapOptions::default()
    };
    let (svg, summary) = vmem_cli::map_svg(&scenario("demo.vmem"), Some("heap"), away).unwrap();
    assert_eq!(summary.bands, 0);
    assert!(svg.contains("(no span in the range)"));
}

#[test]
fn map_arena_scale_keeps_spans_in_proportion() {
    // extend.vmem: brk has spans of 0x2000, 0x2000 and 0x800 bytes.
    let path = scenario("extend.vmem");
    let (by_band, _) = vmem_cli::map_svg(&path, Some("brk"), MapOptions::default()).unwrap();
    assert_eq!(band_widths(&by_band), [1000.0, 1000.0, 1000.0]);
    let options = MapOptions {
        scale: Scale::Arena,
        ..MapOptions::default()
    };
    let (by_arena, _) = vmem_cli::map_svg(&path, Some("brk"), options).unwrap();
    assert_eq!(band_widths(&by_arena), [1000.0, 1000.0, 250.0]);
}

#[test]
fn map_to_standard_output() {
    let dir = temp("stdout");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmem-cli"))
        .current_dir(&dir)
        .arg("map")
        .arg(scenario("fragment.vmem"))
        .args(["-o", "-", "--range", "0x100000..0x104000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("-").exists(), "no file named `-`");
    let svg = String::from_utf8(out.stdout).unwrap();
    roxmltree::Document::parse(&svg).expect("SVG on stdout");
    assert!(out.stderr.is_empty());
}

#[test]
fn map_summary_counts_in_words() {
    let out_file = temp("one-band.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_vmem-cli"))
        .arg("map")
        .arg(scenario("fragment.vmem"))
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(": 1 band, "), "{text}");
    assert!(text.contains("aggregated into 0 pixel runs"), "{text}");
}

#[test]
fn map_rejects_a_bad_range_as_a_usage_error() {
    for range in ["0x2000..0x1000", "12", "0x1000..zz"] {
        let out = Command::new(env!("CARGO_BIN_EXE_vmem-cli"))
            .arg("map")
            .arg(scenario("fragment.vmem"))
            .args(["-o", "-", "--range", range])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{range}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn replay_and_walk_refuse_a_free_of_a_label_never_allocated() {
    let source = "arena tiny base=0 size=0x100 quantum=0x10\na 0x10 1\nf 1\nf 2\n";
    let script = scenario::parse("t.vmem", source).unwrap();
    let replayed = vmem_cli::replay::replay(&script, None, false, &|_, _| {}).unwrap_err();
    let walked = scenario::run(&script, &RunOptions::default())
        .err()
        .unwrap();
    assert_eq!(
        replayed.to_string(),
        vmem_cli::CliError::from(walked).to_string()
    );
    assert!(
        replayed
            .to_string()
            .starts_with("t.vmem:4:1: no allocation is labelled `2`"),
        "{replayed}"
    );
    // Through the binary, streamed.
    let trace = temp("never.vmem");
    std::fs::write(&trace, source).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmem-cli"))
        .arg("replay")
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(":4:1: no allocation is labelled `2`"), "{err}");
}

#[test]
fn a_generated_trace_has_room_for_its_live_set() {
    // 600000 operations climb to about 100000 live allocations: more than
    // the old fixed 1 GiB arena held under next-fit.
    let trace = temp("live.vmem");
    let bin = env!("CARGO_BIN_EXE_vmem-cli");
    let status = Command::new(bin)
        .args(["gen-trace", "--ops", "600000", "--live", "100000", "-o"])
        .arg(&trace)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(bin)
        .arg("replay")
        .arg(&trace)
        .args(["--policy", "next"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(row[5], "0", "no failed allocation:\n{text}");
}
