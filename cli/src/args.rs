//! Command-line arguments (clap). Doc comments are the `--help` text. Every value that can be
//! checked without work is checked here, so a bad one is a usage error (exit 2) before anything
//! happens: durations through [`Span`], closed sets as `ValueEnum`s.
//!
//! Global options come from the config key table ([`cybedefend_core::config::KEYS`]): every
//! key with a flag is a global option under the "Global options" heading.

use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{
    Arg, ArgAction, ArgMatches, Args, Command as ClapCommand, FromArgMatches, Parser, Subcommand,
};
use cybedefend_core::config::{FlagValues, KEYS, KeyType};
use cybedefend_core::duration::Span;

use crate::commands;

/// `cybedefend 0.1.0 (linux x86_64)`, for `--version` and `version` alike.
pub(crate) static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} ({} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
});

const AFTER_HELP: &str = "\
Credentials are looked up in this order (first match wins):
  1. --pat flag            2. CYBEDEFEND_PAT environment variable
  3. `pat:` in config.yaml 4. stored login (cybedefend login)   5. OS keyring
Teams reorder the chain and add Vault, 1Password, exec, file and plugin providers in config
(`credentials.chain`, `credentials.providers`; see `cybedefend auth providers`, and
`cybedefend plugin --help` for plugins a platform team ships).
`cybedefend auth status` shows which one answered and why the others did not.

Durations are written 90s, 5m, 1h or 2h30m (a bare number is seconds).

Exit codes: 0 success, 1 operation failed, 2 usage or configuration error,
3 the server could not be reached (network, timeout, 5xx; retry later),
4 authentication required or rejected, 5 partial result (a report with
some result types missing), 130 interrupted.

Examples:
  cybedefend login --pat \"$PAT\" --region eu
  printf '%s' \"$PAT\" | cybedefend login --with-token --region eu
  CYBEDEFEND_PAT=... cybedefend auth status --json
  cybedefend config show --origin";

/// Command-line client for the CybeDefend application-security platform.
#[derive(Debug, Parser)]
#[command(
    name = "cybedefend",
    version = VERSION.as_str(),
    after_help = AFTER_HELP,
    max_term_width = 200
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Only<Command>,
}

const GLOBAL: &str = "Global options";

/// Set while a completion script is generated: options that exist only to be refused (the
/// deprecated `--api-key`) are left out of it.
pub(crate) static FOR_COMPLETION: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Options every command accepts: `--pat`, `--config`, and one per config key with a flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    /// `--pat`, as typed (a [`cybedefend_core::Secret`] from the moment it is read: masked in
    /// all output, never in `Debug`).
    pub(crate) pat: Option<cybedefend_core::Secret>,
    /// `--config`.
    pub(crate) config: Option<PathBuf>,
    /// `--profile NAME`.
    pub(crate) profile: Option<String>,
    /// Values of the key flags (`--region`, `--api-url`, `--ci`, ...).
    pub(crate) keys: FlagValues,
    /// `--ci` given (output must be plain from the first line).
    pub(crate) ci: bool,
    /// `--debug` given (logging starts before the config is read).
    pub(crate) debug: bool,
}

