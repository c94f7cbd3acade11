//! `map` writes well-formed SVG whose segments match `walk`; `replay` runs
//! a generated trace under every policy.

use std::path::Path;
use std::process::Command;

use vmem_cli::map::MapOptions;
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
    let (doc, summary) = vmem_cli::map::render(&[&view], MapOptions { width: 500 });
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
