//! The `c_api` fuzz target: the exported `extern "C"` functions of
//! vmem-ffi (`vmem_create`, `vmem_alloc`, ... as the C caller sees them),
//! with only the inputs libumem accepts.
//!
//! Every input that `docs/c-api.md` says aborts is filtered out before the
//! call, by the rules stated there: a zero size, `phase >= align`,
//! `align`/`phase`/`nocross` not quantum multiples or not powers of two, an
//! over-constrained request, a bad free (not allocated, wrong size), a
//! `vmem_add` of NULL, zero, misaligned or overlapping ranges, `VM_PANIC`
//! and `VM_SLEEP` (which could wait forever), destroying an arena that
//! still has children. What remains must never abort, and is checked
//! against a model: results quantum aligned and inside the constraints,
//! no two live allocations overlapping, `vmem_contains` true for each,
//! the arena's own `check()` after every call, sizes adding up. At the end
//! every arena is emptied and destroyed, child first, each at zero in use,
//! and the process-wide tag pool has every tag back.

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use vmem::*;
use vmem_core::{Constraints, TagPool, TAGS_PER_PAGE};

use crate::arena_ops::{honours, xalloc_is_invalid};

/// How one arena is made.
#[derive(Arbitrary, Debug, Clone)]
pub struct ArenaSpec {
    quantum: u8,
    /// Initial span: base and size in quanta (base 0 becomes 1 quantum up).
    span: Option<(u16, u16)>,
    /// Import from an earlier arena (index modulo the arenas made so far).
    parent: Option<u8>,
    /// `vmem_xcreate` with an import function that asks `vmem_xalloc` for
    /// the alignment, instead of `vmem_create` with `vmem_alloc`.
    xcreate: bool,
    /// Quanta of quantum caching (0 none).
    qcache: u8,
}

/// One call.
#[derive(Arbitrary, Debug, Clone)]
pub enum CallOp {
    /// `vmem_alloc(size, VM_NOSLEEP | policy)`.
    Alloc {
        /// Arena index.
        arena: u8,
        /// Size in bytes, or quanta when `quanta`.
        size: u16,
        /// Size counts quanta.
        quanta: bool,
        /// Policy and `VM_ENDALLOC` bits.
        flags: u8,
    },
    /// `vmem_xalloc`, filtered to valid arguments.
    XAlloc {
        /// Arena index.
        arena: u8,
        /// Size in quanta.
        size: u16,
        /// log2 of the alignment in quanta (above 20: 0, the quantum).
        align: u8,
        /// Phase in quanta.
        phase: u16,
        /// log2 of the boundary in quanta (None: no boundary).
        nocross: Option<u8>,
        /// Window start in quanta.
        min: Option<u32>,
        /// Window end in quanta.
        max: Option<u32>,
        /// Policy and `VM_ENDALLOC` bits.
        flags: u8,
    },
    /// `vmem_free`/`vmem_xfree` of a live allocation.
    Free {
        /// Arena index.
        arena: u8,
        /// Which live allocation.
        pick: u16,
    },
    /// `vmem_add` of a range that overlaps no span.
    Add {
        /// Arena index.
        arena: u8,
        /// Base in quanta (plus one: never NULL).
        base: u32,
        /// Size in quanta (plus one).
        size: u16,
    },
    /// `vmem_walk`, reentrant or not.
    Walk {
        /// Arena index.
        arena: u8,
        /// Type mask bits.
        mask: u8,
        /// `VMEM_REENTRANT`: the callback allocates and frees.
        reentrant: bool,
    },
    /// `vmem_size` with each mask, checked against a walk.
    Size {
        /// Arena index.
        arena: u8,
    },
    /// `vmem_contains` of a live allocation.
    Contains {
        /// Arena index.
        arena: u8,
        /// Which live allocation.
        pick: u16,
    },
    /// `vmem_set_limit`, in quanta.
    Limit {
        /// Arena index.
        arena: u8,
        /// Limit in 16-quantum units (0: none).
        units: u8,
    },
    /// `vmem_roundup_size`.
    Roundup {
        /// Arena index.
        arena: u8,
        /// Size.
        size: u64,
    },
    /// `vmem_get_kstat`.
    Kstat {
        /// Arena index.
        arena: u8,
    },
    /// `vmem_arena_update`.
    Update {
        /// Arena index.
        arena: u8,
    },
    /// `vmem_qcache_reap`.
    Reap {
        /// Arena index.
        arena: u8,
    },
    /// Free everything of an arena without children, then `vmem_destroy`.
    Destroy {
        /// Arena index.
        arena: u8,
    },
}

