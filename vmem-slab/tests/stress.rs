//! Multi-thread stress: four threads allocate cached and uncached sizes and
//! hand half their objects to the next thread to free, while a fifth thread
//! reaps and updates. Ends with a full reap and nothing in use.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use vmem_core::{AllocFlags, Arena, SegmentTypes};
use vmem_slab::CachedArena;

#[test]
fn four_threads_cross_frees_and_concurrent_reaps() {
    const THREADS: usize = 4;
    let rounds = if cfg!(miri) { 40 } else { 200_000 };
    // Half the objects travel to the next thread, which frees them when it
    // next runs; a thread descheduled for a time slice can leave tens of
    // thousands of them in flight, so the arena (just integers) is sized for
    // the worst backlog, not the average one.
    let ca = Arc::new(CachedArena::new(
        Arena::new("stress", 0, 1 << 30, 8).unwrap(),
        16 * 8,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| mpsc::channel::<(usize, usize)>())
        .unzip();
    let reaper = {
        let (ca, stop) = (ca.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ca.reap();
                ca.update();
                ca.arena().check().unwrap();
                reaps += 1;
                // Paced, to keep the run short: `check` holds the arena
                // lock over a whole walk, and a reaper that takes it back
                // at once keeps the workers, whose waits for the lock end
                // in sleeps on it, waiting for the lock's hand-over to
                // starving sleepers (unpaced debug runs: 1.4 to 10.8 s;
                // 72 to 277 s before the lock was fair, docs/testing.md).
                // Reaps still interleave with every phase of the workers'
                // traffic.
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            reaps
        })
    };
    let workers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, inbox)| {
            let ca = ca.clone();
            let next = senders[(i + 1) % THREADS].clone();
            std::thread::spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
                let mut mine = Vec::new();
                for r in 0..rounds {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let size = if seed % 10 == 0 {
                        200 + (seed % 100) as usize * 8
                    } else {
                        8 * (1 + (seed >> 8) as usize % 16)
                    };
                    let addr = ca
                        .alloc(size, AllocFlags::NOSLEEP)
                        .expect("arena is large enough");
                    if r % 2 == 0 {
                        next.send((addr, size)).unwrap();
                    } else {
                        mine.push((addr, size));
                    }
                    if mine.len() > 64 {
                        for (a, s) in mine.drain(..32) {
                            ca.free(a, s).unwrap();
                        }
                    }
                    while let Ok((a, s)) = inbox.try_recv() {
                        ca.free(a, s).unwrap();
                    }
                }
                drop(next);
                (mine, inbox)
            })
        })
        .collect();
    drop(senders);
    let leftovers: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let reaps = reaper.join().unwrap();
    for (mine, inbox) in leftovers {
        for (a, s) in mine.into_iter().chain(inbox.try_iter()) {
            ca.free(a, s).unwrap();
        }
    }
    ca.reap();
    ca.arena().check().unwrap();
    if ca.arena().size(SegmentTypes::ALLOC) != 0 {
        ca.arena()
            .walk(SegmentTypes::ALLOC, |s| eprintln!("leaked: {s:?}"));
        eprintln!(
            "{:#?}",
            ca.cache_stats()
                .iter()
                .filter(|s| s.slabs != 0 || s.objects_outstanding != 0)
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(
        ca.arena().size(SegmentTypes::ALLOC),
        0,
        "after {reaps} concurrent reaps"
    );
    let stats = ca.cache_stats();
    assert!(stats
        .iter()
        .all(|s| s.objects_outstanding == 0 && s.late_bad_frees == 0));
    let (allocs, frees): (u64, u64) = stats
        .iter()
        .map(|s| (s.allocs, s.frees))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(allocs, frees);
}
