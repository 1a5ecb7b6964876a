//! Output: data on stdout, messages on stderr, nothing else.
//!
//! Every byte passes through the redactor (every secret the process handled is masked) and has
//! its control characters neutralised, so that no text a server, a repository or a helper
//! provided can reach the terminal raw. Colour comes from anstream/anstyle: off without a
//! terminal, with `NO_COLOR`, and in CI mode; meaning is never carried by colour alone.
#![expect(clippy::print_stderr, reason = "the one place that writes to stderr")]

use std::io::Write;

use anstyle::{AnsiColor, Style};
use cybedefend_core::Error;
use cybedefend_core::secret::redact::{RedactingWriter, redact};
use cybedefend_core::text::neutralize;

/// Writes messages and data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    color: anstream::ColorChoice,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const SUCCESS: Style = AnsiColor::Green.on_default().bold();

impl Printer {
    /// Colour as the terminal and `NO_COLOR` allow; never in CI mode.
    pub(crate) fn new(ci: bool) -> Self {
        Self {
            color: if ci {
                anstream::ColorChoice::Never
            } else {
                anstream::ColorChoice::Auto
            },
        }
    }

    fn stderr(&self) -> anstream::AutoStream<std::io::Stderr> {
        anstream::AutoStream::new(std::io::stderr(), self.color)
    }

    fn message(&self, style: Style, label: &str, text: &str) {
        let text = redact(&neutralize(text));
        let mut err = self.stderr().lock();
        if label.is_empty() {
            let _ = writeln!(err, "{text}");
        } else {
            let _ = writeln!(err, "{style}{label}{style:#} {text}");
        }
    }

    pub(crate) fn error(&self, e: &Error) {
        self.message(ERROR, "error:", e.message());
        if let Some(h) = e.hint() {
            self.message(HINT, "  hint:", h);
        }
        // what the libraries said, for a bug report or a closer look (`--debug`)
        if tracing::enabled!(tracing::Level::DEBUG) {
            for cause in e.causes() {
                self.message(HINT, "  cause:", cause);
            }
        }
    }

    pub(crate) fn warn(&self, text: &str) {
        self.message(WARNING, "warning:", text);
    }

    /// Worth a line, not a warning (what of an application's own `config.yaml` was not read).
    pub(crate) fn note(&self, text: &str) {
        self.message(HINT, "note:", text);
    }

    pub(crate) fn info(&self, text: &str) {
        self.message(Style::new(), "", text);
    }

    pub(crate) fn success(&self, text: &str) {
        self.message(SUCCESS, "✓", text);
    }

    /// Human data for stdout (one write; a failure is recorded, see [`stdout_failure`]).
    pub(crate) fn data(&self, text: &str) {
        let mut text = redact(&neutralize(text));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_stdout(text.as_bytes());
    }

    /// A JSON value for stdout, pretty-printed: secrets masked, and characters a terminal
    /// would act on (DEL, C1 controls, bidirectional overrides) written as `\u` escapes, which
    /// keeps the JSON valid.
    pub(crate) fn json(&self, value: &impl serde::Serialize) -> cybedefend_core::Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::failure(format!("cannot render JSON: {e}")))?;
        self.data(&json_safe(&text));
        Ok(())
    }

    /// A secret the user asked for (`auth token`): the only unredacted write. The value has
    /// been checked to be visible ASCII.
    pub(crate) fn secret(&self, value: &str) {
        write_stdout(format!("{value}\n").as_bytes());
    }

    /// JSON holding a secret the user asked for (`pat create --json`): not redacted, but
    /// neutralised like every JSON this CLI prints.
    pub(crate) fn secret_json(&self, value: &serde_json::Value) -> cybedefend_core::Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::failure(format!("cannot render JSON: {e}")))?;
        write_stdout(format!("{}\n", json_safe(&text)).as_bytes());
        Ok(())
    }

    /// A redacting writer over stdout (reports written with `-f -`).
    pub(crate) fn stdout_stream(&self) -> RedactingWriter<Stdout> {
        RedactingWriter::new(stdout())
    }
}

/// Standard output as a stream (a report written with `-f -`, a completion script): the
/// descriptor every other write uses, with a failure recorded like theirs, so that the end of
/// the command reports it (see [`stdout_failure`]).
pub(crate) struct Stdout(cybedefend_core::stdio::Stdout);

