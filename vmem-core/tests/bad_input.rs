//! The bad-input tour, arena layer: one test per misuse, each asserting the
//! documented outcome (a typed error that changes nothing, or the
//! documented non-error behaviour). The C side of the same tour is in
//! `examples-c/tests/death.c`; `docs/testing.md` has the table of both.

use std::sync::Arc;
use std::time::Duration;

use vmem_core::{
    AllocFlags, Arena, Constraints, Error, InvalidReason, Segment, SegmentTypes, Source, Wait,
};

fn arena() -> Arena {
    Arena::new("tour", 0x1000, 0x10000, 0x1000).unwrap()
}

fn segments(arena: &Arena) -> Vec<Segment> {
    let mut v = Vec::new();
    arena.walk(SegmentTypes::ALL, |s| v.push(s));
    v
}

/// Runs `bad`, which must fail with an error `ok` accepts, and checks that
/// the arena is exactly as before.
fn refused(
    arena: &Arena,
    bad: impl FnOnce(&Arena) -> Result<(), Error>,
    ok: impl Fn(&Error) -> bool,
) {
    let before = (segments(arena), arena.stats().mem_inuse);
    let err = bad(arena).expect_err("the misuse is refused");
    assert!(ok(&err), "unexpected error: {err}");
    assert_eq!(
        (segments(arena), arena.stats().mem_inuse),
        before,
        "nothing changed"
    );
    arena.check().unwrap();
}

fn invalid(reason: fn(&InvalidReason) -> bool) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::InvalidArgument(d) if reason(&d.reason))
}

#[test]
fn double_free() {
    let a = arena();
    let x = a.alloc(0x1000, AllocFlags::new()).unwrap();
    a.free(x, 0x1000).unwrap();
    refused(
        &a,
        |a| a.free(x, 0x1000),
        |e| matches!(e, Error::NotAllocated { .. }),
    );
}

#[test]
fn wrong_size() {
    let a = arena();
    let x = a.alloc(0x2000, AllocFlags::new()).unwrap();
    refused(
        &a,
        |a| a.free(x, 0x1000),
        |e| matches!(e, Error::WrongSize(d) if d.expected == 0x2000),
    );
    // Also a size that rounds to the same quantum multiple: the size
    // recorded is the one asked for.
    let y = a.alloc(0x1800, AllocFlags::new()).unwrap();
    refused(
        &a,
        |a| a.free(y, 0x2000),
        |e| matches!(e, Error::WrongSize(d) if d.expected == 0x1800),
    );
}

#[test]
fn foreign_address() {
    let a = arena();
    let _x = a.alloc(0x1000, AllocFlags::new()).unwrap();
    refused(
        &a,
        |a| a.free(0x100_0000, 0x1000),
        |e| matches!(e, Error::NotAllocated { .. }),
    );
    // Inside a span but free.
    refused(
        &a,
        |a| a.free(0x8000, 0x1000),
        |e| matches!(e, Error::NotAllocated { .. }),
    );
}

#[test]
fn misaligned_address_or_size() {
    let a = arena();
    let x = a.alloc(0x2000, AllocFlags::new()).unwrap();
    refused(
        &a,
        |a| a.free(x + 1, 0x2000),
        |e| matches!(e, Error::NotAllocated { .. }),
    );
    refused(
        &a,
        |a| a.free(x + 0x1000, 0x1000),
        |e| matches!(e, Error::NotAllocated { .. }),
    );
    refused(
        &a,
        |a| a.add(0x100_0800, 0x1000),
        invalid(|r| matches!(r, InvalidReason::NotQuantumMultiple { what: "base", .. })),
    );
    refused(
        &a,
        |a| a.add(0x100_0000, 0x1800),
        invalid(|r| matches!(r, InvalidReason::NotQuantumMultiple { what: "size", .. })),
    );
    refused(
        &a,
        |a| {
            a.xalloc(0x1000, &Constraints::new().align(0x800), AllocFlags::new())
                .map(drop)
        },
        invalid(|r| matches!(r, InvalidReason::NotQuantumMultiple { what: "align", .. })),
    );
    refused(
        &a,
        |a| {
            a.xalloc(0x1000, &Constraints::new().align(0x3000), AllocFlags::new())
                .map(drop)
        },
        invalid(|r| matches!(r, InvalidReason::NotPowerOfTwo { what: "align", .. })),
    );
    assert!(matches!(
        Arena::new("q3", 0, 0x3000, 0x3000),
        Err(Error::InvalidArgument(d)) if matches!(d.reason, InvalidReason::BadQuantum { .. })
    ));
}

