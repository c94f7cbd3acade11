//! The scenario language: a line-oriented script that creates arenas and
//! drives them (the full reference is `docs/cli.md` in the source tree).
//!
//! ```text
//! # a heap of 64 KiB in 16-byte quanta, and a child importing from it
//! arena heap base=0x10000 size=64K quantum=16
//! arena kids quantum=16 source=heap
//! alloc heap 0x100 policy=best as a
//! xalloc heap 0x40 align=0x100 phase=0x10 nocross=0x1000 as b
//! alloc kids 0x20 as c
//! free a
//! expect-fail alloc heap 1M
//! ```
//!
//! [`parse`] turns the text into a [`Script`] (every syntax error is found
//! before anything runs); [`run`] executes it against real arenas and
//! returns the resulting [`World`].

mod parse;
mod run;
mod stream;

use vmem_core::{Constraints, Policy};

pub use parse::{parse, parse_bytes, MAX_STATEMENTS};
pub use run::{run, ArenaView, QCacheView, RunOptions, RunReport, World, PROGRESS_EVERY};
pub use stream::run_reader;

/// What running a statement needs to know besides the statement itself:
/// names of arenas and labels, and the text of a line for messages. A
/// [`Script`] answers for a whole file; a streamed run answers for the
/// declarations seen so far and the line being run.
pub(crate) trait Names {
    /// The file name used in messages.
    fn file(&self) -> &str;
    /// The declaration of the arena with this index.
    fn arena(&self, index: usize) -> &ArenaDecl;
    /// The name of a label.
    fn label(&self, label: Label) -> &str;
    /// How many labels are interned (every [`Label`] is below this).
    fn label_count(&self) -> usize;
    /// The text of 1-based line `line`, if known.
    fn line_text(&self, line: u32) -> Option<&str>;
}

impl Names for Script {
    fn file(&self) -> &str {
        &self.file
    }

    fn arena(&self, index: usize) -> &ArenaDecl {
        &self.arenas[index]
    }

    fn label(&self, label: Label) -> &str {
        &self.labels[label.0 as usize]
    }

    fn label_count(&self) -> usize {
        self.labels.len()
    }

    fn line_text(&self, line: u32) -> Option<&str> {
        Script::line_text(self, line)
    }
}

/// A parsed scenario: its statements in order, with where they came from.
#[derive(Debug, Clone)]
pub struct Script {
    /// The file name used in messages.
    pub file: String,
    /// The text (for echoing the offending line in errors).
    pub source: String,
    /// Byte offset of each line's start in `source`.
    pub line_starts: Vec<usize>,
    /// The statements, `repeat` already expanded.
    pub statements: Vec<Statement>,
    /// The arenas in declaration order.
    pub arenas: Vec<ArenaDecl>,
    /// Label names, indexed by [`Label`].
    pub labels: Vec<String>,
}

impl Script {
    /// The text of 1-based line `line` (without its end of line).
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let start = *self.line_starts.get(line.checked_sub(1)? as usize)?;
        let rest = &self.source[start..];
        Some(rest.lines().next().unwrap_or(""))
    }
}

/// A label given to an allocation with `as NAME`, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// One statement and where it is.
#[derive(Debug, Clone)]
pub struct Statement {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column of the operation's keyword.
    pub col: u32,
    /// Whether the line began with `expect-fail`.
    pub expect_fail: bool,
    /// What to do.
    pub op: Op,
}

/// An arena declaration (`arena NAME key=value...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArenaDecl {
    /// The arena's name.
    pub name: String,
    /// The initial span `(base, size)`, if any.
    pub span: Option<(usize, usize)>,
    /// The quantum (default 1).
    pub quantum: usize,
    /// The index (in [`Script::arenas`]) of the arena it imports from.
    pub source: Option<usize>,
    /// Largest size served by quantum caches (0: none).
    pub qcache_max: usize,
    /// Import rounding (default: the source's quantum).
    pub import_quantum: Option<usize>,
    /// Cap on imported bytes (0: none).
    pub limit: usize,
    /// `imports=trace`: the arena imports, and each import returns the next
    /// span given to it by an `import` statement (how a recorded trace
    /// replays an arena whose source was a C function).
    pub scripted: bool,
    /// Line of the declaration.
    pub line: u32,
}

/// What a statement does. Arenas are referred to by their index in
/// [`Script::arenas`].
#[derive(Debug, Clone)]
pub enum Op {
    /// Create the arena with this index.
    Arena(usize),
    /// `add NAME BASE SIZE`.
    Add {
        /// The arena.
        arena: usize,
        /// Span start.
        base: usize,
        /// Span size.
        size: usize,
    },
    /// `alloc` or `xalloc`.
    Alloc(Box<AllocOp>),
    /// A compact-trace allocation, `a SIZE LABEL`, from the first arena with
    /// the default policy.
    Quick {
        /// Size in bytes.
        size: usize,
        /// The label.
        label: Label,
    },
    /// `free LABEL` (also the compact `f LABEL`).
    Free(Label),
    /// `free NAME ADDR SIZE`: free by address.
    FreeAt {
        /// The arena.
        arena: usize,
        /// The address.
        addr: usize,
        /// The size.
        size: usize,
    },
    /// `extend NAME BASE SIZE ALLOC [as LABEL]`.
    Extend(Box<ExtendOp>),
    /// `reap NAME`: empty the arena's quantum caches.
    Reap(usize),
    /// `import NAME BASE SIZE`: the span the next import of an
    /// `imports=trace` arena returns.
    Import {
        /// The arena.
        arena: usize,
        /// Span start.
        base: usize,
        /// Span size.
        size: usize,
    },
    /// `destroy NAME` (`vmem_destroy`): reaps the arena's caches and
    /// destroys it; it must have no live child.
    Destroy(usize),
    /// `print [NAME]`: record a walk of one arena (or all) at this point.
    Print(Option<usize>),
}