/// Standard output as a stream.
pub(crate) fn stdout() -> Stdout {
    Stdout(cybedefend_core::stdio::stdout())
}

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes).inspect_err(record_failure)
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // one lock for the whole write, and a failure recorded however it ends
        self.0.write_all(bytes).inspect_err(record_failure)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().inspect_err(record_failure)
    }
}

fn record_failure(e: &std::io::Error) {
    // a write a signal interrupted is tried again by `write_all`: not a failure
    if e.kind() == std::io::ErrorKind::Interrupted {
        return;
    }
    if let Ok(mut f) = STDOUT_FAILED.lock()
        && f.is_none()
    {
        *f = Some(e.kind());
    }
}

/// The first failure to write stdout, if any (one output path: every write of data goes
/// through [`write_stdout`] or a [`Stdout`]).
static STDOUT_FAILED: std::sync::Mutex<Option<std::io::ErrorKind>> = std::sync::Mutex::new(None);

/// Writes to stdout, recording the first failure for the end of the command.
fn write_stdout(bytes: &[u8]) {
    let mut out = stdout();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// How the command's output failed, if it did: `None` for a closed pipe (`| head` stopped
/// reading: the command ends quietly), the error for anything else (a full disk: exit 1).
pub(crate) fn stdout_failure() -> Option<std::io::Error> {
    let kind = STDOUT_FAILED.lock().ok().and_then(|f| *f)?;
    (kind != std::io::ErrorKind::BrokenPipe).then(|| std::io::Error::from(kind))
}

/// JSON text with every character a terminal would act on escaped as `\uXXXX`. Valid because
/// serde_json writes such characters only inside strings, and `neutralize` then has nothing
/// left to change.
pub(crate) fn json_safe(json: &str) -> String {
    if !json.chars().any(cybedefend_core::text::is_unsafe) {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if cybedefend_core::text::is_unsafe(c) {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A writer for stdout that neutralises what a terminal would act on: for JSON as `\u`
/// escapes (the JSON stays valid), for text as visible escapes ([`neutralize`]).
pub(crate) struct TerminalSafe<W: Write> {
    inner: W,
    json: bool,
    pending: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    pub(crate) fn new(inner: W, json: bool) -> Self {
        Self {
            inner,
            json,
            pending: Vec::new(),
        }
    }

    fn convert(&self, text: &str) -> String {
        if self.json {
            json_safe(text)
        } else {
            neutralize(text).into_owned()
        }
    }

    /// Writes what is held back (an incomplete character) and returns the inner writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        let converted = self.convert(&rest);
        self.inner.write_all(converted.as_bytes())?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(data);
        // Convert the longest prefix of whole characters; keep an incomplete one for later.
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => e.valid_up_to() + e.error_len().unwrap_or(1),
        };
        let chunk: Vec<u8> = self.pending.drain(..valid).collect();
        let converted = self.convert(&String::from_utf8_lossy(&chunk));
        self.inner.write_all(converted.as_bytes())?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Sizes as people read them, in one unit system (decimal: kB, MB, GB), the same as the
/// progress bars'.
pub(crate) fn size(bytes: u64) -> String {
    indicatif::DecimalBytes(bytes).to_string()
}

/// A stderr writer for debug logs that redacts and neutralises each record before it is
/// written.
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
            let text = redact(&neutralize(&String::from_utf8_lossy(&self.buf)));
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

/// Prints a panic through the redactor (installed first thing in `main`).
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if cybedefend_core::recover::is_catching() {
            // caught and turned into an error by the code that ran it
            return;
        }
        if std::thread::current().name() == Some("main") {
            // the process ends with this panic: its exit is the CLI's, not a plugin's
            cybedefend_plugin_host::exiting();
        }
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let text = redact(&neutralize(&format!(
            "error: internal error at {location}: {payload}\n  hint: this is a bug in cybedefend; please report it with the command you ran"
        )));
        eprintln!("{text}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_valid_and_terminal_safe() {
        let v = serde_json::json!({"m": "a\u{7f}b\u{9b}c\u{202e}d\u{1b}e"});
        let text = json_safe(&serde_json::to_string(&v).unwrap());
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn sizes_use_one_unit_system() {
        assert_eq!(size(404_500_000), "404.50 MB");
        assert_eq!(size(999), "999 B");
    }
}
