//! The flag values of illumos `sys/vmem.h`, bit for bit, and their
//! translation into `vmem-core`'s [`AllocFlags`] and [`SegmentTypes`].
//!
//! The values are written in hex here and in `include/vmem.h`, as a C
//! programmer reads them; a unit test checks the header against them, and
//! that the header defines no name without a constant here.

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
/// libumem's name for [`VM_KMFLAGS`] (from its private `vmem_impl_user.h`).
pub const VM_UMFLAGS: c_int = VM_KMFLAGS;
/// Best-fit placement.
pub const VM_BESTFIT: c_int = 0x100;
/// First-fit placement.
pub const VM_FIRSTFIT: c_int = 0x200;
/// Next-fit placement: cycle through the arena (IDs, PIDs).
pub const VM_NEXTFIT: c_int = 0x400;
/// The illumos kernel's "called from the HAT" flag: accepted, no effect.
pub const VM_MEMLOAD: c_int = 0x800;
/// The illumos kernel's "static mapping wanted" flag: accepted, no effect.
pub const VM_NORELOC: c_int = 0x1000;
/// Fail at once when nothing fits, whatever `VM_SLEEP`/`VM_NOSLEEP` say
/// (the illumos kernel's meaning; libumem ignores the flag). The import
/// function is still tried first and, as for `VM_NOSLEEP`, is passed
/// `VM_NOSLEEP`. Not an abort of the process: that is [`VM_PANIC`].
pub const VM_ABORT: c_int = 0x2000;
/// Place the allocation at the high end of the chosen free segment.
pub const VM_ENDALLOC: c_int = 0x4000;
/// Every per-allocation flag (the low 16 bits).
pub const VM_FLAGS: c_int = 0xffff;

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
/// Every creation flag (the high 16 bits). Unsigned, as the C literal
/// `0xffff0000` is.
pub const VMC_FLAGS: c_uint = 0xffff0000;

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

/// The size of libumem's arena-name buffer, NUL included, so libumem keeps
/// `VMEM_NAMELEN - 1` bytes of a name. Ours keep up to
/// `vmem_core::NAME_CAPACITY` bytes, which is more.
pub const VMEM_NAMELEN: usize = 30;
const _: () = assert!(VMEM_NAMELEN - 1 <= vmem_core::NAME_CAPACITY);

/// The allocation options `vmflag` asks for. Unknown bits are ignored;
/// `VM_ABORT` overrides `VM_SLEEP`.
#[inline]
pub(crate) fn alloc_flags(vmflag: c_int) -> AllocFlags {
    let wait = if vmflag & (VM_NOSLEEP | VM_ABORT) != 0 {
        Wait::NoSleep
    } else {
        Wait::Sleep
    };
    let flags = AllocFlags::new().wait(wait);
    if is_instant_fit(vmflag) {
        return flags;
    }
    let policy = if vmflag & VM_NEXTFIT != 0 {
        Policy::NextFit
    } else if vmflag & VM_BESTFIT != 0 {
        Policy::BestFit
    } else if vmflag & VM_FIRSTFIT != 0 {
        Policy::FirstFit
    } else {
        Policy::InstantFit
    };
    flags.policy(policy).from_end(vmflag & VM_ENDALLOC != 0)
}

