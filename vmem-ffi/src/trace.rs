//! The `trace=PATH` option: every call of the C API that changes an arena,
//! appended to PATH as a `vmem-cli` scenario, so `vmem-cli replay`, `walk`
//! and `map` can rerun and draw a real program's allocator traffic.
//!
//! What each call becomes (addresses in the comments are what the call
//! returned):
//!
//! | call | line |
//! |---|---|
//! | `vmem_create`, `vmem_xcreate` | `arena NAME [base=B size=S] quantum=Q [imports=trace import_quantum=I] [qcache_max=M]` |
//! | `vmem_destroy` | `destroy NAME` |
//! | `vmem_alloc` | `alloc NAME SIZE [policy=P] [end]  # ADDR`, or `expect-fail alloc ...` for NULL |
//! | `vmem_xalloc` | `xalloc NAME SIZE [align=..] [phase=..] [nocross=..] [min=..] [max=..] [policy=P] [end]` |
//! | `vmem_free`, `vmem_xfree` | `free NAME ADDR SIZE` |
//! | `vmem_add` | `add NAME BASE SIZE` |
//! | `_vmem_extend_alloc` | `extend NAME BASE SIZE ALLOC` |
//! | `vmem_qcache_reap`, `vmem_reap` | `reap NAME` (each arena with caches) |
//! | a span an importing arena got from its import function | `import NAME BASE SIZE` |
//!
//! An importing arena is declared `imports=trace`: in the replay each of
//! its imports returns the span the program's import returned. When the
//! import function was `vmem_alloc` on another arena of the program, that
//! allocation is in the trace too (it is a C call of its own, written just
//! before the `import` line), so the parent's state replays as well.
//!
//! Names are made scenario-safe (characters other than letters, digits,
//! `_`, `-` and `.` become `_`) and unique in the file (a name seen before
//! gets a `.N` suffix); the C name is kept in a comment when it differs.
//! Lines are written as the calls return, under one lock, and flushed one
//! by one, so a trace survives a crash; the calls of several threads are
//! written in the order they returned. Only arenas created while tracing
//! are traced (not the process layer's own, such as the heap of
//! `vmem_heap_arena`). A forked child stops tracing: its lines would
//! interleave with its parent's in the same file.

use core::ffi::c_int;
use core::fmt::Write as _;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use vmem_core::{Constraints, Policy};

use crate::flags::alloc_flags;
use crate::handle::Vmem;

/// Set once the trace file is open; cleared in a forked child. The one
/// load every traced call pays when tracing is off.
static ON: AtomicBool = AtomicBool::new(false);

/// The open trace, set up on the first `vmem_create` of the process.
static TRACE: OnceLock<Option<Trace>> = OnceLock::new();

/// The trace file and the names given to the arenas in it.
pub(crate) struct Trace {
    state: Mutex<State>,
}

struct State {
    file: File,
    /// Trace name of each traced live handle, by address, and whether the
    /// arena has quantum caches.
    names: HashMap<usize, (String, bool)>,
    /// Every name given so far (names stay unique in the file).
    used: HashSet<String>,
}

/// The trace, if the process traces (`trace=PATH`) and this is not a
/// forked child.
#[inline]
pub(crate) fn on() -> Option<&'static Trace> {
    if !is_on() {
        return None;
    }
    TRACE.get()?.as_ref()
}

