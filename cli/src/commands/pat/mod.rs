//! `pat`: the account's personal access tokens: list, create, revoke, rename.
//!
//! The platform's spec leaves these answers untyped; what is assumed is written in
//! `cybedefend_core::platform::user` and the README. PAT values are never shown, except the
//! new one by `pat create` (once, on stdout, unless `--store` keeps it).

pub(crate) mod create;
pub(crate) mod list;
pub(crate) mod rename;
pub(crate) mod revoke;

use clap::Subcommand;
use cybedefend_core::Result;

use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// `pat` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PatCommand {
    /// List the account's PATs (names and dates; values are never shown)
    List(list::ListArgs),
    /// Create a PAT: printed once, or kept in the keyring or a provider with --store
    Create(create::CreateArgs),
    /// Revoke (delete) a PAT by name
    Revoke(revoke::RevokeArgs),
    /// Rename a PAT
    Rename(rename::RenameArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: PatCommand) -> Result<Exit> {
    match cmd {
        PatCommand::List(a) => list::run(global, out, a).await,
        PatCommand::Create(a) => create::run(global, out, a).await,
        PatCommand::Revoke(a) => revoke::run(global, out, a).await,
        PatCommand::Rename(a) => rename::run(global, out, a).await,
    }
}

/// A time as sent (RFC 3339, or milliseconds since the epoch) as RFC 3339.
pub(crate) fn when(value: Option<&str>) -> String {
    let Some(v) = value else {
        return "never".into();
    };
    if let Ok(ms) = v.parse::<i64>()
        && let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
    {
        return crate::commands::data::human_time(t);
    }
    crate::commands::data::when(Some(v))
}
