//! `team list`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, opt, table};
use crate::output::Printer;

/// `team list`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
--json prints the server's answer as sent (an array, or an object with `teams`).

Examples:
  cybedefend team list --organization-id ORG")]
pub(crate) struct ListArgs {
    /// Organisation
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) organization_id: String,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ListArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::list(&api, &args.organization_id).await?;
    if a.view.teams.is_empty() && !args.out.json {
        app.out.info("No teams found.");
        return Ok(0);
    }
    data::show(&app, args.out.json, &a.raw, || {
        let rows: Vec<Vec<String>> = a
            .view
            .teams
            .iter()
            .map(|t| vec![opt(t.id()), cell(&t.name), cell(&t.description)])
            .collect();
        table(&["ID", "NAME", "DESCRIPTION"], &rows)
    })?;
    Ok(0)
}
