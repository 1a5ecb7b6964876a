//! `pat rename`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::user;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `pat rename`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend pat rename --name ci --new-name ci-nightly")]
pub(crate) struct RenameArgs {
    /// Current name
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// New name
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) new_name: String,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: RenameArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = user::rename_pat(&api, &args.name, &args.new_name).await?;
    data::done(
        &app,
        args.out.json,
        &user::masked(&raw),
        &format!("PAT `{}` renamed to `{}`", args.name, args.new_name),
    )
}