/// Whether `vmflag` asks for instant-fit from the low end, the arena's
/// fast path (whatever it says of sleeping). Tested first and answered on
/// a path of its own: inlined into `vmem_alloc`, the common request then
/// builds only its wait mode (20 of a pair's 460 instructions were spent
/// translating the flags).
#[inline]
pub(crate) fn is_instant_fit(vmflag: c_int) -> bool {
    vmflag & (VM_NEXTFIT | VM_BESTFIT | VM_FIRSTFIT | VM_ENDALLOC) == 0
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

    #[test]
    fn vm_abort_never_sleeps() {
        assert_eq!(alloc_flags(VM_SLEEP | VM_ABORT).get_wait(), Wait::NoSleep);
        assert_eq!(alloc_flags(VM_NOSLEEP | VM_ABORT).get_wait(), Wait::NoSleep);
        // The kernel-only flags change nothing.
        assert_eq!(
            alloc_flags(VM_SLEEP | VM_MEMLOAD | VM_NORELOC | VM_PUSHPAGE),
            alloc_flags(VM_SLEEP)
        );
    }

    /// Every allocation flag lies inside `VM_FLAGS`, every creation flag
    /// inside `VMC_FLAGS`, and the two masks split the `int`.
    #[test]
    fn masks_cover_their_flags() {
        let alloc = [
            VM_SLEEP,
            VM_NOSLEEP,
            VM_PANIC,
            VM_PUSHPAGE,
            VM_KMFLAGS,
            VM_UMFLAGS,
            VM_BESTFIT,
            VM_FIRSTFIT,
            VM_NEXTFIT,
            VM_MEMLOAD,
            VM_NORELOC,
            VM_ABORT,
            VM_ENDALLOC,
        ];
        for flag in alloc {
            assert_eq!(flag & !VM_FLAGS, 0, "{flag:#x} outside VM_FLAGS");
        }
        let create = [
            VMC_POPULATOR,
            VMC_NO_QCACHE,
            VMC_IDENTIFIER,
            VMC_XALLOC,
            VMC_XALIGN,
        ];
        for flag in create {
            assert_eq!(
                flag as c_uint & !VMC_FLAGS,
                0,
                "{flag:#x} outside VMC_FLAGS"
            );
        }
        assert_eq!(VM_FLAGS as c_uint & VMC_FLAGS, 0);
        assert_eq!(VM_FLAGS as c_uint | VMC_FLAGS, c_uint::MAX);
        assert_eq!(VM_UMFLAGS, VM_KMFLAGS);
    }

    /// The checked-in header spells every value as the constants above, and
    /// defines nothing that has no constant here.
    #[test]
    fn header_has_the_same_values_in_hex() {
        // vmem-ffi/include/vmem.h links to the workspace's include/vmem.h,
        // and `cargo package` stores the file itself: the path works in the
        // source tree and in the published crate alike.
        let header = include_str!("../include/vmem.h");
        // `#define NAME VALUE  /* comment */`; the include guard has no value.
        let defines: Vec<(&str, &str)> = header
            .lines()
            .filter_map(|l| {
                let mut words = l.strip_prefix("#define ")?.split_whitespace();
                Some((words.next()?, words.next()?))
            })
            .collect();
        // Flags are written in hex, as illumos writes them.
        let flags: &[(&str, u64)] = &[
            ("VM_SLEEP", VM_SLEEP as c_uint as u64),
            ("VM_NOSLEEP", VM_NOSLEEP as c_uint as u64),
            ("VM_PANIC", VM_PANIC as c_uint as u64),
            ("VM_PUSHPAGE", VM_PUSHPAGE as c_uint as u64),
            ("VM_KMFLAGS", VM_KMFLAGS as c_uint as u64),
            ("VM_UMFLAGS", VM_UMFLAGS as c_uint as u64),
            ("VM_BESTFIT", VM_BESTFIT as c_uint as u64),
            ("VM_FIRSTFIT", VM_FIRSTFIT as c_uint as u64),
            ("VM_NEXTFIT", VM_NEXTFIT as c_uint as u64),
            ("VM_MEMLOAD", VM_MEMLOAD as c_uint as u64),
            ("VM_NORELOC", VM_NORELOC as c_uint as u64),
            ("VM_ABORT", VM_ABORT as c_uint as u64),
            ("VM_ENDALLOC", VM_ENDALLOC as c_uint as u64),
            ("VM_FLAGS", VM_FLAGS as c_uint as u64),
            ("VMC_POPULATOR", VMC_POPULATOR as c_uint as u64),
            ("VMC_NO_QCACHE", VMC_NO_QCACHE as c_uint as u64),
            ("VMC_IDENTIFIER", VMC_IDENTIFIER as c_uint as u64),
            ("VMC_XALLOC", VMC_XALLOC as c_uint as u64),
            ("VMC_XALIGN", VMC_XALIGN as c_uint as u64),
            ("VMC_FLAGS", VMC_FLAGS as u64),
            ("VMEM_ALLOC", VMEM_ALLOC as u64),
            ("VMEM_FREE", VMEM_FREE as u64),
            ("VMEM_SPAN", VMEM_SPAN as u64),
            ("VMEM_ROTOR", VMEM_ROTOR as u64),
            ("VMEM_WALKER", VMEM_WALKER as u64),
            ("VMEM_REENTRANT", VMEM_REENTRANT as u64),
            ("VMEM_MAXFREE", VMEM_MAXFREE as u64),
        ];
        // Sizes are written in decimal.
        let sizes: &[(&str, u64)] = &[("VMEM_NAMELEN", VMEM_NAMELEN as u64)];
        let written = |name: &str| {
            defines
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("include/vmem.h does not define {name}"))
        };
        for &(name, value) in flags {
            let text = written(name);
            let hex = text
                .strip_prefix("0x")
                .unwrap_or_else(|| panic!("{name} is `{text}` in include/vmem.h, not hex"));
            assert_eq!(
                u64::from_str_radix(hex, 16),
                Ok(value),
                "{name} in include/vmem.h"
            );
        }
        for &(name, value) in sizes {
            assert_eq!(
                written(name).parse::<u64>(),
                Ok(value),
                "{name} in include/vmem.h"
            );
        }
        for (name, _) in &defines {
            assert!(
                flags.iter().chain(sizes).any(|(n, _)| n == name),
                "include/vmem.h defines {name}, which has no constant in vmem-ffi/src/flags.rs"
            );
        }
    }
}
