//! `report owasp` and `report cwe`: a project's OWASP Top 10 or CWE Top 25 report.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format, Kind};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::exit::Exit;
use crate::output::Printer;

/// `report owasp` and `report cwe`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report owasp --project-id ID     # owasp-report-ID.json
  cybedefend report cwe --project-id ID --format pdf --detailed \\
      --output reports/cwe.pdf")]
pub(crate) struct ProjectReportArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Json)]
    pub(crate) format: Format,
    /// Include every finding, not only the summary
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) detailed: bool,
    /// File to write (folders are created; `-` for stdout) [default: <owasp|cwe>-report-<project>.<format>]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(
    global: GlobalArgs,
    out: Printer,
    kind: Kind,
    args: ProjectReportArgs,
) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let (kind, format) = (kind.as_str(), args.format.as_str());
    let mut dest = Dest::open(
        args.output.as_deref(),
        &format!("{kind}-report-{project}.{format}"),
        args.format,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let n = reports::download(
        &api,
        Scope::Project(&project),
        kind,
        format,
        args.detailed,
        dest.writer(),
    )
    .await?;
    dest.finish(&app, n)
}
