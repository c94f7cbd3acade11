//! Fork from a threaded program: while other threads allocate and free on
//! a quantum-cached arena and on a child arena importing from it, the
//! process forks hundreds of times; every child allocates, frees and exits
//! cleanly, and the parent's arenas are intact afterwards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vmem_core::{AllocFlags, Arena, Source};
use vmem_slab::CachedArena;
use vmem_umem::registry;

const FORKS: usize = 200;

/// Waits for `pid`; a child that has not exited after `limit` is a hang.
fn wait_for(pid: libc::pid_t, limit: Duration) -> Result<i32, String> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return Ok(status);
        }
        if start.elapsed() > limit {
            if std::env::var_os("FORK_DEBUG").is_some() {
                let out = std::process::Command::new("gdb")
                    .args(["-p", &pid.to_string(), "-batch", "-ex", "bt"])
                    .output();
                if let Ok(out) = out {
                    std::fs::write(format!("/tmp/hung-{pid}.txt"), out.stdout).ok();
                }
            }
            // SAFETY: killing our own hung child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("child {pid} hung"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn children_of_a_threaded_program_allocate_and_exit() {
    vmem_umem::get();
    let parent = Arc::new(CachedArena::new(
        Arena::builder("fork-parent")
            .quantum(16)
            .span(1 << 40, 1 << 30)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
        64,
    ));
    let child = Arc::new(
        Arena::builder("fork-child")
            .quantum(16)
            .source(parent.clone() as Arc<dyn Source>)
            .import_quantum(4096)
            .tag_pool(vmem_umem::tag_pool())
            .build()
            .unwrap(),
    );
    // SAFETY: both outlive their registration (unregistered below).
    unsafe {
        registry::register(&*parent as *const CachedArena as *const dyn registry::Managed);
        registry::register(&*child as *const Arena as *const dyn registry::Managed);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let (parent, child, stop) = (parent.clone(), child.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut live = Vec::new();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let size = 16 * (1 + i % 6);
                    if i % 3 == 0 {
                        live.push((true, child.alloc(size, AllocFlags::new()).unwrap(), size));
                    } else {
                        live.push((false, parent.alloc(size, AllocFlags::new()).unwrap(), size));
                    }
                    if live.len() > 64 {
                        for (in_child, addr, size) in live.drain(..32) {
                            if in_child {
                                child.free(addr, size).unwrap();
                            } else {
                                parent.free(addr, size).unwrap();
                            }
                        }
                    }
                    if i % 1000 == 0 {
                        vmem_umem::update();
                    }
                }
                for (in_child, addr, size) in live {
                    if in_child {
                        child.free(addr, size).unwrap();
                    } else {
                        parent.free(addr, size).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut failures = Vec::new();
    for _ in 0..FORKS {
        // SAFETY: the child only allocates, frees and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut ok = true;
            for i in 0..100 {
                let size = 16 * (1 + i % 6);
                let a = parent.alloc(size, AllocFlags::new());
                let b = child.alloc(size, AllocFlags::new());
                ok &= a.is_ok() && b.is_ok();
                if let (Ok(a), Ok(b)) = (a, b) {
                    ok &= parent.free(a, size).is_ok() && child.free(b, size).is_ok();
                }
            }
            ok &= parent.arena().check().is_ok() && child.check().is_ok();
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 3 }) };
        }
        match wait_for(
            pid,
            Duration::from_secs(if std::env::var_os("FORK_DEBUG").is_some() {
                3
            } else {
                20
            }),
        ) {
            Ok(status) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
            Ok(status) => failures.push(format!("child {pid}: status {status:#x}")),
            Err(hang) => failures.push(hang),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(registry::unregister(&*child as *const Arena as *const ()));
    assert!(registry::unregister(
        &*parent as *const CachedArena as *const ()
    ));
    assert!(
        failures.is_empty(),
        "{} of {FORKS}: {failures:?}",
        failures.len()
    );
    parent.reap();
    child.check().unwrap();
    parent.arena().check().unwrap();
    assert_eq!(child.stats().mem_inuse, 0);
}
