//! Shared by the replay tests: every file of `fuzz/corpus/<target>/` (and
//! of `fuzz/artifacts/<target>/`, where a crash found by the fuzzer is kept
//! until it is fixed and moved to the corpus) through the target's logic,
//! then seeded random inputs, so the checks run even before a corpus exists.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The corpus files of `target`, sorted by name.
pub(crate) fn corpus(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable corpus directory").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `run` on every corpus file of `target`; a failure names the file.
pub(crate) fn replay(target: &str, run: fn(&[u8]), min_files: usize) -> usize {
    let files = corpus(target);
    assert!(
        files.len() >= min_files,
        "fuzz/corpus/{target} holds {} files, expected at least {min_files}",
        files.len()
    );
    for path in &files {
        let bytes = std::fs::read(path).expect("readable corpus file");
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            panic!(
                "{target}: corpus file {} fails (reproduce: cargo +nightly fuzz run {target} {})",
                path.display(),
                path.display()
            );
        }
    }
    files.len()
}

/// Runs `run` on `cases` seeded pseudo-random inputs of up to `max_len` bytes.
pub(crate) fn random(target: &str, run: fn(&[u8]), seed: u64, cases: usize, max_len: usize) {
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for case in 0..cases {
        let len = (next() as usize) % (max_len + 1);
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            panic!("{target}: random case {case} (seed {seed:#x}) fails; input hex: {hex}");
        }
    }
}
