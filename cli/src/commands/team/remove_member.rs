//! `team remove-member`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team remove-member`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The user loses the team's access at once. At a terminal you are asked to confirm unless --yes is
given; without a terminal (scripts, CI) --yes is required (exit 2 without it).

Examples:
  cybedefend team remove-member --team-id TEAM --user-id USER
  cybedefend team remove-member --team-id TEAM --user-id USER --yes")]
pub(crate) struct RemoveMemberArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// User
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) user_id: String,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: RemoveMemberArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    if let Some(no) = crate::commands::confirmed(
        &app,
        args.yes,
        &format!("Remove user {} from team {}?", args.user_id, args.team.id),
        &format!(
            "cybedefend team remove-member --team-id {} --user-id {}",
            cybedefend_core::text::shell_word(&args.team.id),
            cybedefend_core::text::shell_word(&args.user_id)
        ),
        "Nothing was changed.",
    )? {
        return Ok(no);
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = teams::remove_member(&api, &args.team.id, &args.user_id).await?;
    data::done(
        &app,
        args.out.json,
        &raw,
        &format!("user {} removed from team {}", args.user_id, args.team.id),
    )
}
