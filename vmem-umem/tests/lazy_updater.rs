//! The maintenance thread starts only once the process has other threads
//! (`maintenance::want_updater`). No harness (`harness = false`): `main`
//! is the process's only thread until it spawns one, as in a C program.

use std::time::Duration;

use vmem_core::Wait;
use vmem_umem::Options;

fn main() {
    let tells = cfg!(all(target_os = "linux", target_env = "gnu"));
    let world = vmem_umem::init(Options {
        update_interval: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .unwrap();
    let heap = world.heap_source();
    let quantum = world.heap().quantum();

    // Slow paths of a single-threaded process: heap spans out and back.
    let addr = heap.alloc(16 * quantum, quantum, Wait::Sleep).unwrap();
    heap.free(addr, 16 * quantum);
    if tells {
        assert!(vmem_core::sync::single_threaded());
        assert!(
            !vmem_umem::updater_started(),
            "no thread for a single-threaded process"
        );
    }

    // Once another thread has existed, the next slow path starts it.
    std::thread::spawn(|| {}).join().unwrap();
    let addr = heap.alloc(16 * quantum, quantum, Wait::Sleep).unwrap();
    heap.free(addr, 16 * quantum);
    assert!(vmem_umem::updater_started());
    println!("lazy_updater: ok");
}
