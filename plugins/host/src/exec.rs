//! The exec client: one process per request, `PLUGIN --cybedefend-plugin`, without a shell.
//! The request goes on stdin (never in argv or the environment; the CLI's own secret variables
//! are not passed either); the plugin writes its hello line, then one answer line, and exits 0.
//! The request is written at once: a plugin reads stdin only after its hello, so the order on
//! the wire is the protocol's. Everything else is refused with a message that says what the
//! plugin did: no hello, garbage, two answers, a non-zero exit, only newer protocol versions.
//! The time limit kills the plugin's whole process group.
//!
//! What runs is the checked descriptor ([`crate::trust`]): on Linux the program is
//! `/proc/self/fd/N` and a script's interpreter reads the plugin as `/dev/fd/N`. The plugin
//! gets stdin, stdout, stderr and that script descriptor, nothing else the CLI holds; the
//! checked `PATH`; `/` as its working directory; and none of [`REMOVED_VARIABLES`].

use std::time::Duration;

use cybedefend_core::secret::redact;
use cybedefend_core::{Error, ErrorKind, Result, process, text};
use cybedefend_plugin_sdk::{Hello, PLUGIN_ARG, Request, Response, SUPPORTED_VERSIONS};

use crate::trust::{Arg, ExecRun, Run, Trusted};

/// Variables an exec plugin never gets (each changes what a program or interpreter loads or
/// runs before the plugin's own code): exact names, and prefixes ending in `*`.
pub const REMOVED_VARIABLES: &[&str] = &[
    // the dynamic loader
    "LD_*",
    "DYLD_*",
    "GCONV_PATH",
    // interpreters' start-up code, module paths and options
    "PYTHON*",
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "SHELLOPTS",
    "BASHOPTS",
    "ZDOTDIR",
    "PERL5*",
    "PERLLIB",
    "PERLIO",
    "RUBY*",
    "GEM_HOME",
    "GEM_PATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "LUA_INIT*",
    "LUA_PATH*",
    "LUA_CPATH*",
    "TCL_LIBRARY",
    "TCLLIBPATH",
    "TK_LIBRARY",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "DOTNET_STARTUP_HOOKS",
    "DOTNET_ADDITIONAL_DEPS",
    "CORECLR_*",
    "COR_ENABLE_PROFILING",
    "COR_PROFILER*",
    // libraries that load modules named by their configuration
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_ENGINES",
    "KRB5_CONFIG",
];

/// The variable that tells a plugin where its checked file is (a script's `$0` is
/// `/dev/fd/N`).
pub const PLUGIN_FILE_VAR: &str = "CYBEDEFEND_PLUGIN_FILE";

/// Calls `plugin` with `request`; its hello, its answer and its stderr lines.
pub(crate) async fn call(
    plugin: &Trusted,
    request: &Request,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    if let Some(c) = &request.credential {
        redact::register(c.secret.expose());
    }
    // Written from the struct: its field order (`v`, `action`, ...) is the documented order.
    let line = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_line(plugin, line, limit).await
}

/// [`call`] with a request as JSON (the conformance run sends fields a request never has).
pub(crate) async fn call_raw(
    plugin: &Trusted,
    request: &serde_json::Value,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    let line = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_line(plugin, line, limit).await
}

/// The command line: the program and its arguments before `--cybedefend-plugin`.
fn command_line(plugin: &Trusted, run: &ExecRun) -> Vec<String> {
    use std::os::fd::AsRawFd;
    let on_linux = cfg!(any(target_os = "linux", target_os = "android"));
    let program = if on_linux {
        format!("/proc/self/fd/{}", run.program.as_raw_fd())
    } else {
        run.program_path.to_string_lossy().into_owned()
    };
    let mut argv = vec![program];
    for a in &run.args {
        argv.push(match (a, &run.script) {
            (Arg::Text(t), _) => t.clone(),
            (Arg::Plugin, Some(fd)) if on_linux => format!("/dev/fd/{}", fd.as_raw_fd()),
            (Arg::Plugin, _) => plugin.real_path.to_string_lossy().into_owned(),
        });
    }
    argv.push(PLUGIN_ARG.to_owned());
    argv
}

