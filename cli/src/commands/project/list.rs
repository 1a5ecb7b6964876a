//! `project list`: every project of an organisation, every page.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::projects;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, number, opt, table};
use crate::exit::Exit;
use crate::output::Printer;

/// `project list`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Every page is fetched. --json prints an array of the server's project objects, whole.
The organisation ids this account belongs to are shown by `cybedefend auth status`.

Examples:
  cybedefend project list --organization-id ORG
  cybedefend project list --organization-id ORG --search web --json | jq -r '.[].projectId'")]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    /// Only projects whose name contains this
    #[arg(long, value_name = "TEXT", value_parser = crate::commands::data::search)]
    pub(crate) search: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ListArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let (raw, views) = projects::all(&api, &args.organization.id, args.search.as_deref()).await?;
    if views.is_empty() && !args.out.json {
        app.out.info("No projects found.");
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &serde_json::Value::Array(raw), || {
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|p| {
                vec![
                    opt(p.id()),
                    cell(&p.name),
                    opt(p.team_name.as_deref()),
                    format!("{} {}", opt(p.risk_level.as_deref()), number(p.risk_score)),
                    crate::commands::data::when(p.updated_at.as_deref()),
                ]
            })
            .collect();
        table(&["ID", "NAME", "TEAM", "RISK", "UPDATED"], &rows)
    })?;
    Ok(Exit::Success)
}
