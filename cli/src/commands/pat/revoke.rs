//! `pat revoke`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::user;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `pat revoke`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Anything using the PAT stops working at once. At a terminal you are asked to confirm unless
--yes is given; without a terminal (scripts, CI) --yes is required (exit 2 without it).

Examples:
  cybedefend pat revoke --name ci-nightly --yes")]
pub(crate) struct RevokeArgs {
    /// Name of the PAT
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: RevokeArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    if let Some(no) = crate::commands::confirmed(
        &app,
        args.yes,
        &format!("Revoke the PAT `{}`?", args.name),
        &format!(
            "cybedefend pat revoke --name {}",
            cybedefend_core::text::shell_word(&args.name)
        ),
        "Nothing was revoked.",
    )? {
        return Ok(no);
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = user::revoke_pat(&api, &args.name).await?;
    data::done(
        &app,
        args.out.json,
        &user::masked(&raw),
        &format!("PAT `{}` revoked", args.name),
    )
}
