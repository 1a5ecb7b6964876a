//! One module per command; a group is a folder with one file per verb.
//!
//! A command is `run(global, printer, args) -> Result<u8>`: `Ok` carries the exit code of a
//! command that ran (a gate may set 1), `Err` an error printed by `main` with its kind's code.

pub(crate) mod auth;
pub(crate) mod completion;
pub(crate) mod compliance;
pub(crate) mod config;
pub(crate) mod container;
pub(crate) mod data;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod overview;
pub(crate) mod pat;
pub(crate) mod plugin;
pub(crate) mod project;
pub(crate) mod report;
pub(crate) mod results;
pub(crate) mod scan;
pub(crate) mod team;
pub(crate) mod version;

use cybedefend_core::{Error, Result, env};

use crate::args::{Cli, Command, Lazy, LazySub};
use crate::output::{Printer, RedactingStderr};

/// Sets up logging and the runtime, and runs the command.
pub(crate) fn run(cli: Cli, printer: Printer) -> Result<u8> {
    if cli.global.debug || env::bool_var("CYBEDEFEND_DEBUG").ok().flatten() == Some(true) {
        init_debug_log();
    }
    match cli.command.0 {
        Command::Version => return version::run(printer),
        Command::Completion { shell } => return completion::run(shell),
        Command::Auth(LazySub(auth::AuthCommand::Providers { json })) => {
            return auth::providers::run(printer, json);
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let global = cli.global;
    // `scan` answers Ctrl-C, SIGTERM and SIGHUP itself (it waits for its compressors to clean
    // up).
    let handles_interrupt = matches!(cli.command.0, Command::Scan(_));
    let result = runtime.block_on(until_signal(handles_interrupt, async move {
        match cli.command.0 {
            Command::Scan(Lazy(args)) => scan::run(global, printer, args).await,
            Command::Results(Lazy(args)) => results::run(global, printer, args).await,
            Command::Container(LazySub(cmd)) => container::run(global, printer, cmd).await,
            Command::Project(LazySub(cmd)) => project::run(global, printer, cmd).await,
            Command::Team(LazySub(cmd)) => team::run(global, printer, cmd).await,
            Command::Overview(LazySub(cmd)) => overview::run(global, printer, cmd).await,
            Command::Report(LazySub(cmd)) => report::run(global, printer, cmd).await,
            Command::Compliance(LazySub(cmd)) => compliance::run(global, printer, cmd).await,
            Command::Pat(LazySub(cmd)) => pat::run(global, printer, cmd).await,
            Command::Login(Lazy(args)) => login::run(global, printer, args).await,
            Command::Logout => logout::run(global, printer).await,
            Command::Auth(LazySub(cmd)) => auth::run(global, printer, cmd).await,
            Command::Config(LazySub(cmd)) => config::run(global, printer, cmd),
            Command::Plugin(LazySub(cmd)) => plugin::run(global, printer, cmd).await,
            Command::Version | Command::Completion { .. } => Ok(0),
        }
    }));
    // Work still running off the runtime (a blocked file read, a keyring call) must not keep
    // the process alive.
    runtime.shutdown_background();
    result
}

/// Runs `command` until it ends or the process gets SIGINT (unless the command answers it),
/// SIGTERM or SIGHUP: the command is then dropped, which stops the helpers and plugins it
/// started (their process groups are killed) and removes its temporary files.
async fn until_signal(
    handles_interrupt: bool,
    command: impl std::future::Future<Output = Result<u8>>,
) -> Result<u8> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn recv(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        // A command that answers signals itself (scan: its compressors clean up first) gets
        // all three.
        let listen = |kind| {
            if handles_interrupt {
                None
            } else {
                signal(kind).ok()
            }
        };
        let mut term = listen(SignalKind::terminate());
        let mut hup = listen(SignalKind::hangup());
        let mut int = listen(SignalKind::interrupt());
        let stopped = |name: &str| {
            Err(Error::cancelled(format!(
                "stopped by {name}; the helpers and plugins it had started were stopped too"
            )))
        };
        tokio::select! {
            r = command => r,
            () = recv(&mut int) => stopped("an interrupt (SIGINT)"),
            () = recv(&mut term) => stopped("SIGTERM"),
            () = recv(&mut hup) => stopped("a hangup (SIGHUP)"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = handles_interrupt;
        command.await
    }
}

/// Asks a yes/no question on stderr and reads the answer from stdin (`y` or `yes` is yes).
pub(crate) fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, Read, Write};
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(64)
        .read_line(&mut line)
        .map_err(|e| Error::failure(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn init_debug_log() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Our own events only: the HTTP stack's internals are noise here.
    let ours = tracing_subscriber::filter::filter_fn(|m| m.target().starts_with("cybedefend"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .without_time()
                .with_ansi(false)
                .with_writer(RedactingStderr::new),
        )
        .with(ours)
        .init();
}
