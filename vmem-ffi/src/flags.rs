//! The flag values of illumos `sys/vmem.h`, bit for bit, and their
//! translation into `vmem-core`'s [`AllocFlags`] and [`SegmentTypes`].
//!
//! The values are written in hex here and in `include/vmem.h`, as a C
//! programmer reads them; a unit test checks the header against them.

use core::ffi::{c_int, c_uint};

use vmem_core::{AllocFlags, Policy, SegmentTypes, Wait};

/// Allocation may sleep until it can be satisfied (the default: zero).
pub const VM_SLEEP: c_int = 0x0;
/// Allocation fails at once (returns `NULL`) if it cannot be satisfied.
pub const VM_NOSLEEP: c_int = 0x1;
/// Failure is fatal: the process aborts with a message.
pub const VM_PANIC: c_int = 0x2;
/// Accepted and ignored (the kernel's reserved-page flag).
pub const VM_PUSHPAGE: c_int = 0x4;
/// The flags an arena passes on to its import function.
pub const VM_KMFLAGS: c_int = 0xff;
/// Best-fit placement.
pub const VM_BESTFIT: c_int = 0x100;
/// First-fit placement.
pub const VM_FIRSTFIT: c_int = 0x200;
/// Next-fit placement: cycle through the arena (IDs, PIDs).
pub const VM_NEXTFIT: c_int = 0x400;
/// Place the allocation at the high end of the chosen free segment.
pub const VM_ENDALLOC: c_int = 0x4000;

/// Creation flag: the arena supplies segment structures (accepted, ignored:
/// boundary tags come from a shared page-backed pool).
pub const VMC_POPULATOR: c_int = 0x10000;
/// Creation flag: no quantum caches, whatever `qcache_max` says.
pub const VMC_NO_QCACHE: c_int = 0x20000;
/// Creation flag: the arena hands out identifiers, not memory (accepted;
/// an arena never touches the ranges it manages anyway).
pub const VMC_IDENTIFIER: c_int = 0x40000;
/// Creation flag: the import function is a `vmem_ximport_t` (set by
/// `vmem_xcreate`; stripped from `vmem_create`).
pub const VMC_XALLOC: c_int = 0x80000;
/// Creation flag (with `vmem_xcreate`): the import function honours the
/// alignment it is given.
pub const VMC_XALIGN: c_int = 0x100000;

/// Walk/size type: allocated segments.
pub const VMEM_ALLOC: c_uint = 0x01;
/// Walk/size type: free segments.
pub const VMEM_FREE: c_uint = 0x02;
/// Walk type: spans.
pub const VMEM_SPAN: c_uint = 0x10;
/// Walk type: the next-fit rotor.
pub const VMEM_ROTOR: c_uint = 0x20;
/// Walk type: other walks' markers (a walk with this bit does nothing).
pub const VMEM_WALKER: c_uint = 0x40;
/// Walk flag: drop the arena lock around each callback.
pub const VMEM_REENTRANT: c_uint = 0x80000000;
/// Extension (FreeBSD's `VMEM_MAXFREE`, moved): `vmem_size` returns the size
/// of the largest free segment. FreeBSD's value, 0x10, is illumos'
/// `VMEM_SPAN`, so this one is 0x1000, clear of every illumos type bit.
pub const VMEM_MAXFREE: c_uint = 0x1000;

/// The allocation options `vmflag` asks for. Unknown bits are ignored.
pub(crate) fn alloc_flags(vmflag: c_int) -> AllocFlags {
    let policy = if vmflag & VM_NEXTFIT != 0 {
        Policy::NextFit
    } else if vmflag & VM_BESTFIT != 0 {
        Policy::BestFit
    } else if vmflag & VM_FIRSTFIT != 0 {
        Policy::FirstFit
    } else {
        Policy::InstantFit
    };
    let wait = if vmflag & VM_NOSLEEP != 0 {
        Wait::NoSleep
    } else {
        Wait::Sleep
    };
    AllocFlags::new()
        .policy(policy)
        .wait(wait)
        .from_end(vmflag & VM_ENDALLOC != 0)
}

