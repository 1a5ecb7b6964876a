//! The exec client: one process per request, `PLUGIN --cybedefend-plugin`, without a shell.
//! The request goes on stdin (never in argv or the environment; the CLI's own secret variables
//! are not passed either); the plugin writes its hello line, then one answer line, and exits 0.
//! The request is written at once: a plugin reads stdin only after its hello, so the order on
//! the wire is the protocol's. Everything else is refused with a message that says what the
//! plugin did: no hello, garbage, two answers, a non-zero exit, only newer protocol versions.
//! The time limit kills the plugin's whole process group.

use std::path::Path;
use std::time::Duration;

use cybedefend_core::credentials::{display, redact};
use cybedefend_core::{Error, ErrorKind, Result, process, text};
use cybedefend_plugin_sdk::{Hello, PLUGIN_ARG, Request, Response, SUPPORTED_VERSIONS};

/// Calls the plugin at `path` with `request`; its hello, its answer and its stderr lines.
pub(crate) async fn call(
    path: &Path,
    request: &Request,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    if let Some(c) = &request.credential {
        redact::register(c.secret.expose());
    }
    let value = serde_json::to_value(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_raw(path, &value, limit).await
}

/// [`call`] with a request as JSON (the conformance run sends fields a request never has).
pub(crate) async fn call_raw(
    path: &Path,
    request: &serde_json::Value,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    let shown = display(path);
    let mut line = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    line.push(b'\n');
    let argv = [path.to_string_lossy().into_owned(), PLUGIN_ARG.to_owned()];
    let run = process::run(process::Spec {
        argv: &argv,
        stdin: Some(line),
        ..process::Spec::default()
    });
    let out = match tokio::time::timeout(limit, run).await {
        Ok(r) => r.map_err(|e| e.context(format!("plugin {shown}")))?,
        Err(_) => {
            return Err(Error::failure(format!(
                "plugin {shown} did not answer within {}; it was stopped",
                cybedefend_core::duration::format(limit)
            )));
        }
    };
    let mut lines = out.stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let hello_line = lines.next();
    let answer_line = lines.next();
    let extra = lines.next().is_some();
    // Whatever the answer holds is a secret from here on, before anything is shown.
    if let Some(answer) = answer_line
        && let Ok(Response::Ok(a)) = serde_json::from_str::<Response>(answer)
        && let Some(s) = &a.secret
    {
        redact::register(s.expose());
    }
    let stderr: Vec<String> = out.stderr_lines.iter().map(|l| redact::redact(l)).collect();
    let tail = if out.stderr_tail.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {})", redact::redact(&out.stderr_tail))
    };
    if out.code != Some(0) {
        let how = out.code.map_or("was killed by a signal".to_owned(), |c| {
            format!("exited with code {c}")
        });
        return Err(Error::failure(format!("plugin {shown} {how}{tail}")));
    }
    let Some(hello_line) = hello_line else {
        return Err(Error::failure(format!(
            "plugin {shown} printed nothing: a plugin first writes its hello line{tail}"
        )));
    };
    let hello: Hello = serde_json::from_str(hello_line).map_err(|_| {
        Error::failure(format!(
            "plugin {shown} printed something that is not a protocol hello: `{}`",
            text::one_line(&redact::redact(hello_line), 80)
        ))
    })?;
    if !hello.v.iter().any(|v| SUPPORTED_VERSIONS.contains(v)) {
        return Err(Error::failure(format!(
            "plugin {shown} speaks protocol versions {:?}; this cybedefend speaks {:?}",
            hello.v, SUPPORTED_VERSIONS
        ))
        .with_hint("update cybedefend, or use a version of the plugin that speaks protocol 1"));
    }
    let Some(answer_line) = answer_line else {
        return Err(Error::failure(format!(
            "plugin {shown} wrote its hello but no answer{tail}"
        )));
    };
    if extra {
        return Err(Error::failure(format!(
            "plugin {shown} printed more than one answer; a plugin answers once"
        )));
    }
    let response: Response = serde_json::from_str(answer_line).map_err(|_| {
        Error::failure(format!(
            "plugin {shown} answered with something that is not a protocol answer: `{}`",
            text::one_line(&redact::redact(answer_line), 80)
        ))
    })?;
    Ok((hello, response, stderr))
}

/// The core error for a plugin's error answer.
pub(crate) fn error_of(name: &str, e: &cybedefend_plugin_sdk::Error) -> Error {
    use cybedefend_plugin_sdk::ErrorKind as K;
    let message = text::one_line(&redact::redact(&e.message), 300);
    let kind = match e.kind {
        K::NotFound => ErrorKind::NotFound,
        K::Unsupported => ErrorKind::Unsupported,
        K::Usage => ErrorKind::Usage,
        K::Auth => ErrorKind::Auth,
        K::Network => ErrorKind::Network,
        K::Failed => ErrorKind::Failed,
        _ => {
            return Error::failure(format!(
                "plugin `{name}`: {message} (an error kind this cybedefend does not know; update it?)"
            ));
        }
    };
    Error::new(kind, message)
}
