//! Running a helper command that prints a secret (`pass`, `op`, an exec provider).
//!
//! - argv without a shell (unless asked); stdin closed (nothing can wait for a person);
//! - the parent's environment without the CLI's own secrets (`CYBEDEFEND_PAT`,
//!   `CYBEDEFEND_API_KEY`) unless the provider's config passes them by name;
//! - its own process group: when the chain's time limit drops the future, the whole group is
//!   killed, so no grandchild outlives the CLI;
//! - output read until the helper exits (a grandchild that keeps the pipe open cannot make it
//!   hang), and capped: 64 KiB of stdout, the last 64 KiB of stderr;
//! - the stderr quoted in errors is one line, redacted of every secret the process knows, of
//!   well-known secret variables in its environment and of the helper's own stdout.

use std::process::Stdio;
use std::time::Duration;

use crate::secret::redact;
use crate::{Error, Result};
use crate::{env, text};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Most stdout kept from a helper.
const STDOUT_CAP: usize = 64 * 1024;
/// Most stderr kept from a helper (its end).
const STDERR_CAP: usize = 64 * 1024;
/// After the helper exits, how long its pipes are still read.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// Variables of the CLI that hold secrets, kept from helpers unless passed by name.
pub const CLI_SECRET_VARS: &[&str] = &[env::CYBEDEFEND_PAT, env::CYBEDEFEND_API_KEY];

use env::KNOWN_SECRET_VARS;

/// Last changes to the command before it starts (the plugin host hands descriptors to a plugin
/// this way, with code that runs in the child).
pub type Prepare<'a> = &'a (dyn Fn(&mut tokio::process::Command) + Sync);

/// What to run.
#[derive(Default)]
pub struct Spec<'a> {
    /// The program and its arguments; with `shell`, one command line.
    pub argv: &'a [String],
    /// Run `argv` through `sh -c`.
    pub shell: bool,
    /// Variables to set for the helper (from the provider's config).
    pub env: &'a [(String, String)],
    /// CLI secret variables to pass through anyway (`pass_env: [CYBEDEFEND_PAT]`).
    pub pass_env: &'a [String],
    /// Bytes for stdin (the plugin protocol); `None` closes stdin.
    pub stdin: Option<Vec<u8>>,
    /// The secrets in the helper's stdout when it is not just one (the plugin protocol's
    /// answers): masked in its stderr before anything is cut or shown.
    pub stdout_secrets: Option<fn(&str) -> Vec<String>>,
    /// Kill what is left of the helper's process group once it exited (a plugin's
    /// background children); a command's own daemons leave the group anyway.
    pub reap_group: bool,
    /// The helper's `PATH` (the CLI's own otherwise).
    pub path: Option<&'a std::ffi::OsStr>,
    /// `argv[0]` as the helper sees it (the program's path otherwise).
    pub arg0: Option<&'a str>,
    /// The helper's working directory (the CLI's own otherwise).
    pub cwd: Option<&'a std::path::Path>,
    /// Variables kept from the helper besides the CLI's secrets: exact names, and prefixes
    /// ending in `*` (`LD_*`).
    pub env_remove: &'a [&'a str],
    /// Variables set for the helper that are not secrets (its stderr is not masked of them).
    pub env_plain: &'a [(&'a str, &'a std::ffi::OsStr)],
    /// See [`Prepare`].
    pub prepare: Option<Prepare<'a>>,
    /// The time limit: past it the process group is killed, and the error quotes the last
    /// lines the helper wrote on stderr (what it was waiting for).
    pub limit: Option<Duration>,
}

impl std::fmt::Debug for Spec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the stdin (a request may hold a credential) nor variables' values
        f.debug_struct("Spec")
            .field("argv", &self.argv)
            .field("shell", &self.shell)
            .field("arg0", &self.arg0)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

/// Output of a helper.
pub struct Output {
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Standard output (at most 64 KiB).
    pub stdout: String,
    /// Last lines of standard error, one line, redacted and safe to print.
    pub stderr_tail: String,
    /// Standard error's lines (the last 20), each redacted, one safe line.
    pub stderr_lines: Vec<String>,
}

/// Kills the helper's process group unless disarmed (the helper was reaped).
struct GroupGuard(Option<rustix::process::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Whether `program` can be started: a path that exists, or a name found on `PATH`.
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    find_on_path(program).is_some()
}

