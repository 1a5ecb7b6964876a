//! `overview project`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::overview;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `overview project`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend overview project --project-id ID
  cybedefend overview project --project-id ID --branches main,develop --json")]
pub(crate) struct ProjectArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Only these branches (comma-separated)
    #[arg(long, value_name = "LIST")]
    pub(crate) branches: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ProjectArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let branches = args.branches.as_deref().map(data::list).unwrap_or_default();
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = overview::project(&api, &project, &branches).await?;
    let text = super::describe(&a.view);
    if text.is_empty() && !args.out.json {
        app.out.info(
            "the answer holds none of the fields shown here (counts, risk); `--json` prints it whole",
        );
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &a.raw, || text)?;
    Ok(Exit::Success)
}