/// The `vmflag` an arena passes to its import function for a wait mode.
pub(crate) fn import_vmflag(wait: Wait) -> c_int {
    match wait {
        Wait::NoSleep => VM_NOSLEEP,
        _ => VM_SLEEP,
    }
}

/// The segment types in a `typemask` (walk and size).
pub(crate) fn segment_types(typemask: c_int) -> SegmentTypes {
    SegmentTypes::from_bits(typemask as c_uint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_wait_modes() {
        assert_eq!(alloc_flags(VM_SLEEP).get_wait(), Wait::Sleep);
        assert_eq!(alloc_flags(VM_NOSLEEP).get_wait(), Wait::NoSleep);
        assert_eq!(
            alloc_flags(VM_NOSLEEP | VM_NEXTFIT | VM_BESTFIT).get_policy(),
            Policy::NextFit
        );
        assert_eq!(
            alloc_flags(VM_BESTFIT | VM_FIRSTFIT).get_policy(),
            Policy::BestFit
        );
        assert_eq!(alloc_flags(VM_FIRSTFIT).get_policy(), Policy::FirstFit);
        assert!(alloc_flags(VM_ENDALLOC).get_from_end());
        assert!(
            !alloc_flags(VM_PANIC).get_panic_on_failure(),
            "VM_PANIC is handled at the boundary"
        );
        assert_eq!(
            segment_types((VMEM_ALLOC | VMEM_REENTRANT) as c_int),
            SegmentTypes::ALLOC
        );
    }

    /// The checked-in header spells every value as the constants above.
    #[test]
    fn header_has_the_same_values_in_hex() {
        let header = include_str!("../../include/vmem.h");
        // `#define NAME 0x...  /* comment */`, the value written in hex.
        let expect = |name: &str, value: u64| {
            let written = header
                .lines()
                .find_map(|l| {
                    l.strip_prefix("#define ")?
                        .strip_prefix(name)?
                        .strip_prefix(' ')
                })
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("include/vmem.h does not define {name}"));
            let hex = written
                .strip_prefix("0x")
                .unwrap_or_else(|| panic!("{name} is `{written}` in include/vmem.h, not hex"));
            assert_eq!(
                u64::from_str_radix(hex, 16),
                Ok(value),
                "{name} in include/vmem.h"
            );
        };
        for (name, value) in [
            ("VM_SLEEP", VM_SLEEP),
            ("VM_NOSLEEP", VM_NOSLEEP),
            ("VM_PANIC", VM_PANIC),
            ("VM_PUSHPAGE", VM_PUSHPAGE),
            ("VM_KMFLAGS", VM_KMFLAGS),
            ("VM_BESTFIT", VM_BESTFIT),
            ("VM_FIRSTFIT", VM_FIRSTFIT),
            ("VM_NEXTFIT", VM_NEXTFIT),
            ("VM_ENDALLOC", VM_ENDALLOC),
            ("VMC_POPULATOR", VMC_POPULATOR),
            ("VMC_NO_QCACHE", VMC_NO_QCACHE),
            ("VMC_IDENTIFIER", VMC_IDENTIFIER),
            ("VMC_XALLOC", VMC_XALLOC),
            ("VMC_XALIGN", VMC_XALIGN),
        ] {
            expect(name, value as u64);
        }
        for (name, value) in [
            ("VMEM_ALLOC", VMEM_ALLOC),
            ("VMEM_FREE", VMEM_FREE),
            ("VMEM_SPAN", VMEM_SPAN),
            ("VMEM_ROTOR", VMEM_ROTOR),
            ("VMEM_WALKER", VMEM_WALKER),
            ("VMEM_REENTRANT", VMEM_REENTRANT),
            ("VMEM_MAXFREE", VMEM_MAXFREE),
        ] {
            expect(name, value as u64);
        }
    }
}
