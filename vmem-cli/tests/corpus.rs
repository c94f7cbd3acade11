//! Snapshot tests over the scenario corpus in `vmem-cli/scenarios/`: the
//! walk and stat output of every scenario, and the message of every
//! scenario under `errors/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use vmem_cli::walk::TypeFilter;

/// The path as the tool would be given it from the crate directory, so the
/// file names inside messages are stable.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .expect("corpus files are inside the crate")
        .to_path_buf()
}

fn walk_and_stat(path: &Path) -> String {
    let walk = vmem_cli::walk_file(path, None, TypeFilter::default())
        .unwrap_or_else(|e| panic!("{} should run:\n{e}", path.display()));
    let stat = vmem_cli::stat_file(path, None).expect("stat runs when walk does");
    format!("{walk}\n== stat\n{stat}")
}

#[test]
fn scenarios_walk_and_stat() {
    insta::glob!("../scenarios", "*.vmem", |path| {
        insta::assert_snapshot!(walk_and_stat(&relative(path)));
    });
}

#[test]
fn error_scenarios_report_file_line_and_column() {
    insta::glob!("../scenarios/errors", "*.vmem", |path| {
        let path = relative(path);
        let err = vmem_cli::walk_file(&path, None, TypeFilter::default())
            .expect_err("an error scenario must fail");
        let text = err.to_string();
        let location = format!("{}:", path.display());
        assert!(text.starts_with(&location), "names the file: {text}");
        insta::assert_snapshot!(text);
    });
}

#[test]
fn corpus_covers_every_statement_and_policy() {
    let mut all = String::new();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vmem") {
            all.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    for needle in [
        "policy=instant",
        "policy=best",
        "policy=first",
        "policy=next",
        "xalloc ",
        "align=",
        "phase=",
        "nocross=",
        "min=",
        "max=",
        " end ",
        "source=",
        "import_quantum=",
        "limit=",
        "qcache_max=",
        "reap ",
        "extend ",
        "add ",
        "expect-fail ",
        "repeat ",
        "print",
        "\na ",
        "\nf ",
    ] {
        assert!(all.contains(needle), "no scenario uses `{}`", needle.trim());
    }
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmem-cli"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn binary_walk_prints_what_the_library_renders() {
    let out = binary()
        .args(["walk", "scenarios/demo.vmem"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = vmem_cli::walk_file(
        Path::new("scenarios/demo.vmem"),
        None,
        TypeFilter::default(),
    )
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    assert!(out.stderr.is_empty());
}

#[test]
fn binary_walk_filters_arena_and_types() {
    let out = binary()
        .args([
            "walk",
            "scenarios/demo.vmem",
            "--arena",
            "heap",
            "--types",
            "alloc",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn binary_walk_shows_the_rotor_alone() {
    let out = binary()
        .args(["walk", "scenarios/nextfit.vmem", "--types", "rotor"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("rotor")).collect();
    // One rotor in the print at line 12 and one at the end, each between
    // the segments it separates.
    assert_eq!(rows.len(), 2, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn binary_fails_cleanly_on_a_bad_script() {
    let out = binary()
        .args(["walk", "scenarios/errors/double-free.vmem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no partial output on stdout");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: scenarios/errors/double-free.vmem:5:1: "),
        "{err}"
    );
}

#[test]
fn binary_rejects_unknown_arena_and_type() {
    let out = binary()
        .args(["walk", "scenarios/demo.vmem", "--arena", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no arena named `nope`"));
    let out = binary()
        .args(["walk", "scenarios/demo.vmem", "--types", "alloc,bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(out.stdout.is_empty());
}

#[test]
fn binary_exit_codes_match_the_documentation() {
    // 2: the command line is wrong (clap's own errors included).
    for args in [
        &["walk"][..],
        &["walk", "scenarios/demo.vmem", "--bogus"],
        &["map", "scenarios/demo.vmem"],
        &["frobnicate"],
    ] {
        let out = binary().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // 1: the script or a file fails.
    for args in [
        &["walk", "scenarios/errors/unknown-label.vmem"][..],
        &["stat", "scenarios/does-not-exist.vmem"],
    ] {
        let out = binary().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    // 0: success, and --help.
    let out = binary().args(["stat", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // docs/cli.md belongs to the source tree, not to the published crate:
    // from an unpacked crate there is nothing to compare against.
    let Ok(doc) =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md"))
    else {
        return;
    };
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        doc.contains("exits 0 on success, 1"),
        "docs/cli.md states the exit codes"
    );
    assert!(
        doc.contains("2 for a usage error"),
        "docs/cli.md states the exit codes"
    );
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["walk", "stat", "replay", "map", "gen-trace"] {
        let out = binary().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Example"),
            "{sub} --help shows an example:\n{text}"
        );
    }
}
