//! `team get`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::output::Printer;

/// `team get`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team get --organization-id ORG --team-id TEAM")]
pub(crate) struct GetArgs {
    /// Organisation
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) organization_id: String,
    /// Team
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) team_id: String,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: GetArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::get(&api, &args.organization_id, &args.team_id).await?;
    data::show(&app, args.out.json, &a.raw, || super::describe(&a.view))?;
    Ok(0)
}
