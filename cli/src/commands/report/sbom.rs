//! `report sbom`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::output::Printer;

/// `report sbom`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report sbom --project-id ID                      # sbom-ID.json
  cybedefend report sbom --project-id ID --output out/sbom.json")]
pub(crate) struct SbomArgs {
    /// Project [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) project_id: Option<String>,
    /// File to write (folders are created; `-` for stdout) [default: sbom-<project>.json]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: SbomArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let project = app.project_id(args.project_id.as_deref())?;
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
