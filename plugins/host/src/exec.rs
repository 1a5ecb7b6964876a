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
    // Written from the struct: its field order (`v`, `action`, ...) is the documented order.
    let line = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_line(path, line, limit).await
}

/// [`call`] with a request as JSON (the conformance run sends fields a request never has).
pub(crate) async fn call_raw(
    path: &Path,
    request: &serde_json::Value,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    let line = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_line(path, line, limit).await
}

async fn call_line(
    path: &Path,
    mut line: Vec<u8>,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    let shown = display(path);
    line.push(b'\n');
    let argv = [path.to_string_lossy().into_owned(), PLUGIN_ARG.to_owned()];
    let run = process::run(process::Spec {
        argv: &argv,
        stdin: Some(line),
        stdout_secrets: Some(secrets_in_answers),
        reap_group: true,
        absolute_path: true,
        ..process::Spec::default()
    });
    let out = match tokio::time::timeout(limit, run).await {
        Ok(r) => r.map_err(|e| {
            e.context(format!("plugin {shown}"))
                .with_hint("`cybedefend plugin verify PATH` checks the file and its interpreter")
        })?,
        Err(_) => {
            return Err(Error::failure(format!(
                "plugin {shown} did not answer within {}; it was stopped",
                cybedefend_core::duration::format(limit)
            )));
        }
    };
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // Whatever an answer holds is a secret from here on, before anything is shown. Lines of
    // stdout are never quoted in messages: stdout is where secrets travel.
    let answers: Vec<Option<Response>> = lines
        .iter()
        .map(|l| serde_json::from_str::<Response>(l).ok())
        .collect();
    for a in answers.iter().flatten() {
        if let Response::Ok(a) = a
            && let Some(s) = &a.secret
        {
            redact::register(s.expose());
        }
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
    let Some(hello_line) = lines.first() else {
        return Err(Error::failure(format!(
            "plugin {shown} printed nothing: a plugin first writes its hello line{tail}"
        ))
        .with_hint(HELLO_HINT));
    };
    let hello: Hello = serde_json::from_str(hello_line).map_err(|_| {
        let what = if answers[0].is_some() {
            "an answer without its hello line first".to_owned()
        } else {
            match serde_json::from_str::<serde_json::Value>(hello_line) {
                Ok(v) if v.get("v").is_some_and(|v| !v.is_array()) => {
                    "a hello whose `v` is not a list of protocol versions (such as [1])".to_owned()
                }
                Ok(v) if v["v"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|n| n.as_u64().is_none_or(|n| n > u64::from(u32::MAX)))) =>
                {
                    "a hello whose `v` lists something that is not a protocol version (a whole number such as 1)".to_owned()
                }
                _ => format!("{} where its hello line belongs", describe(hello_line)),
            }
        };
        Error::failure(format!("plugin {shown} printed {what}{tail}")).with_hint(HELLO_HINT)
    })?;
    if !hello.v.iter().any(|v| SUPPORTED_VERSIONS.contains(v)) {
        return Err(Error::failure(format!(
            "plugin {shown} speaks protocol versions {:?}; this cybedefend speaks {:?}",
            hello.v, SUPPORTED_VERSIONS
        ))
        .with_hint("update cybedefend, or use a version of the plugin that speaks protocol 1"));
    }
    let rest = &lines[1..];
    let parsed = &answers[1..];
    let count = parsed.iter().flatten().count();
    match (rest.len(), count) {
        (0, _) => Err(Error::failure(format!(
            "plugin {shown} wrote its hello but no answer{tail}"
        ))),
        (1, 1) => Ok((hello, parsed[0].clone().expect("counted"), stderr)),
        (1, _) => Err(Error::failure(format!(
            "plugin {shown} answered with {}, not a protocol answer ({{\"ok\": ...}} or {{\"err\": ...}})",
            describe(rest[0])
        ))),
        (_, 0 | 1) => Err(Error::failure(format!(
            "plugin {shown} printed {} besides its hello: {}",
            if count == 1 {
                "other lines"
            } else {
                "no protocol answer but other lines"
            },
            rest.iter()
                .zip(parsed)
                .take(4)
                .map(|(l, a)| if a.is_some() {
                    "an answer".to_owned()
                } else {
                    describe(l)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint(STDOUT_HINT)),
        (_, n) => Err(Error::failure(format!(
            "plugin {shown} printed {n} answers; a plugin answers once"
        ))),
    }
}

const HELLO_HINT: &str = "a plugin's first line on stdout is its hello, such as \
    {\"v\":[1],\"name\":\"corp\",\"version\":\"1.0\"}; see plugins/PROTOCOL.md, or run \
    `cybedefend plugin test` on it";
const STDOUT_HINT: &str = "stdout carries only the hello and one answer line; write debug \
    output to stderr (cybedefend shows it, with known secrets masked)";

/// The secrets of the answers on a plugin's stdout (to mask them in its stderr).
fn secrets_in_answers(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Response>(l.trim()).ok())
        .filter_map(|r| match r {
            Response::Ok(a) => a.secret.map(|s| s.expose().to_owned()),
            Response::Err(_) => None,
        })
        .collect()
}

/// What a line of a plugin's stdout is, without quoting it (it may hold a secret).
pub(crate) fn describe(line: &str) -> String {
    use serde_json::Value;
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) if m.is_empty() => "an empty JSON object".to_owned(),
        Ok(Value::Object(m)) => {
            // only word-like keys are named (a key could be anything a plugin printed)
            let keys: Vec<String> = m
                .keys()
                .take(5)
                .map(|k| {
                    let word = k.len() <= 16
                        && k.bytes()
                            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
                    if word {
                        format!("`{k}`")
                    } else {
                        "(a key not shown)".to_owned()
                    }
                })
                .collect();
            format!("a JSON object with keys {}", keys.join(", "))
        }
        Ok(Value::Array(_)) => "a JSON list".to_owned(),
        Ok(Value::String(_)) => "a JSON string".to_owned(),
        Ok(_) => "a JSON number, boolean or null".to_owned(),
        Err(_) => format!(
            "a line that is not JSON ({} characters, not shown: stdout may carry a secret)",
            line.chars().count()
        ),
    }
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
