//! The process-wide fault-injection switch, [`vmem_core::set_global_mtbf`].
//! It lives in its own test binary (its own process) because it affects
//! every arena at once.

use vmem_core::{set_global_mtbf, AllocFlags, Arena, Error, Wait};

#[test]
fn global_mtbf_applies_to_every_arena() {
    let a = Arena::new("ga", 0x1000, 0x10000, 0x1000).unwrap();
    let b = Arena::new("gb", 0x1000, 0x10000, 0x1000).unwrap();
    set_global_mtbf(1);
    for arena in [&a, &b] {
        assert!(matches!(
            arena.alloc(0x1000, AllocFlags::new()),
            Err(Error::WouldBlock { .. })
        ));
        // Sleeping allocations are exempt.
        let x = arena
            .alloc(
                0x1000,
                AllocFlags::new().wait(Wait::SleepFor(std::time::Duration::from_millis(1))),
            )
            .unwrap();
        arena.free(x, 0x1000).unwrap();
    }
    set_global_mtbf(0);
    for arena in [&a, &b] {
        let x = arena.alloc(0x1000, AllocFlags::new()).unwrap();
        arena.free(x, 0x1000).unwrap();
        assert_eq!(arena.stats().fail, 1);
        arena.check().unwrap();
    }
}
