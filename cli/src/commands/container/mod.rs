//! `container scan <registry>`: scan an image from a registry the organisation has connected,
//! optionally waiting for the scan and applying the same gates as `scan`.

pub(crate) mod scan;

use clap::Subcommand;
use cybedefend_core::Result;

use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// `container` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Scan an image from a connected registry
    #[command(subcommand)]
    Scan(scan::RegistryCommand),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ContainerCommand) -> Result<Exit> {
    match cmd {
        ContainerCommand::Scan(r) => scan::run(global, out, r).await,
    }
}
