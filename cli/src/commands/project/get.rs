//! `project get`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::projects;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `project get`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend project get --project-id ID
  CYBEDEFEND_PROJECT_ID=ID cybedefend project get --json")]
pub(crate) struct GetArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: GetArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = projects::get(&api, &project).await?;
    data::show(&app, args.out.json, &data::project_json(&a.raw), || {
        super::describe(&a.view)
    })?;
    Ok(Exit::Success)
}
