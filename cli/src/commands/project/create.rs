//! `project create`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::projects::{self, NewProject};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `project create`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The switches are sent only when given (the platform's defaults apply otherwise).

Examples:
  cybedefend project create --team-id TEAM --name web-app
  cybedefend project create --team-id TEAM --name web-app --ai-merge-request \\
      --json | jq -r .projectId")]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// Project name
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// Open merge requests with AI fixes
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) ai_merge_request: Option<bool>,
    /// Let the platform improve results over time
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) improving_results: Option<bool>,
    /// Enable auto-fix
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) auto_fix: Option<bool>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: CreateArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let body = NewProject {
        name: args.name.clone(),
        ai_merge_request: args.ai_merge_request,
        improving_results: args.improving_results,
        auto_fix: args.auto_fix,
    };
    let a = projects::create(&api, &args.team.id, &body).await?;
    app.out.success(&format!(
        "project `{}` created ({})",
        args.name,
        a.view.id().unwrap_or("no id in the answer")
    ));
    data::show(&app, args.out.json, &data::project_json(&a.raw), || {
        super::describe(&a.view)
    })?;
    Ok(Exit::Success)
}
