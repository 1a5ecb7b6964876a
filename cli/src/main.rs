//! The `cybedefend` binary: parses arguments, runs one command, maps errors to exit codes.

mod alloc;
mod app;
mod args;
mod commands;
mod exit;
mod forward;
mod gates;
mod output;
mod progress;
mod session;

use std::process::ExitCode;

use crate::args::Cli;
use crate::exit::Exit;
use crate::output::Printer;

/// The arguments. The command tree is dropped here, before the command runs: the memory it
/// frees is reused by what comes next, which touches fewer new pages (9 fewer page faults
/// than leaving it to the process's exit, for more instructions).
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args::only_named_command(&args);
    // `help --help` (clap's help command takes no options): the help of `help`
    if args::is_help_of_help(&args) {
        let mut cmd = clap::Command::new("help")
            .disable_help_subcommand(true)
            .bin_name("cybedefend help")
            .about("Print the help of cybedefend or of one of its commands")
            .arg(
                clap::Arg::new("command")
                    .value_name("COMMAND")
                    .num_args(0..)
                    .help("The command (and subcommand) to describe"),
            )
            .after_help("Examples:\n  cybedefend help scan\n  cybedefend help team add-member");
        return match cmd.try_get_matches_from_mut(["help", "--help"]) {
            Err(e) => Err(e),
            Ok(_) => Err(cmd.error(clap::error::ErrorKind::DisplayHelp, "")),
        };
    }
    let mut cmd = Cli::command();
    if args::wants_help(&args) {
        args::finish_help(&mut cmd);
    }
    cmd.try_get_matches_from_mut(args)
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m))
        .map_err(|e| e.format(&mut cmd))
}

/// The binary's only call into the C math library is indicatif's rate estimate (`f64::powf`,
/// which LLVM lowers to a call to `pow`). On Linux, cli/build.rs links with `--wrap=pow`, which
/// sends that call here, to Rust's port of the same function: libm.so is then not loaded at all,
/// one shared library less to open, map and relocate at every start (about 5% of
/// `auth status --offline`). Only this binary's own calls are redirected (the symbol is not
/// exported); a plugin that uses `pow` still gets libm's. scripts/build-dist.sh warns when
/// another libm function brings the library back.
// `no_mangle` is unsafe because a symbol may clash; this name is reserved by the linker's
// `--wrap` convention and defined nowhere else.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn __wrap_pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// Before anything else: no other process of this user can read this one's memory or
/// environment (`/proc/PID/environ`, `/proc/PID/mem`, ptrace: a plugin or helper started later
/// is such a process), and no descriptor this process inherited reaches a program it starts.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn harden() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) changes only this process's own attribute, and
    // close_range with CLOSE_RANGE_CLOEXEC only marks descriptors; no memory is touched.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        if libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        ) != 0
        {
            // kernels before 5.11: the descriptors that are open, one at a time
            if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
                let fds: Vec<i32> = dir
                    .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .filter(|fd| *fd > 2)
                    .collect();
                for fd in fds {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn harden() {}

fn main() -> ExitCode {
    harden();
    // Keep the built-in providers' inventory registrations in the binary.
    let _ = cybedefend_providers::link();
    let _ = cybedefend_plugin_host::link();
    output::install_panic_hook();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, checked like every other output (a full disk is an
            // error, a reader that stopped early is not); `cybedefend` alone shows the help,
            // which is what was asked for: exit 0 (a group alone is a script's mistake: exit 2).
            let bare = std::env::args_os().len() <= 1;
            let on_stdout = !e.use_stderr()
                || (bare
                    && e.kind()
                        == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
            if !on_stdout {
                // clap quotes what was typed: its control characters are shown as escapes
                use std::io::Write;
                let text = e.render().to_string();
                let _ = write!(
                    std::io::stderr().lock(),
                    "{}",
                    cybedefend_core::text::neutralize(&text)
                );
                return ExitCode::from(2);
            }
            use std::io::{IsTerminal, Write};
            let text = e.render();
            let mut out = output::stdout();
            let _ = if std::io::stdout().is_terminal() {
                write!(out, "{}", text.ansi())
            } else {
                write!(out, "{text}")
            };
            let _ = out.flush();
            if let Some(err) = output::stdout_failure() {
                Printer::new(false).error(
                    &cybedefend_core::Error::failure(format!(
                        "the output could not be written: {err}"
                    ))
                    .with_hint("check where stdout goes (a full disk, a closed file)"),
                );
                return ExitCode::from(1);
            }
            return ExitCode::SUCCESS;
        }
    };
    let printer = Printer::new(cli.global.ci);
    let mut exit = match commands::run(cli, printer) {
        Ok(exit) => exit,
        Err(e) => {
            printer.error(&e);
            Exit::of(&e)
        }
    };
    // a command that failed has said why; its stream errors are not said twice
    if let Some(e) = output::stdout_failure().filter(|_| exit == Exit::Success) {
        printer.error(
            &cybedefend_core::Error::failure(format!("the output could not be written: {e}"))
                .with_hint("check where stdout goes (a full disk, a closed file)"),
        );
        exit = Exit::Failed;
    }
    if let Some(notice) = cybedefend_core::platform::exchange::cache_notice() {
        printer.warn(notice);
    }
    if !cybedefend_plugin_host::finish() {
        // native plugin code still running (a call that timed out, a library that never
        // finished loading and holds the loader's lock): the normal exit, which unloads
        // libraries, could wait for it forever
        cybedefend_plugin_host::exit_now(exit.code());
    }
    exit.into()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_wrapped_pow_gives_the_c_librarys_results() {
        // (the test harness is linked with `--wrap` too: the expected values are the C
        // library's, written out)
        for (x, y, c) in [
            (0.1_f64, 2.5, 0.00316227766016838_f64),
            (2.0, 10.0, 1024.0),
            (0.9, 0.001, 0.9998946450345664),
            (10.0, -3.0, 0.001),
            (0.0, 0.0, 1.0),
            (-8.0, 3.0, -512.0),
            (1.0001, 10000.0, 2.7181459268249255),
        ] {
            let ours = super::__wrap_pow(x, y);
            assert!(
                (ours - c).abs() <= c.abs() * f64::EPSILON,
                "{x}^{y}: {ours} against {c}"
            );
            // and `powf`, which the linker sends to it
            let powf = std::hint::black_box(x).powf(std::hint::black_box(y));
            assert_eq!(powf.to_bits(), ours.to_bits(), "{x}^{y}");
        }
        assert!(super::__wrap_pow(-8.0, 0.5).is_nan());
    }
}