impl Args for GlobalArgs {
    fn augment_args(cmd: ClapCommand) -> ClapCommand {
        let mut cmd = cmd
            .arg(
                Arg::new("pat")
                    .long("pat")
                    .global(true)
                    .value_name("PAT")
                    .help_heading(GLOBAL)
                    .hide_short_help(true)
                    .help("Personal Access Token (highest priority); `--pat -` reads it from standard input. Prefer that, CYBEDEFEND_PAT or `login --with-token`: arguments are visible to other users in process listings"),
            )
            .arg(
                Arg::new("config")
                    .long("config")
                    .global(true)
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help_heading(GLOBAL)
                    .hide_short_help(true)
                    .help("Read this config file instead of the user and working-directory files (the system file and its policy still apply)"),
            )
            .arg(
                Arg::new("profile")
                    .long("profile")
                    .global(true)
                    .value_name("NAME")
                    .help_heading(GLOBAL)
                    .hide_short_help(true)
                    .help("Use this profile of the user or system config (default: CYBEDEFEND_PROFILE, else the first whose `match` fits the folder or git remote)"),
            )
            ;
        if !FOR_COMPLETION.load(std::sync::atomic::Ordering::Relaxed) {
            cmd = cmd.arg(
                Arg::new("api-key")
                    .long("api-key")
                    .global(true)
                    .hide(true)
                    .value_name("KEY")
                    .help("Deprecated: API keys are rejected; use --pat"),
            );
        }
        for key in KEYS {
            let Some(flag) = key.flag else { continue };
            let mut arg = Arg::new(key.name)
                .long(flag)
                .global(true)
                .help_heading(GLOBAL)
                .hide_short_help(true)
                .help(key.about);
            arg = match key.ty {
                // `--ci` or `--ci=false`, as the official CLI (pflag) accepts.
                KeyType::Bool => arg
                    .action(ArgAction::Set)
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .value_name("BOOL")
                    .value_parser(clap::value_parser!(bool)),
                KeyType::Region => arg
                    .value_name("REGION")
                    .value_parser(clap::builder::PossibleValuesParser::new(["us", "eu"]))
                    .ignore_case(true),
                KeyType::Duration => arg
                    .value_name("DURATION")
                    .value_parser(clap::value_parser!(Span)),
                KeyType::Url | KeyType::Proxy => arg.value_name("URL"),
                _ => arg.value_name("VALUE"),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: ClapCommand) -> ClapCommand {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for GlobalArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut g = Self::default();
        g.update_from_arg_matches(m)?;
        Ok(g)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(p) = m.get_one::<String>("pat") {
            self.pat = Some(cybedefend_core::Secret::new(p.as_str()));
        }
        if let Some(c) = m.get_one::<PathBuf>("config") {
            self.config = Some(c.clone());
        }
        if let Some(p) = m.get_one::<String>("profile") {
            self.profile = Some(p.clone());
        }
        self.keys.api_key_given |= m.get_one::<String>("api-key").is_some();
        for key in KEYS.iter().filter(|k| k.flag.is_some()) {
            let value = match key.ty {
                KeyType::Bool => m.get_one::<bool>(key.name).map(|b| b.to_string()),
                KeyType::Duration => m.get_one::<Span>(key.name).map(Span::to_string),
                // (`exec --proxy` is a switch of its own, under the same id: not a URL)
                _ => m.try_get_one::<String>(key.name).ok().flatten().cloned(),
            };
            if let Some(v) = value
                && v != commands::exec::LOCAL_PROXY
            {
                self.keys.set(key, v);
            }
        }
        self.ci = self.keys.get("ci") == Some("true");
        self.debug = self.keys.get("debug") == Some("true");
        Ok(())
    }
}

/// The line `-h` shows in place of the global options (`--help` describes each).
fn global_line() -> String {
    let mut flags = vec!["--pat", "--config", "--profile"];
    flags.extend(KEYS.iter().filter_map(|k| k.flag));
    format!(
        "Global options: {} (`--help` describes them)",
        flags
            .iter()
            .map(|f| if f.starts_with("--") {
                (*f).to_owned()
            } else {
                format!("--{f}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// What every command's `--help` says about exit codes, unless it says it itself.
const EXIT_CODES: &str =
    "Exit codes: 0 success, 1 failed (or not found), 2 usage error, 3 the platform could not be
reached, 4 no credential or access denied, 130 interrupted.";

/// Whether the command line is `help --help` (or `-h`), global options before it allowed.
pub(crate) fn is_help_of_help(args: &[std::ffi::OsString]) -> bool {
    let takes_value = |flag: &str| {
        matches!(flag, "config" | "profile" | "pat" | "api-key")
            || KEYS
                .iter()
                .any(|k| k.flag == Some(flag) && k.ty != KeyType::Bool)
    };
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(word) = words.next() {
        let Some(word) = word else { return false };
        if let Some(flag) = word.strip_prefix("--") {
            if !flag.contains('=') && takes_value(flag) {
                words.next();
            }
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        return word == "help" && words.any(|w| matches!(w, Some("--help" | "-h")));
    }
    false
}

/// Whether the command line asks for help (`-h`, `--help`, `help`, or no command at all): only
/// then is the whole help text finished by [`finish_help`], at no cost to other runs.
pub(crate) fn wants_help(args: &[std::ffi::OsString]) -> bool {
    args.len() <= 1
        || args
            .iter()
            .skip(1)
            .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "help")))
}

/// Finishes every command's help texts (the tree is built first, so deferred commands are
/// there): `-h` shows the global options as one line, and `--help` shows them whole, with the
/// exit codes on every command.
pub(crate) fn finish_help(cmd: &mut ClapCommand) {
    cmd.build();
    let line = global_line();
    finish_one(cmd, &line, true);
}

fn finish_one(cmd: &mut ClapCommand, line: &str, root: bool) {
    let short = cmd.get_after_help().map(|h| h.to_string());
    let long = cmd
        .get_after_long_help()
        .map(|h| h.to_string())
        .or_else(|| short.clone());
    let joined = |a: Option<&String>, b: &str| match a {
        Some(a) if !a.is_empty() => format!("{a}\n\n{b}"),
        _ => b.to_owned(),
    };
    let long = match long {
        Some(l) if l.contains("Exit codes") => l,
        l => joined(l.as_ref(), EXIT_CODES),
    };
    let short = if root {
        short.unwrap_or_default()
    } else {
        joined(short.as_ref(), line)
    };
    let taken = std::mem::take(cmd);
    *cmd = taken.after_help(short).after_long_help(long);
    for sub in cmd.get_subcommands_mut() {
        finish_one(sub, line, false);
    }
}

/// A command's arguments, built only when the command runs (or its help or a completion script
/// is asked for): building every command's arguments at each start-up cost more than the rest of
/// `auth status --offline`.
#[derive(Debug, Clone)]
pub(crate) struct Lazy<T>(pub(crate) T);

/// Runs `build` on `cmd`, keeping the about texts the parent gave it (the variant's doc
/// comment), which a struct's or an enum's own doc comment would otherwise replace.
fn keeping_about(cmd: ClapCommand, build: fn(ClapCommand) -> ClapCommand) -> ClapCommand {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let mut cmd = build(cmd);
    if let Some(a) = about {
        cmd = cmd.about(a);
    }
    match long_about {
        Some(l) => cmd.long_about(l),
        None => cmd.long_about(None::<&str>),
    }
}

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: ClapCommand) -> ClapCommand {
        cmd.defer(|c| keeping_about(c, T::augment_args))
    }

    fn augment_args_for_update(cmd: ClapCommand) -> ClapCommand {
        cmd.defer(|c| keeping_about(c, T::augment_args_for_update))
    }
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }

    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

/// The command named on the command line, when [`only_named_command`] found one: the tree is
/// then built with that command alone. clap copies every global flag into every command it
/// knows while parsing, and that copying was three quarters of the heap at start-up.
/// For a command group, the word after it is kept too, and only that subcommand is built.
type Named = Option<(String, Option<String>)>;

static ONLY: std::sync::OnceLock<Named> = std::sync::OnceLock::new();

// A test builds one tree per command; the binary sets ONLY once. (Not a thread-local in the
// binary: registering its destructor is one more allocation that, under a tight memory
// limit, glibc answers with an abort.)
#[cfg(test)]
thread_local! {
    static TEST_ONLY: std::cell::RefCell<Option<Named>> = const { std::cell::RefCell::new(None) };
}

fn only() -> Named {
    #[cfg(test)]
    if let Some(named) = TEST_ONLY.with_borrow(Clone::clone) {
        return named;
    }
    ONLY.get().cloned().flatten()
}

/// Looks for the command named in `args` (the first word that is not an option or an
/// option's value) and, when it is one of ours, has the tree built with it alone. Help, the
/// version, completion scripts, typos and anything unusual keep the whole tree.
pub(crate) fn only_named_command(args: &[std::ffi::OsString]) {
    if let Some(name) = named_command(args) {
        let _ = ONLY.set(Some(name));
    }
}

fn named_command(args: &[std::ffi::OsString]) -> Option<(String, Option<String>)> {
    let takes_value = |flag: &str| {
        matches!(flag, "config" | "profile" | "pat" | "api-key")
            || KEYS
                .iter()
                .any(|k| k.flag == Some(flag) && k.ty != KeyType::Bool)
    };
    let global_switch = |flag: &str| {
        KEYS.iter()
            .any(|k| k.flag == Some(flag) && k.ty == KeyType::Bool)
    };
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if let Some(flag) = word.strip_prefix("--") {
            let (name, value) = match flag.split_once('=') {
                Some((name, _)) => (name, true),
                None => (flag, false),
            };
            if takes_value(name) {
                if !value {
                    // clap takes no value that starts with `-`: its error or hint is for the
                    // whole tree
                    let next = words.next().and_then(|v| v.to_str())?;
                    if next.starts_with('-') {
                        return None;
                    }
                }
                continue;
            }
            if global_switch(name) {
                continue;
            }
            // `--help`, `--version`, `--`, and a flag that is not a global one (misplaced or
            // mistyped: clap's hint names the command that has it): the whole tree
            return None;
        }
        if word.starts_with('-') {
            return None;
        }
        if word == "completion" || !Command::has_subcommand(word) {
            return None;
        }
        // the group's own subcommand: the next word, unless an option comes first (help)
        let sub = words
            .next()
            .and_then(|w| w.to_str())
            .filter(|w| !w.starts_with('-'))
            .map(str::to_owned);
        return Some((word.to_owned(), sub));
    }
    None
}

/// The top-level command enum, registering only the command [`only_named_command`] found.
#[derive(Debug)]
pub(crate) struct Only<T>(pub(crate) T);

impl<T: Subcommand> Subcommand for Only<T> {
    fn augment_subcommands(cmd: ClapCommand) -> ClapCommand {
        match only() {
            Some((name, _)) => with_only::<T>(cmd, &name),
            None => T::augment_subcommands(cmd),
        }
    }

    fn augment_subcommands_for_update(cmd: ClapCommand) -> ClapCommand {
        T::augment_subcommands_for_update(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

impl<T: FromArgMatches> FromArgMatches for Only<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Only)
    }

    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Only)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

/// A command group whose subcommands are built only when the group runs (see [`Lazy`]).
#[derive(Debug)]
pub(crate) struct LazySub<T>(pub(crate) T);

impl<T: Subcommand> Subcommand for LazySub<T> {
    fn augment_subcommands(cmd: ClapCommand) -> ClapCommand {
        cmd.defer(|c| keeping_about(c, only_named_subcommand::<T>))
    }

    fn augment_subcommands_for_update(cmd: ClapCommand) -> ClapCommand {
        cmd.defer(|c| keeping_about(c, T::augment_subcommands_for_update))
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

/// A group's subcommands, or only the one named on the command line (see [`ONLY`]): clap would
/// otherwise copy every global flag into each of the group's commands. Settings on the group's
/// enum itself (`#[command(..)]` above it) then land on the throwaway `all`: today they are
/// texts, seen only in the group's own help, which is built whole; a parsing setting there
/// (`infer_subcommands`, say) would need copying over.
fn only_named_subcommand<T: Subcommand>(cmd: ClapCommand) -> ClapCommand {
    let named = only()
        .filter(|(group, _)| cmd.get_name() == group)
        .and_then(|(_, sub)| sub)
        .filter(|sub| T::has_subcommand(sub));
    match named {
        Some(sub) => with_only::<T>(cmd, &sub),
        None => T::augment_subcommands(cmd),
    }
}

/// `cmd` with the subcommand `name` of `T` alone (all of them when `T` has no such name).
fn with_only<T: Subcommand>(cmd: ClapCommand, name: &str) -> ClapCommand {
    let all = T::augment_subcommands(ClapCommand::new("all"));
    match all.find_subcommand(name) {
        Some(one) => cmd.subcommand(one.clone()),
        None => T::augment_subcommands(cmd),
    }
}

impl<T: FromArgMatches> FromArgMatches for LazySub<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(LazySub)
    }

    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(LazySub)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Package a folder (or take a zip), upload it, wait for the scan and apply the gates
    Scan(Lazy<commands::scan::ScanArgs>),
    /// Fetch a project's findings and write a report (json, sarif, markdown, html)
    Results(Lazy<commands::results::ResultsArgs>),
    /// Scan container images from a connected registry
    #[command(subcommand)]
    Container(LazySub<commands::container::ContainerCommand>),
    /// Projects: create, get, delete, list
    #[command(subcommand)]
    Project(LazySub<commands::project::ProjectCommand>),
    /// Teams and their members
    #[command(subcommand)]
    Team(LazySub<commands::team::TeamCommand>),
    /// Findings at a glance, for a project or an organisation
    #[command(subcommand)]
    Overview(LazySub<commands::overview::OverviewCommand>),
    /// SBOM, OWASP Top 10 and CWE Top 25 reports, saved to files
    #[command(subcommand)]
    Report(LazySub<commands::report::ReportCommand>),
    /// Policy compliance of a project: history, violations, statistics
    #[command(subcommand)]
    Compliance(LazySub<commands::compliance::ComplianceCommand>),
    /// Personal access tokens of your account: list, create, revoke, rename
    #[command(subcommand)]
    Pat(LazySub<commands::pat::PatCommand>),
    /// Log in with a Personal Access Token (validated, then stored) or in the browser
    Login(Lazy<commands::login::LoginArgs>),
    /// Remove the stored login (file, keyring, or the plugin that keeps it) and its cached
    /// access tokens
    #[command(after_help = "\
With a profile (--profile NAME, CYBEDEFEND_PROFILE, or a profile whose `match` fits this folder),
only that profile's login is removed; `--profile default` removes the login kept outside
profiles (~/.cybedefend/credentials.json).

Examples:
  cybedefend logout
  cybedefend --profile acme logout")]
    Logout,
    /// Inspect credentials: which source answers, and tokens for scripts
    #[command(subcommand)]
    Auth(LazySub<commands::auth::AuthCommand>),
    /// Show or check the configuration and where each value comes from
    #[command(subcommand)]
    Config(LazySub<commands::config::ConfigCommand>),
    /// Credential plugins: list, verify, run the conformance cases, start a new one
    #[command(subcommand)]
    Plugin(LazySub<commands::plugin::PluginCommand>),
    /// Send any request to the API with your credential (as `gh api`)
    Api(Lazy<commands::api::ApiArgs>),
    /// Run a program with a short-lived access token, or a local proxy's key (--proxy)
    // Built with the command tree, not lazily: its `--proxy` switch takes the place of the
    // global `--proxy URL`, which only an argument present before the globals spread can do.
    Exec(commands::exec::ExecArgs),
    /// Serve the API on a loopback port with a session key: one login for other tools
    Proxy(Lazy<commands::proxy::ProxyArgs>),
    /// Print the version
    #[command(after_help = "\
Examples:
  cybedefend version")]
    Version,
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = "\
Examples:
  cybedefend completion bash \\
      > ~/.local/share/bash-completion/completions/cybedefend
  cybedefend completion zsh > \"${fpath[1]}/_cybedefend\"
  cybedefend completion fish > ~/.config/fish/completions/cybedefend.fish")]
    Completion {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command's help teaches: each leaf has an Examples section whose lines fit an
    /// 80-column terminal (no example wraps mid-command), every `--help` states the exit codes,
    /// and `-h` names the global options in one line.
    #[test]
    fn every_command_has_examples_exit_codes_and_the_global_line() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        finish_help(&mut cmd);
        let mut problems = Vec::new();
        fn walk(cmd: &ClapCommand, path: &str, problems: &mut Vec<String>) {
            let long = cmd
                .get_after_long_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let short = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !long.contains("Exit codes") {
                problems.push(format!("{path}: no exit codes in --help"));
            }
            if path != "cybedefend" && !short.contains("Global options: --pat") {
                problems.push(format!("{path}: no global line in -h"));
            }
            let leaf = cmd.get_subcommands().next().is_none();
            if leaf && !long.contains("Examples:") {
                problems.push(format!("{path}: no Examples section"));
            }
            if let Some((_, examples)) = long.split_once("Examples:") {
                for line in examples
                    .lines()
                    .take_while(|l| l.is_empty() || l.starts_with("  "))
                {
                    if line.chars().count() > 80 {
                        problems.push(format!("{path}: example over 80 columns: {line}"));
                    }
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &format!("{path} {}", sub.get_name()), problems);
            }
        }
        walk(&cmd, "cybedefend", &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_named_command_is_found_past_global_options_and_their_values() {
        let named = |line: &str| {
            let args: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
            named_command(&args).map(|(command, sub)| match sub {
                Some(sub) => format!("{command} {sub}"),
                None => command,
            })
        };
        for (line, want) in [
            ("cybedefend auth status", Some("auth status")),
            ("cybedefend auth status --offline", Some("auth status")),
            ("cybedefend auth --help", Some("auth")),
            ("cybedefend auth", Some("auth")),
            ("cybedefend --region eu --ci scan --dir .", Some("scan")),
            (
                "cybedefend --api-url https://x --proxy none results",
                Some("results"),
            ),
            ("cybedefend --config auth scan", Some("scan")),
            ("cybedefend --profile scan login", Some("login")),
            (
                "cybedefend --ci=false --debug report sbom",
                Some("report sbom"),
            ),
            (
                "cybedefend --api-url=https://x project list",
                Some("project list"),
            ),
            // help, version, completion, typos and `--`: the whole tree
            ("cybedefend --help", None),
            ("cybedefend --help auth status", None),
            ("cybedefend --region eu --help project list", None),
            ("cybedefend --version scan", None),
            ("cybedefend --dry-run auth scan", None),
            ("cybedefend --pat --dry-run auth scan", None),
            ("cybedefend --region", None),
            (
                "cybedefend --ci --debug=true auth token",
                Some("auth token"),
            ),
            ("cybedefend -h scan", None),
            ("cybedefend -V", None),
            ("cybedefend completion bash", None),
            ("cybedefend scna", None),
            ("cybedefend -- scan", None),
            ("cybedefend", None),
        ] {
            assert_eq!(named(line).as_deref(), want, "{line}");
        }
    }

    /// Every command, built alone as a command line naming it builds it, is the command of
    /// the whole tree: the same arguments, help and subcommands (clap's own checks run on
    /// each build too: two arguments with one id fail here, not in a user's hands).
    #[test]
    fn every_pruned_command_is_the_whole_trees_command() {
        use clap::CommandFactory;
        fn helps(cmd: &mut ClapCommand, path: &str, out: &mut Vec<(String, String)>) {
            let path = format!("{path} {}", cmd.get_name());
            out.push((path.clone(), cmd.render_long_help().to_string()));
            for sub in cmd.get_subcommands_mut() {
                helps(sub, &path, out);
            }
        }
        fn of(named: Named, path: &[&str]) -> Vec<(String, String)> {
            TEST_ONLY.set(Some(named));
            // clap's checks of the definition, over the whole tree built
            Cli::command().debug_assert();
            let mut tree = Cli::command();
            tree.build();
            TEST_ONLY.set(None);
            let mut cmd = &mut tree;
            for word in path {
                cmd = cmd
                    .find_subcommand_mut(word)
                    .unwrap_or_else(|| panic!("no `{word}` in {path:?}"));
            }
            let mut out = Vec::new();
            helps(cmd, "", &mut out);
            out
        }
        let mut whole = Cli::command();
        whole.build();
        let mut checked = 0;
        for group in whole.get_subcommands() {
            let g = group.get_name().to_owned();
            if g == "help" || g == "completion" {
                continue;
            }
            let mut paths: Vec<Vec<String>> = vec![vec![g.clone()]];
            paths.extend(
                group
                    .get_subcommands()
                    .filter(|s| s.get_name() != "help")
                    .map(|s| vec![g.clone(), s.get_name().to_owned()]),
            );
            for path in paths {
                let words: Vec<&str> = path.iter().map(String::as_str).collect();
                let named = Some((path[0].clone(), path.get(1).cloned()));
                assert_eq!(of(named, &words), of(None, &words), "{words:?}");
                checked += 1;
            }
        }
        assert!(checked >= 50, "only {checked} commands checked");
    }
}
