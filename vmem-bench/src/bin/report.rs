//! Reads the estimates of `cargo bench -p vmem-bench` runs from criterion's
//! output directories and prints them as Markdown tables, in ns per
//! operation. With one directory: criterion's median and the 95%
//! confidence interval of that median. With several (`--dir D` repeated,
//! one saved copy of `target/criterion` per run): the median of the runs'
//! medians and the lowest and highest of them. `--svg PATH` also draws the
//! `pair/...` figures against the number of live segments.
//!
//! `cargo run --release -p vmem-bench --bin report -- [--dir D]... [--svg docs/perf-pairs.svg]`
//! (without `--dir`: `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// One benchmark's result, per operation.
struct Estimate {
    median: f64,
    low: f64,
    high: f64,
}

/// Every `new/benchmark.json` under `dir`, keyed by full id.
fn collect(dir: &Path, out: &mut BTreeMap<String, Vec<Estimate>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                if let Some((id, est)) = read(&p) {
                    out.entry(id).or_default().push(est);
                }
            } else {
                collect(&p, out);
            }
        }
    }
}

fn read(dir: &Path) -> Option<(String, Estimate)> {
    let json = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let bench = json("benchmark.json")?;
    let est = json("estimates.json")?;
    let id = bench["full_id"].as_str()?.to_string();
    // Throughput benchmarks time a batch: divide by its elements.
    let per = bench["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    let m = &est["median"];
    let ci = &m["confidence_interval"];
    Some((
        id,
        Estimate {
            median: m["point_estimate"].as_f64()? / per,
            low: ci["lower_bound"].as_f64()? / per,
            high: ci["upper_bound"].as_f64()? / per,
        },
    ))
}

fn fmt(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1000.0)
    } else if ns >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}

/// The `pair` figures: one line per allocator (instant-fit where there is
/// a choice) over the live counts.
fn plot(all: &BTreeMap<String, Estimate>, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    const LIVE: [&str; 4] = ["0", "1000", "100000", "1000000"];
    let series: [(&str, &str, RGBColor); 7] = [
        (
            "vmem instant-fit",
            "vmem/pair/instant/",
            RGBColor(0, 90, 200),
        ),
        ("vmem best-fit", "vmem/pair/best/", RGBColor(120, 170, 240)),
        ("vmem 1.0.0 instant-fit", "vmem-1.0.0/pair/instant/", RED),
        ("range-alloc", "range-alloc/pair/", RGBColor(230, 140, 0)),
        (
            "offset-allocator",
            "offset-allocator/pair/",
            RGBColor(0, 150, 70),
        ),
        ("vm-allocator", "vm-allocator/pair/", RGBColor(140, 60, 170)),
        (
            "buddy_system_allocator",
            "buddy_system_allocator/pair/",
            RGBColor(90, 90, 90),
        ),
    ];
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "alloc+free pair (3 quanta) vs live segments, median ns",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.2f64..3.2f64, (5f64..1e6f64).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            ["0", "10^3", "10^5", "10^6"]
                .get(i)
                .filter(|_| (x - x.round()).abs() < 1e-6)
                .map_or(String::new(), |s| s.to_string())
        })
        .y_label_formatter(&|y| fmt(*y))
        .x_desc("live segments (each followed by a free hole)")
        .y_desc("ns per pair (log scale)")
        .draw()?;
    for (label, prefix, color) in series {
        let points: Vec<(f64, f64)> = LIVE
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                all.get(&format!("{prefix}{n}"))
                    .map(|e| (i as f64, e.median))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut dirs: Vec<PathBuf> = args
        .windows(2)
        .filter(|w| w[0] == "--dir")
        .map(|w| PathBuf::from(&w[1]))
        .collect();
    if dirs.is_empty() {
        dirs.push(target.join("criterion"));
    }
    let mut runs = BTreeMap::new();
    for d in &dirs {
        collect(d, &mut runs);
    }
    if runs.is_empty() {
        return Err(
            format!("no estimates under {dirs:?}: run `cargo bench -p vmem-bench` first").into(),
        );
    }
    // Several runs: the median of their medians, and the lowest and
    // highest of them.
    let all: BTreeMap<String, Estimate> = runs
        .into_iter()
        .map(|(id, mut v)| {
            if v.len() == 1 {
                return (id, v.pop().unwrap());
            }
            v.sort_by(|a, b| a.median.total_cmp(&b.median));
            let e = Estimate {
                median: v[v.len() / 2].median,
                low: v[0].median,
                high: v[v.len() - 1].median,
            };
            (id, e)
        })
        .collect();
    let spread = if dirs.len() > 1 {
        format!("lowest – highest of the {} runs' medians", dirs.len())
    } else {
        "95% CI of the median".to_string()
    };
    let mut group = String::new();
    for (id, e) in &all {
        let (g, rest) = id.split_once('/').unwrap_or((id, ""));
        if g != group {
            group = g.to_string();
            println!("\n### {group}\n\n| benchmark | median | {spread} |\n|---|---:|---:|");
        }
        println!(
            "| `{rest}` | {} | {} – {} |",
            fmt(e.median),
            fmt(e.low),
            fmt(e.high)
        );
    }
    if let Some(i) = args.iter().position(|a| a == "--svg") {
        let path = args.get(i + 1).ok_or("--svg needs a path")?;
        plot(&all, Path::new(path))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
