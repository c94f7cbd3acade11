//! Hand-worked placement sequences for every policy, each expected address
//! derived step by step from libumem's algorithm (vmem.c):
//!
//! - a free segment of size `s` sits on freelist `highbit(s) - 1`, i.e.
//!   list `i` holds sizes in `[2^i, 2^(i+1))`; frees insert at the list head;
//! - instant-fit takes the head of the first non-empty list whose members
//!   are all `>= size` (for a power of two, its own list; otherwise the list
//!   above), falling back to the search when there is none;
//! - the search (best-, first-fit, xalloc) starts at that list (one lower
//!   for best/first-fit of a non-power-of-two size, or when every larger
//!   list is empty), walks it in list order and moves to the next non-empty
//!   list when it ends with no candidate; best-fit keeps the smallest in the
//!   first list with a candidate, first-fit the first that fits;
//! - allocating from the start of a segment whose remainder stays on the
//!   same list shrinks it in place (its list position does not change);
//!   otherwise the segment leaves its list and the leftovers are inserted
//!   at list heads;
//! - next-fit starts right after the rotor, wraps around, and a full circle
//!   steps the rotor forward, coalescing the free segments it separated.
//!
//! All scenarios use a quantum of 0x1000 ("a page").

use vmem_core::{AllocFlags, Arena, Constraints, Policy, SegmentKind, SegmentTypes};

const P: usize = 0x1000;

fn instant() -> AllocFlags {
    AllocFlags::new()
}
fn best() -> AllocFlags {
    Policy::BestFit.into()
}
fn first() -> AllocFlags {
    Policy::FirstFit.into()
}
fn next() -> AllocFlags {
    Policy::NextFit.into()
}

/// An arena over `[start, end)` with every byte allocated as `pieces`
/// (contiguous `(addr, size)`), then the pieces at `free_order` (indices)
/// freed in that order. Pieces between holes keep them from coalescing, so
/// each freed hole is its own free segment and the last one freed of each
/// size class heads its list.
fn carve(start: usize, end: usize, pieces: &[(usize, usize)], free_order: &[usize]) -> Arena {
    let arena = Arena::new("place", start, end - start, P).unwrap();
    let mut at = start;
    for &(addr, size) in pieces {
        assert_eq!(addr, at, "pieces must be contiguous");
        let c = Constraints::new().min(addr).max(addr + size);
        assert_eq!(arena.xalloc(size, &c, AllocFlags::new()), Ok(addr));
        at += size;
    }
    assert_eq!(at, end, "pieces must cover the span");
    for &i in free_order {
        let (addr, size) = pieces[i];
        arena.free(addr, size).unwrap();
    }
    arena.check().unwrap();
    arena
}

fn frees(arena: &Arena) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    arena.walk(SegmentTypes::FREE, |s| v.push((s.start, s.size)));
    v
}

// ----- instant-fit ------------------------------------------------------------------------

#[test]
fn instant_fit_takes_the_head_of_the_first_list_that_surely_fits() {
    // Holes: A [0x10000, +3p) on list 13; B [0x14000, +5p) and
    // C [0x1a000, +6p) on list 14. Freed A, B, C: list 14 is C, B.
    let arena = carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 3 * P), // 0: A
            (0x13000, P),
            (0x14000, 5 * P), // 2: B
            (0x19000, P),
            (0x1a000, 6 * P), // 4: C
            (0x20000, 0x10000),
        ],
        &[0, 2, 4],
    );
    // 3p is not a power of two: highbit(0x3000) = 14, so the first list whose
    // members are all >= 3p is list 14, whose head is C. A (exactly 3p, on
    // list 13) is not looked at.
    assert_eq!(arena.alloc(3 * P, instant()), Ok(0x1a000));
    // C: 6p - 3p = 3p changes list (14 -> 13): C leaves list 14 and its
    // remainder [0x1d000, +3p) goes to the head of list 13 (before A).
    // 2p is a power of two: its own list 13 qualifies; head = [0x1d000].
    assert_eq!(arena.alloc(2 * P, instant()), Ok(0x1d000));
    // 3p - 2p = 1p: the remainder [0x1f000, +1p) moves to list 12.
    assert_eq!(arena.alloc(P, instant()), Ok(0x1f000));
    // 3p again: list 14 holds B only -> 0x14000; B's 2p remainder
    // [0x17000, +2p) goes to the head of list 13 (before A).
    assert_eq!(arena.alloc(3 * P, instant()), Ok(0x14000));
    // 3p again: lists >= 14 are now empty, so the instant path finds
    // nothing and the search starts one list lower (13): head [0x17000, +2p)
    // is too small, then A fits exactly.
    assert_eq!(arena.alloc(3 * P, instant()), Ok(0x10000));
    assert_eq!(frees(&arena), [(0x17000, 2 * P)]);
    arena.check().unwrap();
}

