//! Running a scenario as it is read: each line is parsed, expanded and
//! executed before the next is read, so a trace of tens of millions of
//! operations needs memory for its arenas and labels only.

use std::io::BufRead;

use super::parse::{utf8, Parser};
use super::run::Runner;
use super::{ArenaDecl, Label, Names, RunOptions, ScriptError, World};

/// Lines between two calls of the byte-progress callback.
const PROGRESS_LINES: u32 = 1 << 12;

/// What a streamed statement can be told about: the declarations parsed so
/// far, and the one line being run.
struct StreamNames<'p> {
    parser: &'p Parser,
    line: u32,
    text: &'p str,
}

impl Names for StreamNames<'_> {
    fn file(&self) -> &str {
        &self.parser.file
    }

    fn arena(&self, index: usize) -> &ArenaDecl {
        &self.parser.arenas[index]
    }

    fn label(&self, label: Label) -> &str {
        &self.parser.labels[label.0 as usize]
    }

    fn label_count(&self) -> usize {
        self.parser.labels.len()
    }

    fn line_text(&self, line: u32) -> Option<&str> {
        (line == self.line).then_some(self.text)
    }
}

/// Reads a scenario from `reader` and runs it line by line. `file` names
/// it in messages; `progress`, if given, is called now and then with the
/// bytes read so far.
///
/// The result is what [`run`](super::run) gives for the same text, with
/// one difference: a syntax error is found when its line is reached, after
/// the lines before it have run. The cap on statements
/// ([`MAX_STATEMENTS`](super::MAX_STATEMENTS)) applies as in
/// [`parse`](super::parse).
pub fn run_reader(
    file: &str,
    reader: &mut dyn BufRead,
    options: &RunOptions<'_>,
    progress: Option<&dyn Fn(u64)>,
) -> Result<World, ScriptError> {
    let mut parser = Parser::new(file);
    let mut runner = Runner::new(options);
    let mut buf = Vec::new();
    let mut number = 0u32;
    let mut bytes = 0u64;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|err| read_error(file, number.saturating_add(1), &err))?;
        if read == 0 {
            break;
        }
        number = number.saturating_add(1);
        bytes += read as u64;
        let text = utf8(file, &buf, number)?;
        if let Some(mut parsed) = parser.line(number, text)? {
            let shown = text.trim_end_matches('\n').trim_end_matches('\r');
            while let Some(statement) = parser.expand(&mut parsed) {
                let names = StreamNames {
                    parser: &parser,
                    line: number,
                    text: shown,
                };
                runner.step(&names, &statement)?;
            }
        }
        if number % PROGRESS_LINES == 0 {
            if let Some(progress) = progress {
                progress(bytes);
            }
        }
    }
    if let Some(progress) = progress {
        progress(bytes);
    }
    Ok(runner.finish())
}

fn read_error(file: &str, line: u32, err: &std::io::Error) -> ScriptError {
    ScriptError {
        file: file.to_string(),
        line,
        col: 1,
        width: 1,
        message: format!("cannot read the script: {err}"),
        text: None,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, run};

    const SCRIPT: &str = "arena h base=0x1000 size=0x1000 quantum=0x10\n\
                          repeat 4 alloc h 0x20 as x\n\
                          free x.1\n\
                          a 0x40 q\n";

    #[test]
    fn a_streamed_run_ends_where_a_whole_run_does() {
        let whole = run(&parse("t", SCRIPT).unwrap(), &RunOptions::default()).unwrap();
        let mut reader = SCRIPT.as_bytes();
        let streamed = run_reader("t", &mut reader, &RunOptions::default(), None).unwrap();
        assert_eq!(whole.report.ops, streamed.report.ops);
        let segments = |w: &World| w.views()[0].segments.clone();
        assert_eq!(segments(&whole), segments(&streamed));
    }

    #[test]
    fn streamed_errors_show_their_line() {
        let text = format!("{SCRIPT}free nobody\n");
        let err = run_reader("t", &mut text.as_bytes(), &RunOptions::default(), None)
            .err()
            .unwrap();
        assert_eq!(err.line, 5);
        assert_eq!(err.text.as_deref(), Some("free nobody"));
    }
}
