//! `team get`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team get`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team get --organization-id ORG --team-id TEAM")]
pub(crate) struct GetArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: GetArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::get(&api, &args.organization.id, &args.team.id).await?;
    data::show(&app, args.out.json, &a.raw, || super::describe(&a.view))?;
    Ok(Exit::Success)
}