/// The absolute folders of `PATH`: an empty or relative entry (`::`, `.`) would make a name
/// depend on the directory a command runs in (a repository's `./op`).
fn absolute_path_dirs() -> Vec<std::path::PathBuf> {
    env::path_var("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default()
}

/// Where `program` (a name) is in the absolute folders of `PATH`: the first executable file.
fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    absolute_path_dirs()
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Output read so far, shared with the reading task: what was read is kept even when the
/// pipe never closes (a grandchild holds it).
type Collected = std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>;

fn take(c: &Collected) -> (Vec<u8>, bool) {
    c.lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default()
}

/// Reads into `into` until end of file or, for stdout (`keep_tail` false), the cap; for
/// stderr only the last `cap` bytes are kept. Returns whether the cap was passed.
async fn read_capped<R: AsyncRead + Unpin>(
    mut r: R,
    cap: usize,
    keep_tail: bool,
    into: Collected,
) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let Ok(mut g) = into.lock() else { return false };
        let (out, truncated) = &mut *g;
        out.extend_from_slice(&buf[..n]);
        if out.len() > cap {
            *truncated = true;
            if keep_tail {
                let cut = out.len() - cap;
                out.drain(..cut);
            } else {
                // Too much: stop here; the caller stops the helper.
                out.truncate(cap);
                return true;
            }
        }
    }
}

fn too_much(shown: &str) -> Error {
    Error::failure(format!(
        "`{shown}` printed more than {} KiB; a secret is one short line, so it was stopped",
        STDOUT_CAP / 1024
    ))
}

