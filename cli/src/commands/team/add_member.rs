//! `team add-member`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use super::Role;
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team add-member`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team add-member --team-id TEAM --user-id USER --role developer")]
pub(crate) struct AddMemberArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// User (their id, as `team members` shows)
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) user_id: String,
    /// Role in the team
    #[arg(long, value_enum)]
    pub(crate) role: Role,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: AddMemberArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = teams::add_member(&api, &args.team.id, &args.user_id, args.role.as_str()).await?;
    data::done(
        &app,
        args.out.json,
        &raw,
        &format!(
            "user {} added to team {} as {}",
            args.user_id,
            args.team.id,
            args.role.as_str()
        ),
    )
}
