//! Text to [`Script`]: tokenizing with columns, one statement per line.
//!
//! [`parse`] reads a whole file; a streamed run (see
//! [`run_reader`](super::run_reader)) calls [`Parser::line`] and
//! [`Parser::expand`] itself, one line at a time, so a trace never has to
//! be held in memory.

use std::collections::HashMap;

use vmem_core::Constraints;

use crate::table::plural;

use super::{
    number_value, parse_policy, AllocOp, ArenaDecl, ExtendOp, Label, NumberError, Op, Script,
    ScriptError, Statement,
};

/// Most statements one script may expand to, `repeat` counted in full
/// (2²⁴, a little over 16 million: room for the largest traces we replay,
/// while a few short `repeat` lines cannot ask for unbounded memory or
/// time).
pub const MAX_STATEMENTS: usize = 1 << 24;

/// Longest arena name the core keeps (`NAME_CAPACITY`, libumem's
/// `VMEM_NAMELEN - 1`).
const NAME_MAX: usize = vmem_core::NAME_CAPACITY;

/// The keys an `arena` declaration takes, for "expected ..." messages.
const ARENA_KEYS: &str =
    "`base=`, `size=`, `quantum=`, `source=`, `imports=trace`, `qcache_max=`, `import_quantum=` or `limit=`";

/// The statements, for "expected ..." messages.
const STATEMENTS: &str =
    "a statement (`arena`, `add`, `alloc`, `xalloc`, `free`, `extend`, `reap`, `import`, `destroy`, `print`, `a`, `f`)";

/// One whitespace-separated word and its 1-based column.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    text: &'a str,
    col: u32,
}

impl Token<'_> {
    /// How many columns the word takes.
    fn width(&self) -> u32 {
        self.text.chars().count() as u32
    }
}

/// Splits a line (comment already removed) into tokens with columns.
fn tokenize(line: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut col = 0u32;
    let mut start_col = 0u32;
    for (i, c) in line.char_indices() {
        col += 1;
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    text: &line[s..i],
                    col: start_col,
                });
            }
        } else if start.is_none() {
            start = Some(i);
            start_col = col;
        }
    }
    if let Some(s) = start {
        tokens.push(Token {
            text: &line[s..],
            col: start_col,
        });
    }
    tokens
}

/// The tokens of one line and a position in them.
struct Line<'a, 't> {
    number: u32,
    text: &'a str,
    tokens: &'t [Token<'a>],
    pos: usize,
}

impl<'a> Line<'a, '_> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.peek();
        self.pos += usize::from(t.is_some());
        t
    }

    /// Tokens not consumed yet.
    fn remaining(&self) -> usize {
        self.tokens.len() - self.pos
    }

    /// Column just past the last token (where "end of line" is reported).
    fn end_col(&self) -> u32 {
        self.text.trim_end().chars().count() as u32 + 1
    }
}

/// A `key=value` word split, with the column of its value.
#[derive(Clone, Copy)]
struct KeyValue<'a> {
    token: Token<'a>,
    key: &'a str,
    value: &'a str,
    value_col: u32,
}