#[test]
fn zero_size() {
    let a = arena();
    let zero = invalid(|r| matches!(r, InvalidReason::ZeroSize));
    refused(&a, |a| a.alloc(0, AllocFlags::new()).map(drop), &zero);
    refused(
        &a,
        |a| {
            a.xalloc(0, &Constraints::new(), AllocFlags::new())
                .map(drop)
        },
        &zero,
    );
    refused(&a, |a| a.add(0x100_0000, 0), &zero);
    refused(
        &a,
        |a| a.extend_alloc(0x100_0000, 0x1000, 0).map(drop),
        &zero,
    );
}

#[test]
fn phase_not_below_align() {
    let a = arena();
    for (align, phase) in [(0x2000, 0x2000), (0x2000, 0x3000), (0, 0x1000)] {
        refused(
            &a,
            |a| {
                a.xalloc(
                    0x1000,
                    &Constraints::new().align(align).phase(phase),
                    AllocFlags::new(),
                )
                .map(drop)
            },
            invalid(|r| matches!(r, InvalidReason::PhaseTooLarge { .. })),
        );
    }
}

#[test]
fn nocross_smaller_than_size() {
    let a = arena();
    refused(
        &a,
        |a| {
            a.xalloc(
                0x4000,
                &Constraints::new().nocross(0x2000),
                AllocFlags::new(),
            )
            .map(drop)
        },
        invalid(|r| matches!(r, InvalidReason::Overconstrained { .. })),
    );
    // Alignment above the boundary is over-constrained too.
    refused(
        &a,
        |a| {
            a.xalloc(
                0x1000,
                &Constraints::new().align(0x4000).nocross(0x2000),
                AllocFlags::new(),
            )
            .map(drop)
        },
        invalid(|r| matches!(r, InvalidReason::Overconstrained { .. })),
    );
}

#[test]
fn min_above_max_never_fits() {
    // Not an invalid argument: no address can satisfy it, so the request
    // fails at once, even a sleeping one (nothing could ever wake it).
    let a = arena();
    let c = Constraints::new().min(0x8000).max(0x4000);
    for flags in [
        AllocFlags::new(),
        AllocFlags::new().wait(Wait::Sleep),
        AllocFlags::new().wait(Wait::SleepFor(Duration::from_secs(60))),
    ] {
        refused(
            &a,
            |a| a.xalloc(0x1000, &c, flags).map(drop),
            |e| matches!(e, Error::NeverFits(d) if (d.min, d.max) == (0x8000, 0x4000)),
        );
    }
    // A window smaller than the request is the same.
    let small = Constraints::new().min(0x2000).max(0x3000);
    refused(
        &a,
        |a| a.xalloc(0x2000, &small, AllocFlags::new()).map(drop),
        |e| matches!(e, Error::NeverFits(_)),
    );
    // With fault injection failing every allocation, a request that can
    // never fit still says so, rather than reporting an injected shortage.
    a.set_mtbf(1);
    refused(
        &a,
        |a| a.xalloc(0x2000, &small, AllocFlags::new()).map(drop),
        |e| matches!(e, Error::NeverFits(_)),
    );
    a.set_mtbf(0);
    // The answer does not depend on whether the arena is empty: with the
    // arena full, the search fails first, and the request is still one
    // that never fits, not a shortage to wait for.
    let all = a.alloc(0x10000, AllocFlags::new()).unwrap();
    assert!(
        a.alloc(0x1000, AllocFlags::new()).is_err(),
        "the arena is full"
    );
    for flags in [AllocFlags::new(), AllocFlags::new().wait(Wait::Sleep)] {
        refused(
            &a,
            |a| a.xalloc(0x1000, &c, flags).map(drop),
            |e| matches!(e, Error::NeverFits(_)),
        );
    }
    a.free(all, 0x10000).unwrap();
}

