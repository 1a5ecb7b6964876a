//! `report owasp`: a project's OWASP Top 10 report.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::output::Printer;

/// `report owasp`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report owasp --project-id ID                           # owasp-report-ID.json
  cybedefend report owasp --project-id ID --format pdf --detailed --output reports/owasp.pdf")]
pub(crate) struct OwaspArgs {
    /// Project [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) project_id: Option<String>,
    /// Format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Json)]
    pub(crate) format: Format,
    /// Include every finding, not only the summary
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) detailed: bool,
    /// File to write (folders are created; `-` for stdout) [default: owasp-report-<project>.<format>]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: OwaspArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let project = app.project_id(args.project_id.as_deref())?;
    let format = args.format.as_str();
    let mut dest = Dest::open(
        args.output.as_deref(),
        &format!("owasp-report-{project}.{format}"),
        args.format,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let n = reports::download(
        &api,
        Scope::Project(&project),
        "owasp",
        format,
        args.detailed,
        dest.writer(),
    )
    .await?;
    dest.finish(&app, n)
}
