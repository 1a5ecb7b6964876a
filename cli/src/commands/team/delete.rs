//! `team delete`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team delete`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The team is deleted on the platform; there is no undo. At a terminal you are asked to confirm
unless --yes is given; without a terminal (scripts, CI) --yes is required (exit 2 without it).

Examples:
  cybedefend team delete --team-id TEAM --yes")]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: DeleteArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    if let Some(no) = crate::commands::confirmed(
        &app,
        args.yes,
        &format!("Delete team {}?", args.team.id),
        &format!(
            "cybedefend team delete --team-id {}",
            cybedefend_core::text::shell_word(&args.team.id)
        ),
        "Nothing was deleted.",
    )? {
        return Ok(no);
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = teams::delete(&api, &args.team.id).await?;
    data::done(
        &app,
        args.out.json,
        &raw,
        &format!("team {} deleted", args.team.id),
    )
}
