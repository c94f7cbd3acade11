//! Process options, in the style of libumem's `UMEM_OPTIONS`: a
//! comma-separated list of `name=value` read from the environment variable
//! `VMEM_OPTIONS`, or built in code.
//!
//! | option | values | default | effect |
//! |---|---|---|---|
//! | `backend` | `mmap`, `sbrk` | `mmap` | where the heap's memory comes from |
//! | `update_interval` | seconds, `0` for none | `15` | period of the maintenance thread ([`crate::update`]) |
//! | `mtbf` | `N` | `0` (off) | inject one failure in `N` no-sleep allocations of every arena |
//! | `trace` | a path | none | the C layer (`vmem-ffi`) appends every call that changes an arena to the file, as a `vmem-cli` scenario that replays it |
//! | `report` | a path, or `stderr` | none | at exit, the `vmem-cli stat` table of every arena of the process ([`crate::report`]) |
//!
//! A malformed option is reported once on standard error, with the option
//! named, and ignored; the others still apply.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable the options are read from.
pub const ENV_VAR: &str = "VMEM_OPTIONS";

/// Where the heap arena's memory comes from (libumem's `backend=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Address space reserved with `mmap` and no access, committed when the
    /// heap hands it out and decommitted when it comes back, so the
    /// process's resident size falls when memory is freed.
    #[default]
    Mmap,
    /// The program break, grown with `sbrk`. Memory is committed as soon as
    /// the break moves and is never given back to the system.
    Sbrk,
}

/// Where the exit report goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// Standard error.
    Stderr,
    /// A file, created or truncated at exit.
    File(PathBuf),
}

/// The process options (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The heap backend.
    pub backend: Backend,
    /// Period of the maintenance thread; `None` runs no thread. The thread
    /// starts once the process has other threads
    /// ([`want_updater`](crate::want_updater)).
    pub update_interval: Option<Duration>,
    /// Process-wide fault injection (0: off).
    pub mtbf: u32,
    /// The trace file, if any: the C layer appends its calls to it.
    pub trace: Option<PathBuf>,
    /// Where the exit report goes, if anywhere ([`crate::report`]).
    pub report: Option<Report>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            backend: Backend::Mmap,
            update_interval: Some(Duration::from_secs(15)),
            mtbf: 0,
            trace: None,
            report: None,
        }
    }
}

/// One option that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// The name is not an option.
    #[error("unknown option `{name}`")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The option needs `=value`.
    #[error("option `{name}` needs a value (`{name}=...`)")]
    MissingValue {
        /// The option.
        name: String,
    },
    /// The value is not one the option takes.
    #[error("option `{name}`: `{value}` is not {expected}")]
    BadValue {
        /// The option.
        name: String,
        /// The value given.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
}

impl Options {
    /// Parses `text` over the defaults. Every malformed option is returned
    /// with the options parsed from the rest.
    ///
    /// ```
    /// use vmem_umem::{Backend, Options};
    /// let (options, errors) = Options::parse("backend=sbrk,update_interval=0,bogus");
    /// assert_eq!(options.backend, Backend::Sbrk);
    /// assert_eq!(options.update_interval, None);
    /// assert_eq!(errors.len(), 1);
    /// ```
    pub fn parse(text: &str) -> (Options, Vec<OptionError>) {
        let mut options = Options::default();
        let mut errors = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Err(err) = options.apply(item) {
                errors.push(err);
            }
        }
        (options, errors)
    }

    /// The options of `VMEM_OPTIONS` (defaults if unset), each malformed
    /// one reported on standard error and ignored.
    pub fn from_env() -> Options {
        let text = std::env::var(ENV_VAR).unwrap_or_default();
        let (options, errors) = Options::parse(&text);
        for err in errors {
            eprintln!("vmem: {ENV_VAR}: {err}; ignored");
        }
        options
    }

    fn apply(&mut self, item: &str) -> Result<(), OptionError> {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (item, None),
        };
        let owned = |s: &str| s.to_string();
        let need = || value.ok_or_else(|| OptionError::MissingValue { name: owned(name) });
        let bad = |value: &str, expected| OptionError::BadValue {
            name: owned(name),
            value: owned(value),
            expected,
        };
        match name {
            "backend" => {
                self.backend = match need()? {
                    "mmap" => Backend::Mmap,
                    "sbrk" => Backend::Sbrk,
                    v => return Err(bad(v, "`mmap` or `sbrk`")),
                }
            }
            "update_interval" => {
                let v = need()?;
                let seconds: u64 = v.parse().map_err(|_| bad(v, "a number of seconds"))?;
                self.update_interval = (seconds != 0).then(|| Duration::from_secs(seconds));
            }
            "mtbf" => {
                let v = need()?;
                self.mtbf = v.parse().map_err(|_| bad(v, "a number"))?;
            }
            "trace" => {
                let v = need()?;
                if v.is_empty() {
                    return Err(bad(v, "a path"));
                }
                self.trace = Some(PathBuf::from(v));
            }
            "report" => {
                self.report = Some(match need()? {
                    "" => return Err(bad("", "a path or `stderr`")),
                    "stderr" => Report::Stderr,
                    path => Report::File(PathBuf::from(path)),
                });
            }
            _ => return Err(OptionError::Unknown { name: owned(name) }),
        }
        Ok(())
    }
}

impl fmt::Display for Options {
    /// The options in `VMEM_OPTIONS` form (parsing it gives them back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend {
            Backend::Mmap => "mmap",
            Backend::Sbrk => "sbrk",
        };
        let interval = self.update_interval.map_or(0, |d| d.as_secs());
        write!(
            f,
            "backend={backend},update_interval={interval},mtbf={}",
            self.mtbf
        )?;
        if let Some(trace) = &self.trace {
            write!(f, ",trace={}", trace.display())?;
        }
        match &self.report {
            Some(Report::Stderr) => write!(f, ",report=stderr"),
            Some(Report::File(path)) => write!(f, ",report={}", path.display()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_option() {
        let (o, errors) = Options::parse("");
        assert!(errors.is_empty());
        assert_eq!(o, Options::default());
        let (o, errors) = Options::parse(
            " backend = sbrk , update_interval=3,mtbf=100,trace=/tmp/t.vmem,report=stderr",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(o.backend, Backend::Sbrk);
        assert_eq!(o.update_interval, Some(Duration::from_secs(3)));
        assert_eq!(o.mtbf, 100);
        assert_eq!(o.trace, Some(PathBuf::from("/tmp/t.vmem")));
        assert_eq!(o.report, Some(Report::Stderr));
        let (again, errors) = Options::parse(&o.to_string());
        assert!(errors.is_empty());
        assert_eq!(again, o);
        let (o, _) = Options::parse("report=/tmp/r.txt");
        assert_eq!(o.report, Some(Report::File("/tmp/r.txt".into())));
    }

    #[test]
    fn malformed_options_are_named_and_ignored() {
        let (o, errors) =
            Options::parse("backend=brk,update_interval=soon,mtbf,frobnicate=1,mtbf=7,trace=");
        assert_eq!(o.backend, Backend::Mmap, "the bad value changed nothing");
        assert_eq!(o.mtbf, 7, "the good options still apply");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "option `backend`: `brk` is not `mmap` or `sbrk`",
                "option `update_interval`: `soon` is not a number of seconds",
                "option `mtbf` needs a value (`mtbf=...`)",
                "unknown option `frobnicate`",
                "option `trace`: `` is not a path",
            ]
        );
    }
}
