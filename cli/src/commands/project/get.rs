//! `project get`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::projects;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::output::Printer;

/// `project get`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend project get --project-id ID
  CYBEDEFEND_PROJECT_ID=ID cybedefend project get --json")]
pub(crate) struct GetArgs {
    /// Project [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) project_id: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: GetArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let project = app.project_id(args.project_id.as_deref())?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = projects::get(&api, &project).await?;
    data::show(&app, args.out.json, &a.raw, || super::describe(&a.view))?;
    Ok(0)
}