#[test]
fn sizes_near_usize_max() {
    let a = arena();
    for size in [usize::MAX, usize::MAX - 0xfff, usize::MAX - 0x1000, 1 << 63] {
        refused(
            &a,
            |a| a.alloc(size, AllocFlags::new()).map(drop),
            |e| matches!(e, Error::WouldBlock { .. }),
        );
        refused(
            &a,
            |a| {
                a.xalloc(size, &Constraints::new(), AllocFlags::new())
                    .map(drop)
            },
            |e| matches!(e, Error::WouldBlock { .. } | Error::NeverFits(_)),
        );
    }
    refused(
        &a,
        |a| {
            a.xalloc(
                usize::MAX - 0x10,
                &Constraints::new().nocross(1 << 20),
                AllocFlags::new(),
            )
            .map(drop)
        },
        |e| matches!(e, Error::InvalidArgument { .. }),
    );
    refused(
        &a,
        |a| a.add(0x100_0000, usize::MAX - 0xfff),
        invalid(|r| matches!(r, InvalidReason::Wraps { .. })),
    );
    refused(
        &a,
        |a| a.add(usize::MAX - 0xfff, 0x2000),
        invalid(|r| matches!(r, InvalidReason::Wraps { .. })),
    );
    // The highest page a span can hold (its end, 2^64 - 0x1000, is the
    // last quantum multiple that fits) is a fine span, and allocating there
    // does not wrap.
    a.add(usize::MAX - 0x1fff, 0x1000).unwrap();
    let top = a
        .xalloc(
            0x1000,
            &Constraints::new().min(usize::MAX - 0x2fff),
            AllocFlags::new(),
        )
        .unwrap();
    assert_eq!(top, usize::MAX - 0x1fff);
    refused(
        &a,
        |a| {
            a.xalloc(
                0x1000,
                &Constraints::new().min(usize::MAX - 0x2fff),
                AllocFlags::new(),
            )
            .map(drop)
        },
        |e| matches!(e, Error::WouldBlock { .. }),
    );
    a.free(top, 0x1000).unwrap();
    // With a source, an impossible size is `Exhausted`, and nothing is imported.
    let parent = Arc::new(arena());
    let child = Arena::builder("child")
        .quantum(0x1000)
        .source(parent.clone())
        .build()
        .unwrap();
    refused(
        &child,
        |c| c.alloc(usize::MAX, AllocFlags::new()).map(drop),
        |e| matches!(e, Error::Exhausted { .. }),
    );
    assert_eq!(parent.stats().mem_inuse, 0);
}

#[test]
fn destroying_with_live_allocations_reports_the_leak() {
    let a = arena();
    a.alloc(0x3000, AllocFlags::new()).unwrap();
    a.alloc(0x1000, AllocFlags::new()).unwrap();
    assert_eq!(a.destroy(), 0x4000, "destroy returns the bytes leaked");
    // An importing arena keeps the spans that still hold allocations.
    let parent = Arc::new(arena());
    let child = Arena::builder("child")
        .quantum(0x1000)
        .source(parent.clone())
        .build()
        .unwrap();
    child.alloc(0x1000, AllocFlags::new()).unwrap();
    let kept = child.alloc(0x1000, AllocFlags::new()).unwrap();
    assert_eq!(child.destroy(), 0x2000);
    assert!(parent.stats().mem_inuse >= 0x2000, "not given back");
    assert!(parent.contains(kept, 0x1000));
}

