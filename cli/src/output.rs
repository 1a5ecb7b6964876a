//! Output: data on stdout, messages on stderr. Everything written to stderr passes through
//! the redactor, so a secret that slipped into a message is masked.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use cybedefend_core::Error;
use cybedefend_core::redact::redact;

/// Writes messages and data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    color: bool,
}

impl Printer {
    /// Colour only on a terminal, without `NO_COLOR`, outside CI mode.
    pub(crate) fn new(ci: bool) -> Self {
        let no_color =
            std::env::var_os(cybedefend_core::env::NO_COLOR).is_some_and(|v| !v.is_empty());
        Self {
            color: !ci && !no_color && std::io::stderr().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", redact(text));
    }

    pub(crate) fn error(&self, e: &Error) {
        self.line(&format!("{} {}", self.paint("1;31", "error:"), e.message));
        if let Some(h) = &e.hint {
            self.line(&format!("  {} {h}", self.paint("1;36", "hint:")));
        }
    }

    pub(crate) fn warn(&self, text: &str) {
        self.line(&format!("{} {text}", self.paint("1;33", "warning:")));
    }

    pub(crate) fn info(&self, text: &str) {
        self.line(text);
    }

    pub(crate) fn success(&self, text: &str) {
        self.line(&format!("{} {text}", self.paint("1;32", "✓")));
    }

    /// Data for stdout (one write; ignores a closed pipe).
    pub(crate) fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// A stderr writer for debug logs that redacts each record before it is written.
pub(crate) struct RedactingStderr {
    buf: Vec<u8>,
}

impl RedactingStderr {
    pub(crate) fn new() -> Self {
        Self { buf: Vec::new() }
    }
}

impl Write for RedactingStderr {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let text = redact(&String::from_utf8_lossy(&self.buf));
            self.buf.clear();
            std::io::stderr().lock().write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
