//! Seeded model test of a cached arena: cached and uncached sizes, `xalloc`,
//! reaps and updates, with the arena's `check()` after every step and a
//! shadow map proving every range handed out lies inside the arena and
//! overlaps no other live range.

use std::collections::BTreeMap;

use vmem_core::{AllocFlags, Arena, Constraints, SegmentTypes};
use vmem_slab::{CachedArena, SlabError};

#[derive(Clone, Copy, Debug)]
enum How {
    Alloc,
    Xalloc,
}

const BASE: usize = 0; // address 0 must be usable
const SIZE: usize = 1 << 18;
const QUANTUM: usize = 16;

fn run(seed: u64, steps: usize) {
    let ca = CachedArena::new(
        Arena::new("model", BASE, SIZE, QUANTUM).unwrap(),
        8 * QUANTUM,
    );
    assert_eq!(ca.qcache_max(), 8 * QUANTUM);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut live: BTreeMap<usize, (usize, How)> = BTreeMap::new();
    let mut saw_zero = false;
    for step in 0..steps {
        match rng.u32(..100) {
            0..=44 => {
                let size = QUANTUM * (1 + rng.usize(..8)) - rng.usize(..QUANTUM);
                insert(
                    &ca,
                    &mut live,
                    ca.alloc(size, AllocFlags::NOSLEEP),
                    size,
                    How::Alloc,
                    step,
                );
            }
            45..=54 => {
                let size = 8 * QUANTUM + 1 + rng.usize(..64 * QUANTUM);
                insert(
                    &ca,
                    &mut live,
                    ca.alloc(size, AllocFlags::NOSLEEP),
                    size,
                    How::Alloc,
                    step,
                );
            }
            55..=59 => {
                let size = QUANTUM * (1 + rng.usize(..4));
                let c = Constraints::new().align(QUANTUM << rng.usize(..4));
                let got = ca.xalloc(size, &c, AllocFlags::NOSLEEP);
                if let Ok(a) = got {
                    assert_eq!(a % c.get_align(), 0);
                }
                insert(&ca, &mut live, got, size, How::Xalloc, step);
            }
            60..=97 => {
                if let Some(&addr) = live.keys().nth(rng.usize(..live.len().max(1))) {
                    let (size, how) = live.remove(&addr).unwrap();
                    match how {
                        How::Alloc => ca.free(addr, size).unwrap(),
                        How::Xalloc => ca.xfree(addr, size).unwrap(),
                    }
                }
            }
            98 => ca.reap(),
            _ => ca.update(),
        }
        saw_zero |= live.contains_key(&0);
        ca.arena()
            .check()
            .unwrap_or_else(|e| panic!("step {step}: {e:?}"));
    }
    // A free of an address no cache handed out is refused.
    assert!(matches!(
        ca.free(SIZE + 4096, QUANTUM),
        Err(SlabError::BadFree { .. })
    ));
    for (addr, (size, how)) in std::mem::take(&mut live) {
        match how {
            How::Alloc => ca.free(addr, size).unwrap(),
            How::Xalloc => ca.xfree(addr, size).unwrap(),
        }
    }
    ca.reap();
    ca.arena().check().unwrap();
    assert_eq!(ca.arena().size(SegmentTypes::ALLOC), 0);
    assert!(saw_zero || steps < 1000, "address 0 was never handed out");
    let stats = ca.cache_stats();
    assert!(stats
        .iter()
        .all(|s| s.objects_outstanding == 0 && s.slabs == 0));
}

fn insert(
    ca: &CachedArena,
    live: &mut BTreeMap<usize, (usize, How)>,
    got: Result<usize, SlabError>,
    size: usize,
    how: How,
    step: usize,
) {
    let Ok(addr) = got else { return };
    assert!(
        addr.checked_sub(BASE).is_some_and(|off| off + size <= SIZE),
        "step {step}: outside the arena"
    );
    assert!(ca.arena().contains(addr, size));
    let end = addr + size;
    if let Some((&prev, &(psize, _))) = live.range(..=addr).next_back() {
        assert!(
            prev + psize <= addr,
            "step {step}: [{addr:#x},{end:#x}) overlaps {prev:#x}+{psize:#x}"
        );
    }
    if let Some((&next, _)) = live.range(addr..).next() {
        assert!(
            end <= next,
            "step {step}: [{addr:#x},{end:#x}) overlaps {next:#x}"
        );
    }
    live.insert(addr, (size, how));
}

#[test]
fn seeded_model_mixing_cached_and_uncached_sizes() {
    let steps = if cfg!(miri) { 150 } else { 20_000 };
    for seed in [1, 0xdead_beef, 42] {
        run(seed, steps);
    }
}
