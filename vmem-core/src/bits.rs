//! Power-of-two arithmetic used throughout the arena.
//!
//! These are the `P2*` helpers every vmem implementation leans on, written as
//! small functions over `usize`. All arithmetic wraps, exactly like the
//! unsigned C idioms they replace, so callers can reason about "end - 1"
//! style comparisons without overflow panics.

/// Index of the highest set bit, counting from 1; 0 for 0.
#[inline]
pub(crate) const fn highbit(x: usize) -> u32 {
    usize::BITS - x.leading_zeros()
}

/// Index of the lowest set bit, counting from 1; 0 for 0.
#[inline]
pub(crate) const fn lowbit(x: usize) -> u32 {
    if x == 0 {
        0
    } else {
        x.trailing_zeros() + 1
    }
}

/// `x` with every bit below the power of two `align` cleared.
#[inline]
pub(crate) const fn align_down(x: usize, align: usize) -> usize {
    x & align.wrapping_neg()
}

/// `x` rounded up to a multiple of the power of two `align` (wrapping).
#[inline]
pub(crate) const fn round_up(x: usize, align: usize) -> usize {
    (x.wrapping_neg() & align.wrapping_neg()).wrapping_neg()
}

/// The smallest address `>= x` that sits `phase` past a multiple of `align`.
#[inline]
pub(crate) const fn phase_up(x: usize, align: usize, phase: usize) -> usize {
    phase.wrapping_sub(phase.wrapping_sub(x) & align.wrapping_neg())
}

/// Distance from `x` up to the next multiple of `align` (0 if aligned).
#[inline]
pub(crate) const fn distance_to_boundary(x: usize, align: usize) -> usize {
    x.wrapping_neg() & align.wrapping_sub(1)
}

/// Whether `[off, off + len)` straddles a multiple of `align`.
/// An `align` of 0 means "no boundary" and never crosses.
#[inline]
pub(crate) const fn crosses_boundary(off: usize, len: usize, align: usize) -> bool {
    (off ^ off.wrapping_add(len).wrapping_sub(1)) > align.wrapping_sub(1)
}

/// Whether `x` and `y` have the same highest set bit, i.e. would sit on the
/// same power-of-two freelist.
#[inline]
pub(crate) const fn same_highbit(x: usize, y: usize) -> bool {
    (x ^ y) < (x & y)
}

/// Whether `x` is a power of two (0 is not).
#[inline]
pub(crate) const fn is_power_of_two(x: usize) -> bool {
    x != 0 && x & (x - 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highbit_and_lowbit() {
        assert_eq!(highbit(0), 0);
        assert_eq!(highbit(1), 1);
        assert_eq!(highbit(4096), 13);
        assert_eq!(highbit(4097), 13);
        assert_eq!(highbit(usize::MAX), usize::BITS);
        assert_eq!(lowbit(0), 0);
        assert_eq!(lowbit(1), 1);
        assert_eq!(lowbit(0b1100), 3);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_up(0, 16), 0);
        assert_eq!(round_up(1, 16), 16);
        assert_eq!(round_up(16, 16), 16);
        assert_eq!(align_down(31, 16), 16);
        assert_eq!(phase_up(0x1001, 0x1000, 0x10), 0x1010);
        assert_eq!(phase_up(0x1010, 0x1000, 0x10), 0x1010);
        assert_eq!(phase_up(0x1011, 0x1000, 0x10), 0x2010);
        assert_eq!(distance_to_boundary(0x1010, 0x1000), 0xff0);
        assert_eq!(distance_to_boundary(0x1000, 0x1000), 0);
    }

    #[test]
    fn boundaries() {
        assert!(!crosses_boundary(0x0, 0x1000, 0x1000));
        assert!(crosses_boundary(0x10, 0x1000, 0x1000));
        assert!(!crosses_boundary(0x10, 0x1000, 0));
        assert!(same_highbit(12, 9));
        assert!(!same_highbit(12, 4));
        assert!(is_power_of_two(64));
        assert!(!is_power_of_two(0));
        assert!(!is_power_of_two(12));
    }
}