#[test]
fn instant_fit_shrinking_in_place_keeps_list_order() {
    // Holes X [0x10000, +7p) and Y [0x18000, +6p), both list 14, freed Y
    // then X: list 14 is X, Y.
    let arena = carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 7 * P), // 0: X
            (0x17000, P),
            (0x18000, 6 * P), // 2: Y
            (0x1e000, P),
            (0x1f000, 0x11000),
        ],
        &[2, 0],
    );
    // A first-fit xalloc with min = 0x18000: 1p is a power of two, lists 12
    // and 13 are empty, so the search starts on list 14: X ends below min,
    // Y fits at its start. Y: 6p - 1p = 5p stays on list 14, so Y shrinks in
    // place to [0x19000, +5p) without moving: list 14 is still X, Y.
    let c = Constraints::new().min(0x18000);
    assert_eq!(arena.xalloc(P, &c, first()), Ok(0x18000));
    // Instant-fit 4p (a power of two, its own list 14): the head is X. (Had
    // Y been reinserted at the head, this would be 0x19000.)
    assert_eq!(arena.alloc(4 * P, instant()), Ok(0x10000));
    // X: 7p - 4p = 3p leaves list 14 for list 13. List 14 is now Y alone.
    assert_eq!(arena.alloc(4 * P, instant()), Ok(0x19000));
    // Y: 5p - 4p = 1p goes to list 12. 1p: list 12 head = [0x1d000].
    assert_eq!(arena.alloc(P, instant()), Ok(0x1d000));
    assert_eq!(frees(&arena), [(0x14000, 3 * P)]);
}

#[test]
fn instant_fit_power_of_two_and_coalescing() {
    // Holes A [0x10000, +4p) (list 14) and B [0x15000, +8p) (list 15).
    let arena = carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 4 * P), // 0: A
            (0x14000, P),     // 1: separator
            (0x15000, 8 * P), // 2: B
            (0x1d000, P),
            (0x1e000, 0x12000),
        ],
        &[0, 2],
    );
    // 4p is a power of two: every member of list 14 fits, so list 14 is
    // used: A, taken whole.
    assert_eq!(arena.alloc(4 * P, instant()), Ok(0x10000));
    arena.free(0x10000, 4 * P).unwrap();
    // 3p: highbit = 14, first list with members all >= 3p is list 14: A.
    // Its 1p remainder [0x13000] goes to list 12.
    assert_eq!(arena.alloc(3 * P, instant()), Ok(0x10000));
    // Freeing it coalesces with the free [0x13000, +1p) after it: A again.
    arena.free(0x10000, 3 * P).unwrap();
    assert_eq!(frees(&arena), [(0x10000, 4 * P), (0x15000, 8 * P)]);
    // Freeing the separator joins A, it and B: [0x10000, +13p) on list 15.
    arena.free(0x14000, P).unwrap();
    assert_eq!(frees(&arena), [(0x10000, 13 * P)]);
    // 8p (power of two, list 15): the merged segment; 13p - 8p = 5p moves
    // to list 14.
    assert_eq!(arena.alloc(8 * P, instant()), Ok(0x10000));
    assert_eq!(frees(&arena), [(0x18000, 5 * P)]);
    arena.check().unwrap();
}

// ----- best-fit ---------------------------------------------------------------------------

/// Holes P7 [0x10000, +7p), Q5 [0x18000, +5p), R6 [0x1e000, +6p), all on
/// list 14, freed R, Q, P: list 14 is P7, Q5, R6.
fn three_on_list_14(order: &[usize]) -> Arena {
    carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 7 * P), // 0: P7
            (0x17000, P),
            (0x18000, 5 * P), // 2: Q5
            (0x1d000, P),
            (0x1e000, 6 * P), // 4: R6
            (0x24000, 0xc000),
        ],
        order,
    )
}