/// Whether calls are being traced: one relaxed load, for the hot calls to
/// decide whether to go out of line to [`on`].
#[inline]
pub(crate) fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Opens the trace file if the options name one (once per process; the
/// first `vmem_create` calls it). A file that cannot be opened is said on
/// stderr once, and nothing is traced.
pub(crate) fn start() {
    TRACE.get_or_init(|| {
        let path = vmem_umem::get().options().trace.clone()?;
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        let mut file = match opened {
            Ok(file) => file,
            Err(err) => {
                eprintln!(
                    "vmem: trace={}: cannot open the trace file: {err}",
                    path.display()
                );
                return None;
            }
        };
        let header = format!(
            "# vmem trace of process {} (VMEM_OPTIONS trace=); replay with `vmem-cli replay`\n",
            std::process::id()
        );
        if file.write_all(header.as_bytes()).is_err() {
            return None;
        }
        // SAFETY: `stop_in_child` is a plain function that only stores to
        // an atomic, which is async-signal-safe as a fork child handler
        // must be.
        unsafe { libc::pthread_atfork(None, None, Some(stop_in_child)) };
        ON.store(true, Ordering::Relaxed);
        Some(Trace {
            state: Mutex::new(State {
                file,
                names: HashMap::new(),
                used: HashSet::new(),
            }),
        })
    });
}

extern "C" fn stop_in_child() {
    ON.store(false, Ordering::Relaxed);
}

/// `name` with every character the scenario language does not take in a
/// name replaced by `_` (and `arena` for an empty one).
fn scenario_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "arena".into()
    } else {
        clean
    }
}

/// ` policy=P` and ` end` for an allocation's `vmflag` (nothing for the
/// default instant-fit), read the way the allocation itself reads them.
fn policy_words(vmflag: c_int) -> String {
    let flags = alloc_flags(vmflag);
    let policy = match flags.get_policy() {
        Policy::InstantFit => "",
        Policy::BestFit => " policy=best",
        Policy::FirstFit => " policy=first",
        Policy::NextFit => " policy=next",
    };
    let end = if flags.get_from_end() { " end" } else { "" };
    format!("{policy}{end}")
}

impl Trace {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Writes `line` (and a newline) for the arena at `vmp`, `{}` in it
    /// standing for the arena's trace name; nothing for an arena that is
    /// not traced.
    fn line(&self, vmp: *const Vmem, line: impl FnOnce(&str) -> String) {
        self.with(|state| {
            if let Some((name, _)) = state.names.get(&(vmp as usize)) {
                let mut text = line(name);
                text.push('\n');
                // A trace that can no longer be written is lost; the
                // program goes on.
                let _ = state.file.write_all(text.as_bytes());
            }
        });
    }

    /// A new arena (after `vmem_create` or `vmem_xcreate` returned it).
    pub(crate) fn create(&self, vmp: *const Vmem, vm: &Vmem, span: Option<(usize, usize)>) {
        self.with(|state| {
            let c_name = vm.name().to_string();
            let base = scenario_name(&c_name);
            let mut name = base.clone();
            let mut n = 2;
            while state.used.contains(&name) {
                name = format!("{base}.{n}");
                n += 1;
            }
            let mut text = format!("arena {name}");
            if let Some((base, size)) = span {
                let _ = write!(text, " base={base:#x} size={size:#x}");
            }
            let _ = write!(text, " quantum={:#x}", vm.quantum());
            if vm.c_source().is_some() {
                let _ = write!(
                    text,
                    " imports=trace import_quantum={:#x}",
                    vm.arena().import_quantum()
                );
            }
            if vm.qcache_max() != 0 {
                let _ = write!(text, " qcache_max={:#x}", vm.qcache_max());
            }
            if name != c_name {
                let _ = write!(text, "  # vmem_create(\"{}\")", c_name.escape_debug());
            }
            text.push('\n');
            let _ = state.file.write_all(text.as_bytes());
            state.used.insert(name.clone());
            state
                .names
                .insert(vmp as usize, (name, vm.qcache_max() != 0));
        });
    }

    /// `vmem_destroy` (before the handle is freed).
    pub(crate) fn destroy(&self, vmp: *const Vmem) {
        self.with(|state| {
            if let Some((name, _)) = state.names.remove(&(vmp as usize)) {
                let _ = state.file.write_all(format!("destroy {name}\n").as_bytes());
            }
        });
    }

    /// `vmem_alloc` and its result (0 for NULL).
    pub(crate) fn alloc(&self, vmp: *const Vmem, size: usize, vmflag: c_int, addr: usize) {
        let words = policy_words(vmflag);
        self.line(vmp, |name| match addr {
            0 => format!("expect-fail alloc {name} {size:#x}{words}"),
            _ => format!("alloc {name} {size:#x}{words}  # {addr:#x}"),
        });
    }

