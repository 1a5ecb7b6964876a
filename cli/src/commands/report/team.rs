//! `report team`: an team's OWASP Top 10 or CWE Top 25 report.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format, Kind};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::output::Printer;

/// `report team`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report team --team-id ID                          # team-owasp-ID.json
  cybedefend report team --team-id ID --type cwe --format html --output reports/cwe.html")]
pub(crate) struct TeamArgs {
    /// Team
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) team_id: String,
    /// Report
    #[arg(long = "type", value_enum, ignore_case = true, default_value_t = Kind::Owasp)]
    pub(crate) kind: Kind,
    /// Format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Json)]
    pub(crate) format: Format,
    /// Include every finding, not only the summary
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) detailed: bool,
    /// File to write (folders are created; `-` for stdout) [default: team-<type>-<id>.<format>]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: TeamArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let (kind, format) = (args.kind.as_str(), args.format.as_str());
    let mut dest = Dest::open(
        args.output.as_deref(),
        &format!("team-{kind}-{}.{format}", args.team_id),
        args.format,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let n = reports::download(
        &api,
        Scope::Team(&args.team_id),
        kind,
        format,
        args.detailed,
        dest.writer(),
    )
    .await?;
    dest.finish(&app, n)
}