/// In the child, before the plugin starts: every descriptor but stdin, stdout, stderr and
/// the script's is closed at exec.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn hand_over(keep: Option<std::os::fd::RawFd>) -> impl Fn(&mut tokio::process::Command) + Sync {
    move |cmd: &mut tokio::process::Command| {
        // SAFETY: the closure runs in the child between fork and exec and makes only
        // async-signal-safe system calls (close_range, fcntl) on plain integers.
        unsafe {
            cmd.pre_exec(move || {
                let marked = libc::syscall(
                    libc::SYS_close_range,
                    3 as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
                );
                if marked != 0 {
                    // kernels before 5.11: one descriptor at a time
                    for fd in 3..4096 {
                        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                }
                if let Some(fd) = keep
                    && libc::fcntl(fd, libc::F_SETFD, 0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn hand_over(_keep: Option<std::os::fd::RawFd>) -> impl Fn(&mut tokio::process::Command) + Sync {
    |_cmd: &mut tokio::process::Command| {}
}

async fn call_line(
    plugin: &Trusted,
    mut line: Vec<u8>,
    limit: Duration,
) -> Result<(Hello, Response, Vec<String>)> {
    use std::os::fd::AsRawFd;
    let Run::Exec(run) = &plugin.run else {
        return Err(Error::failure("not an exec plugin"));
    };
    let shown = cybedefend_core::home::tilde(&plugin.real_path);
    if cfg!(any(target_os = "linux", target_os = "android"))
        && !std::path::Path::new("/proc/self/fd").is_dir()
    {
        return Err(Error::failure(format!(
            "cannot run plugin {shown}: it runs from the descriptor that was checked, through /proc/self/fd, and /proc is not mounted"
        ))
        .with_hint("mount /proc (containers and chroots need it for plugins)"));
    }
    line.push(b'\n');
    let argv = command_line(plugin, run);
    let prepare = hand_over(run.script.as_ref().map(|f| f.as_raw_fd()));
    let file = plugin.real_path.as_os_str();
    // Under the allow-list, Python does not add the user's own site-packages (its `.pth`
    // files run code at start-up).
    let no_user_site = std::ffi::OsStr::new("1");
    let plain_all = [(PLUGIN_FILE_VAR, file), ("PYTHONNOUSERSITE", no_user_site)];
    let plain = if run.root_only {
        &plain_all[..]
    } else {
        &plain_all[..1]
    };
    let spawn = process::run(process::Spec {
        argv: &argv,
        stdin: Some(line),
        stdout_secrets: Some(secrets_in_output),
        reap_group: true,
        path: Some(&run.path_var),
        arg0: Some(&run.arg0),
        cwd: Some(std::path::Path::new("/")),
        env_remove: REMOVED_VARIABLES,
        env_plain: plain,
        prepare: Some(&prepare),
        limit: Some(limit),
        ..process::Spec::default()
    });
    // (the limit is the helper's own: it kills the plugin and quotes its stderr; this one
    // only backs it up)
    let out = match tokio::time::timeout(limit + Duration::from_secs(2), spawn).await {
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
    // Whatever an answer holds is a secret from here on, before anything is shown, whether
    // or not the line parses. Lines of stdout are never quoted in messages.
    for s in secrets_in_output(&out.stdout) {
        redact::register(&s);
    }
    let stderr: Vec<String> = out.stderr_lines.iter().map(|l| redact::redact(l)).collect();
    let tail = if out.stderr_tail.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {})", redact::redact(&out.stderr_tail))
    };
    let (hello, answer) = read_output(&shown, &out.stdout, out.code, &tail).map_err(|e| {
        if run.from_copy && run.script.is_some() && out.code != Some(0) {
            e.with_hint(
                "this plugin is admitted by its hash, so its interpreter reads a sealed copy named /dev/fd/N: in Python, `sys.path[0]` is then `/` (add `sys.path.insert(0, os.path.dirname(os.environ[\"CYBEDEFEND_PLUGIN_FILE\"]))` before importing modules of its own); an interpreter that looks the script up by its real path (Node.js) cannot run from it: drop the pin, allow it by name (a copy root installed), or make the plugin a program",
            )
        } else {
            e
        }
    })?;
    Ok((hello, answer, stderr))
}

/// Judges what an exec plugin printed on stdout and how it exited: its hello and its one
/// answer, or an error that says what the plugin did without quoting stdout (where secrets
/// travel). `tail` is its stderr's end, already masked, for messages.
pub fn read_output(
    shown: &str,
    stdout: &str,
    code: Option<i32>,
    tail: &str,
) -> Result<(Hello, Response)> {
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let answers: Vec<Option<Response>> = lines
        .iter()
        .map(|l| serde_json::from_str::<Response>(l).ok())
        .collect();
    if code != Some(0) {
        let how = code.map_or("was killed by a signal".to_owned(), |c| {
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
        (1, 1) => match &parsed[0] {
            Some(answer) => Ok((hello, answer.clone())),
            None => Err(Error::failure(format!("plugin {shown} printed no answer"))),
        },
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

/// Every string a plugin's stdout holds under a `secret` key, whether or not its lines parse
/// as protocol answers (to mask them everywhere, its stderr included). Lines end at `\n` or
/// `\r`. A line that parses as JSON gives every string under a `secret` key at any depth; a
/// line that does not (cut short, a lone surrogate escape, a field of the wrong type that
/// broke the parse elsewhere) is scanned for `"secret"` followed by a string, which is taken
/// to its closing quote or the end of the line, raw and unescaped, and in its pieces between
/// escapes.
pub fn secrets_in_output(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in stdout.split(['\n', '\r']) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => secret_strings(&v, false, &mut out),
            Err(_) => scan_secret_fields(line, &mut out),
        }
    }
    out.retain(|s| !s.trim().is_empty());
    out.dedup();
    out
}

/// A secret and, when it holds spaces, each long word of it (a plugin may print the token
/// alone).
fn push_secret(out: &mut Vec<String>, s: &str) {
    out.push(s.to_owned());
    if s.contains(char::is_whitespace) {
        out.extend(
            s.split_whitespace()
                .filter(|w| w.len() >= 8)
                .map(str::to_owned),
        );
    }
}

fn secret_strings(v: &serde_json::Value, under_secret: bool, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) if under_secret => push_secret(out, s),
        Value::Number(n) if under_secret => out.push(n.to_string()),
        Value::Object(m) => {
            for (k, child) in m {
                secret_strings(child, under_secret || k == "secret", out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| secret_strings(c, under_secret, out)),
        _ => {}
    }
}

/// `"secret"` `:` `"…` in text that is not JSON: the value to its unescaped closing quote (or
/// the end of the line).
fn scan_secret_fields(line: &str, out: &mut Vec<String>) {
    let mut rest = line;
    while let Some(i) = rest.find("\"secret\"") {
        rest = &rest[i + 8..];
        let after = rest.trim_start();
        let Some(after) = after.strip_prefix(':') else {
            continue;
        };
        let after = after.trim_start();
        let Some(value) = after.strip_prefix('"') else {
            continue;
        };
        let mut end = value.len();
        let mut escaped = false;
        for (j, c) in value.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = j;
                    break;
                }
                _ => {}
            }
        }
        let raw = &value[..end];
        push_secret(out, raw);
        // as the plugin may also have printed it: unescaped where it can be, and the pieces
        // between escapes (a lone `\ud800` cannot be unescaped)
        if let Ok(s) = serde_json::from_str::<String>(&format!("\"{raw}\"")) {
            push_secret(out, &s);
        }
        out.extend(
            raw.split('\\')
                .enumerate()
                .map(|(k, piece)| {
                    // after a backslash: the escape's own letters are not part of the text
                    let piece = if k == 0 {
                        piece
                    } else if piece.starts_with('u') {
                        piece.get(5..).unwrap_or("")
                    } else {
                        piece.get(1..).unwrap_or("")
                    };
                    piece.to_owned()
                })
                .filter(|p| p.len() >= 8),
        );
        rest = &value[end.min(value.len())..];
    }
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
