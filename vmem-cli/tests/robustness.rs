//! Random and malformed scripts, from a seeded generator, through the
//! parser, the runner (whole and streamed) and every renderer: nothing may
//! panic, and every error must start with `file:line:col: `.
//!
//! Two sources of scripts: sequences of words from the language's own
//! vocabulary (keywords, options, names, numbers at the edges), and the
//! corpus in `scenarios/` with its bytes and words shuffled about.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use vmem_cli::map::{MapOptions, Scale};
use vmem_cli::scenario::{self, RunOptions, Script, ScriptError};
use vmem_cli::walk::TypeFilter;

const FILE: &str = "fuzz.vmem";

const WORDS: &[&str] = &[
    "arena",
    "add",
    "alloc",
    "xalloc",
    "free",
    "f",
    "a",
    "extend",
    "reap",
    "print",
    "walk",
    "expect-fail",
    "repeat",
    "as",
    "end",
    "h",
    "k",
    "x",
    "x.1",
    "y",
    "base=0",
    "base=0x1000",
    "base=0x1001",
    "base=0xfffffffffffff000",
    "size=4K",
    "size=0x1000",
    "size=1G",
    "size=0",
    "size=",
    "quantum=1",
    "quantum=16",
    "quantum=0",
    "quantum=3",
    "quantum=4K",
    "source=h",
    "source=k",
    "source=nope",
    "qcache_max=0x40",
    "qcache_max=1G",
    "import_quantum=4K",
    "limit=8K",
    "limit=0",
    "policy=instant",
    "policy=best",
    "policy=first",
    "policy=next",
    "policy=bogus",
    "align=0x100",
    "align=3",
    "phase=0x10",
    "nocross=0x1000",
    "min=0x1000",
    "max=0x2000",
    "max=0",
    "from=1",
    "step=2",
    "from=18446744073709551615",
    "step=18446744073709551615",
    "=",
    "==",
    "#",
    "é",
    "\t",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "0x10",
    "0x18",
    "0x40",
    "0x100",
    "0x1000",
    "0x1040",
    "0x10000",
    "4K",
    "64K",
    "1M",
    "1G",
    "0x1001",
    "0xffffffffffffffff",
    "18446744073709551615",
    "99999999999999999999999",
    "0x1_0000_0000_0000_0000",
    "0xffffffffffffffffK",
    "-1",
    "0x",
    "1_",
    "_1",
    "12z",
    "K",
];

/// Counts after `repeat`: small ones (so scripts stay quick) and ones at
/// and past the cap (refused before anything is expanded).
const COUNTS: &[&str] = &[
    "1",
    "2",
    "2",
    "3",
    "5",
    "5",
    "64",
    "0",
    "16M",
    "17M",
    "0xffffffffffffffff",
    "zz",
];

fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    list[rng.usize(..list.len())]
}

/// Arena names: `h` is always declared, `k` often, the others seldom.
const ARENAS: &[&str] = &[
    "h", "h", "h", "h", "h", "h", "h", "h", "h", "k", "k", "p", "nope",
];
const LABELS: &[&str] = &["x", "y", "x.0", "x.1", "z", "1", "2"];
const ARENA_OPTIONS: &[&str] = &[
    "base=0",
    "base=0x1000",
    "base=0x1001",
    "base=0xfffffffffffff000",
    "size=4K",
    "size=0x1000",
    "size=64K",
    "size=1G",
    "size=0",
    "size=",
    "quantum=1",
    "quantum=16",
    "quantum=0",
    "quantum=3",
    "quantum=4K",
    "source=h",
    "source=k",
    "source=nope",
    "qcache_max=0x40",
    "qcache_max=1G",
    "import_quantum=4K",
    "limit=8K",
    "limit=0",
];
const ALLOC_OPTIONS: &[&str] = &[
    "policy=instant",
    "policy=best",
    "policy=first",
    "policy=next",
    "end",
];
const XALLOC_OPTIONS: &[&str] = &[
    "policy=instant",
    "policy=next",
    "policy=bogus",
    "end",
    "align=0x100",
    "align=3",
    "align=0",
    "phase=0x10",
    "phase=0x100",
    "nocross=0x1000",
    "nocross=0x10",
    "min=0x1000",
    "max=0x2000",
    "max=0",
    "min=0xffffffffffffffff",
];
/// Sizes and addresses: mostly ones an arena above can meet.
const SIZES: &[&str] = &[
    "0x10", "0x18", "0x20", "0x40", "0x100", "0x1000", "0x1040", "0x2000", "0x10000", "1", "16",
    "64K",
];