/// Starts the helper and collects its output; see the module documentation.
pub async fn run(spec: Spec<'_>) -> Result<Output> {
    let (program, args): (String, Vec<String>) = if spec.shell {
        ("sh".into(), vec!["-c".into(), spec.argv.join(" ")])
    } else {
        match spec.argv.split_first() {
            Some((p, rest)) => (p.clone(), rest.to_vec()),
            None => return Err(Error::usage("the command is empty")),
        }
    };
    let shown = text::one_line(&program, 80);
    // A name is looked up here, in the absolute folders of PATH only, and the helper gets
    // that PATH: the system's own lookup would take an empty entry as the working directory.
    let resolved = if program.contains('/') {
        std::path::PathBuf::from(&program)
    } else {
        find_on_path(&program).ok_or_else(|| {
            Error::usage(format!("`{shown}` was not found on PATH"))
                .with_hint("install it, or give its full path in the provider's `command`")
        })?
    };
    let mut cmd = tokio::process::Command::new(&resolved);
    if !program.contains('/') {
        cmd.arg0(&program);
    }
    cmd.args(&args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for var in CLI_SECRET_VARS {
        if !spec.pass_env.iter().any(|p| p == var) {
            cmd.env_remove(var);
        }
    }
    if !spec.env_remove.is_empty() {
        for name in env::names_os() {
            let text = name.to_string_lossy();
            let gone = spec.env_remove.iter().any(|r| match r.strip_suffix('*') {
                Some(prefix) => text.starts_with(prefix),
                None => text == *r,
            });
            if gone {
                cmd.env_remove(&name);
            }
        }
    }
    for (k, v) in spec.env {
        cmd.env(k, v);
    }
    for (k, v) in spec.env_plain {
        cmd.env(k, v);
    }
    match spec.path {
        Some(path) => {
            cmd.env("PATH", path);
        }
        None => {
            if let Ok(p) = std::env::join_paths(absolute_path_dirs()) {
                cmd.env("PATH", p);
            }
        }
    }
    if let Some(arg0) = spec.arg0 {
        cmd.arg0(arg0);
    }
    if let Some(dir) = spec.cwd {
        cmd.current_dir(dir);
    }
    if let Some(prepare) = spec.prepare {
        prepare(&mut cmd);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage(format!("`{shown}` was not found on PATH"))
                .with_hint("install it, or give its full path in the provider's `command`")
        } else {
            Error::failure(format!("cannot start `{shown}`: {e}"))
        }
    })?;
    let mut guard = GroupGuard(
        child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
    );
    if let (Some(input), Some(mut stdin)) = (spec.stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        // A helper that does not read its stdin must not block us: write in the background.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let so = child
        .stdout
        .take()
        .ok_or_else(|| Error::failure("no stdout"))?;
    let se = child
        .stderr
        .take()
        .ok_or_else(|| Error::failure("no stderr"))?;
    let (out_buf, err_buf) = (Collected::default(), Collected::default());
    let mut out_task = tokio::spawn(read_capped(so, STDOUT_CAP, false, out_buf.clone()));
    let mut err_task = tokio::spawn(read_capped(se, STDERR_CAP, true, err_buf.clone()));
    let limit = async {
        match spec.limit {
            Some(l) => tokio::time::sleep(l).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(limit);
    // The helper's exit decides, not the end of its output (a grandchild may hold the pipe);
    // output beyond the cap stops the helper at once.
    let mut stdout_done = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => {
                break status.map_err(|e| Error::failure(format!("`{shown}`: {e}")))?;
            }
            done = &mut out_task, if !stdout_done => {
                if done.unwrap_or(false) {
                    drop(guard);
                    err_task.abort();
                    return Err(too_much(&shown));
                }
                stdout_done = true;
            }
            () = &mut limit => {
                // the group goes, and what it wrote on stderr until then says why it hung
                drop(guard);
                let _ = tokio::time::timeout(DRAIN_GRACE, &mut err_task).await;
                err_task.abort();
                out_task.abort();
                let (stderr, _) = take(&err_buf);
                let (stdout, _) = take(&out_buf);
                let stdout = String::from_utf8_lossy(&stdout);
                let mut masks: Vec<String> =
                    spec.env.iter().map(|(_, v)| v.trim().to_owned()).collect();
                match spec.stdout_secrets {
                    Some(find) => masks.extend(find(&stdout)),
                    None => masks.extend(stdout.lines().map(|l| l.trim().to_owned())),
                }
                let masked = masked_stderr(&String::from_utf8_lossy(&stderr), masks);
                let lines = last_lines(&masked, 3);
                let said = if lines.is_empty() {
                    "it wrote nothing on stderr".to_owned()
                } else {
                    format!(
                        "its last words on stderr: {}",
                        text::one_line(&lines.join(" | "), 400)
                    )
                };
                return Err(Error::failure(format!(
                    "did not answer within {}; it was stopped ({said})",
                    crate::duration::format(spec.limit.unwrap_or_default())
                )));
            }
        }
    };
    // Reaped: the pid is no longer ours to signal (it could be reused). Its group lives on
    // while members are left, and while it does, its id cannot be reused: kill it at once.
    if spec.reap_group
        && let Some(pid) = guard.0
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    guard.0 = None;
    // What is still in the pipes comes now or not at all.
    let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
    if !stdout_done {
        let _ = tokio::time::timeout_at(deadline, &mut out_task).await;
    }
    let _ = tokio::time::timeout_at(deadline, &mut err_task).await;
    out_task.abort();
    err_task.abort();
    let (stdout, truncated) = take(&out_buf);
    if truncated {
        // It may have died of the closed pipe before its exit was seen.
        return Err(too_much(&shown));
    }
    let (mut stderr, cut) = take(&err_buf);
    if cut {
        // Only the end was kept: its first line is a fragment, which may hold part of a
        // secret that masking can no longer recognise. Lines start at a newline.
        let start = stderr
            .iter()
            .position(|b| *b == b'\n')
            .map_or(stderr.len(), |i| i + 1);
        stderr.drain(..start);
    }
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let mut masks: Vec<String> = spec.env.iter().map(|(_, v)| v.trim().to_owned()).collect();
    match spec.stdout_secrets {
        Some(find) => masks.extend(find(&stdout)),
        None => masks.extend(stdout.lines().map(|l| l.trim().to_owned())),
    }
    let masked = masked_stderr(&String::from_utf8_lossy(&stderr), masks);
    Ok(Output {
        code: status.code(),
        stderr_tail: text::one_line(&last_lines(&masked, 3).join(" | "), 400),
        stderr_lines: last_lines(&masked, 20),
        stdout,
    })
}

/// The last lines of a helper's stderr as one safe line: every known secret masked (the
/// process's registry, well-known secret variables, the helper's env and its own stdout).
fn masked_stderr(stderr: &str, mut masks: Vec<String>) -> String {
    for var in KNOWN_SECRET_VARS {
        if let Ok(Some(v)) = env::non_empty(var) {
            masks.push(v);
        }
    }
    for name in env::names()
        .into_iter()
        .filter(|n| n.starts_with(env::OP_SESSION_PREFIX))
    {
        if let Ok(Some(v)) = env::non_empty(&name) {
            masks.push(v);
        }
    }
    let mut text = redact::redact(stderr);
    for m in masks.iter().filter(|m| m.len() >= 6) {
        text = text.replace(m.as_str(), redact::MASK);
    }
    text
}

/// The last `n` non-empty lines of already masked text, each one safe line.
fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| text::one_line(l, 300))
        .collect()
}

/// The first non-empty line of stdout.
pub fn first_line(stdout: &str) -> Option<&str> {
    stdout.lines().map(str::trim).find(|l| !l.is_empty())
}