/// A whole run.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    /// The arenas (the first four are used).
    pub arenas: Vec<ArenaSpec>,
    /// The calls.
    pub ops: Vec<CallOp>,
}

/// The input the fuzzer's bytes decode to, for reading a crash.
pub fn decode(data: &[u8]) -> Option<Input> {
    Input::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// Runs the target on raw fuzzer bytes.
pub fn run(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run_input(&input);
    }
}

/// The import function of `xcreate` arenas: `vmem_xalloc` from the source
/// at the alignment asked, never enlarging the size. An alignment at or
/// below the source's quantum is passed as 0: `vmem_xalloc` refuses (aborts
/// on) one that is not a multiple of the quantum, so a C import function
/// must do the same.
unsafe extern "C" fn ximport(
    source: *mut Vmem,
    size: *mut usize,
    align: usize,
    vmflag: c_int,
) -> *mut c_void {
    // SAFETY: the arena passes its own `size` slot and the live source it
    // was created with.
    unsafe {
        let source_quantum = vmem_roundup_size(source, 1);
        let align = if align <= source_quantum { 0 } else { align };
        vmem_xalloc(
            source,
            *size,
            align,
            0,
            0,
            null_mut(),
            null_mut(),
            vmflag | VM_NOSLEEP,
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Live {
    size: usize,
    x: bool,
}

struct CArena {
    vmp: *mut Vmem,
    quantum: usize,
    /// Where its own spans go: an importing arena's spans must not overlap
    /// any span its source may hand it, so each generation of arenas adds
    /// spans in a range of its own (`depth << 40` up).
    depth: usize,
    parent: Option<usize>,
    cached: bool,
    live: BTreeMap<usize, Live>,
}

fn walk_collect(vmp: *mut Vmem, mask: u32) -> Vec<(usize, usize)> {
    unsafe extern "C" fn push(arg: *mut c_void, start: *mut c_void, size: usize) {
        // SAFETY: `arg` is the vector passed below, alive for the walk.
        let v = unsafe { &mut *arg.cast::<Vec<(usize, usize)>>() };
        v.push((start as usize, size));
    }
    let mut v: Vec<(usize, usize)> = Vec::new();
    // SAFETY: `vmp` is live; the callback only touches `v`.
    unsafe {
        vmem_walk(
            vmp,
            mask as c_int,
            Some(push),
            (&mut v as *mut Vec<(usize, usize)>).cast(),
        )
    };
    v
}

struct Reentry {
    vmp: *mut Vmem,
    quantum: usize,
    calls: usize,
}

unsafe extern "C" fn reenter(arg: *mut c_void, _start: *mut c_void, _size: usize) {
    // SAFETY: `arg` is the `Reentry` of the walk in progress.
    let r = unsafe { &mut *arg.cast::<Reentry>() };
    r.calls += 1;
    // SAFETY: a reentrant walk's callback may use its arena.
    unsafe {
        let p = vmem_alloc(r.vmp, r.quantum, VM_NOSLEEP);
        if !p.is_null() {
            vmem_free(r.vmp, p, r.quantum);
        }
    }
}

fn policy_flags(bits: u8) -> c_int {
    let policy = [0, VM_BESTFIT, VM_FIRSTFIT, VM_NEXTFIT][usize::from(bits % 4)];
    let end = if bits & 4 != 0 { VM_ENDALLOC } else { 0 };
    let push = if bits & 8 != 0 { VM_PUSHPAGE } else { 0 };
    VM_NOSLEEP | policy | end | push
}

struct Run {
    arenas: Vec<Option<CArena>>,
}

impl Run {
    fn pick(&self, arena: u8) -> Option<usize> {
        if self.arenas.is_empty() {
            return None;
        }
        let i = usize::from(arena) % self.arenas.len();
        self.arenas[i].is_some().then_some(i)
    }

    fn has_children(&self, i: usize) -> bool {
        self.arenas.iter().flatten().any(|a| a.parent == Some(i))
    }

    fn record(&mut self, i: usize, addr: usize, live: Live) {
        let a = self.arenas[i].as_mut().expect("live arena");
        assert_eq!(addr % a.quantum, 0, "result {addr:#x} not quantum aligned");
        let rsize = live.size.div_ceil(a.quantum) * a.quantum;
        if let Some((&prev, p)) = a.live.range(..=addr).next_back() {
            let pend = prev + p.size.div_ceil(a.quantum) * a.quantum;
            assert!(pend <= addr, "{addr:#x} overlaps live {prev:#x}");
        }
        if let Some((&next, _)) = a.live.range(addr..).next() {
            assert!(addr + rsize <= next, "{addr:#x} overlaps live {next:#x}");
        }
        // SAFETY: the arena is live.
        let inside = unsafe { vmem_contains(a.vmp, addr as *mut c_void, live.size) };
        assert_eq!(inside, 1, "vmem_contains denies a fresh allocation");
        a.live.insert(addr, live);
    }

    fn free(&mut self, i: usize, addr: usize) {
        let a = self.arenas[i].as_mut().expect("live arena");
        let live = a.live.remove(&addr).expect("live allocation");
        // SAFETY: a live allocation of this live arena, with its size.
        unsafe {
            if live.x {
                vmem_xfree(a.vmp, addr as *mut c_void, live.size);
            } else {
                vmem_free(a.vmp, addr as *mut c_void, live.size);
            }
        }
    }

    fn verify(&self) {
        for (i, a) in self.arenas.iter().enumerate() {
            let Some(a) = a else { continue };
            // SAFETY: the arena is live.
            let vm = unsafe { &*a.vmp };
            if let Err(err) = vm.arena().check() {
                panic!("check failed: {err}");
            }
            let allocated = walk_collect(a.vmp, VMEM_ALLOC);
            if !a.cached && !self.has_children(i) {
                let mut want: Vec<(usize, usize)> =
                    a.live.iter().map(|(&k, l)| (k, l.size)).collect();
                want.sort_unstable();
                let mut got = allocated;
                got.sort_unstable();
                assert_eq!(got, want, "'{}': allocated segments differ", vm.name());
            } else {
                for (&addr, l) in &a.live {
                    let rsize = l.size.div_ceil(a.quantum) * a.quantum;
                    assert!(
                        allocated.iter().any(|&(s, n)| s <= addr
                            && addr + rsize <= s + n.div_ceil(a.quantum) * a.quantum),
                        "'{}': live {addr:#x} in no allocated segment",
                        vm.name()
                    );
                }
            }
        }
    }

    fn step(&mut self, op: &CallOp) {
        match *op {
            CallOp::Alloc {
                arena,
                size,
                quanta,
                flags,
            } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let size = if quanta {
                    usize::from(size % 64 + 1) * a.quantum
                } else {
                    usize::from(size) + 1
                };
                // SAFETY: a live arena, a non-zero size, no VM_PANIC/VM_SLEEP.
                let p = unsafe { vmem_alloc(a.vmp, size, policy_flags(flags)) };
                if !p.is_null() {
                    self.record(i, p as usize, Live { size, x: false });
                }
            }
            CallOp::XAlloc {
                arena,
                size,
                align,
                phase,
                nocross,
                min,
                max,
                flags,
            } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let q = a.quantum;
                let size = usize::from(size % 256 + 1) * q;
                let align = if align > 20 { 0 } else { q << align };
                let phase = usize::from(phase) * q;
                let nocross = nocross.map_or(0, |n| q << (n % 24));
                let min = min.map_or(0, |m| m as usize * q);
                let max = max.map_or(0, |m| m as usize * q);
                let c = Constraints::new()
                    .align(align)
                    .phase(phase)
                    .nocross(nocross)
                    .min(min)
                    .max(max);
                if xalloc_is_invalid(size, q, &c) {
                    return; // aborts by design
                }
                // SAFETY: a live arena and arguments the documentation accepts.
                let p = unsafe {
                    vmem_xalloc(
                        a.vmp,
                        size,
                        align,
                        phase,
                        nocross,
                        min as *mut c_void,
                        max as *mut c_void,
                        policy_flags(flags),
                    )
                };
                if !p.is_null() {
                    assert!(
                        honours(p as usize, size, q, &c),
                        "vmem_xalloc result {p:p} breaks {c:?}"
                    );
                    self.record(i, p as usize, Live { size, x: true });
                }
            }
            CallOp::Free { arena, pick } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                if a.live.is_empty() {
                    return;
                }
                let addr = *a.live.keys().nth(usize::from(pick) % a.live.len()).unwrap();
                self.free(i, addr);
            }
            CallOp::Add { arena, base, size } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let q = a.quantum;
                let base = (a.depth << 40) + (base as usize % (1 << 24) + 1) * q;
                let size = (usize::from(size) + 1) * q;
                let spans = walk_collect(a.vmp, VMEM_SPAN);
                if spans.iter().any(|&(s, n)| base < s + n && s < base + size) {
                    return; // overlapping: aborts by design
                }
                // SAFETY: a live arena; a non-NULL, aligned, disjoint range.
                let r = unsafe { vmem_add(a.vmp, base as *mut c_void, size, VM_NOSLEEP) };
                assert_eq!(r as usize, base, "vmem_add");
            }
            CallOp::Walk {
                arena,
                mask,
                reentrant,
            } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let types = u32::from(mask) & (VMEM_ALLOC | VMEM_FREE | VMEM_SPAN | VMEM_ROTOR);
                if reentrant {
                    let mut r = Reentry {
                        vmp: a.vmp,
                        quantum: a.quantum,
                        calls: 0,
                    };
                    // SAFETY: a live arena; the callback uses only `r`.
                    unsafe {
                        vmem_walk(
                            a.vmp,
                            (types | VMEM_REENTRANT) as c_int,
                            Some(reenter),
                            (&mut r as *mut Reentry).cast(),
                        )
                    };
                } else {
                    let segs = walk_collect(a.vmp, types);
                    let with_walker = walk_collect(a.vmp, types | VMEM_WALKER);
                    assert!(with_walker.is_empty(), "a VMEM_WALKER walk visits nothing");
                    if types & VMEM_ALLOC != 0 {
                        assert!(segs.len() >= a.live.len() || a.cached);
                    }
                }
            }
            CallOp::Size { arena } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let q = a.quantum;
                let round = |n: usize| n.div_ceil(q) * q;
                // SAFETY: a live arena, masks the documentation accepts.
                let (alloc, free, total, maxfree) = unsafe {
                    (
                        vmem_size(a.vmp, VMEM_ALLOC as c_int),
                        vmem_size(a.vmp, VMEM_FREE as c_int),
                        vmem_size(a.vmp, (VMEM_ALLOC | VMEM_FREE) as c_int),
                        vmem_size(a.vmp, VMEM_MAXFREE as c_int),
                    )
                };
                let spans: usize = walk_collect(a.vmp, VMEM_SPAN).iter().map(|s| s.1).sum();
                let frees = walk_collect(a.vmp, VMEM_FREE);
                let allocs = walk_collect(a.vmp, VMEM_ALLOC);
                assert_eq!(total, spans, "vmem_size(ALLOC|FREE) is the spans' total");
                assert_eq!(alloc + free, total);
                // In use counts the sizes asked for, as libumem's kstat
                // does; the rounding slack of each segment counts as free.
                let asked: usize = allocs.iter().map(|s| s.1).sum();
                let slack: usize = allocs.iter().map(|s| round(s.1) - s.1).sum();
                assert_eq!(alloc, asked, "vmem_size(ALLOC) is the allocated sizes");
                assert_eq!(free, frees.iter().map(|s| s.1).sum::<usize>() + slack);
                assert_eq!(maxfree, frees.iter().map(|s| s.1).max().unwrap_or(0));
            }
            CallOp::Contains { arena, pick } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                if let Some((&addr, l)) = a.live.iter().nth(usize::from(pick) % a.live.len().max(1))
                {
                    // SAFETY: a live arena.
                    let inside = unsafe { vmem_contains(a.vmp, addr as *mut c_void, l.size) };
                    assert_eq!(inside, 1);
                }
            }
            CallOp::Limit { arena, units } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                // SAFETY: a live arena.
                unsafe { vmem_set_limit(a.vmp, usize::from(units) * 16 * a.quantum) };
            }
            CallOp::Roundup { arena, size } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let size = size as usize;
                // SAFETY: a live arena.
                let r = unsafe { vmem_roundup_size(a.vmp, size) };
                let m = a.quantum - 1;
                assert_eq!(r, size.wrapping_add(m) & !m);
            }
            CallOp::Kstat { arena } => {
                let Some(i) = self.pick(arena) else { return };
                let a = self.arenas[i].as_ref().unwrap();
                let mut k = core::mem::MaybeUninit::<VmemKstat>::uninit();
                // SAFETY: a live arena and room for one kstat.
                let (k, inuse) = unsafe {
                    vmem_get_kstat(a.vmp, k.as_mut_ptr());
                    (k.assume_init(), vmem_size(a.vmp, VMEM_ALLOC as c_int))
                };
                assert_eq!(k.mem_inuse as usize, inuse, "kstat mem_inuse");
                assert!(k.mem_inuse <= k.mem_total);
                assert_eq!(k.qcache_max == 0, !a.cached);
            }
            CallOp::Update { arena } => {
                let Some(i) = self.pick(arena) else { return };
                // SAFETY: a live arena.
                unsafe { vmem_arena_update(self.arenas[i].as_ref().unwrap().vmp) };
            }
            CallOp::Reap { arena } => {
                let Some(i) = self.pick(arena) else { return };
                // SAFETY: a live arena.
                unsafe { vmem_qcache_reap(self.arenas[i].as_ref().unwrap().vmp) };
            }
            CallOp::Destroy { arena } => {
                let Some(i) = self.pick(arena) else { return };
                if self.has_children(i) {
                    return; // destroy children first, as documented
                }
                self.destroy(i);
            }
        }
        self.verify();
    }

    /// Frees everything the arena holds, checks it is empty, destroys it.
    fn destroy(&mut self, i: usize) {
        loop {
            let a = self.arenas[i].as_ref().unwrap();
            let Some(&addr) = a.live.keys().next() else {
                break;
            };
            self.free(i, addr);
        }
        let a = self.arenas[i].take().unwrap();
        // SAFETY: a live arena with no children, used by nobody else.
        unsafe {
            vmem_qcache_reap(a.vmp);
            let inuse = vmem_size(a.vmp, VMEM_ALLOC as c_int);
            assert_eq!(inuse, 0, "'{}': in use after freeing all", (*a.vmp).name());
            (*a.vmp).arena().check().expect("check before destroy");
            vmem_destroy(a.vmp);
        }
    }
}

