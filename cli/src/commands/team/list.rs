//! `team list`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, opt, table};
use crate::exit::Exit;
use crate::output::Printer;

/// `team list`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
--json prints the array of teams, as the official CLI does (the server may send the array, or an
object with `teams`).

Examples:
  cybedefend team list --organization-id ORG")]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ListArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::list(&api, &args.organization.id).await?;
    if a.view.teams.is_empty() && !args.out.json {
        app.out.info("No teams found.");
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &data::teams_json(&a.raw), || {
        let rows: Vec<Vec<String>> = a
            .view
            .teams
            .iter()
            .map(|t| vec![opt(t.id()), cell(&t.name), cell(&t.description)])
            .collect();
        table(&["ID", "NAME", "DESCRIPTION"], &rows)
    })?;
    Ok(Exit::Success)
}