    /// `vmem_xalloc` and its result (0 for NULL).
    pub(crate) fn xalloc(
        &self,
        vmp: *const Vmem,
        size: usize,
        c: &Constraints,
        vmflag: c_int,
        addr: usize,
    ) {
        let mut words = String::new();
        for (key, value) in [
            ("align", c.get_align()),
            ("phase", c.get_phase()),
            ("nocross", c.get_nocross()),
            ("min", c.get_min()),
            ("max", c.get_max()),
        ] {
            if value != 0 {
                let _ = write!(words, " {key}={value:#x}");
            }
        }
        words.push_str(&policy_words(vmflag));
        self.line(vmp, |name| match addr {
            0 => format!("expect-fail xalloc {name} {size:#x}{words}"),
            _ => format!("xalloc {name} {size:#x}{words}  # {addr:#x}"),
        });
    }

    /// `vmem_free` or `vmem_xfree` (after it succeeded).
    pub(crate) fn free(&self, vmp: *const Vmem, addr: usize, size: usize) {
        self.line(vmp, |name| format!("free {name} {addr:#x} {size:#x}"));
    }

    /// `vmem_add` and whether it succeeded.
    pub(crate) fn add(&self, vmp: *const Vmem, base: usize, size: usize, ok: bool) {
        let fail = if ok { "" } else { "expect-fail " };
        self.line(vmp, |name| format!("{fail}add {name} {base:#x} {size:#x}"));
    }

    /// `_vmem_extend_alloc` and its result (0 for NULL).
    pub(crate) fn extend(
        &self,
        vmp: *const Vmem,
        base: usize,
        size: usize,
        alloc: usize,
        addr: usize,
    ) {
        self.line(vmp, |name| match addr {
            0 => format!("expect-fail extend {name} {base:#x} {size:#x} {alloc:#x}"),
            _ => format!("extend {name} {base:#x} {size:#x} {alloc:#x}  # {addr:#x}"),
        });
    }

    /// A reap of one arena's quantum caches.
    pub(crate) fn reap(&self, vmp: *const Vmem) {
        self.line(vmp, |name| format!("reap {name}"));
    }

    /// `reap` of every traced arena with quantum caches (`vmem_reap`).
    pub(crate) fn reap_all(&self) {
        self.with(|state| {
            let mut cached: Vec<&str> = state
                .names
                .values()
                .filter(|(_, caches)| *caches)
                .map(|(name, _)| name.as_str())
                .collect();
            cached.sort_unstable();
            let mut text = String::new();
            for name in cached {
                let _ = writeln!(text, "reap {name}");
            }
            let _ = state.file.write_all(text.as_bytes());
        });
    }

    /// A span the import function of the arena at `vmp` returned.
    pub(crate) fn import(&self, vmp: *const Vmem, start: usize, size: usize) {
        self.line(vmp, |name| format!("import {name} {start:#x} {size:#x}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_scenario_alphabet() {
        assert_eq!(scenario_name("heap"), "heap");
        assert_eq!(scenario_name("dma 32-bit"), "dma_32-bit");
        assert_eq!(scenario_name("é/x"), "__x");
        assert_eq!(scenario_name(""), "arena");
    }

    #[test]
    fn flags_become_policy_words() {
        use crate::flags::{VM_BESTFIT, VM_ENDALLOC, VM_FIRSTFIT, VM_NEXTFIT};
        assert_eq!(policy_words(0), "");
        assert_eq!(policy_words(VM_BESTFIT), " policy=best");
        assert_eq!(policy_words(VM_FIRSTFIT | VM_ENDALLOC), " policy=first end");
        assert_eq!(policy_words(VM_NEXTFIT), " policy=next");
        assert_eq!(policy_words(VM_ENDALLOC), " end");
    }
}
