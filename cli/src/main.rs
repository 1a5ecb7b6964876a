//! The `cybedefend` binary: parses arguments, runs one command, maps errors to exit codes.

mod app;
mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::output::Printer;

fn main() -> ExitCode {
    // Keep the built-in providers' inventory registrations in the binary.
    let _ = cybedefend_providers::link();
    let _ = cybedefend_plugin_host::link();
    output::install_panic_hook();
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
