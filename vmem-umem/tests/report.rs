//! The `report=` option: at exit, the `vmem-cli stat` table of every arena
//! of the process goes to the named file (or stderr).
//!
//! The test runs itself again as a child process with `VMEM_OPTIONS` set
//! (the options are read once per process), lets the child exit, and reads
//! the report the exit handler wrote.

use std::process::Command;

use vmem_core::{AllocFlags, Arena};

/// Set in the child run.
const CHILD: &str = "VMEM_REPORT_TEST_CHILD";

#[test]
fn the_exit_report_lists_every_arena() {
    if std::env::var_os(CHILD).is_some() {
        // The child: one arena of its own on the process list, with 0x300
        // bytes in use when the process exits.
        let world = vmem_umem::get();
        assert!(world.options().report.is_some());
        let arena: &'static Arena = Box::leak(Box::new(
            Arena::builder("reported")
                .span(0x10000, 0x10000)
                .quantum(0x100)
                .tag_pool(vmem_umem::tag_pool())
                .build()
                .unwrap(),
        ));
        // SAFETY: leaked, so valid until the process ends.
        unsafe {
            vmem_umem::registry::register(arena as &dyn vmem_umem::registry::Managed as *const _)
        };
        arena.alloc(0x300, AllocFlags::new()).unwrap();
        return;
    }
    let path = std::env::temp_dir().join(format!("vmem-exit-report-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_exit_report_lists_every_arena",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(
            "VMEM_OPTIONS",
            format!("update_interval=0,report={}", path.display()),
        )
        .status()
        .unwrap();
    assert!(status.success(), "child: {status}");
    let text = std::fs::read_to_string(&path).expect("the child wrote its report at exit");
    std::fs::remove_file(&path).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("vmem report of process "),
        "{text}"
    );
    assert!(lines.next().unwrap().starts_with("NAME "), "{text}");
    let names: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in [
        "mmap_top",
        "heap",
        "vmem_internal",
        "vmem_seg",
        "vmem_hash",
        "vmem_vmem",
        "reported",
    ] {
        assert!(names.contains(&name), "{name} missing:\n{text}");
    }
    let reported: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("reported "))
        .unwrap()
        .split_whitespace()
        .collect();
    // NAME QUANTUM INUSE TOTAL ...
    assert_eq!(&reported[1..4], ["0x100", "0x300", "0x10000"], "{text}");
}

#[test]
fn an_unwritable_report_is_said_on_stderr() {
    if std::env::var_os(CHILD).is_some() {
        vmem_umem::get();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_unwritable_report_is_said_on_stderr",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(
            "VMEM_OPTIONS",
            "update_interval=0,report=/nonexistent-vmem-dir/report.txt",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "vmem: report=/nonexistent-vmem-dir/report.txt: cannot write the exit report"
        ),
        "{stderr}"
    );
}
