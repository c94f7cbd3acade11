//! A tour of the arena layer: a parent arena, a child importing from it,
//! every policy, a constrained allocation, and a walk of the result.
//!
//! Run with `cargo run -p vmem-core --example demo`.

use std::sync::Arc;

use vmem_core::{AllocFlags, Arena, Constraints, Policy, SegmentTypes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parent = Arc::new(Arena::new("parent", 0x10_0000, 0x10_0000, 0x1000)?);
    let child = Arena::builder("child")
        .quantum(0x10)
        .source(parent.clone())
        .build()?;

    let a = parent.alloc(0x3000, AllocFlags::new())?;
    let b = parent.alloc(0x1000, Policy::BestFit.into())?;
    let c = parent.alloc(0x2000, Policy::FirstFit.into())?;
    let d = parent.alloc(0x1000, Policy::NextFit.into())?;
    let dma = Constraints::new()
        .align(0x4000)
        .phase(0x1000)
        .nocross(0x10000);
    let e = parent.xalloc(0x2000, &dma, AllocFlags::new())?;
    parent.free(b, 0x1000)?;
    let small = child.alloc(0x30, AllocFlags::new())?;
    println!("instant {a:#x}, best {b:#x} (freed), first {c:#x}, next {d:#x}, xalloc {e:#x}, child {small:#x}");

    for (name, arena) in [("parent", &*parent), ("child", &child)] {
        println!("\n{name}: {:>10} {:>18} {:>10}", "type", "start", "size");
        arena.walk(SegmentTypes::ALL, |seg| {
            println!(
                "{name}: {:>10} {:#18x} {:#10x}",
                format!("{:?}", seg.kind),
                seg.start,
                seg.size
            );
        });
        arena.check()?;
    }
    let stats = parent.stats();
    println!(
        "\nparent: in use {:#x} of {:#x}, {} allocs, {} frees",
        stats.mem_inuse, stats.mem_total, stats.alloc, stats.free
    );
    Ok(())
}
