//! The boundary between C and Rust: every exported function runs inside
//! [`guard`], and every fatal condition ends in [`die`].
//!
//! libumem reports bad input with `umem_panic`: one line naming the call and
//! its arguments, then `abort()`. This module does the same, and turns a
//! Rust panic (a bug in this library, never the caller's) into the same
//! report-and-abort, so no panic ever unwinds into C.

use std::any::Any;
use std::fmt;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body` (the whole of one exported function named `call`); a panic
/// inside it is reported on stderr and aborts the process.
#[inline]
pub(crate) fn guard<R>(call: &'static str, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => panicked(call, payload),
    }
}

#[cold]
fn panicked(call: &'static str, payload: Box<dyn Any + Send>) -> ! {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    die(format_args!("{call}: internal error (Rust panic): {what}"))
}

/// Writes `vmem panic: <message>` to stderr in one write and aborts, as
/// libumem's `umem_panic` does. Never returns, never unwinds.
#[cold]
pub(crate) fn die(message: fmt::Arguments<'_>) -> ! {
    let line = format!("vmem panic: {message}\n");
    let mut stderr = std::io::stderr().lock();
    // Nothing useful can be done if stderr is closed: abort regardless.
    let _ = stderr.write_all(line.as_bytes());
    let _ = stderr.flush();
    std::process::abort()
}

/// Writes one warning line (`vmem: <message>`) to stderr, as libumem's
/// `umem_printf` does for a leak at `vmem_destroy`.
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    let line = format!("vmem: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