#[test]
fn best_fit_picks_the_smallest_on_the_list() {
    let arena = three_on_list_14(&[4, 2, 0]);
    // 5p: not a power of two, best-fit starts one list lower than
    // highbit(5p) = 15, at 14: P7 fits (best so far), Q5 fits and is an
    // exact match: stop.
    assert_eq!(arena.alloc(5 * P, best()), Ok(0x18000));
    // 5p again: P7 then R6 (smaller): the list ends with R6 the best.
    // R6's 1p remainder [0x23000] goes to list 12.
    assert_eq!(arena.alloc(5 * P, best()), Ok(0x1e000));
    // Instant-fit 5p: lists >= 15 are empty, so the search starts at 14:
    // P7 is the only one left.
    assert_eq!(arena.alloc(5 * P, instant()), Ok(0x10000));
    assert_eq!(frees(&arena), [(0x15000, 2 * P), (0x23000, P)]);
}

#[test]
fn best_fit_searches_the_lower_list_instant_fit_does_not() {
    // Holes U [0x10000, +2p) and V [0x13000, +3p) on list 13, W
    // [0x17000, +4p) on list 14. Freed W, V, U: list 13 is U, V.
    let arena = carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 2 * P), // 0: U
            (0x12000, P),
            (0x13000, 3 * P), // 2: V
            (0x16000, P),
            (0x17000, 4 * P), // 4: W
            (0x1b000, P),
            (0x1c000, 0x14000),
        ],
        &[4, 2, 0],
    );
    // Instant-fit 3p: list 14 (members all >= 3p) is non-empty: W, whose 1p
    // remainder [0x1a000] goes to list 12.
    assert_eq!(arena.alloc(3 * P, instant()), Ok(0x17000));
    // Best-fit 3p starts at list 13: U is too small, V is exact.
    assert_eq!(arena.alloc(3 * P, best()), Ok(0x13000));
    // Best-fit 1p (power of two): list 12 first: [0x1a000], exact.
    assert_eq!(arena.alloc(P, best()), Ok(0x1a000));
    assert_eq!(frees(&arena), [(0x10000, 2 * P)]);
}

#[test]
fn best_and_first_fit_move_to_the_next_non_empty_list() {
    // A [0x10000, +4p) on list 14, B [0x15000, +16p) on list 16; list 15
    // is empty.
    let arena = carve(
        0x10000,
        0x30000,
        &[
            (0x10000, 4 * P), // 0: A
            (0x14000, P),
            (0x15000, 16 * P), // 2: B
            (0x25000, P),
            (0x26000, 10 * P),
        ],
        &[2, 0],
    );
    // Best-fit 5p starts at list 14: A is too small; the list ends with no
    // candidate, so the search moves to the next non-empty list, 16: B.
    // B: 16p - 5p = 11p moves to list 15: [0x1a000, +11p).
    assert_eq!(arena.alloc(5 * P, best()), Ok(0x15000));
    // First-fit 5p: list 14 (A, too small), then list 15: [0x1a000].
    // 11p - 5p = 6p moves to the head of list 14, before A.
    assert_eq!(arena.alloc(5 * P, first()), Ok(0x1a000));
    // Instant-fit 4p (power of two, list 14): the head is the remainder
    // [0x1f000, +6p), not A, though A would fit exactly.
    assert_eq!(arena.alloc(4 * P, instant()), Ok(0x1f000));
    assert_eq!(frees(&arena), [(0x10000, 4 * P), (0x23000, 2 * P)]);
}

// ----- first-fit --------------------------------------------------------------------------

#[test]
fn first_fit_is_first_in_list_order_not_address_order() {
    // Freed P7, Q5, R6: list 14 is R6, Q5, P7.
    let arena = three_on_list_14(&[0, 2, 4]);
    // First-fit 5p starts at list 14: R6 fits first (address-ordered
    // first-fit would have said 0x10000).
    assert_eq!(arena.alloc(5 * P, first()), Ok(0x1e000));
    // R6's 1p remainder goes to list 12. First-fit 7p: highbit = 15, start at
    // 14: Q5 no, P7 yes.
    assert_eq!(arena.alloc(7 * P, first()), Ok(0x10000));
    // 6p: lists 14 (Q5 too small), then nothing: fails.
    assert!(arena.alloc(6 * P, first()).is_err());
    assert_eq!(arena.alloc(5 * P, first()), Ok(0x18000));
}

