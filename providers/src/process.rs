//! Running a command that prints a secret: argv without a shell (unless asked), the parent's
//! environment, stdin closed (nothing can wait for a person), the first line of stdout as the
//! secret, the last lines of stderr (redacted) in errors, and the process killed when the
//! chain's time limit drops the future.

use std::process::Stdio;

use cybedefend_core::Error;
use cybedefend_core::error::Result;
use cybedefend_core::redact::redact;
use tokio::io::AsyncReadExt;

/// Output of a secret command.
pub(crate) struct Output {
    /// Exit code (None when killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Last lines of standard error, redacted.
    pub(crate) stderr_tail: String,
}

/// Starts `argv` (or `sh -c argv[0]` with `shell`) and collects its output.
pub(crate) async fn run(argv: &[String], shell: bool, env: &[(String, String)]) -> Result<Output> {
    let (program, args): (String, Vec<String>) = if shell {
        ("sh".into(), vec!["-c".into(), argv.join(" ")])
    } else {
        match argv.split_first() {
            Some((p, rest)) => (p.clone(), rest.to_vec()),
            None => return Err(Error::usage("the command is empty")),
        }
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage(format!("`{program}` was not found on PATH")).with_hint(
                "install it, or give its full path in the provider's `command`".to_string(),
            )
        } else {
            Error::failure(format!("cannot start `{program}`: {e}"))
        }
    })?;
    let mut out = String::new();
    let mut err = String::new();
    let mut so = child
        .stdout
        .take()
        .ok_or_else(|| Error::failure("no stdout"))?;
    let mut se = child
        .stderr
        .take()
        .ok_or_else(|| Error::failure("no stderr"))?;
    let (r1, r2) = tokio::join!(so.read_to_string(&mut out), se.read_to_string(&mut err));
    r1.map_err(|e| Error::failure(format!("`{program}`: cannot read its output: {e}")))?;
    let _ = r2;
    let status = child
        .wait()
        .await
        .map_err(|e| Error::failure(format!("`{program}`: {e}")))?;
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    Ok(Output {
        code: status.code(),
        stdout: out,
        stderr_tail: redact(&tail),
    })
}

/// The first non-empty line of stdout.
pub(crate) fn first_line(stdout: &str) -> Option<&str> {
    stdout.lines().map(str::trim).find(|l| !l.is_empty())
}