#[test]
fn destroying_a_source_before_its_child_is_impossible() {
    // The child holds its source by `Arc`: the parent cannot be taken back
    // for `destroy` while the child lives, and dropping the last handle the
    // caller has leaves the parent alive for the child.
    let parent = Arc::new(arena());
    let child = Arena::builder("child")
        .quantum(0x1000)
        .source(parent.clone())
        .build()
        .unwrap();
    let x = child.alloc(0x1000, AllocFlags::new()).unwrap();
    let parent = Arc::try_unwrap(parent).expect_err("the child still holds its source");
    drop(parent);
    child.free(x, 0x1000).unwrap();
    let y = child.alloc(0x2000, AllocFlags::new()).unwrap();
    child.free(y, 0x2000).unwrap();
    child.check().unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "leaves a thread blocked forever")]
fn locked_walk_whose_callback_calls_the_arena_deadlocks() {
    // Documented outcome: `walk` holds the arena lock throughout, so a
    // callback that calls the arena blocks forever (as in libumem; use
    // `walk_reentrant`). The thread is left blocked; the test process ends
    // without it.
    let a: &'static Arena = Box::leak(Box::new(arena()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        a.walk(SegmentTypes::ALL, |_| {
            let _ = a.alloc(0x1000, AllocFlags::new());
        });
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "the walk returned: the lock is not held across callbacks any more (update the docs)"
    );
}

#[test]
fn reentrant_walk_whose_callback_calls_the_arena_works() {
    let a = arena();
    let mut seen = 0;
    a.walk_reentrant(SegmentTypes::ALL, |_| {
        seen += 1;
        let x = a.alloc(0x1000, AllocFlags::new()).unwrap();
        a.free(x, 0x1000).unwrap();
    });
    assert!(seen >= 2);
    a.check().unwrap();
    assert_eq!(a.stats().mem_inuse, 0);
}

/// A source that hands out the range `[base, base + size)` once.
struct Fixed(usize, usize, std::sync::atomic::AtomicBool);

impl Source for Fixed {
    fn import(&self, size: usize, _align: usize, _wait: Wait) -> Option<(usize, usize)> {
        (size <= self.1 && !self.2.swap(true, std::sync::atomic::Ordering::Relaxed))
            .then_some((self.0, self.1))
    }
    fn release(&self, _start: usize, _size: usize) {
        self.2.store(false, std::sync::atomic::Ordering::Relaxed);
    }
    fn quantum(&self) -> usize {
        0x1000
    }
}

#[test]
fn imported_span_overlapping_an_added_span_is_refused() {
    let source = Arc::new(Fixed(0x1000, 0x4000, false.into()));
    let child = Arena::builder("child")
        .quantum(0x1000)
        .source(source.clone())
        .build()
        .unwrap();
    // The caller adds a range the source will also hand out.
    child.add(0x2000, 0x1000).unwrap();
    let a = child.alloc(0x1000, AllocFlags::new()).unwrap();
    assert_eq!(a, 0x2000);
    // This one imports [0x1000, 0x5000), which overlaps the added span:
    // refused, and the span goes back to the source.
    let err = child.alloc(0x2000, AllocFlags::new()).unwrap_err();
    match &err {
        Error::OverlappingSpan(o) => {
            assert_eq!((o.base, o.size), (0x1000, 0x4000));
            assert_eq!((o.existing_start, o.existing_end), (0x2000, 0x3000));
        }
        other => panic!("expected OverlappingSpan, got {other}"),
    }
    assert!(err.to_string().contains("'child'"), "{err}");
    assert!(
        !source.2.load(std::sync::atomic::Ordering::Relaxed),
        "the refused span was not given back"
    );
    child.check().expect("invariants hold");
    assert_eq!(child.stats().mem_import, 0);
    assert_eq!(child.stats().mem_total, 0x1000);
    // The arena is unharmed: its own span still serves, and frees cleanly.
    child.free(a, 0x1000).unwrap();
    assert_eq!(child.alloc(0x1000, AllocFlags::new()).unwrap(), 0x2000);
}