#[test]
fn first_fit_shrinks_in_place_then_moves_lists() {
    let arena = three_on_list_14(&[0, 2, 4]); // list 14: R6, Q5, P7
                                              // 1p (power of two): lists 12 and 13 are empty, list 14's head R6 fits.
                                              // 6p - 1p = 5p stays on list 14: R6 shrinks in place, still the head.
    assert_eq!(arena.alloc(P, first()), Ok(0x1e000));
    // Again: 5p - 1p = 4p, still list 14, in place.
    assert_eq!(arena.alloc(P, first()), Ok(0x1f000));
    // Again: 4p - 1p = 3p leaves list 14; [0x21000, +3p) heads list 13.
    assert_eq!(arena.alloc(P, first()), Ok(0x20000));
    // 1p: now list 13 is the first non-empty one.
    assert_eq!(arena.alloc(P, first()), Ok(0x21000));
    // 2p: list 13 again ([0x22000, +2p), exact).
    assert_eq!(arena.alloc(2 * P, first()), Ok(0x22000));
    // 3p: best/first-fit start at list 13 (empty), so list 14: Q5 is the
    // head now.
    assert_eq!(arena.alloc(3 * P, first()), Ok(0x18000));
}

#[test]
fn first_fit_versus_instant_fit() {
    let arena = three_on_list_14(&[4, 0, 2]); // list 14: Q5, P7, R6
                                              // Instant-fit 6p: highbit(6p) = 15, list 15 and above are empty, so
                                              // the search starts at 14 and takes the first that fits: P7.
    assert_eq!(arena.alloc(6 * P, instant()), Ok(0x10000));
    // P7's 1p remainder -> list 12. First-fit 6p: list 14 is Q5, R6: R6.
    assert_eq!(arena.alloc(6 * P, first()), Ok(0x1e000));
    // First-fit 2p: power of two, start at list 13 (empty), then 14: Q5;
    // 5p - 2p = 3p moves to list 13.
    assert_eq!(arena.alloc(2 * P, first()), Ok(0x18000));
    assert_eq!(frees(&arena), [(0x16000, P), (0x1a000, 3 * P)]);
}

// ----- next-fit ---------------------------------------------------------------------------

#[test]
fn next_fit_does_not_reuse_until_wrap_around() {
    let arena = Arena::new("nf", 0x10000, 0x10000, P).unwrap();
    // The rotor starts before the span: the first search finds the whole
    // span's segment.
    assert_eq!(arena.alloc(P, next()), Ok(0x10000));
    // The segment after the rotor, [0x11000, +15p), loses 1p and stays on
    // its list: carved out behind the rotor.
    assert_eq!(arena.alloc(P, next()), Ok(0x11000));
    arena.free(0x10000, P).unwrap();
    // Not 0x10000: the rotor is past it.
    assert_eq!(arena.alloc(P, next()), Ok(0x12000));
    // Instant-fit does reuse (list 12's head is [0x10000]).
    assert_eq!(arena.alloc(P, instant()), Ok(0x10000));
    let mut rotor = Vec::new();
    arena.walk(SegmentTypes::ALLOC | SegmentTypes::ROTOR, |s| {
        rotor.push(s.kind)
    });
    assert_eq!(
        rotor,
        [
            SegmentKind::Alloc,
            SegmentKind::Alloc,
            SegmentKind::Alloc,
            SegmentKind::Rotor
        ]
    );
}

#[test]
fn next_fit_wraps_around() {
    let arena = Arena::new("nfw", 0x10000, 4 * P, P).unwrap();
    // 0x10000 (whole segment, rotor after it), 0x11000 (fast path: 3p ->
    // 2p stays on list 13), 0x12000 (2p -> 1p changes list: search, rotor
    // after it), 0x13000 (the last page, taken whole).
    for want in [0x10000, 0x11000, 0x12000, 0x13000] {
        assert_eq!(arena.alloc(P, next()), Ok(want));
    }
    arena.free(0x10000, P).unwrap();
    arena.free(0x11000, P).unwrap(); // coalesces: [0x10000, +2p)
    arena.free(0x13000, P).unwrap(); // just before the rotor
                                     // After the rotor is the list head; the search wraps: span, then the
                                     // free [0x10000, +2p): taken from its start.
    assert_eq!(arena.alloc(P, next()), Ok(0x10000));
    // Then the next one after the rotor: [0x11000, +1p).
    assert_eq!(arena.alloc(P, next()), Ok(0x11000));
    // Then around again to 0x13000.
    assert_eq!(arena.alloc(P, next()), Ok(0x13000));
    assert!(arena.alloc(P, next()).is_err());
    arena.check().unwrap();
}

