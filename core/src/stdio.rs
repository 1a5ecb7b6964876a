//! The process's standard output, kept out of reach of native plugin code.
//!
//! A native plugin runs inside this process: a `printf` of its would land in `--json` output or
//! in a report written to stdout. Before the first native plugin is loaded, [`divert`] moves
//! the real stdout to a private duplicate (close-on-exec) and points descriptor 1 at stderr.
//! From then on, what the CLI writes with [`stdout`] goes to the real stdout, and whatever any
//! other code writes to descriptor 1 goes to stderr. Before that, [`stdout`] is descriptor 1.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

static PRIVATE: OnceLock<File> = OnceLock::new();
static DIVERTING: Mutex<()> = Mutex::new(());

/// Moves the real stdout to a private descriptor and points descriptor 1 at stderr (once;
/// later calls do nothing).
pub fn divert() -> io::Result<()> {
    let _one = DIVERTING.lock().unwrap_or_else(|e| e.into_inner());
    if PRIVATE.get().is_some() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        // what std has buffered belongs to the real stdout
        io::stdout().lock().flush()?;
        let private = rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?;
        rustix::stdio::dup2_stdout(io::stderr())?;
        let _ = PRIVATE.set(File::from(private));
    }
    Ok(())
}

/// Points standard output at `/dev/null` once a command has printed all it prints there (`proxy`
/// after its address and key), so that a reader waiting for its end (`eval "$(cybedefend proxy
/// &)"`, a service manager) goes on while the process keeps running. Nothing is done once
/// [`divert`] has moved stdout.
pub fn close_stdout() -> io::Result<()> {
    if diverted() {
        return Ok(());
    }
    io::stdout().lock().flush()?;
    #[cfg(unix)]
    {
        let null = File::options().write(true).open("/dev/null")?;
        rustix::stdio::dup2_stdout(&null)?;
    }
    Ok(())
}

/// Whether [`divert`] has moved stdout.
pub fn diverted() -> bool {
    PRIVATE.get().is_some()
}

/// The CLI's stdout: the private descriptor once diverted, else descriptor 1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

/// The CLI's stdout (see the module documentation).
pub fn stdout() -> Stdout {
    Stdout
}

impl Stdout {
    /// Whether it is a terminal.
    pub fn is_terminal(&self) -> bool {
        match PRIVATE.get() {
            Some(f) => f.is_terminal(),
            None => io::stdout().is_terminal(),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match PRIVATE.get() {
            Some(mut f) => f.write(buf),
            None => io::stdout().lock().write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match PRIVATE.get() {
            Some(mut f) => f.write_all(buf),
            None => io::stdout().lock().write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match PRIVATE.get() {
            Some(mut f) => f.flush(),
            None => io::stdout().lock().flush(),
        }
    }
}