impl<'a> KeyValue<'a> {
    fn split(token: Token<'a>) -> Option<KeyValue<'a>> {
        let (key, value) = token.text.split_once('=')?;
        Some(KeyValue {
            token,
            key,
            value,
            value_col: token.col + key.len() as u32 + 1,
        })
    }

    /// Columns to underline for the value (at least one).
    fn value_width(&self) -> u32 {
        self.value.chars().count().max(1) as u32
    }
}

fn describe(token: Option<Token<'_>>) -> String {
    match token {
        Some(t) => format!("`{}`", t.text),
        None => "end of line".to_string(),
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// "`text` is above ...": the end of a "number too large" message.
fn too_large(text: &str) -> String {
    format!(
        "`{text}` is above {:#x}, the largest {}-bit address",
        usize::MAX,
        usize::BITS
    )
}

/// Parses a whole scenario. `file` is the name used in error messages.
///
/// This is the entry point for anything that holds a script as text (a
/// fuzz target included): it never panics, and every error it returns has
/// a line and column.
pub fn parse(file: &str, source: &str) -> Result<Script, ScriptError> {
    if over_the_cap(source) {
        return Err(first_error(file, source));
    }
    let mut parser = Parser::new(file);
    let mut statements = Vec::new();
    let mut line_starts = Vec::new();
    let mut offset = 0;
    for (index, raw) in source.split_inclusive('\n').enumerate() {
        line_starts.push(offset);
        offset += raw.len();
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some(mut parsed) = parser.line(number, raw)? {
            while let Some(statement) = parser.expand(&mut parsed) {
                statements.push(statement);
            }
        }
    }
    Ok(Script {
        file: parser.file,
        source: source.to_string(),
        line_starts,
        statements,
        arenas: parser.arenas,
        labels: parser.labels,
    })
}

/// Whether the lines of `source` expand to more than [`MAX_STATEMENTS`],
/// judged from the words that can start a line (`expect-fail`, `repeat N`)
/// without parsing the rest: a cheap look before anything is expanded.
fn over_the_cap(source: &str) -> bool {
    let mut total = 0usize;
    for raw in source.lines() {
        let mut words = raw.split('#').next().unwrap_or("").split_whitespace();
        let Some(mut first) = words.next() else {
            continue;
        };
        if first == "expect-fail" {
            first = words.next().unwrap_or("");
        }
        let count = match first {
            "repeat" => words.next().and_then(|n| number_value(n).ok()).unwrap_or(1),
            _ => 1,
        };
        total = total.saturating_add(count);
        if total > MAX_STATEMENTS {
            return true;
        }
    }
    false
}

/// The first error of a script known to be refused: each line is parsed
/// and counted, nothing is expanded.
fn first_error(file: &str, source: &str) -> ScriptError {
    let mut parser = Parser::new(file);
    for (index, raw) in source.split_inclusive('\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Err(err) = parser.line(number, raw) {
            return err;
        }
    }
    // The look-ahead and the parser count alike, so this is not reached;
    // should they ever differ, still refuse with a position.
    ScriptError {
        file: file.to_string(),
        line: 1,
        col: 1,
        width: 1,
        message: format!("the script expands to more than {MAX_STATEMENTS} statements"),
        text: None,
        note: None,
    }
}

/// Parses a scenario given as raw bytes (what a file or a fuzzer holds):
/// text that is not UTF-8 is an error at the line and column of the first
/// bad byte, like any other.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Result<Script, ScriptError> {
    let text = utf8(file, bytes, 1)?;
    parse(file, text)
}

/// `bytes` as text, or an error naming where the first invalid byte is
/// (`first_line` is the number of the line `bytes` starts on).
pub(crate) fn utf8<'b>(
    file: &str,
    bytes: &'b [u8],
    first_line: u32,
) -> Result<&'b str, ScriptError> {
    let err = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(err) => err,
    };
    let good = &bytes[..err.valid_up_to()];
    let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let newlines = good.iter().filter(|&&b| b == b'\n').count();
    let before = std::str::from_utf8(&good[line_start..]).unwrap_or("");
    let line_end = bytes[line_start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| line_start + i);
    let shown = String::from_utf8_lossy(&bytes[line_start..line_end]);
    Err(ScriptError {
        file: file.to_string(),
        line: first_line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX)),
        col: before.chars().count() as u32 + 1,
        width: 1,
        message: format!(
            "the script is not UTF-8 text (byte {:#04x} here)",
            bytes[err.valid_up_to()]
        ),
        text: Some(shown.trim_end_matches('\r').to_string()),
        note: None,
    })
}

/// `repeat N [from=K] [step=S]`: how label suffixes are numbered.
#[derive(Clone, Copy)]
struct Repeat {
    count: usize,
    from: usize,
    step: usize,
}

impl Repeat {
    /// A statement without `repeat`: once, labels as written.
    const ONCE: Repeat = Repeat {
        count: 1,
        from: 0,
        step: 1,
    };

    /// Whether labels get a `.i` suffix.
    fn suffixed(&self) -> bool {
        self.count != 1 || self.from != 0
    }
}

/// A label as written: its name, to be suffixed under `repeat`.
#[derive(Clone, Copy)]
struct LabelRef<'a> {
    name: &'a str,
}

