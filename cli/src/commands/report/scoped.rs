//! `report org` and `report team`: an organisation's or a team's OWASP Top 10 or CWE Top 25
//! report.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::reports::{self, Scope};

use super::{Dest, Format, Kind};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::exit::Exit;
use crate::output::Printer;

/// What both take besides the id.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReportOptions {
    /// Report
    #[arg(long = "type", value_enum, ignore_case = true, default_value_t = Kind::Owasp)]
    pub(crate) kind: Kind,
    /// Format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Json)]
    pub(crate) format: Format,
    /// Include every finding, not only the summary
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) detailed: bool,
    /// File to write (folders are created; `-` for stdout) [default: <org|team>-<type>-<id>.<format>]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

/// `report org`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report org --organization-id ID     # org-owasp-ID.json
  cybedefend report org --organization-id ID --type cwe --format html \\
      --output reports/cwe.html")]
pub(crate) struct OrgArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    #[command(flatten)]
    pub(crate) options: ReportOptions,
}

/// `report team`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend report team --team-id ID     # team-owasp-ID.json
  cybedefend report team --team-id ID --type cwe --format pdf \\
      --output reports/team.pdf")]
pub(crate) struct TeamArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    #[command(flatten)]
    pub(crate) options: ReportOptions,
}

pub(crate) async fn org(global: GlobalArgs, out: Printer, args: OrgArgs) -> Result<Exit> {
    run(
        global,
        out,
        "org",
        Scope::Organization(&args.organization.id),
        &args.options,
    )
    .await
}

pub(crate) async fn team(global: GlobalArgs, out: Printer, args: TeamArgs) -> Result<Exit> {
    run(
        global,
        out,
        "team",
        Scope::Team(&args.team.id),
        &args.options,
    )
    .await
}

async fn run(
    global: GlobalArgs,
    out: Printer,
    name: &str,
    scope: Scope<'_>,
    o: &ReportOptions,
) -> Result<Exit> {
    let id = scope.id();
    let app = App::load(global, out)?;
    let (kind, format) = (o.kind.as_str(), o.format.as_str());
    let mut dest = Dest::open(
        o.output.as_deref(),
        &format!("{name}-{kind}-{id}.{format}"),
        o.format,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let n = reports::download(&api, scope, kind, format, o.detailed, dest.writer()).await?;
    dest.finish(&app, n)
}
