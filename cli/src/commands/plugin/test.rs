//! `plugin test`: the conformance cases, one line each. A native plugin runs inside the process
//! that loads it, so each of its cases runs in a process of its own (this binary again, with
//! the hidden `--case N`): a crash or an `exit()` then fails that case by name instead of
//! ending the report.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cybedefend_core::duration::Span;
use cybedefend_core::{Error, Result};
use cybedefend_plugin_host::Kind;
use cybedefend_plugin_host::conformance::{self, Case};

use crate::app::App;
use crate::exit::Exit;

pub(crate) async fn run(app: &App, plugin: &str, limit: Span, case: Option<usize>) -> Result<Exit> {
    let located = super::locate(app, plugin)?;
    let (verdict, trusted) = super::check(app, &located, None);
    let Some(trusted) = trusted else {
        return Err(verdict.to_error(&located.name));
    };
    if let Some(index) = case {
        let c = conformance::run_one(&trusted, index, limit.get()).await;
        app.out.json(&c.to_json())?;
        return Ok(Exit::Success);
    }
    let cases = match trusted.kind {
        Kind::Exec => conformance::run(&trusted, limit.get()).await,
        Kind::Native => {
            // nothing of the library is loaded in this process
            drop(trusted);
            each_in_a_child(limit.get()).await
        }
    };
    let mut s = String::new();
    for c in &cases {
        s.push_str(&format!(
            "{} {:<46} {:>6} ms  {}\n",
            if c.passed { "✓" } else { "✗" },
            c.name,
            c.elapsed.as_millis(),
            c.detail
        ));
    }
    app.out.data(s.trim_end());
    let failed = cases.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        return Err(Error::failure(format!(
            "{failed} of {} conformance cases failed for plugin `{}`",
            cases.len(),
            located.name
        )));
    }
    app.out.success(&format!(
        "plugin `{}` passed all {} conformance cases",
        located.name,
        cases.len()
    ));
    Ok(Exit::Success)
}

/// Runs each case of a native plugin in a new process of this binary, with this command line
/// and `--case N`.
async fn each_in_a_child(limit: Duration) -> Vec<Case> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut cases = Vec::new();
    for index in 0..conformance::count(Kind::Native) {
        let case = in_a_child(&args, index, limit).await;
        let stop = index == 0 && !case.passed;
        cases.push(case);
        if stop {
            break;
        }
    }
    cases.push(conformance::timing(&cases, limit));
    cases
}

async fn in_a_child(args: &[OsString], index: usize, limit: Duration) -> Case {
    let name = conformance::name(Kind::Native, index);
    let start = Instant::now();
    // This very binary (on Linux, the file this process runs, whatever its path now).
    let exe = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => {
                return Case::failed(
                    &name,
                    format!("cannot run this program again: {e}"),
                    start.elapsed(),
                );
            }
        }
    };
    let child = tokio::process::Command::new(exe)
        .args(args)
        .arg("--case")
        .arg(index.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            return Case::failed(
                &name,
                format!("cannot run this program again: {e}"),
                start.elapsed(),
            );
        }
    };
    // loading and the call each have the limit; a stuck child is stopped after both
    let out = match tokio::time::timeout(
        limit * 2 + Duration::from_secs(10),
        child.wait_with_output(),
    )
    .await
    {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Case::failed(
                &name,
                format!("the case's process failed: {e}"),
                start.elapsed(),
            );
        }
        Err(_) => {
            return Case::failed(
                &name,
                format!(
                    "the case did not end within {}; it was stopped",
                    cybedefend_core::duration::format(limit * 2 + Duration::from_secs(10))
                ),
                start.elapsed(),
            );
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success()
        && let Some(case) = serde_json::from_str(&stdout)
            .ok()
            .and_then(|v: serde_json::Value| Case::from_json(&v))
    {
        return case;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("hint:"))
        .map(|l| format!(": {}", cybedefend_core::text::one_line(l, 240)))
        .unwrap_or_default();
    let how = match exit_signal(&out.status) {
        Some(sig) => format!("the plugin crashed the process with {}", signal_name(sig)),
        None => format!(
            "the process ended with exit code {} before the case finished",
            out.status.code().unwrap_or(-1)
        ),
    };
    Case::failed(&name, format!("{how}{last}"), start.elapsed())
}

#[cfg(unix)]
fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_status: &std::process::ExitStatus) -> Option<i32> {
    None
}

fn signal_name(sig: i32) -> String {
    if !cfg!(target_os = "linux") {
        return format!("signal {sig}");
    }
    let name = match sig {
        4 => "SIGILL (illegal instruction)",
        6 => "SIGABRT (abort)",
        7 => "SIGBUS (bus error)",
        8 => "SIGFPE (arithmetic error)",
        9 => "SIGKILL",
        11 => "SIGSEGV (segmentation fault)",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    format!("{name}, signal {sig}")
}
