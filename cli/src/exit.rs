//! How the process ends: every exit code of the CLI, in one type. Commands return an [`Exit`]
//! (a failed gate, a partial report) or an error, whose [`ErrorKind`] decides its exit; `main`
//! turns either into the process's code here and nowhere else. README's "Exit codes" lists
//! the same table.

use cybedefend_core::{Error, ErrorKind};

/// The end of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: done.
    Success,
    /// 1: a failure, or done with a gate that failed (the scan failed under
    /// `--break-on-fail`, a finding at `--break-on-severity` or above, a blocking policy).
    Failed,
    /// 2: bad usage or configuration (the command line's errors too).
    Usage,
    /// 3: the platform could not be reached (nothing was decided; retry later).
    Network,
    /// 4: authentication required or rejected, or access denied.
    Auth,
    /// 5: a partial result (`results` wrote a report without some result types).
    Partial,
    /// 130: interrupted.
    Interrupted,
    /// `exec`: the program's own code (128+N when signal N ended it; 127 not found, 126 not
    /// runnable).
    Child(u8),
}

impl Exit {
    /// The process's exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Network => 3,
            Exit::Auth => 4,
            Exit::Partial => 5,
            Exit::Interrupted => 130,
            Exit::Child(code) => code,
        }
    }

    /// The exit of a command that ended with `error`.
    pub(crate) fn of(error: &Error) -> Self {
        match error.kind() {
            ErrorKind::NotFound | ErrorKind::Failed => Exit::Failed,
            ErrorKind::Usage | ErrorKind::Unsupported => Exit::Usage,
            ErrorKind::Network => Exit::Network,
            ErrorKind::Auth => Exit::Auth,
            ErrorKind::Cancelled => Exit::Interrupted,
            // a kind core adds later (the enum is non-exhaustive) fails until it is placed here
            _ => Exit::Failed,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_end_with_the_documented_codes() {
        for (e, code) in [
            (Error::failure("x"), 1),
            (Error::not_found("x"), 1),
            (Error::usage("x"), 2),
            (Error::unsupported("x"), 2),
            (Error::network("x"), 3),
            (Error::auth("x"), 4),
            (Error::cancelled("x"), 130),
        ] {
            assert_eq!(Exit::of(&e).code(), code, "{e}");
        }
        assert_eq!(Exit::Partial.code(), 5);
    }
}
