//! `pat list`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::user;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, table};
use crate::exit::Exit;
use crate::output::Printer;

/// `pat list`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Values are never printed: --json prints the server's answer with every token value replaced by
\"***\".

Examples:
  cybedefend pat list
  cybedefend pat list --json | jq -r '.[].name'")]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ListArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = user::pats(&api).await?;
    if a.view.tokens.is_empty() && !args.out.json {
        app.out.info("No personal access tokens.");
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &user::masked(&a.raw), || {
        let rows: Vec<Vec<String>> = a
            .view
            .tokens
            .iter()
            .map(|t| {
                vec![
                    cell(&t.name),
                    super::when(t.created_at.as_deref()),
                    super::when(t.expires_at.as_deref()),
                ]
            })
            .collect();
        table(&["NAME", "CREATED", "EXPIRES"], &rows)
    })?;
    Ok(Exit::Success)
}
