//! `team update-member`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use super::Role;
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team update-member`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team update-member --team-id TEAM --user-id USER --role read_only")]
pub(crate) struct UpdateMemberArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// User
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) user_id: String,
    /// New role
    #[arg(long, value_enum)]
    pub(crate) role: Role,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: UpdateMemberArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = teams::update_member(&api, &args.team.id, &args.user_id, args.role.as_str()).await?;
    data::done(
        &app,
        args.out.json,
        &raw,
        &format!(
            "user {} is now {} in team {}",
            args.user_id,
            args.role.as_str(),
            args.team.id
        ),
    )
}
