//! `exec`: runs a program with a short-lived access token, or with a session key for a
//! loopback proxy that lives as long as the program (`--proxy`), never with the PAT.

use std::ffi::{OsStr, OsString};
use std::time::Duration;

use clap::Args;
use cybedefend_core::platform::lasts;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::forward::{self, Gateway, SessionKey};
use crate::output::Printer;

/// What `--proxy` without a value stands for: the loopback proxy, not an HTTP proxy's URL
/// (no one types it; the global options skip it).
pub(crate) const LOCAL_PROXY: &str = "\u{1}loopback";

/// Least life a token handed to a program has left.
const CHILD_TOKEN_LEFT: Duration = Duration::from_secs(5 * 60);

/// Variables a program never inherits from this process: the secrets a credential is found
/// by, and the ones `exec` sets itself.
const NEVER_INHERITED: &[&str] = &[
    "CYBEDEFEND_PAT",
    "CYBEDEFEND_API_KEY",
    "CYBEDEFEND_ACCESS_TOKEN",
    "CYBEDEFEND_API_URL",
    "API_BASE",
];

/// `exec`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Without --proxy the program gets CYBEDEFEND_ACCESS_TOKEN (an access token with at least 5
minutes left, exchanged from the credential every command uses) and CYBEDEFEND_API_URL. With
--proxy it gets CYBEDEFEND_API_URL and API_BASE pointing at a loopback proxy that runs as long
as it does, and CYBEDEFEND_ACCESS_TOKEN and CYBEDEFEND_API_KEY set to that proxy's session key:
a long-running program (an MCP server) never holds a token that expires, nor one that works
anywhere else. The program never gets CYBEDEFEND_PAT, nor any variable holding a secret the
credential chain read.

Its standard input, output and error are the terminal's or the pipes'; SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1 and SIGUSR2 are passed on to it (and SIGINT when it does not come from the terminal,
which sends it to the program itself). The exit code is the program's (128+N when a signal N
ended it; 127 when it is not found, 126 when it cannot be run).

Examples:
  cybedefend exec -- ./scripts/fetch-findings.sh
  cybedefend exec --proxy -- node dist/index.js
  cybedefend --profile acme exec -- ./call-api.sh")]
pub(crate) struct ExecArgs {
    /// Run a loopback proxy for the program's lifetime and give it a session key, not a token
    /// (`--proxy=URL`, with `=`, is the global option: the HTTP proxy to reach the API through)
    #[arg(
        long,
        value_name = "URL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = LOCAL_PROXY,
        hide_default_value = true
    )]
    pub(crate) proxy: Option<String>,
    /// The program and its arguments (after `--`)
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    pub(crate) command: Vec<OsString>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ExecArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    // the program runs as the same user: it must not read the PAT from this process
    forward::keep_private();
    let connected = app.connect().await?;
    let api_url = connected.endpoints.api_url.clone();
    if args.proxy.as_deref() != Some(LOCAL_PROXY) {
        let bearer = app.bearer(&connected);
        let token = bearer.lasting(CHILD_TOKEN_LEFT).await?;
        if !lasts(token.expires_at, CHILD_TOKEN_LEFT) {
            return Err(Error::auth(
                "the platform's access tokens live less than the 5 minutes a program is promised",
            )
            .with_hint("use `cybedefend exec --proxy`: the program then gets a key for a local proxy that renews tokens as they expire"));
        }
        let env = child_env(&[
            ("CYBEDEFEND_ACCESS_TOKEN", token.token.expose()),
            ("CYBEDEFEND_API_URL", &api_url),
        ]);
        return match started(&app, &args.command, env) {
            Ok(child) => wait(child).await,
            Err(exit) => Ok(exit),
        };
    }
    let key = SessionKey::new()?;
    let log = |line: &str| tracing::debug!("proxy: {line}");
    let gateway = Gateway::new(&app.http, app.bearer(&connected), &api_url, &key, &log)?;
    gateway.bearer.lasting(forward::TOKEN_LEFT).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Error::failure(format!("cannot listen on a loopback port: {e}")))?;
    let url = forward::url_of(
        listener
            .local_addr()
            .map_err(|e| Error::failure(format!("cannot read the address listened on: {e}")))?,
    );
    let env = child_env(&[
        ("CYBEDEFEND_API_URL", &url),
        ("API_BASE", &url),
        ("CYBEDEFEND_ACCESS_TOKEN", key.value()),
        ("CYBEDEFEND_API_KEY", key.value()),
    ]);
    let child = match started(&app, &args.command, env) {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let serve = gateway.serve(listener, async {
        let _ = done_rx.await;
    });
    let waited = async {
        let r = wait(child).await;
        let _ = done_tx.send(());
        r
    };
    let (r, ()) = tokio::join!(waited, serve);
    r
}

