//! `project delete`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::projects;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `project delete`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The project, its scans and its findings are deleted on the platform; there is no undo. At a
terminal you are asked to confirm unless --yes is given; without a terminal (scripts, CI) --yes
is required (exit 2 without it), where the official CLI deletes at once.

Exit codes: 0 deleted, 1 not confirmed or not found, 2 usage error (no --yes without a terminal),
3 the platform could not be reached, 4 no credential or access denied.

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
    if let Some(no) = crate::commands::confirmed(
        &app,
        args.yes,
        &format!("Delete project {project} and all its results?"),
        &format!(
            "cybedefend project delete --project-id {}",
            cybedefend_core::text::shell_word(&project)
        ),
        "Nothing was deleted.",
    )? {
        return Ok(no);
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
