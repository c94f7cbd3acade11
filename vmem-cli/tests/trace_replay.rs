//! The `trace=` option, end to end: a program drives the C API (arenas
//! importing from an arena and from the heap, quantum caches, every
//! policy, constrained allocations, failures, `add`, `extend`, reaps, a
//! destroy and a name used twice) with `VMEM_OPTIONS=trace=PATH`; the trace
//! it leaves replays in `vmem-cli` to the same final state, segment for
//! segment.
//!
//! The program is this test binary run again as a child (the options are
//! read once per process), pinned to one CPU so its quantum caches keep
//! one magazine slot, as a replay's do.

use std::collections::BTreeSet;
use std::ffi::{c_void, CString};
use std::process::Command;
use std::ptr::null_mut;

use vmem::*;
use vmem_cli::scenario::{self, RunOptions};
use vmem_core::SegmentKind;

const CHILD: &str = "VMEM_TRACE_TEST_STATE";

/// (arena, kind, start, size), kind one of "span", "alloc", "free".
type State = BTreeSet<(String, &'static str, usize, usize)>;

fn p(x: usize) -> *mut c_void {
    x as *mut c_void
}

/// The traced program. Every pointer is NULL, a live arena, or a C string
/// that outlives the call; children are destroyed before their sources.
unsafe fn program(state_path: &str) {
    // One CPU: one magazine slot per quantum cache.
    // SAFETY: a zeroed cpu_set_t is a valid empty set, filled before use.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    let name = |s: &str| CString::new(s).unwrap();
    let (va_name, ids_name, dma_name, buf_name, tmp_name) = (
        name("va"),
        name("ids"),
        name("dma 32"),
        name("buffers"),
        name("tmp"),
    );
    // SAFETY: see the function's comment.
    unsafe {
        let va = vmem_create(
            va_name.as_ptr(),
            p(0x1_0000_0000),
            0x100_0000,
            0x1000,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        let ids = vmem_create(
            ids_name.as_ptr(),
            null_mut(),
            0,
            0x10,
            Some(vmem_alloc),
            Some(vmem_free),
            va,
            0x40,
            VM_SLEEP,
        );
        let dma = vmem_create(
            dma_name.as_ptr(),
            null_mut(),
            0,
            0x100,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        vmem_add(dma, p(0x1000_0000), 0x100_0000, VM_SLEEP);
        let mut afunc = None;
        let mut ffunc = None;
        let heap = vmem_heap_arena(&mut afunc, &mut ffunc);
        let buffers = vmem_create(
            buf_name.as_ptr(),
            null_mut(),
            0,
            0x1000,
            afunc,
            ffunc,
            heap,
            0,
            VM_SLEEP,
        );
        // A short-lived arena whose name comes back.
        let tmp = vmem_create(
            tmp_name.as_ptr(),
            p(0x1000),
            0x1000,
            1,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        vmem_alloc(tmp, 0x10, VM_NOSLEEP);
        vmem_destroy(tmp);
        let tmp = vmem_create(
            tmp_name.as_ptr(),
            null_mut(),
            0,
            0x1000,
            None,
            None,
            null_mut(),
            0,
            VM_SLEEP,
        );
        let e = _vmem_extend_alloc(tmp, p(0x5000_0000), 0x4000, 0x1000, VM_NOSLEEP);
        assert!(!e.is_null());

        let arenas = [(va, 0x1000), (ids, 0x10), (dma, 0x100), (buffers, 0x1000)];
        let policies = [
            0,
            VM_BESTFIT,
            VM_FIRSTFIT,
            VM_NEXTFIT,
            VM_BESTFIT | VM_ENDALLOC,
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let mut live: Vec<(usize, usize, usize, bool)> = Vec::new();
        for step in 0..4000 {
            if !live.is_empty() && rng.u32(0..5) < 2 {
                let (i, addr, size, x) = live.swap_remove(rng.usize(0..live.len()));
                if x {
                    vmem_xfree(arenas[i].0, p(addr), size);
                } else {
                    vmem_free(arenas[i].0, p(addr), size);
                }
                continue;
            }
            let i = rng.usize(0..arenas.len());
            let (vmp, q) = arenas[i];
            let size = q * rng.usize(1..24);
            let flag = VM_NOSLEEP | policies[rng.usize(0..policies.len())];
            let (addr, x) = if rng.u32(0..4) == 0 {
                let align = q << rng.usize(0..4);
                let a = vmem_xalloc(vmp, size, align, 0, 0, null_mut(), null_mut(), flag);
                (a, true)
            } else {
                (vmem_alloc(vmp, size, flag), false)
            };
            if !addr.is_null() {
                live.push((i, addr as usize, size, x));
            }
            if step % 1000 == 999 {
                vmem_qcache_reap(ids);
                vmem_reap();
            }
        }
        // Failures: too big, and a window that cannot hold it.
        assert!(vmem_alloc(va, 0x1000_0000, VM_NOSLEEP).is_null());
        assert!(vmem_xalloc(
            dma,
            0x200,
            0,
            0,
            0,
            p(0x1000_0000),
            p(0x1000_0100),
            VM_NOSLEEP
        )
        .is_null());
        // Some of it freed, the rest left for the final state.
        for (i, addr, size, x) in live.drain(..).step_by(2) {
            if x {
                vmem_xfree(arenas[i].0, p(addr), size);
            } else {
                vmem_free(arenas[i].0, p(addr), size);
            }
        }
        let mut state = String::new();
        for (vmp, arena) in [
            (va, "va"),
            (ids, "ids"),
            (dma, "dma_32"),
            (buffers, "buffers"),
            (tmp, "tmp.2"),
        ] {
            for (mask, kind) in [
                (VMEM_SPAN, "span"),
                (VMEM_ALLOC, "alloc"),
                (VMEM_FREE, "free"),
            ] {
                let mut segs: Vec<(usize, usize)> = Vec::new();
                unsafe extern "C" fn push(arg: *mut c_void, start: *mut c_void, size: usize) {
                    // SAFETY: `arg` is the vector below, alive for the walk.
                    let v = unsafe { &mut *arg.cast::<Vec<(usize, usize)>>() };
                    v.push((start as usize, size));
                }
                vmem_walk(
                    vmp,
                    mask as i32,
                    Some(push),
                    (&mut segs as *mut Vec<_>).cast(),
                );
                for (start, size) in segs {
                    state.push_str(&format!("{arena} {kind} {start:#x} {size:#x}\n"));
                }
            }
        }
        std::fs::write(state_path, state).unwrap();
    }
}

fn parse_state(text: &str) -> State {
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let kind = match w[1] {
                "span" => "span",
                "alloc" => "alloc",
                _ => "free",
            };
            let num = |s: &str| usize::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (w[0].to_string(), kind, num(w[2]), num(w[3]))
        })
        .collect()
}

#[test]
fn a_traced_program_replays_to_the_same_state() {
    if let Ok(state_path) = std::env::var(CHILD) {
        // SAFETY: the program keeps the C API's rules (see `program`).
        unsafe { program(&state_path) };
        return;
    }
    let dir = std::env::temp_dir().join(format!("vmem-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (trace, state) = (dir.join("trace.vmem"), dir.join("state.txt"));
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_traced_program_replays_to_the_same_state",
            "--test-threads=1",
        ])
        .env(CHILD, &state)
        .env(
            "VMEM_OPTIONS",
            format!("update_interval=0,trace={}", trace.display()),
        )
        .status()
        .unwrap();
    assert!(status.success(), "the traced program: {status}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let program_state = parse_state(&std::fs::read_to_string(&state).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();

    for expected in [
        "arena va base=0x100000000 size=0x1000000 quantum=0x1000\n",
        "arena ids quantum=0x10 imports=trace import_quantum=0x1000 qcache_max=0x40\n",
        "arena dma_32 quantum=0x100  # vmem_create(\"dma 32\")\n",
        "arena tmp.2 quantum=0x1000  # vmem_create(\"tmp\")\n",
        "\nadd dma_32 0x10000000 0x1000000\n",
        "destroy tmp\n",
        "\nimport buffers 0x",
        "\nexpect-fail alloc va 0x10000000\n",
        "\nreap ids\n",
        "\nextend tmp.2 0x50000000 0x4000 0x1000  # 0x50000000\n",
    ] {
        assert!(
            text.contains(expected),
            "no `{}` in the trace:\n{}",
            expected.trim(),
            &text[..4000.min(text.len())]
        );
    }
    let script = scenario::parse("trace.vmem", &text).unwrap_or_else(|e| panic!("{e}"));
    let world = scenario::run(&script, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut replayed = State::new();
    for view in world.views() {
        for seg in &view.segments {
            let kind = match seg.kind {
                SegmentKind::Span | SegmentKind::ImportedSpan => "span",
                SegmentKind::Alloc => "alloc",
                SegmentKind::Free => "free",
                _ => continue,
            };
            replayed.insert((view.name.clone(), kind, seg.start, seg.size));
        }
    }
    assert!(
        program_state.len() > 100,
        "a thin final state: {}",
        program_state.len()
    );
    let missing: Vec<_> = program_state.difference(&replayed).take(10).collect();
    let extra: Vec<_> = replayed.difference(&program_state).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the replay differs: missing {missing:?}, extra {extra:?}"
    );
}
