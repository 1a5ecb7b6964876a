//! `auth`: which credential answers, tokens for scripts, moving a PAT into the keyring, and the
//! provider types this build knows.

pub(crate) mod migrate;
pub(crate) mod providers;
pub(crate) mod status;
pub(crate) mod token;

use clap::{Subcommand, ValueEnum};
use cybedefend_core::Result;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// Where `auth migrate` moves the PAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MigrateTo {
    /// The OS keyring
    Keyring,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Show which credential is used, where it came from, whether the server accepts it, and
    /// the whole lookup chain
    #[command(after_help = "\
Exit codes: 0 a credential was found (and accepted by the server, unless --offline),
3 the server could not be reached (the credential was not judged), 4 no credential, or
the server rejected it.

Examples:
  cybedefend auth status
  cybedefend auth status --offline --json | jq -r .source
  cybedefend --profile acme auth status")]
    Status {
        /// Do not contact the server (no token exchange)
        #[arg(long)]
        offline: bool,
        /// Print one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Print an access token for the current credential (for scripts)
    #[command(after_help = "\
The token is short-lived and printed on stdout only; the PAT never is.

Examples:
  curl -H \"Authorization: Bearer $(cybedefend auth token)\" \\
      https://api-us.cybedefend.com/project/ID")]
    Token,
    /// Move the stored PAT into the OS keyring (read back and verified before the file copy
    /// is removed)
    #[command(after_help = "\
Examples:
  cybedefend auth migrate --to keyring")]
    Migrate {
        /// Destination
        #[arg(long, value_enum, default_value = "keyring")]
        to: MigrateTo,
    },
    /// List the credential provider types this build knows, and the default chain
    #[command(after_help = "\
Examples:
  cybedefend auth providers
  cybedefend auth providers --json")]
    Providers {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: AuthCommand) -> Result<Exit> {
    let app = App::load(global, out)?;
    match cmd {
        AuthCommand::Status { offline, json } => status::run(&app, offline, json).await,
        AuthCommand::Token => token::run(&app).await,
        AuthCommand::Migrate { .. } => migrate::run(&app).await,
        AuthCommand::Providers { json } => providers::run(app.out, json),
    }
}