impl Op {
    /// The arena the statement names, if it names one (`a` names the first;
    /// `free LABEL` and `print` of every arena name none).
    pub fn arena(&self) -> Option<usize> {
        match self {
            Op::Arena(_) | Op::Free(_) | Op::Print(None) => None,
            Op::Quick { .. } => Some(0),
            Op::Add { arena, .. }
            | Op::FreeAt { arena, .. }
            | Op::Import { arena, .. }
            | Op::Reap(arena)
            | Op::Destroy(arena)
            | Op::Print(Some(arena)) => Some(*arena),
            Op::Alloc(op) => Some(op.arena),
            Op::Extend(op) => Some(op.arena),
        }
    }
}

/// An `extend` statement.
#[derive(Debug, Clone)]
pub struct ExtendOp {
    /// The arena.
    pub arena: usize,
    /// Start of the range added.
    pub base: usize,
    /// Size of the range added.
    pub size: usize,
    /// Bytes allocated from its start.
    pub alloc: usize,
    /// The label for the allocation.
    pub label: Option<Label>,
}

/// An `alloc` or `xalloc` statement.
#[derive(Debug, Clone)]
pub struct AllocOp {
    /// The arena.
    pub arena: usize,
    /// Size in bytes.
    pub size: usize,
    /// `policy=`, if given.
    pub policy: Option<Policy>,
    /// `end`: place at the high end of the chosen segment.
    pub from_end: bool,
    /// `Some` for `xalloc`.
    pub constraints: Option<Constraints>,
    /// `as LABEL`.
    pub label: Option<Label>,
}

/// A scenario error: a syntax error found by [`parse`] or a failure while
/// running. Its `Display` is `file:line:col: message`, then the line with a
/// caret under the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The file name.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// How many columns to underline (at least 1).
    pub width: u32,
    /// What went wrong.
    pub message: String,
    /// The offending line, if known.
    pub text: Option<String>,
    /// An extra hint shown after the caret line.
    pub note: Option<String>,
}

impl core::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if let Some(text) = &self.text {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            write!(f, "\n{pad} |\n{gutter} | {text}\n{pad} | ")?;
            write!(
                f,
                "{}{}",
                " ".repeat(self.col.saturating_sub(1) as usize),
                "^".repeat(self.width.max(1) as usize)
            )?;
        }
        if let Some(note) = &self.note {
            let pad = " ".repeat(self.line.to_string().len());
            write!(f, "\n{pad} = note: {note}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// Parses a policy name: `instant`, `best`, `first` or `next` (a `-fit`
/// suffix is allowed).
pub fn parse_policy(text: &str) -> Option<Policy> {
    Some(match text.strip_suffix("-fit").unwrap_or(text) {
        "instant" => Policy::InstantFit,
        "best" => Policy::BestFit,
        "first" => Policy::FirstFit,
        "next" => Policy::NextFit,
        _ => return None,
    })
}

/// The scenario-language name of a policy.
pub fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::InstantFit => "instant",
        Policy::BestFit => "best",
        Policy::FirstFit => "first",
        Policy::NextFit => "next",
    }
}

/// Every policy, in the order reports list them.
pub const POLICIES: [Policy; 4] = [
    Policy::InstantFit,
    Policy::BestFit,
    Policy::FirstFit,
    Policy::NextFit,
];

/// Why a word is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// It is not written as a number at all.
    Invalid,
    /// It is a well-formed number, but above `usize::MAX` (after its
    /// suffix is applied).
    TooLarge,
}

/// Parses a number: decimal or `0x` hex, `_` separators allowed, with an
/// optional binary suffix `K`, `M` or `G` (x1024, x1024², x1024³).
pub fn parse_number(text: &str) -> Option<usize> {
    number_value(text).ok()
}

/// Like [`parse_number`], but tells a malformed word from a number too
/// large for an address.
pub fn number_value(text: &str) -> Result<usize, NumberError> {
    let last = *text.as_bytes().last().ok_or(NumberError::Invalid)?;
    let (body, scale): (&str, usize) = match last {
        b'K' | b'k' => (&text[..text.len() - 1], 1 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || body.starts_with('_') {
        return Err(NumberError::Invalid);
    }
    // The digits are checked first, so a parse that still fails can only
    // have overflowed.
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NumberError::Invalid);
        }
        usize::from_str_radix(hex, 16).map_err(|_| NumberError::TooLarge)?
    } else {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Invalid);
        }
        digits.parse::<usize>().map_err(|_| NumberError::TooLarge)?
    };
    value.checked_mul(scale).ok_or(NumberError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("1_000"), Some(1000));
        assert_eq!(parse_number("4K"), Some(4096));
        assert_eq!(parse_number("0x1M"), Some(1 << 20));
        assert_eq!(parse_number("2G"), Some(2 << 30));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("K"), None);
        assert_eq!(parse_number("12z"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("0xffffffffffffffffK"), None);
        assert_eq!(number_value("12z"), Err(NumberError::Invalid));
        assert_eq!(number_value("0x_"), Err(NumberError::Invalid));
        assert_eq!(
            number_value("99999999999999999999999"),
            Err(NumberError::TooLarge)
        );
        assert_eq!(
            number_value("0x1_0000_0000_0000_0000"),
            Err(NumberError::TooLarge)
        );
        assert_eq!(
            number_value("0xffffffffffffffffK"),
            Err(NumberError::TooLarge)
        );
    }
}