#[test]
fn next_fit_rotor_separates_two_free_segments() {
    let arena = Arena::new("nfr", 0x10000, 4 * P, P).unwrap();
    assert_eq!(arena.alloc(2 * P, next()), Ok(0x10000));
    // Freed, [0x10000, +2p) does not coalesce with [0x12000, +2p): the
    // rotor sits between them.
    arena.free(0x10000, 2 * P).unwrap();
    assert_eq!(frees(&arena), [(0x10000, 2 * P), (0x12000, 2 * P)]);
    assert_eq!(arena.max_free(), 2 * P);
    // So instant-fit (and best/first-fit) cannot place 4p...
    assert!(arena.alloc(4 * P, instant()).is_err());
    assert!(arena.alloc(4 * P, best()).is_err());
    // ... but next-fit can: after a full circle it steps the rotor past the
    // segment after it, which coalesces the two, and takes the result.
    assert_eq!(arena.alloc(4 * P, next()), Ok(0x10000));
    arena.free(0x10000, 4 * P).unwrap();
    // The rotor is after the 4p segment, i.e. at the end: no split.
    assert_eq!(frees(&arena), [(0x10000, 4 * P)]);
    arena.check().unwrap();
}

// ----- xalloc -----------------------------------------------------------------------------

#[test]
fn xalloc_moves_up_a_list_when_nothing_on_it_fits() {
    // A [0x11000, +4p) and B [0x19000, +4p) on list 14 (freed A, B: B
    // first), C [0x1e000, +9p) on list 15.
    let arena = carve(
        0x10000,
        0x40000,
        &[
            (0x10000, P),
            (0x11000, 4 * P), // 1: A
            (0x15000, 4 * P),
            (0x19000, 4 * P), // 3: B
            (0x1d000, P),
            (0x1e000, 9 * P), // 5: C
            (0x27000, 0x19000),
        ],
        &[1, 3, 5],
    );
    let c = Constraints::new().align(0x4000);
    // 2p (power of two) starts at list 13 (empty) -> 14: B: the first
    // 0x4000 multiple in it is 0x1c000, and [0x1c000, +2p) runs past its
    // end 0x1d000; A: 0x14000 + 2p > 0x15000. End of list 14 with no
    // candidate: next non-empty list, 15: C at 0x20000.
    assert_eq!(arena.xalloc(2 * P, &c, instant()), Ok(0x20000));
    // C splits: [0x1e000, +2p) to list 13 and [0x22000, +5p) to list 14
    // (inserted at the heads).
    assert_eq!(
        frees(&arena),
        [
            (0x11000, 4 * P),
            (0x19000, 4 * P),
            (0x1e000, 2 * P),
            (0x22000, 5 * P)
        ]
    );
    // 1p at phase 0x1000 of 0x4000: list 12 is empty; list 13:
    // [0x1e000, +2p): 0x21000 is past its end; list 14, head
    // [0x22000, +5p): 0x25000 fits.
    let c = Constraints::new().align(0x4000).phase(0x1000);
    assert_eq!(arena.xalloc(P, &c, instant()), Ok(0x25000));
    // That split [0x22000, +5p): the rest [0x26000, +1p) went to list 12
    // and the front [0x22000, +3p) to the head of list 13 (3p has
    // highbit 14, so it is list 13, before [0x1e000, +2p)).
    // Best-fit, same constraints: list 12: [0x26000]: 0x29000 is past its
    // end; list 13: [0x22000, +3p): 0x25000 + 1p is past 0x25000;
    // [0x1e000, +2p): 0x21000 is past 0x20000; no candidate, so list 14:
    // B [0x19000, +4p): 0x19000 is itself at phase 0x1000: candidate;
    // A [0x11000, +4p) fits too but is not smaller (ties keep the first).
    assert_eq!(arena.xalloc(P, &c, best()), Ok(0x19000));
    // B: 4p - 1p = 3p leaves list 14 ([0x1a000, +3p) heads list 13, where
    // 0x1d000 is past its end). Instant-fit, same constraints, walks lists
    // 12 and 13 in vain and finds A alone on list 14.
    assert_eq!(arena.xalloc(P, &c, instant()), Ok(0x11000));
    arena.check().unwrap();
}

