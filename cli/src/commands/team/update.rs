//! `team update`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team update`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Only what is given is sent.

Examples:
  cybedefend team update --team-id TEAM --name platform
  cybedefend team update --team-id TEAM --description \"Platform engineering\"")]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["name", "description"])))]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// New name
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: Option<String>,
    /// New description
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: UpdateArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = teams::update(
        &api,
        &args.team.id,
        args.name.as_deref(),
        args.description.as_deref(),
    )
    .await?;
    // the changed team on stdout, as the official CLI prints it; the confirmation on stderr
    app.out.success(&format!("team {} updated", args.team.id));
    let team: Option<teams::Team> = raw
        .get("updatedTeam")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    data::show(&app, args.out.json, &raw, || {
        team.as_ref().map(super::describe).unwrap_or_default()
    })?;
    Ok(Exit::Success)
}
