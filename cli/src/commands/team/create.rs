//! `team create`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `team create`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team create --organization-id ORG --name backend \\
      --description \"Backend services\"")]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    /// Team name
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// Description
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: String,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: CreateArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::create(&api, &args.organization.id, &args.name, &args.description).await?;
    app.out.success(&format!(
        "team `{}` created ({})",
        args.name,
        a.view.id().unwrap_or("no id in the answer")
    ));
    data::show(&app, args.out.json, &a.raw, || super::describe(&a.view))?;
    Ok(Exit::Success)
}
