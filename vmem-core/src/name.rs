//! Arena names: short, fixed-capacity strings that errors can carry without
//! an allocator.

use core::fmt;

/// Longest name kept; longer names are truncated on a character boundary,
/// as libumem truncates to `VMEM_NAMELEN`.
pub const NAME_CAPACITY: usize = 31;

/// An arena's name, copied into the arena (and into errors it returns).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArenaName {
    bytes: [u8; NAME_CAPACITY],
    len: u8,
}

impl ArenaName {
    /// Copies `name`, truncating it to [`NAME_CAPACITY`] bytes.
    pub fn new(name: &str) -> ArenaName {
        let mut len = name.len().min(NAME_CAPACITY);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; NAME_CAPACITY];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        ArenaName {
            bytes,
            len: len as u8,
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Display for ArenaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ArenaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(ArenaName::new("heap").as_str(), "heap");
        let long = "é".repeat(20);
        let name = ArenaName::new(&long);
        assert!(name.as_str().len() <= NAME_CAPACITY);
        assert!(long.starts_with(name.as_str()));
    }
}
