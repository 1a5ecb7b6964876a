//! `project`: create, get, delete, list.

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod list;

use clap::Subcommand;
use cybedefend_core::Result;
use cybedefend_core::platform::projects::Project;

use crate::args::GlobalArgs;
use crate::commands::data::{fields, number, opt};
use crate::exit::Exit;
use crate::output::Printer;

/// `project` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProjectCommand {
    /// Create a project in a team
    Create(create::CreateArgs),
    /// Show a project
    Get(get::GetArgs),
    /// Delete a project and its results
    Delete(delete::DeleteArgs),
    /// List an organisation's projects (every page)
    List(list::ListArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ProjectCommand) -> Result<Exit> {
    match cmd {
        ProjectCommand::Create(a) => create::run(global, out, a).await,
        ProjectCommand::Get(a) => get::run(global, out, a).await,
        ProjectCommand::Delete(a) => delete::run(global, out, a).await,
        ProjectCommand::List(a) => list::run(global, out, a).await,
    }
}

/// A project as `field: value` lines.
pub(crate) fn describe(p: &Project) -> String {
    fields(&[
        ("id", opt(p.id())),
        ("name", opt(Some(&p.name))),
        ("team", opt(p.team_name.as_deref().or(p.team_id.as_deref()))),
        ("team id", opt(p.team_id.as_deref())),
        (
            "risk",
            format!(
                "{} ({})",
                opt(p.risk_level.as_deref()),
                number(p.risk_score)
            ),
        ),
        (
            "created",
            crate::commands::data::when(p.created_at.as_deref()),
        ),
        (
            "updated",
            crate::commands::data::when(p.updated_at.as_deref()),
        ),
    ])
}
