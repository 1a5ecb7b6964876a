//! `team`: create, delete, get, list, update, and members.

pub(crate) mod add_member;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod members;
pub(crate) mod remove_member;
pub(crate) mod update;
pub(crate) mod update_member;

use clap::{Subcommand, ValueEnum};
use cybedefend_core::Result;
use cybedefend_core::platform::teams::Team;

use crate::args::GlobalArgs;
use crate::commands::data::{fields, opt};
use crate::exit::Exit;
use crate::output::Printer;

/// `team` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TeamCommand {
    /// Create a team in an organisation
    Create(create::CreateArgs),
    /// Delete a team
    Delete(delete::DeleteArgs),
    /// Show a team
    Get(get::GetArgs),
    /// List an organisation's teams
    List(list::ListArgs),
    /// Rename a team or change its description
    Update(update::UpdateArgs),
    /// List a team's members
    Members(members::MembersArgs),
    /// Add a user to a team
    AddMember(add_member::AddMemberArgs),
    /// Change a member's role
    UpdateMember(update_member::UpdateMemberArgs),
    /// Remove a user from a team
    RemoveMember(remove_member::RemoveMemberArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: TeamCommand) -> Result<Exit> {
    match cmd {
        TeamCommand::Create(a) => create::run(global, out, a).await,
        TeamCommand::Delete(a) => delete::run(global, out, a).await,
        TeamCommand::Get(a) => get::run(global, out, a).await,
        TeamCommand::List(a) => list::run(global, out, a).await,
        TeamCommand::Update(a) => update::run(global, out, a).await,
        TeamCommand::Members(a) => members::run(global, out, a).await,
        TeamCommand::AddMember(a) => add_member::run(global, out, a).await,
        TeamCommand::UpdateMember(a) => update_member::run(global, out, a).await,
        TeamCommand::RemoveMember(a) => remove_member::run(global, out, a).await,
    }
}

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Manages the team and its projects
    TeamManager,
    /// Triages findings
    AnalystDeveloper,
    /// Works on findings
    Developer,
    /// Reads only
    ReadOnly,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::TeamManager => "team_manager",
            Role::AnalystDeveloper => "analyst_developer",
            Role::Developer => "developer",
            Role::ReadOnly => "read_only",
        }
    }
}

/// A team as `field: value` lines.
pub(crate) fn describe(t: &Team) -> String {
    let mut rows = vec![
        ("id", opt(t.id())),
        ("name", opt(Some(&t.name))),
        ("description", opt(Some(&t.description))),
    ];
    if let Some(c) = t.created_at.as_deref() {
        rows.push(("created", crate::commands::data::when(Some(c))));
    }
    fields(&rows)
}