#[test]
fn xalloc_nocross_and_window() {
    let arena = carve(
        0x10000,
        0x40000,
        &[
            (0x10000, P),
            (0x11000, 0x10000), // 1: [0x11000, 0x21000), list 16
            (0x21000, 0x1f000),
        ],
        &[1],
    );
    // 4p not crossing 0x8000: the first candidate 0x11000 is fine.
    let c = Constraints::new().nocross(0x8000);
    assert_eq!(arena.xalloc(4 * P, &c, instant()), Ok(0x11000));
    // The segment is now [0x15000, 0x21000): 4p at 0x15000 would straddle
    // 0x18000, so hop to the boundary: 0x18000.
    assert_eq!(arena.xalloc(4 * P, &c, instant()), Ok(0x18000));
    // min 0x1d000: [0x1d000, +4p) straddles 0x20000; hop: 0x20000 + 4p
    // runs past 0x21000 -> no fit in this segment; [0x15000, +3p) is below
    // min: fails.
    let c = Constraints::new().nocross(0x8000).min(0x1d000);
    assert!(arena.xalloc(4 * P, &c, instant()).is_err());
    // max 0x1c000 with 3p: [0x15000, +3p) fits under it.
    let c = Constraints::new().max(0x1c000);
    assert_eq!(arena.xalloc(3 * P, &c, first()), Ok(0x15000));
    arena.check().unwrap();
}

// ----- coalescing and list order ------------------------------------------------------------

/// Holes X [0x11000, +5p) and Y [0x17000, +5p), both on list 14, each
/// between two allocated pages (s0 before X, s1 between, s2 after Y),
/// freed in `order` (1 is X, 3 is Y): the last one freed heads list 14.
fn x_and_y(order: &[usize]) -> Arena {
    carve(
        0x10000,
        0x30000,
        &[
            (0x10000, P),     // 0: s0
            (0x11000, 5 * P), // 1: X
            (0x16000, P),     // 2: s1
            (0x17000, 5 * P), // 3: Y
            (0x1c000, P),     // 4: s2
            (0x1d000, 0x13000),
        ],
        order,
    )
}

#[test]
fn a_coalesced_segment_heads_its_list_whether_or_not_it_headed_it_before() {
    // libumem takes the free neighbour off its list and inserts the merged
    // segment at the head; first-fit of 5p takes the head of list 14.
    for (order, freed, expect) in [
        // Y grows at its end: second on the list before, head after.
        (&[3, 1], (0x1c000, P), 0x17000),
        // Y grows at its end, heading the list already (kept in place).
        (&[1, 3], (0x1c000, P), 0x17000),
        // X grows at its start (the freed page joins the segment after it):
        // second before, head after.
        (&[1, 3], (0x10000, P), 0x10000),
        // X grows at its start, heading the list already.
        (&[3, 1], (0x10000, P), 0x10000),
    ] {
        let arena = x_and_y(order);
        arena.free(freed.0, freed.1).unwrap();
        arena.check().unwrap();
        assert_eq!(
            frees(&arena).len(),
            2,
            "{order:?}: X and Y, one of them grown"
        );
        assert_eq!(
            arena.alloc(5 * P, first()),
            Ok(expect),
            "{order:?} {freed:x?}"
        );
        arena.check().unwrap();
    }
}

#[test]
fn a_coalesced_segment_that_changes_lists_leaves_the_old_one() {
    // Freeing s1 joins X, s1 and Y: 11p, which belongs on list 15, not on
    // list 14 where X and Y were (so it cannot stay where Y was).
    let arena = x_and_y(&[1, 3]);
    arena.free(0x16000, P).unwrap();
    assert_eq!(frees(&arena), [(0x11000, 11 * P)]);
    arena.check().unwrap();
    // 5p by instant-fit: list 15, whose members are all >= 8p, holds it.
    assert_eq!(arena.alloc(5 * P, instant()), Ok(0x11000));
    assert_eq!(frees(&arena), [(0x16000, 6 * P)]);
    arena.check().unwrap();
}
