//! Standard output and standard error that a closed pipe does not crash.
//!
//! Rust ignores `SIGPIPE`, so writing to a pipe whose reader is gone (`insightsim schema | head`)
//! fails with `BrokenPipe`, and std's `print!` and `println!` panic on that failure. Restoring
//! `SIGPIPE`'s default would need `unsafe` (forbidden here) and would kill the process on a write
//! to *any* closed pipe, not only to its standard output, so instead the binary's printing stops
//! quietly once a reader is gone:
//!
//! - `print!`, `println!` and `eprintln!` in this crate are the macros below. They are
//!   defined before every other module (`#[macro_use] mod output;` comes first in `main.rs`), so
//!   they shadow std's in the whole crate, call sites written later included;
//! - [`Out`] is the same policy as an `io::Write`, for the writers handed to the harness's
//!   console report (`run`).
//!
//! Once a stream's reader is gone, what is printed to it is dropped and the command goes on as it
//! would have: its files written, its exit code the usual one. Any other write error is said
//! once on standard error (when it can be) and the stream's output is dropped from then on.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// A standard stream the binary prints to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Whether standard output (0) and standard error (1) failed and are no longer written.
static FAILED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

impl Stream {
    fn failed(self) -> &'static AtomicBool {
        match self {
            Stream::Stdout => &FAILED[0],
            Stream::Stderr => &FAILED[1],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "standard output",
            Stream::Stderr => "standard error",
        }
    }

    /// Runs one write (or flush) on the stream, unless it failed before; a failure stops the
    /// stream for good.
    fn attempt(self, write: impl FnOnce() -> io::Result<()>) {
        if self.failed().load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = write()
            && !self.failed().swap(true, Ordering::Relaxed)
            && e.kind() != io::ErrorKind::BrokenPipe
            && self == Stream::Stdout
        {
            print_to(
                Stream::Stderr,
                format_args!(
                    "insightsim: cannot write to {} ({e}); the rest of it is dropped\n",
                    self.name()
                ),
            );
        }
    }
}

/// What the macros call: writes `args` to `stream`, quietly dropping it once the stream failed.
pub fn print_to(stream: Stream, args: std::fmt::Arguments<'_>) {
    stream.attempt(|| match stream {
        Stream::Stdout => io::stdout().lock().write_fmt(args),
        Stream::Stderr => io::stderr().lock().write_fmt(args),
    });
}

/// Standard output as an `io::Write` with the macros' policy: every write succeeds, and once the
/// reader is gone (or another error happened) nothing more is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Out;

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Stream::Stdout.attempt(|| io::stdout().lock().write_all(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Stream::Stdout.attempt(|| io::stdout().lock().flush());
        Ok(())
    }
}

/// `print!` that stops quietly when standard output's reader is gone (see the module docs).
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::print_to($crate::output::Stream::Stdout, format_args!($($arg)*))
    };
}

/// `println!` that stops quietly when standard output's reader is gone (see the module docs).
macro_rules! println {
    () => {
        $crate::output::print_to($crate::output::Stream::Stdout, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print_to(
            $crate::output::Stream::Stdout,
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

/// `eprintln!` that stops quietly when standard error's reader is gone (see the module docs).
macro_rules! eprintln {
    () => {
        $crate::output::print_to($crate::output::Stream::Stderr, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print_to(
            $crate::output::Stream::Stderr,
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}
