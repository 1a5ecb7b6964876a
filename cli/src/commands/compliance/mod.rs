//! `compliance`: a project's policy evaluations, violations and statistics.

pub(crate) mod history;
pub(crate) mod stats;
pub(crate) mod violations;

use clap::Subcommand;
use cybedefend_core::Result;

use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// `compliance` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ComplianceCommand {
    /// Past policy evaluations of a project
    History(history::HistoryArgs),
    /// A project's open policy violations
    Violations(violations::ViolationsArgs),
    /// Violation counts and the compliance status
    Stats(stats::StatsArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ComplianceCommand) -> Result<Exit> {
    match cmd {
        ComplianceCommand::History(a) => history::run(global, out, a).await,
        ComplianceCommand::Violations(a) => violations::run(global, out, a).await,
        ComplianceCommand::Stats(a) => stats::run(global, out, a).await,
    }
}