/// A number: usually a plausible size or address, sometimes an edge case.
fn number(rng: &mut fastrand::Rng) -> &'static str {
    if rng.u8(..16) == 0 {
        pick(rng, NUMBERS)
    } else {
        pick(rng, SIZES)
    }
}

/// The words of one statement, well-formed more often than not.
fn statement(rng: &mut fastrand::Rng, words: &mut Vec<&'static str>) {
    if rng.u8(..8) == 0 {
        words.push("expect-fail");
    }
    if rng.u8(..6) == 0 {
        words.extend(["repeat", pick(rng, COUNTS)]);
        if rng.bool() {
            let options = ["from=1", "step=2", "from=3", "from=18446744073709551615"];
            words.push(pick(rng, &options));
        }
    }
    let keyword = pick(
        rng,
        &[
            "arena", "add", "alloc", "alloc", "alloc", "alloc", "xalloc", "xalloc", "free", "free",
            "free", "a", "a", "f", "extend", "reap", "print", "walk",
        ],
    );
    words.push(keyword);
    let options = rng.usize(..4);
    match keyword {
        "arena" => {
            words.push(pick(rng, ARENAS));
            for _ in 0..options + 1 {
                words.push(pick(rng, ARENA_OPTIONS));
            }
        }
        "add" => words.extend([pick(rng, ARENAS), number(rng), number(rng)]),
        "alloc" | "xalloc" => {
            words.extend([pick(rng, ARENAS), number(rng)]);
            let list = if keyword == "xalloc" {
                XALLOC_OPTIONS
            } else {
                ALLOC_OPTIONS
            };
            for _ in 0..options {
                words.push(pick(rng, list));
            }
            if rng.bool() {
                words.extend(["as", pick(rng, LABELS)]);
            }
        }
        "free" if rng.bool() => words.extend([pick(rng, ARENAS), number(rng), number(rng)]),
        "free" | "f" => words.push(pick(rng, LABELS)),
        "a" => words.extend([number(rng), pick(rng, LABELS)]),
        "extend" => {
            words.extend([pick(rng, ARENAS), number(rng), number(rng), number(rng)]);
            if rng.bool() {
                words.extend(["as", pick(rng, LABELS)]);
            }
        }
        _ => {
            if rng.bool() {
                words.push(pick(rng, ARENAS));
            }
        }
    }
}

/// A script of statements from the language, nearly always starting with
/// an arena or two, with a word now and then replaced by any other.
fn vocabulary_script(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut text = String::new();
    if rng.u8(..20) != 0 {
        text.push_str("arena h base=0x1000 size=64K quantum=16");
        if rng.bool() {
            text.push_str(" qcache_max=0x40");
        }
        text.push('\n');
        if rng.bool() {
            text.push_str("arena k quantum=16 source=h\n");
        }
    }
    for _ in 0..rng.usize(1..16) {
        let mut words = Vec::new();
        statement(rng, &mut words);
        if rng.u8(..40) == 0 {
            let at = rng.usize(..words.len());
            let list = if rng.bool() { WORDS } else { NUMBERS };
            words[at] = pick(rng, list);
        }
        let separator = if rng.u8(..20) == 0 { "\t" } else { " " };
        text.push_str(&words.join(separator));
        text.push_str(if rng.u8(..10) == 0 { "\r\n" } else { "\n" });
    }
    text.into_bytes()
}

