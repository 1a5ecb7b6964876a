//! The `cybedefend` binary: parses arguments, runs one command, maps errors to exit codes.

mod app;
mod args;
mod commands;
mod output;
mod report;

use std::process::ExitCode;

use clap::Parser;
use cybedefend_core::Error;

use crate::args::{Cli, Command};
use crate::output::{Printer, RedactingStderr};

fn main() -> ExitCode {
    // Keep the built-in providers' inventory registrations in the binary.
    let _ = cybedefend_providers::link();
    install_panic_hook();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let env_debug = std::env::var("CYBEDEFEND_DEBUG")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false);
    if cli.global.debug || env_debug {
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
    let printer = Printer::new(cli.global.ci);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&Error::failure(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli, printer)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            printer.error(&e);
            ExitCode::from(u8::try_from(e.category.exit_code()).unwrap_or(1))
        }
    }
}

async fn run(cli: Cli, printer: Printer) -> Result<u8, Error> {
    match cli.command {
        Command::Scan(args) => commands::scan::run(cli.global, printer, args).await,
        Command::Results(args) => commands::results::run(cli.global, printer, args).await,
        Command::Version => commands::version::run(printer),
        Command::Completion { shell } => commands::version::completion(shell),
        Command::Login(args) => commands::login::run(cli.global, printer, args).await,
        Command::Logout => commands::login::logout(cli.global, printer).await,
        Command::Auth(cmd) => commands::auth::run(cli.global, printer, cmd).await,
        Command::Config(cmd) => commands::config::run(cli.global, printer, cmd).await,
    }
}

/// Panics print where they happened and a request to report, through the redactor.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let text = cybedefend_core::redact::redact(&format!(
            "error: internal error at {location}: {payload}\n  hint: this is a bug in cybedefend; please report it with the command you ran"
        ));
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{text}");
        }
    }));
}
