//! `report sbom`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::exit::Exit;
use crate::output::Printer;

/// `report sbom`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report sbom --project-id ID                      # sbom-ID.json
  cybedefend report sbom --project-id ID --output out/sbom.json")]
pub(crate) struct SbomArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// File to write (folders are created; `-` for stdout) [default: sbom-<project>.json]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: SbomArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let mut dest = Dest::open(
        args.output.as_deref(),
        &format!("sbom-{project}.json"),
        Format::Json,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let n = reports::download(
        &api,
        Scope::Sbom(&project),
        "",
        "json",
        false,
        dest.writer(),
    )
    .await?;
    dest.finish(&app, n)
}
