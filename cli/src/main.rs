//! The `cybedefend` binary: parses arguments, runs one command, maps errors to exit codes.

mod app;
mod args;
mod commands;
mod output;

use std::process::ExitCode;

use crate::args::Cli;
use crate::output::Printer;

/// The arguments. The command tree is left to the process's exit rather than dropped: taking
/// it apart cost as much as building it.
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args::only_named_command(&args);
    let mut cmd = Cli::command();
    let parsed = cmd
        .try_get_matches_from_mut(args)
        .and_then(|mut m| {
            let cli = Cli::from_arg_matches_mut(&mut m);
            std::mem::forget(m);
            cli
        })
        .map_err(|e| e.format(&mut cmd));
    std::mem::forget(cmd);
    parsed
}

fn main() -> ExitCode {
    // Keep the built-in providers' inventory registrations in the binary.
    let _ = cybedefend_providers::link();
    let _ = cybedefend_plugin_host::link();
    output::install_panic_hook();
    let cli = match parse() {
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
    let printer = Printer::new(cli.global.ci);
    let code = match commands::run(cli, printer) {
        Ok(code) => code,
        Err(e) => {
            printer.error(&e);
            e.exit_code()
        }
    };
    if cybedefend_plugin_host::loader_stuck() {
        // a plugin library that never finished loading holds the loader's lock: the normal
        // exit, which unloads libraries, would wait for it forever
        cybedefend_plugin_host::exit_now(code);
    }
    ExitCode::from(code)
}