/// This process's environment without what a program must not inherit, plus `set`.
fn child_env(set: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = cybedefend_core::env::vars_os()
        .into_iter()
        .filter(|(k, v)| {
            !NEVER_INHERITED.iter().any(|n| OsStr::new(n) == k)
                && (NETWORK_VARIABLES.iter().any(|n| OsStr::new(n) == k) || !holds_secret(v))
        })
        .collect();
    env.extend(
        set.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env
}

/// The network settings a program needs as they are, even when they hold a password (a
/// company proxy's): the user's own, not the credential's.
const NETWORK_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// Whether a value holds a secret this process registered (a PAT the chain found, a provider's
/// token): such a variable is not passed on, whatever its name.
fn holds_secret(v: &OsStr) -> bool {
    let text = v.to_string_lossy();
    cybedefend_core::secret::redact::redact(&text) != text
}

/// The program started; or, when it cannot be, its error printed and the exit a shell would
/// give (127 not found, 126 not runnable).
fn started(
    app: &App,
    command: &[OsString],
    env: Vec<(OsString, OsString)>,
) -> std::result::Result<tokio::process::Child, Exit> {
    spawn(command, env).map_err(|failed| {
        let (e, code) = *failed;
        app.out.error(&e);
        Exit::Child(code)
    })
}

/// Starts the program; when it cannot be, the error and the code a shell would give (127 not
/// found, 126 not runnable).
fn spawn(
    command: &[OsString],
    env: Vec<(OsString, OsString)>,
) -> std::result::Result<tokio::process::Child, Box<(Error, u8)>> {
    let Some((program, rest)) = command.split_first() else {
        return Err(Box::new((
            Error::usage("no program to run").with_hint("cybedefend exec -- PROGRAM [ARGS…]"),
            2,
        )));
    };
    let shown = cybedefend_core::text::one_line(&program.to_string_lossy(), 120);
    tokio::process::Command::new(program)
        .args(rest)
        .env_clear()
        .envs(env)
        .spawn()
        .map_err(|e| {
            Box::new(match e.kind() {
                std::io::ErrorKind::NotFound => (
                    Error::usage(format!("{shown}: program not found"))
                        .with_hint("check its name, and PATH"),
                    127,
                ),
                std::io::ErrorKind::PermissionDenied => (
                    Error::usage(format!("{shown}: cannot run it (permission denied)")),
                    126,
                ),
                _ => (
                    Error::failure(format!("{shown}: cannot start it: {e}")),
                    126,
                ),
            })
        })
}

/// Waits for the program, passing signals on; its exit is this command's.
async fn wait(mut child: tokio::process::Child) -> Result<Exit> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        use tokio::signal::unix::{SignalKind, signal};
        let pid = child.id();
        let mut signals: Vec<(i32, tokio::signal::unix::Signal)> = [
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGINT,
        ]
        .into_iter()
        .filter_map(|s| signal(SignalKind::from_raw(s)).ok().map(|l| (s, l)))
        .collect();
        loop {
            let next = futures_util::future::select_all(
                signals
                    .iter_mut()
                    .map(|(n, l)| Box::pin(async move { l.recv().await.map(|_| *n) })),
            );
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(|e| Error::failure(format!("cannot wait for the program: {e}")))?;
                    return Ok(match (status.code(), status.signal()) {
                        (Some(c), _) => Exit::Child(u8::try_from(c).unwrap_or(1)),
                        (None, Some(s)) => Exit::Child(u8::try_from(128 + s).unwrap_or(1)),
                        (None, None) => Exit::Child(1),
                    });
                }
                (got, _, _) = next => {
                    if let (Some(sig), Some(pid)) = (got, pid) {
                        // The terminal sends Ctrl-C's SIGINT (and SIGQUIT) to the whole
                        // foreground group, the program included: passed on again, it would
                        // get it twice.
                        let from_terminal = matches!(sig, libc::SIGINT | libc::SIGQUIT) && in_foreground();
                        if !from_terminal {
                            pass_on(pid, sig);
                        }
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let status = child
            .wait()
            .await
            .map_err(|e| Error::failure(format!("cannot wait for the program: {e}")))?;
        Ok(Exit::Child(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ))
    }
}

/// Whether this process is in the foreground process group of its controlling terminal (the
/// group a Ctrl-C at that terminal reaches), whatever its standard input is.
#[cfg(unix)]
fn in_foreground() -> bool {
    std::fs::File::open("/dev/tty").is_ok_and(|tty| {
        rustix::termios::tcgetpgrp(&tty).is_ok_and(|g| g == rustix::process::getpgrp())
    })
}

#[cfg(unix)]
fn pass_on(pid: u32, sig: i32) {
    let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::Signal::from_named_raw(sig),
    ) else {
        return;
    };
    let _ = rustix::process::kill_process(pid, sig);
}
