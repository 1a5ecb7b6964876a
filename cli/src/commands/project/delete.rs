//! `project delete`.

use clap::Args;
use cybedefend_core::platform::projects;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `project delete`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The project, its scans and its findings are deleted on the platform; there is no undo. At a
terminal you are asked to confirm unless --yes is given; scripts and CI (no terminal) are not
asked, as with the official CLI.

Examples:
  cybedefend project delete --project-id ID
  cybedefend project delete --project-id ID --yes")]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: DeleteArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    if !args.yes
        && app.interactive()
        && !crate::commands::confirm(&format!("Delete project {project} and all its results?"))?
    {
        return Err(Error::failure("not confirmed; nothing was deleted"));
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let raw = projects::delete(&api, &project).await?;
    data::done(
        &app,
        args.out.json,
        &raw,
        &format!("project {project} deleted"),
    )
}
