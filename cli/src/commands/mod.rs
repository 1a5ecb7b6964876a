//! One module per command; a group is a folder with one file per verb.
//!
//! A command is `run(global, printer, args) -> Result<Exit>`: `Ok` carries the exit code of a
//! command that ran (a gate may set 1), `Err` an error printed by `main` with its kind's code.

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod completion;
pub(crate) mod compliance;
pub(crate) mod config;
pub(crate) mod container;
pub(crate) mod data;
pub(crate) mod exec;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod overview;
pub(crate) mod pat;
pub(crate) mod plugin;
pub(crate) mod project;
pub(crate) mod proxy;
pub(crate) mod report;
pub(crate) mod results;
pub(crate) mod scan;
pub(crate) mod team;
pub(crate) mod version;

use cybedefend_core::{Error, Result, env};

use crate::app::App;
use crate::args::{Cli, Command, Lazy, LazySub};
use crate::exit::Exit;
use crate::output::{Printer, RedactingStderr};

/// Sets up logging and the runtime, and runs the command.
pub(crate) fn run(cli: Cli, printer: Printer) -> Result<Exit> {
    if cli.global.debug || env::bool_var(&env::var_for_key("debug")).ok().flatten() == Some(true) {
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
        // a command waits on a handful of sockets and children: the default room for 1024
        // events per poll was 12 KB of memory touched at every start
        .max_io_events_per_tick(64)
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let global = cli.global;
    // `scan` answers Ctrl-C, SIGTERM and SIGHUP itself (it waits for its compressors to clean
    // up).
    // `proxy` stops serving on them, `exec` passes them on to its program.
    let handles_interrupt = matches!(
        cli.command.0,
        Command::Scan(_) | Command::Proxy(_) | Command::Exec(_)
    );
    // Each command's future is boxed: held inline, the largest of them made `main`'s stack
    // frame 32 KB, and the stack probes touched all of it at every start.
    let command: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Exit>>>> = match cli
        .command
        .0
    {
        Command::Scan(Lazy(args)) => Box::pin(scan::run(global, printer, args)),
        Command::Results(Lazy(args)) => Box::pin(results::run(global, printer, args)),
        Command::Container(LazySub(cmd)) => Box::pin(container::run(global, printer, cmd)),
        Command::Project(LazySub(cmd)) => Box::pin(project::run(global, printer, cmd)),
        Command::Team(LazySub(cmd)) => Box::pin(team::run(global, printer, cmd)),
        Command::Overview(LazySub(cmd)) => Box::pin(overview::run(global, printer, cmd)),
        Command::Report(LazySub(cmd)) => Box::pin(report::run(global, printer, cmd)),
        Command::Compliance(LazySub(cmd)) => Box::pin(compliance::run(global, printer, cmd)),
        Command::Pat(LazySub(cmd)) => Box::pin(pat::run(global, printer, cmd)),
        Command::Login(Lazy(args)) => Box::pin(login::run(global, printer, args)),
        Command::Logout => Box::pin(logout::run(global, printer)),
        Command::Auth(LazySub(cmd)) => Box::pin(auth::run(global, printer, cmd)),
        Command::Config(LazySub(cmd)) => Box::pin(async move { config::run(global, printer, cmd) }),
        Command::Plugin(LazySub(cmd)) => Box::pin(plugin::run(global, printer, cmd)),
        Command::Api(Lazy(args)) => Box::pin(api::run(global, printer, args)),
        Command::Exec(args) => Box::pin(exec::run(global, printer, args)),
        Command::Proxy(Lazy(args)) => Box::pin(proxy::run(global, printer, args)),
        Command::Version | Command::Completion { .. } => Box::pin(async { Ok(Exit::Success) }),
    };
    let result = runtime.block_on(until_signal(handles_interrupt, command));
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
    command: impl std::future::Future<Output = Result<Exit>>,
) -> Result<Exit> {
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
        tokio::pin!(command);
        let name = tokio::select! {
            r = &mut command => return r,
            () = recv(&mut int) => "an interrupt (SIGINT)",
            () = recv(&mut term) => "SIGTERM",
            () = recv(&mut hup) => "a hangup (SIGHUP)",
        };
        // Work that must not be cut in half (a session refresh that was sent) finishes first:
        // the command goes on until it is done, then stops.
        if cybedefend_core::shield::active() {
            tokio::select! {
                _ = &mut command => {}
                () = cybedefend_core::shield::released() => {}
            }
        }
        stopped(name)
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

/// What a destructive command needs before it acts: `--yes`, or a person at a terminal who
/// answers yes. Without a terminal (a script, CI) and without `--yes` it is a usage error that
/// shows the command with `--yes`; a "no" at the terminal is not an error but an answer: a
/// plain line, and [`Exit::Failed`] so that a script knows nothing happened.
pub(crate) fn confirmed(
    app: &App,
    yes: bool,
    question: &str,
    again: &str,
    nothing: &str,
) -> Result<Option<Exit>> {
    if yes {
        return Ok(None);
    }
    if !app.interactive() {
        // (the command line itself is not echoed: it may hold `--pat`)
        return Err(Error::usage(format!(
            "{question} Without a terminal nobody can answer, so nothing was done"
        ))
        .with_hint(format!("pass --yes to confirm: `{again} --yes`")));
    }
    if confirm(question)? {
        Ok(None)
    } else {
        app.out.info(nothing);
        Ok(Some(Exit::Failed))
    }
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
