//! Text to [`Script`]: tokenizing with columns, one statement per line.

use std::collections::HashMap;

use vmem_core::Constraints;

use super::{
    parse_number, parse_policy, AllocOp, ArenaDecl, ExtendOp, Label, Op, Script, ScriptError,
    Statement,
};

/// Most statements one `repeat` line may expand to, so a typo cannot eat
/// all memory (10 million: the size of the largest traces we replay).
const REPEAT_MAX: usize = 10_000_000;

/// Longest arena name the core keeps (`NAME_CAPACITY`, libumem's
/// `VMEM_NAMELEN - 1`).
const NAME_MAX: usize = vmem_core::NAME_CAPACITY;

/// One whitespace-separated word and its 1-based column.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    text: &'a str,
    col: u32,
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

/// Where parsing is, and what has been declared so far.
struct Parser<'s> {
    file: String,
    arenas: Vec<ArenaDecl>,
    arena_index: HashMap<String, usize>,
    labels: Vec<String>,
    label_index: HashMap<String, u32>,
    statements: Vec<Statement>,
    line_starts: Vec<usize>,
    _source: core::marker::PhantomData<&'s str>,
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

    /// Column just past the last token (where "end of line" is reported).
    fn end_col(&self) -> u32 {
        self.text.trim_end().chars().count() as u32 + 1
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

/// Parses a whole scenario. `file` is the name used in error messages.
pub fn parse(file: &str, source: &str) -> Result<Script, ScriptError> {
    let mut parser = Parser {
        file: file.to_string(),
        arenas: Vec::new(),
        arena_index: HashMap::new(),
        labels: Vec::new(),
        label_index: HashMap::new(),
        statements: Vec::new(),
        line_starts: Vec::new(),
        _source: core::marker::PhantomData,
    };
    let mut offset = 0;
    for (index, raw) in source.split_inclusive('\n').enumerate() {
        parser.line_starts.push(offset);
        offset += raw.len();
        let raw = raw.trim_end_matches('\n').trim_end_matches('\r');
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let code = raw.split('#').next().unwrap_or("");
        let tokens = tokenize(code);
        if tokens.is_empty() {
            continue;
        }
        let mut line = Line {
            number,
            text: raw,
            tokens: &tokens,
            pos: 0,
        };
        parser.statement(&mut line)?;
    }
    Ok(Script {
        file: parser.file,
        source: source.to_string(),
        line_starts: parser.line_starts,
        statements: parser.statements,
        arenas: parser.arenas,
        labels: parser.labels,
    })
}

/// `repeat N [from=K] [step=S]`: how label suffixes are numbered.
#[derive(Clone, Copy)]
struct Repeat {
    count: usize,
    from: usize,
    step: usize,
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

impl<'s> Parser<'s> {
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

    /// The note listing the arenas declared so far.
    fn declared_arenas(&self) -> String {
        let names: Vec<&str> = self.arenas.iter().map(|a| a.name.as_str()).collect();
        format!("arenas declared so far: {}", names.join(", "))
    }

    /// "expected `what`, found ..." at the token (or end of line).
    fn expected(&self, line: &Line<'_, '_>, what: &str, found: Option<Token<'_>>) -> ScriptError {
        let (col, width) = match found {
            Some(t) => (t.col, t.text.chars().count() as u32),
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
        token
            .and_then(|t| parse_number(t.text))
            .ok_or_else(|| self.expected(line, what, token))
    }

    fn value_number(
        &self,
        line: &Line<'_, '_>,
        key: &str,
        value: &str,
        col: u32,
    ) -> Result<usize, ScriptError> {
        parse_number(value).ok_or_else(|| {
            let found = if value.is_empty() {
                "nothing".to_string()
            } else {
                format!("`{value}`")
            };
            self.error(
                line,
                col,
                value.chars().count().max(1) as u32,
                format!("expected a number after `{key}=`, found {found}"),
            )
        })
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
        let id = u32::try_from(self.labels.len()).expect("fewer than 2^32 labels");
        self.labels.push(name.to_string());
        self.label_index.insert(name.to_string(), id);
        Label(id)
    }

    fn statement(&mut self, line: &mut Line<'s, '_>) -> Result<(), ScriptError> {
        let mut expect_fail = false;
        let mut repeat: Option<Repeat> = None;
        loop {
            match line.peek().map(|t| t.text) {
                Some("expect-fail") if !expect_fail => {
                    line.next();
                    expect_fail = true;
                }
                Some("repeat") if repeat.is_none() => {
                    line.next();
                    repeat = Some(self.repeat(line)?);
                }
                _ => break,
            }
        }
        let keyword = line.next();
        let Some(keyword) = keyword else {
            return Err(self.expected(line, "a statement after the prefix", None));
        };
        let pending = match keyword.text {
            "arena" => {
                if expect_fail || repeat.is_some() {
                    return Err(self.error(
                        line,
                        keyword.col,
                        5,
                        "`arena` cannot take `expect-fail` or `repeat`".to_string(),
                    ));
                }
                self.arena(line)?
            }
            "add" => {
                let arena = self.arena_ref(line)?;
                let base = self.number(line, "the span's base address")?;
                let size = self.number(line, "the span's size")?;
                self.end(line)?;
                Pending::Done(Op::Add { arena, base, size })
            }
            "alloc" => self.alloc(line, false)?,
            "xalloc" => self.alloc(line, true)?,
            "a" => {
                if self.arenas.is_empty() {
                    return Err(self.error(
                        line,
                        keyword.col,
                        1,
                        "`a` allocates from the first arena, but none is declared yet".into(),
                    ));
                }
                let size = self.number(line, "the size to allocate")?;
                let label = self.label_name(line)?;
                self.end(line)?;
                Pending::Quick(size, label)
            }
            "free" | "f" => {
                let rest = line.tokens.len() - line.pos;
                if keyword.text == "free" && rest == 3 {
                    let arena = self.arena_ref(line)?;
                    let addr = self.number(line, "the address to free")?;
                    let size = self.number(line, "the size to free")?;
                    Pending::Done(Op::FreeAt { arena, addr, size })
                } else {
                    let label = self.label_name(line)?;
                    self.end(line)?;
                    Pending::Free(label)
                }
            }
            "extend" => {
                let arena = self.arena_ref(line)?;
                let base = self.number(line, "the base address of the range added")?;
                let size = self.number(line, "the size of the range added")?;
                let alloc = self.number(line, "the size to allocate from it")?;
                let label = self.maybe_label(line)?;
                Pending::Extend(
                    ExtendOp {
                        arena,
                        base,
                        size,
                        alloc,
                        label: None,
                    },
                    label,
                )
            }
            "reap" => {
                let arena = self.arena_ref(line)?;
                self.end(line)?;
                Pending::Done(Op::Reap(arena))
            }
            "print" | "walk" => {
                let arena = if line.peek().is_some() {
                    Some(self.arena_ref(line)?)
                } else {
                    None
                };
                self.end(line)?;
                Pending::Done(Op::Print(arena))
            }
            _ => {
                return Err(self.expected(
                    line,
                    "a statement (`arena`, `add`, `alloc`, `xalloc`, `free`, `extend`, `reap`, `print`, `a`, `f`)",
                    Some(keyword),
                ))
            }
        };
        let repeat = repeat.unwrap_or(Repeat {
            count: 1,
            from: 0,
            step: 1,
        });
        let suffixed = repeat.count != 1 || repeat.from != 0;
        for j in 0..repeat.count {
            let i = repeat.from + j * repeat.step;
            let label = |parser: &mut Self, l: LabelRef<'_>| {
                if suffixed {
                    parser.intern(&format!("{}.{i}", l.name))
                } else {
                    parser.intern(l.name)
                }
            };
            let op = match &pending {
                Pending::Done(op) => op.clone(),
                Pending::Alloc(op, l) => {
                    let mut op = op.clone();
                    op.label = l.map(|l| label(self, l));
                    Op::Alloc(Box::new(op))
                }
                Pending::Quick(size, l) => Op::Quick {
                    size: *size,
                    label: label(self, *l),
                },
                Pending::Free(l) => Op::Free(label(self, *l)),
                Pending::Extend(op, l) => {
                    let mut op = op.clone();
                    op.label = l.map(|l| label(self, l));
                    Op::Extend(Box::new(op))
                }
            };
            self.statements.push(Statement {
                line: line.number,
                col: keyword.col,
                expect_fail,
                op,
            });
        }
        Ok(())
    }

    fn repeat(&self, line: &mut Line<'_, '_>) -> Result<Repeat, ScriptError> {
        let at = line.peek();
        let count = self.number(line, "a repeat count")?;
        if count == 0 || count > REPEAT_MAX {
            let t = at.expect("a number was parsed");
            return Err(self.error(
                line,
                t.col,
                t.text.len() as u32,
                format!(
                    "expected a repeat count from 1 to {REPEAT_MAX}, found `{}`",
                    t.text
                ),
            ));
        }
        let mut repeat = Repeat {
            count,
            from: 0,
            step: 1,
        };
        while let Some(t) = line.peek() {
            let Some((key, value)) = t.text.split_once('=') else {
                break;
            };
            let value_col = t.col + key.len() as u32 + 1;
            match key {
                "from" => repeat.from = self.value_number(line, key, value, value_col)?,
                "step" => repeat.step = self.value_number(line, key, value, value_col)?,
                _ => break,
            }
            line.next();
        }
        Ok(repeat)
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

    fn arena(&mut self, line: &mut Line<'s, '_>) -> Result<Pending<'s>, ScriptError> {
        let token = line.next();
        let name = match token {
            Some(t) if is_name(t.text) && t.text.len() <= NAME_MAX => t,
            Some(t) if is_name(t.text) => {
                return Err(self.error(
                    line,
                    t.col,
                    t.text.len() as u32,
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
            return Err(self.error(
                line,
                name.col,
                name.text.len() as u32,
                format!(
                    "arena `{}` is already declared at line {}",
                    name.text, self.arenas[previous].line
                ),
            ));
        }
        let mut decl = ArenaDecl {
            name: name.text.to_string(),
            span: None,
            quantum: 1,
            source: None,
            qcache_max: 0,
            import_quantum: None,
            limit: 0,
            line: line.number,
        };
        let (mut base, mut size) = (None, None);
        const KEYS: &str =
            "`base=`, `size=`, `quantum=`, `source=`, `qcache_max=`, `import_quantum=` or `limit=`";
        while let Some(t) = line.next() {
            let Some((key, value)) = t.text.split_once('=') else {
                return Err(self.expected(line, KEYS, Some(t)));
            };
            let value_col = t.col + key.len() as u32 + 1;
            match key {
                "base" => base = Some(self.value_number(line, key, value, value_col)?),
                "size" => size = Some(self.value_number(line, key, value, value_col)?),
                "quantum" => decl.quantum = self.value_number(line, key, value, value_col)?,
                "qcache_max" => decl.qcache_max = self.value_number(line, key, value, value_col)?,
                "import_quantum" => {
                    decl.import_quantum = Some(self.value_number(line, key, value, value_col)?)
                }
                "limit" => decl.limit = self.value_number(line, key, value, value_col)?,
                "source" => match self.arena_index.get(value) {
                    Some(&index) => decl.source = Some(index),
                    None => {
                        let mut err = self.error(
                            line,
                            value_col,
                            value.chars().count().max(1) as u32,
                            format!(
                                "expected the name of an arena declared earlier after `source=`, found `{value}`"
                            ),
                        );
                        if !self.arenas.is_empty() {
                            err.note = Some(self.declared_arenas());
                        }
                        return Err(err);
                    }
                },
                _ => return Err(self.expected(line, KEYS, Some(t))),
            }
        }
        match (base, size) {
            (_, Some(0)) | (None, None) => {}
            (Some(b), Some(s)) => decl.span = Some((b, s)),
            (None, Some(s)) => decl.span = Some((0, s)),
            (Some(_), None) => {
                return Err(self.error(
                    line,
                    name.col,
                    name.text.len() as u32,
                    format!(
                        "arena `{}` has `base=` but no `size=` (give both, or neither for an arena that only imports or gets `add`ed spans)",
                        name.text
                    ),
                ))
            }
        }
        let index = self.arenas.len();
        self.arena_index.insert(decl.name.clone(), index);
        self.arenas.push(decl);
        Ok(Pending::Done(Op::Arena(index)))
    }

    fn alloc(&self, line: &mut Line<'s, '_>, x: bool) -> Result<Pending<'s>, ScriptError> {
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
        let mut label = None;
        while let Some(t) = line.next() {
            if t.text == "as" {
                label = Some(self.label_name(line)?);
                self.end(line)?;
                break;
            }
            if t.text == "end" {
                op.from_end = true;
                continue;
            }
            let Some((key, value)) = t.text.split_once('=') else {
                return Err(self.expected(line, keys, Some(t)));
            };
            let value_col = t.col + key.len() as u32 + 1;
            if key == "policy" {
                op.policy = Some(parse_policy(value).ok_or_else(|| {
                    self.error(
                        line,
                        value_col,
                        value.chars().count().max(1) as u32,
                        format!(
                            "expected `instant`, `best`, `first` or `next` after `policy=`, found `{value}`"
                        ),
                    )
                })?);
                continue;
            }
            let Some(c) = op.constraints.as_mut() else {
                return Err(self.expected(line, keys, Some(t)));
            };
            let set: fn(Constraints, usize) -> Constraints = match key {
                "align" => Constraints::align,
                "phase" => Constraints::phase,
                "nocross" => Constraints::nocross,
                "min" => Constraints::min,
                "max" => Constraints::max,
                _ => return Err(self.expected(line, keys, Some(t))),
            };
            *c = set(*c, self.value_number(line, key, value, value_col)?);
        }
        Ok(Pending::Alloc(op, label))
    }
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
}