/// A statement with labels not yet interned (so `repeat` can suffix them).
enum Pending<'a> {
    Done(Op),
    Alloc(AllocOp, Option<LabelRef<'a>>),
    Quick(usize, LabelRef<'a>),
    Free(LabelRef<'a>),
    Extend(ExtendOp, Option<LabelRef<'a>>),
}

/// One parsed line, ready to be expanded into its statements by
/// [`Parser::expand`] (once, or `repeat` times).
pub(crate) struct Parsed<'a> {
    pending: Pending<'a>,
    line: u32,
    col: u32,
    expect_fail: bool,
    repeat: Repeat,
    done: usize,
}

/// The prefixes in front of a statement.
struct Prefixes {
    expect_fail: bool,
    repeat: Option<Repeat>,
}

/// Where parsing is, and what has been declared so far.
pub(crate) struct Parser {
    pub(crate) file: String,
    pub(crate) arenas: Vec<ArenaDecl>,
    arena_index: HashMap<String, usize>,
    pub(crate) labels: Vec<String>,
    label_index: HashMap<String, u32>,
    /// Statements the lines so far expand to (checked against
    /// [`MAX_STATEMENTS`]).
    statements: usize,
}

impl Parser {
    pub(crate) fn new(file: &str) -> Parser {
        Parser {
            file: file.to_string(),
            arenas: Vec::new(),
            arena_index: HashMap::new(),
            labels: Vec::new(),
            label_index: HashMap::new(),
            statements: 0,
        }
    }

    /// Parses line `number` (its text may still end in `\n` or `\r\n`).
    /// Returns `None` for a blank or comment line.
    pub(crate) fn line<'a>(
        &mut self,
        number: u32,
        raw: &'a str,
    ) -> Result<Option<Parsed<'a>>, ScriptError> {
        let raw = raw.trim_end_matches('\n').trim_end_matches('\r');
        let code = raw.split('#').next().unwrap_or("");
        let tokens = tokenize(code);
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut line = Line {
            number,
            text: raw,
            tokens: &tokens,
            pos: 0,
        };
        self.statement(&mut line).map(Some)
    }

    /// The next statement of a parsed line (labels interned, suffixed under
    /// `repeat`), or `None` once all were given.
    pub(crate) fn expand(&mut self, parsed: &mut Parsed<'_>) -> Option<Statement> {
        if parsed.done == parsed.repeat.count {
            return None;
        }
        let repeat = parsed.repeat;
        // `from + (count - 1) * step` was checked not to overflow.
        let suffix = repeat
            .suffixed()
            .then(|| repeat.from + parsed.done * repeat.step);
        parsed.done += 1;
        let op = self.materialize(&parsed.pending, suffix);
        Some(Statement {
            line: parsed.line,
            col: parsed.col,
            expect_fail: parsed.expect_fail,
            op,
        })
    }

    /// The operation of one expansion of `pending`.
    fn materialize(&mut self, pending: &Pending<'_>, suffix: Option<usize>) -> Op {
        let mut label = |l: LabelRef<'_>| match suffix {
            Some(i) => self.intern(&format!("{}.{i}", l.name)),
            None => self.intern(l.name),
        };
        match pending {
            Pending::Done(op) => op.clone(),
            Pending::Alloc(op, l) => {
                let mut op = op.clone();
                op.label = l.map(&mut label);
                Op::Alloc(Box::new(op))
            }
            Pending::Quick(size, l) => Op::Quick {
                size: *size,
                label: label(*l),
            },
            Pending::Free(l) => Op::Free(label(*l)),
            Pending::Extend(op, l) => {
                let mut op = op.clone();
                op.label = l.map(&mut label);
                Op::Extend(Box::new(op))
            }
        }
    }

    fn error(&self, line: &Line<'_, '_>, col: u32, width: u32, message: String) -> ScriptError {
        ScriptError {
            file: self.file.clone(),
            line: line.number,
            col,
            width,
            message,
            text: Some(line.text.to_string()),
            note: None,
        }
    }

    /// An error underlining `token`.
    fn error_at(&self, line: &Line<'_, '_>, token: Token<'_>, message: String) -> ScriptError {
        self.error(line, token.col, token.width(), message)
    }

    /// The note listing the arenas declared so far.
    fn declared_arenas(&self) -> String {
        let names: Vec<&str> = self.arenas.iter().map(|a| a.name.as_str()).collect();
        format!("arenas declared so far: {}", names.join(", "))
    }

    /// "expected `what`, found ..." at the token (or end of line).
    fn expected(&self, line: &Line<'_, '_>, what: &str, found: Option<Token<'_>>) -> ScriptError {
        let (col, width) = match found {
            Some(t) => (t.col, t.width()),
            None => (line.end_col(), 1),
        };
        self.error(
            line,
            col,
            width,
            format!("expected {what}, found {}", describe(found)),
        )
    }

    fn number(&self, line: &mut Line<'_, '_>, what: &str) -> Result<usize, ScriptError> {
        let token = line.next();
        let Some(t) = token else {
            return Err(self.expected(line, what, None));
        };
        match number_value(t.text) {
            Ok(value) => Ok(value),
            Err(NumberError::Invalid) => Err(self.expected(line, what, token)),
            Err(NumberError::TooLarge) => Err(self.error_at(
                line,
                t,
                format!("number too large for {what}: {}", too_large(t.text)),
            )),
        }
    }

    fn value_number(&self, line: &Line<'_, '_>, kv: KeyValue<'_>) -> Result<usize, ScriptError> {
        let KeyValue { key, value, .. } = kv;
        let message = match number_value(value) {
            Ok(number) => return Ok(number),
            Err(NumberError::TooLarge) => {
                format!("number too large after `{key}=`: {}", too_large(value))
            }
            Err(NumberError::Invalid) if value.is_empty() => {
                format!("expected a number after `{key}=`, found nothing")
            }
            Err(NumberError::Invalid) => {
                format!("expected a number after `{key}=`, found `{value}`")
            }
        };
        Err(self.error(line, kv.value_col, kv.value_width(), message))
    }

    fn arena_ref(&self, line: &mut Line<'_, '_>) -> Result<usize, ScriptError> {
        let token = line.next();
        match token.and_then(|t| self.arena_index.get(t.text)) {
            Some(&index) => Ok(index),
            None => {
                let mut err = self.expected(line, "an arena name", token);
                if token.is_some() {
                    err.note = Some(if self.arenas.is_empty() {
                        "no arena is declared before this line (declare one with `arena NAME ...`)"
                            .to_string()
                    } else {
                        self.declared_arenas()
                    });
                }
                Err(err)
            }
        }
    }

    fn label_name<'a>(&self, line: &mut Line<'a, '_>) -> Result<LabelRef<'a>, ScriptError> {
        let token = line.next();
        match token.filter(|t| is_name(t.text)) {
            Some(t) => Ok(LabelRef { name: t.text }),
            None => Err(self.expected(line, "a label (letters, digits, `_`, `-`, `.`)", token)),
        }
    }

    fn end(&self, line: &mut Line<'_, '_>) -> Result<(), ScriptError> {
        match line.next() {
            None => Ok(()),
            found => Err(self.expected(line, "end of line", found)),
        }
    }

    fn intern(&mut self, name: &str) -> Label {
        if let Some(&id) = self.label_index.get(name) {
            return Label(id);
        }
        // At most MAX_STATEMENTS labels exist (one per statement at most).
        let id = u32::try_from(self.labels.len()).expect("fewer than 2^32 labels");
        self.labels.push(name.to_string());
        self.label_index.insert(name.to_string(), id);
        Label(id)
    }

    /// One line: its prefixes, its operation, then the check that the
    /// script stays within [`MAX_STATEMENTS`].
    fn statement<'a>(&mut self, line: &mut Line<'a, '_>) -> Result<Parsed<'a>, ScriptError> {
        let start = line.peek();
        let prefixes = self.prefixes(line)?;
        let Some(keyword) = line.next() else {
            return Err(self.expected(line, "a statement after the prefix", None));
        };
        let pending = self.operation(line, keyword, &prefixes)?;
        let repeat = prefixes.repeat.unwrap_or(Repeat::ONCE);
        self.count_statements(line, start.unwrap_or(keyword), repeat.count)?;
        Ok(Parsed {
            pending,
            line: line.number,
            col: keyword.col,
            expect_fail: prefixes.expect_fail,
            repeat,
            done: 0,
        })
    }

    /// `expect-fail` and `repeat ...`, in either order, each at most once.
    fn prefixes(&self, line: &mut Line<'_, '_>) -> Result<Prefixes, ScriptError> {
        let mut prefixes = Prefixes {
            expect_fail: false,
            repeat: None,
        };
        loop {
            match line.peek().map(|t| t.text) {
                Some("expect-fail") if !prefixes.expect_fail => {
                    line.next();
                    prefixes.expect_fail = true;
                }
                Some("repeat") if prefixes.repeat.is_none() => {
                    let keyword = line.next().expect("peeked");
                    prefixes.repeat = Some(self.repeat(line, keyword)?);
                }
                _ => return Ok(prefixes),
            }
        }
    }

    /// Adds `count` statements to the script's total, refusing to pass
    /// [`MAX_STATEMENTS`] (`at` is underlined: the line's first word).
    fn count_statements(
        &mut self,
        line: &Line<'_, '_>,
        at: Token<'_>,
        count: usize,
    ) -> Result<(), ScriptError> {
        match self.statements.checked_add(count) {
            Some(total) if total <= MAX_STATEMENTS => {
                self.statements = total;
                Ok(())
            }
            _ => {
                let mut err = self.error_at(
                    line,
                    at,
                    format!(
                        "this line takes the script past {MAX_STATEMENTS} statements, the most one script may expand to"
                    ),
                );
                err.note = Some(format!(
                    "the lines before it expand to {}, this one to {count} (`repeat` counts every repetition)",
                    plural(self.statements, "statement")
                ));
                Err(err)
            }
        }
    }

    /// The operation after the prefixes, by its keyword.
    fn operation<'a>(
        &mut self,
        line: &mut Line<'a, '_>,
        keyword: Token<'a>,
        prefixes: &Prefixes,
    ) -> Result<Pending<'a>, ScriptError> {
        match keyword.text {
            "arena" => self.arena_statement(line, keyword, prefixes),
            "add" => self.add(line),
            "alloc" => self.alloc(line, false),
            "xalloc" => self.alloc(line, true),
            "a" => self.quick(line, keyword),
            "free" | "f" => self.free(line, keyword),
            "extend" => self.extend(line),
            "reap" => self.reap(line),
            "import" => self.import(line),
            "destroy" => self.destroy(line),
            "print" | "walk" => self.print(line),
            _ => Err(self.expected(line, STATEMENTS, Some(keyword))),
        }
    }

    /// `repeat N [from=K] [step=S]` after its keyword.
    fn repeat(&self, line: &mut Line<'_, '_>, keyword: Token<'_>) -> Result<Repeat, ScriptError> {
        let at = line.peek();
        let count = self.number(line, "a repeat count")?;
        if count == 0 {
            let t = at.expect("a number was parsed");
            return Err(self.error_at(
                line,
                t,
                format!(
                    "expected a repeat count from 1 to {MAX_STATEMENTS}, found `{}`",
                    t.text
                ),
            ));
        }
        let mut repeat = Repeat {
            count,
            from: 0,
            step: 1,
        };
        while let Some(kv) = line.peek().and_then(KeyValue::split) {
            match kv.key {
                "from" => repeat.from = self.value_number(line, kv)?,
                "step" => repeat.step = self.value_number(line, kv)?,
                _ => break,
            }
            line.next();
        }
        self.check_repeat_range(line, keyword, repeat)?;
        Ok(repeat)
    }

    /// The last suffix, `from + (count - 1) * step`, must be a number too.
    fn check_repeat_range(
        &self,
        line: &Line<'_, '_>,
        keyword: Token<'_>,
        repeat: Repeat,
    ) -> Result<(), ScriptError> {
        let last = (repeat.count - 1)
            .checked_mul(repeat.step)
            .and_then(|n| n.checked_add(repeat.from));
        if last.is_some() {
            return Ok(());
        }
        // Underline the whole prefix, `repeat` to its last `key=value`.
        let last = line.tokens[line.pos - 1];
        let width = last.col + last.width() - keyword.col;
        Err(self.error(
            line,
            keyword.col,
            width,
            format!(
                "repeat numbers overflow: the last label suffix, {} + ({} - 1) * {}, is above {:#x}",
                repeat.from,
                repeat.count,
                repeat.step,
                usize::MAX
            ),
        ))
    }

    /// `arena ...`, which takes no prefix.
    fn arena_statement<'a>(
        &mut self,
        line: &mut Line<'a, '_>,
        keyword: Token<'_>,
        prefixes: &Prefixes,
    ) -> Result<Pending<'a>, ScriptError> {
        if prefixes.expect_fail || prefixes.repeat.is_some() {
            return Err(self.error(
                line,
                keyword.col,
                5,
                "`arena` cannot take `expect-fail` or `repeat`".to_string(),
            ));
        }
        self.arena(line)
    }

    /// `add NAME BASE SIZE`.
    fn add<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let arena = self.arena_ref(line)?;
        let base = self.number(line, "the span's base address")?;
        let size = self.number(line, "the span's size")?;
        self.end(line)?;
        Ok(Pending::Done(Op::Add { arena, base, size }))
    }

    /// `a SIZE LABEL`, from the first arena.
    fn quick<'a>(
        &self,
        line: &mut Line<'a, '_>,
        keyword: Token<'_>,
    ) -> Result<Pending<'a>, ScriptError> {
        if self.arenas.is_empty() {
            return Err(self.error_at(
                line,
                keyword,
                "`a` allocates from the first arena, but none is declared yet".into(),
            ));
        }
        let size = self.number(line, "the size to allocate")?;
        let label = self.label_name(line)?;
        self.end(line)?;
        Ok(Pending::Quick(size, label))
    }

    /// `free LABEL`, `f LABEL` or `free NAME ADDR SIZE`.
    fn free<'a>(
        &self,
        line: &mut Line<'a, '_>,
        keyword: Token<'_>,
    ) -> Result<Pending<'a>, ScriptError> {
        if keyword.text == "free" && line.remaining() == 3 {
            let arena = self.arena_ref(line)?;
            let addr = self.number(line, "the address to free")?;
            let size = self.number(line, "the size to free")?;
            return Ok(Pending::Done(Op::FreeAt { arena, addr, size }));
        }
        let label = self.label_name(line)?;
        self.end(line)?;
        Ok(Pending::Free(label))
    }

    /// `extend NAME BASE SIZE ALLOC [as LABEL]`.
    fn extend<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let arena = self.arena_ref(line)?;
        let base = self.number(line, "the base address of the range added")?;
        let size = self.number(line, "the size of the range added")?;
        let alloc = self.number(line, "the size to allocate from it")?;
        let label = self.maybe_label(line)?;
        let op = ExtendOp {
            arena,
            base,
            size,
            alloc,
            label: None,
        };
        Ok(Pending::Extend(op, label))
    }

    /// `reap NAME`.
    fn reap<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let arena = self.arena_ref(line)?;
        self.end(line)?;
        Ok(Pending::Done(Op::Reap(arena)))
    }

    /// `import NAME BASE SIZE`, for an arena declared `imports=trace`.
    fn import<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let at = line.peek();
        let arena = self.arena_ref(line)?;
        if !self.arenas[arena].scripted {
            let t = at.expect("an arena name was parsed");
            return Err(self.error_at(
                line,
                t,
                format!(
                    "arena `{}` does not take its imports from the script (declare it with `imports=trace`)",
                    t.text
                ),
            ));
        }
        let base = self.number(line, "the imported span's base address")?;
        let size = self.number(line, "the imported span's size")?;
        self.end(line)?;
        Ok(Pending::Done(Op::Import { arena, base, size }))
    }

    /// `destroy NAME`.
    fn destroy<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let arena = self.arena_ref(line)?;
        self.end(line)?;
        Ok(Pending::Done(Op::Destroy(arena)))
    }

    /// `print [NAME]` (or `walk`).
    fn print<'a>(&self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let arena = if line.peek().is_some() {
            Some(self.arena_ref(line)?)
        } else {
            None
        };
        self.end(line)?;
        Ok(Pending::Done(Op::Print(arena)))
    }

    fn maybe_label<'a>(
        &self,
        line: &mut Line<'a, '_>,
    ) -> Result<Option<LabelRef<'a>>, ScriptError> {
        match line.next() {
            None => Ok(None),
            Some(t) if t.text == "as" => {
                let label = self.label_name(line)?;
                self.end(line)?;
                Ok(Some(label))
            }
            found => Err(self.expected(line, "`as LABEL` or end of line", found)),
        }
    }

    /// `arena NAME key=value...` after its keyword: declares the arena.
    fn arena<'a>(&mut self, line: &mut Line<'a, '_>) -> Result<Pending<'a>, ScriptError> {
        let name = self.new_arena_name(line)?;
        let mut decl = ArenaDecl {
            name: name.text.to_string(),
            span: None,
            quantum: 1,
            source: None,
            qcache_max: 0,
            import_quantum: None,
            limit: 0,
            scripted: false,
            line: line.number,
        };
        let mut keys = ArenaKeys::default();
        while let Some(t) = line.next() {
            let Some(kv) = KeyValue::split(t) else {
                return Err(self.expected(line, ARENA_KEYS, Some(t)));
            };
            self.arena_key(line, kv, &mut decl, &mut keys)?;
        }
        decl.span = self.arena_span(line, name, &keys)?;
        self.check_alignment(line, &decl, &keys)?;
        self.check_import_keys(line, &decl, &keys)?;
        let index = self.arenas.len();
        self.arena_index.insert(decl.name.clone(), index);
        self.arenas.push(decl);
        Ok(Pending::Done(Op::Arena(index)))
    }

    /// The name of a new arena: well-formed, short enough, not taken.
    fn new_arena_name<'a>(&self, line: &mut Line<'a, '_>) -> Result<Token<'a>, ScriptError> {
        let name = match line.next() {
            Some(t) if is_name(t.text) && t.text.len() <= NAME_MAX => t,
            Some(t) if is_name(t.text) => {
                return Err(self.error_at(
                    line,
                    t,
                    format!(
                        "expected an arena name of at most {NAME_MAX} bytes, found `{}` ({} bytes)",
                        t.text,
                        t.text.len()
                    ),
                ))
            }
            found => {
                return Err(self.expected(
                    line,
                    "a name for the new arena (letters, digits, `_`, `-`, `.`)",
                    found,
                ))
            }
        };
        if let Some(&previous) = self.arena_index.get(name.text) {
            return Err(self.error_at(
                line,
                name,
                format!(
                    "arena `{}` is already declared at line {}",
                    name.text, self.arenas[previous].line
                ),
            ));
        }
        Ok(name)
    }

    /// One `key=value` of an arena declaration.
    fn arena_key<'a>(
        &self,
        line: &Line<'a, '_>,
        kv: KeyValue<'a>,
        decl: &mut ArenaDecl,
        keys: &mut ArenaKeys<'a>,
    ) -> Result<(), ScriptError> {
        match kv.key {
            "base" => keys.base = Some((self.value_number(line, kv)?, kv)),
            "size" => keys.size = Some((self.value_number(line, kv)?, kv)),
            "quantum" => decl.quantum = self.value_number(line, kv)?,
            "qcache_max" => decl.qcache_max = self.value_number(line, kv)?,
            "import_quantum" => {
                decl.import_quantum = Some(self.value_number(line, kv)?);
                keys.import_quantum = Some(kv);
            }
            "limit" => {
                decl.limit = self.value_number(line, kv)?;
                keys.limit = Some(kv);
            }
            "source" => {
                decl.source = Some(self.source_arena(line, kv)?);
                keys.source = Some(kv);
            }
            "imports" if kv.value == "trace" => {
                decl.scripted = true;
                keys.imports = Some(kv);
            }
            "imports" => {
                return Err(self.error(
                    line,
                    kv.value_col,
                    kv.value_width(),
                    format!("expected `imports=trace`, found `imports={}`", kv.value),
                ))
            }
            _ => return Err(self.expected(line, ARENA_KEYS, Some(kv.token))),
        }
        Ok(())
    }

    /// The arena named after `source=`: declared earlier.
    fn source_arena(&self, line: &Line<'_, '_>, kv: KeyValue<'_>) -> Result<usize, ScriptError> {
        if let Some(&index) = self.arena_index.get(kv.value) {
            return Ok(index);
        }
        let mut err = self.error(
            line,
            kv.value_col,
            kv.value_width(),
            format!(
                "expected the name of an arena declared earlier after `source=`, found `{}`",
                kv.value
            ),
        );
        if !self.arenas.is_empty() {
            err.note = Some(self.declared_arenas());
        }
        Err(err)
    }

    /// The initial span from `base=` and `size=`.
    fn arena_span(
        &self,
        line: &Line<'_, '_>,
        name: Token<'_>,
        keys: &ArenaKeys<'_>,
    ) -> Result<Option<(usize, usize)>, ScriptError> {
        match (keys.base.map(|b| b.0), keys.size.map(|s| s.0)) {
            (_, Some(0)) | (None, None) => Ok(None),
            (Some(b), Some(s)) => Ok(Some((b, s))),
            (None, Some(s)) => Ok(Some((0, s))),
            (Some(_), None) => Err(self.error_at(
                line,
                name,
                format!(
                    "arena `{}` has `base=` but no `size=` (give both, or neither for an arena that only imports or gets `add`ed spans)",
                    name.text
                ),
            )),
        }
    }

    /// The initial span must start and end on a quantum boundary (checked
    /// here, where the offending key can be pointed at, when the quantum
    /// is valid; an invalid quantum is the core's to refuse).
    fn check_alignment(
        &self,
        line: &Line<'_, '_>,
        decl: &ArenaDecl,
        keys: &ArenaKeys<'_>,
    ) -> Result<(), ScriptError> {
        let quantum = decl.quantum;
        if decl.span.is_none() || !quantum.is_power_of_two() {
            return Ok(());
        }
        for (value, kv) in [keys.base, keys.size].into_iter().flatten() {
            if value % quantum != 0 {
                return Err(self.error(
                    line,
                    kv.value_col,
                    kv.value_width(),
                    format!(
                        "arena `{}`: `{}={}` is not a multiple of the quantum {quantum:#x} (the initial span must start and end on a quantum boundary)",
                        decl.name, kv.key, kv.value
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `limit=` and `import_quantum=` only mean something with a source
    /// (an arena or the script), and an arena has one source at most.
    fn check_import_keys(
        &self,
        line: &Line<'_, '_>,
        decl: &ArenaDecl,
        keys: &ArenaKeys<'_>,
    ) -> Result<(), ScriptError> {
        if let (Some(_), Some(imports)) = (keys.source, keys.imports) {
            return Err(self.error_at(
                line,
                imports.token,
                format!(
                    "arena `{}` has both `source=` and `imports=trace`: an arena has one source",
                    decl.name
                ),
            ));
        }
        if decl.source.is_some() || decl.scripted {
            return Ok(());
        }
        let Some(kv) = keys.limit.or(keys.import_quantum) else {
            return Ok(());
        };
        Err(self.error_at(
            line,
            kv.token,
            format!(
                "arena `{}` has `{}=` but no `source=` (or `imports=trace`): it only applies to what an arena imports",
                decl.name, kv.key
            ),
        ))
    }

    /// `alloc` or (`x`) `xalloc` after its keyword.
    fn alloc<'a>(&self, line: &mut Line<'a, '_>, x: bool) -> Result<Pending<'a>, ScriptError> {
        let arena = self.arena_ref(line)?;
        let size = self.number(line, "the size to allocate")?;
        let mut op = AllocOp {
            arena,
            size,
            policy: None,
            from_end: false,
            constraints: x.then(Constraints::new),
            label: None,
        };
        let keys = if x {
            "`policy=`, `align=`, `phase=`, `nocross=`, `min=`, `max=`, `end`, `as LABEL` or end of line"
        } else {
            "`policy=`, `end`, `as LABEL` or end of line"
        };
        while let Some(t) = line.next() {
            match t.text {
                "as" => {
                    let label = self.label_name(line)?;
                    self.end(line)?;
                    return Ok(Pending::Alloc(op, Some(label)));
                }
                "end" => op.from_end = true,
                _ => self.alloc_option(line, t, keys, &mut op)?,
            }
        }
        Ok(Pending::Alloc(op, None))
    }

    /// One `key=value` of an allocation: `policy=`, or a constraint of
    /// `xalloc`.
    fn alloc_option(
        &self,
        line: &Line<'_, '_>,
        t: Token<'_>,
        keys: &str,
        op: &mut AllocOp,
    ) -> Result<(), ScriptError> {
        let Some(kv) = KeyValue::split(t) else {
            return Err(self.expected(line, keys, Some(t)));
        };
        if kv.key == "policy" {
            let policy = parse_policy(kv.value).ok_or_else(|| {
                self.error(
                    line,
                    kv.value_col,
                    kv.value_width(),
                    format!(
                        "expected `instant`, `best`, `first` or `next` after `policy=`, found `{}`",
                        kv.value
                    ),
                )
            })?;
            op.policy = Some(policy);
            return Ok(());
        }
        let Some(c) = op.constraints.as_mut() else {
            return Err(self.expected(line, keys, Some(t)));
        };
        let set: fn(Constraints, usize) -> Constraints = match kv.key {
            "align" => Constraints::align,
            "phase" => Constraints::phase,
            "nocross" => Constraints::nocross,
            "min" => Constraints::min,
            "max" => Constraints::max,
            _ => return Err(self.expected(line, keys, Some(t))),
        };
        *c = set(*c, self.value_number(line, kv)?);
        Ok(())
    }
}

/// The keys of an arena declaration that later checks point at.
#[derive(Default)]
struct ArenaKeys<'a> {
    base: Option<(usize, KeyValue<'a>)>,
    size: Option<(usize, KeyValue<'a>)>,
    limit: Option<KeyValue<'a>>,
    import_quantum: Option<KeyValue<'a>>,
    source: Option<KeyValue<'a>>,
    imports: Option<KeyValue<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_columns() {
        let t = tokenize("  alloc  a 0x10");
        let cols: Vec<_> = t.iter().map(|t| (t.text, t.col)).collect();
        assert_eq!(cols, [("alloc", 3), ("a", 10), ("0x10", 12)]);
    }

    #[test]
    fn repeat_suffixes_labels() {
        let s = parse(
            "t",
            "arena h size=1K quantum=16\nrepeat 3 from=2 step=2 alloc h 16 as x\n",
        )
        .unwrap();
        assert_eq!(s.labels, ["x.2", "x.4", "x.6"]);
        assert_eq!(s.statements.len(), 4);
    }

    #[test]
    fn error_points_at_token() {
        let e = parse("t.vmem", "arena h size=1K\nalloc h zz\n").unwrap_err();
        assert_eq!((e.line, e.col, e.width), (2, 9, 2));
        assert_eq!(e.message, "expected the size to allocate, found `zz`");
    }

    #[test]
    fn repeat_suffix_overflow_is_an_error() {
        let e = parse(
            "t.vmem",
            "arena h size=1K\nrepeat 2 from=18446744073709551615 alloc h 1 as x\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.starts_with("repeat numbers overflow"), "{e}");
        // The largest suffix itself is fine.
        parse(
            "t.vmem",
            "arena h size=1K\nrepeat 1 from=18446744073709551615 alloc h 1 as x\n",
        )
        .unwrap();
    }

    #[test]
    fn the_statement_cap_is_for_the_whole_script() {
        // Two lines each under the cap, together over it: the second is
        // refused before anything is expanded.
        let mut parser = Parser::new("t.vmem");
        parser.line(1, "arena h size=1K\n").unwrap().unwrap();
        parser.line(2, "repeat 9M reap h\n").unwrap().unwrap();
        let e = parser.line(3, "repeat 9M reap h\n").err().unwrap();
        assert_eq!((e.line, e.col, e.width), (3, 1, 6));
        assert!(e.message.contains(&MAX_STATEMENTS.to_string()), "{e}");
        // The arena line counts too.
        let e = parse("t.vmem", "arena h size=1K\nrepeat 16M reap h\n").unwrap_err();
        assert_eq!(e.line, 2);
        // `parse` finds it before expanding anything, and still reports a
        // syntax error on an earlier line first.
        let e = parse(
            "t.vmem",
            "arena h size=1K\nrepeat 9M alloc h 1 as x\nrepeat 9M alloc h 1 as x\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (3, 1));
        let e = parse("t.vmem", "arena h size=1K\nbogus\nrepeat 16M reap h\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_located() {
        let e = parse_bytes("t.vmem", b"arena h size=1K\nalloc h \xff\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 9));
        assert!(e.message.contains("UTF-8"), "{e}");
    }
}
