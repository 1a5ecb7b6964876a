//! The `cybedefend` binary: parses arguments, runs one command, maps errors to exit codes.

mod app;
mod args;
mod commands;
mod output;

use std::process::ExitCode;

use crate::args::Cli;
use crate::output::Printer;

/// The arguments. The command tree is dropped here, before the command runs: the memory it
/// frees is reused by what comes next, which touches fewer new pages (9 fewer page faults
/// than leaving it to the process's exit, for more instructions).
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args::only_named_command(&args);
    let mut cmd = Cli::command();
    cmd.try_get_matches_from_mut(args)
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m))
        .map_err(|e| e.format(&mut cmd))
}

/// The binary's only call into the C math library is indicatif's rate estimate (`f64::powf`,
/// which LLVM lowers to a call to `pow`). On Linux, cli/build.rs links with `--wrap=pow`, which
/// sends that call here, to Rust's port of the same function: libm.so is then not loaded at all,
/// one shared library less to open, map and relocate at every start (about 5% of
/// `auth status --offline`). Only this binary's own calls are redirected; a plugin that uses
/// `pow` still gets libm's.
// `no_mangle` is unsafe because a symbol may clash; this name is reserved by the linker's
// `--wrap` convention and defined nowhere else.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn __wrap_pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_wrapped_pow_answers_as_the_c_library_does() {
        // (the test binary is not linked with `--wrap`: `powf` here is the C library's)
        for (x, y) in [
            (0.1_f64, 2.5),
            (2.0, 10.0),
            (0.9, 0.001),
            (10.0, -3.0),
            (0.0, 0.0),
            (-8.0, 3.0),
        ] {
            let ours = super::__wrap_pow(x, y);
            let c = x.powf(y);
            assert!(
                (ours - c).abs() <= c.abs() * 1e-15,
                "{x}^{y}: {ours} against {c}"
            );
        }
        assert!(super::__wrap_pow(-8.0, 0.5).is_nan());
    }
}