fn create(spec: &ArenaSpec, index: usize, made: &[Option<CArena>]) -> Option<CArena> {
    let quantum = 1usize << (spec.quantum % 13);
    let parent = match spec.parent {
        Some(p) if index > 0 => {
            let j = usize::from(p) % index;
            made[j].as_ref().map(|_| j)
        }
        _ => None,
    };
    let depth = parent.map_or(0, |j| made[j].as_ref().unwrap().depth + 1);
    let (base, size) = match spec.span {
        Some((b, s)) => (
            (depth << 40) + (usize::from(b) + 1) * quantum,
            (usize::from(s) + 1) * quantum,
        ),
        None => (0, 0),
    };
    let source = parent.map_or(null_mut(), |j| made[j].as_ref().unwrap().vmp);
    let qcache = usize::from(spec.qcache % 20) * quantum;
    let name = format!("fz{index}\0");
    // SAFETY: a NUL-terminated name, a power-of-two quantum, a span whose
    // base and size are both set or both 0, a live source arena if any,
    // with functions that take that arena.
    let vmp = unsafe {
        match (parent, spec.xcreate) {
            (Some(_), true) => vmem_xcreate(
                name.as_ptr().cast(),
                base as *mut c_void,
                size,
                quantum,
                Some(ximport),
                Some(vmem_xfree),
                source,
                qcache,
                VM_SLEEP,
            ),
            (Some(_), false) => vmem_create(
                name.as_ptr().cast(),
                base as *mut c_void,
                size,
                quantum,
                Some(vmem_alloc),
                Some(vmem_free),
                source,
                qcache,
                VM_SLEEP,
            ),
            (None, _) => vmem_create(
                name.as_ptr().cast(),
                base as *mut c_void,
                size,
                quantum,
                None,
                None,
                null_mut(),
                qcache,
                VM_SLEEP,
            ),
        }
    };
    assert!(!vmp.is_null(), "vmem_create failed");
    Some(CArena {
        vmp,
        quantum,
        depth,
        parent,
        cached: qcache >= quantum,
        live: BTreeMap::new(),
    })
}

/// Runs one decoded input.
pub fn run_input(input: &Input) {
    let mut run = Run { arenas: Vec::new() };
    for (i, spec) in input.arenas.iter().take(4).enumerate() {
        let a = create(spec, i, &run.arenas);
        run.arenas.push(a);
    }
    run.verify();
    for op in &input.ops {
        run.step(op);
    }
    // Children were made after their parents: destroy from the last.
    for i in (0..run.arenas.len()).rev() {
        if run.arenas[i].is_some() {
            run.destroy(i);
        }
    }
    let stats = TagPool::global().stats();
    assert_eq!(
        stats.spare_tags,
        stats.pages * TAGS_PER_PAGE,
        "boundary tags leaked once every arena is destroyed"
    );
}
