//! `pat revoke`.

use clap::Args;
use cybedefend_core::platform::user;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `pat revoke`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Anything using the PAT stops working at once. At a terminal you are asked to confirm unless
--yes is given.

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
    if !args.yes
        && app.interactive()
        && !crate::commands::confirm(&format!("Revoke the PAT `{}`?", args.name))?
    {
        return Err(Error::failure("not confirmed; nothing was revoked"));
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