/// A corpus scenario with a few of its words moved, repeated or dropped,
/// or a few bytes overwritten (possibly with bytes that are not UTF-8).
fn mutated_script(rng: &mut fastrand::Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = corpus[rng.usize(..corpus.len())].clone();
    for _ in 0..rng.usize(1..6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.usize(..bytes.len());
        match rng.u8(..5) {
            0 => bytes[at] = rng.u8(..),
            1 => {
                bytes.remove(at);
            }
            2 => {
                let list = if rng.bool() { WORDS } else { NUMBERS };
                let word = pick(rng, list);
                let insert = format!(" {word} ");
                bytes.splice(at..at, insert.into_bytes());
            }
            3 => {
                // Repeat a run of bytes (a line, often).
                let end = (at + rng.usize(1..40)).min(bytes.len());
                let run = bytes[at..end].to_vec();
                bytes.splice(at..at, run);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// `err` names the file, a line and a column, in that order.
fn assert_located(err: &ScriptError, bytes: &[u8]) {
    let text = err.to_string();
    let prefix = format!("{FILE}:{}:{}: ", err.line, err.col);
    assert!(
        text.starts_with(&prefix) && err.line >= 1 && err.col >= 1,
        "error without a position: {text}\nscript: {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// Everything a command would do with one script.
fn exercise(bytes: &[u8]) {
    let parsed = scenario::parse_bytes(FILE, bytes);
    let mut reader = bytes;
    let streamed = scenario::run_reader(FILE, &mut reader, &RunOptions::default(), None);
    let script: Script = match parsed {
        Ok(script) => script,
        Err(err) => {
            assert_located(&err, bytes);
            let streamed = streamed.expect_err("a script that does not parse fails streamed too");
            assert_located(&streamed, bytes);
            return;
        }
    };
    if let Err(err) = &streamed {
        assert_located(err, bytes);
    }
    match scenario::run(&script, &RunOptions::default()) {
        Ok(world) => {
            walk_stat_map(&world);
            assert!(streamed.is_ok(), "a script that runs runs streamed too");
        }
        Err(err) => assert_located(&err, bytes),
    }
    let lenient = RunOptions {
        policy: Some(vmem_core::Policy::NextFit),
        lenient: true,
        progress: None,
        skip_prints: true,
    };
    match scenario::run(&script, &lenient) {
        Ok(world) => walk_stat_map(&world),
        Err(err) => assert_located(&err, bytes),
    }
}

fn walk_stat_map(world: &scenario::World) {
    let filter = TypeFilter::default();
    let _ = vmem_cli::walk::render(world, FILE, None, filter);
    let views = world.views();
    let _ = vmem_cli::stat::render(&views);
    let all: Vec<&scenario::ArenaView> = views.iter().collect();
    for options in [
        MapOptions::default(),
        MapOptions {
            width: 100,
            range: Some((0x1000, 0x1800)),
            scale: Scale::Arena,
        },
    ] {
        let _ = vmem_cli::map::render(&all, options);
    }
}

fn run_all(seed: u64, cases: usize, make: &mut dyn FnMut(&mut fastrand::Rng) -> Vec<u8>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for case in 0..cases {
        let bytes = make(&mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&bytes)));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "seed {seed}, case {case}: {message}\nscript:\n{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

#[test]
fn random_scripts_never_panic() {
    run_all(0x5eed_0001, 4000, &mut vocabulary_script);
}

#[test]
fn mutated_corpus_scripts_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut corpus = Vec::new();
    for sub in [dir.clone(), dir.join("errors")] {
        for entry in std::fs::read_dir(sub).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "vmem")
                && path
                    .file_name()
                    .is_some_and(|n| n != "too-many-statements.vmem")
            {
                corpus.push(std::fs::read(path).unwrap());
            }
        }
    }
    corpus.sort();
    run_all(0x5eed_0002, 3000, &mut |rng| mutated_script(rng, &corpus));
}

#[test]
fn the_reported_scripts_fail_cleanly() {
    for script in [
        "arena h size=4K\nrepeat 2 from=18446744073709551615 alloc h 1 as x\n",
        "arena h size=4K\nrepeat 9M alloc h 1 as x\nrepeat 9M alloc h 1 as x\n",
        "arena h base=0x1000 size=64K quantum=16 qcache_max=0x40\nalloc h 0x10 as o\nfree o\nfree h 0x1000 0x100\nreap h\n",
        "arena h base=0x1000 size=64K quantum=0x1000\narena k quantum=16 source=h\nalloc k 16 as x\nfree h 0x1000 0x1000\nfree x\n",
        "arena a base=0x1001 size=0x1000 quantum=0x10\n",
        "arena a size=4K\nalloc a 99999999999999999999999\n",
        "arena a size=4K limit=1K\n",
    ] {
        let bytes = script.as_bytes();
        let script = scenario::parse_bytes(FILE, bytes);
        let err = match script {
            Err(err) => err,
            Ok(script) => scenario::run(&script, &RunOptions::default())
                .expect_err("each of these scripts fails"),
        };
        assert_located(&err, bytes);
    }
}
