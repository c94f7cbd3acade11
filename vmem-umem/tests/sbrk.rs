//! The sbrk backend, chosen explicitly at initialisation.

use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, Source};
use vmem_umem::{Backend, Options};

#[test]
fn sbrk_heap_hands_out_writable_memory() {
    let world = vmem_umem::init(Options {
        backend: Backend::Sbrk,
        update_interval: None,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(world.top().name().as_str(), "sbrk_top");
    assert!(vmem_umem::init(Options::default()).is_err(), "only once");
    let arena = Arena::builder("brk")
        .quantum(4096)
        .source(world.heap_source().clone() as Arc<dyn Source>)
        .tag_pool(vmem_umem::tag_pool())
        .build()
        .unwrap();
    let mut live = Vec::new();
    for i in 1..=64 {
        let size = 4096 * i;
        let addr = arena.alloc(size, AllocFlags::new()).unwrap();
        // SAFETY: sbrk memory committed by the heap for this allocation.
        unsafe { core::ptr::write_bytes(addr as *mut u8, i as u8, size) };
        live.push((addr, size));
    }
    for (addr, size) in live {
        // SAFETY: still allocated and written above.
        assert_eq!(
            unsafe { *(addr as *const u8).add(size - 1) },
            (size / 4096) as u8
        );
        arena.free(addr, size).unwrap();
    }
    arena.check().unwrap();
    world.top().check().unwrap();
    assert!(world.top().stats().mem_total >= 64 * 65 / 2 * 4096);
}
