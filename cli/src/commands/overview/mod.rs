//! `overview`: a project's or an organisation's findings at a glance.

pub(crate) mod org;
pub(crate) mod project;

use clap::Subcommand;
use cybedefend_core::Result;
use cybedefend_core::platform::overview::{Count, Overview};

use crate::args::GlobalArgs;
use crate::commands::data::{number, opt};
use crate::exit::Exit;
use crate::output::Printer;

/// `overview` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum OverviewCommand {
    /// A project's findings by severity, state and type, and its risk
    Project(project::ProjectArgs),
    /// An organisation's findings, projects and teams
    Org(org::OrgArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: OverviewCommand) -> Result<Exit> {
    match cmd {
        OverviewCommand::Project(a) => project::run(global, out, a).await,
        OverviewCommand::Org(a) => org::run(global, out, a).await,
    }
}

fn counts(title: &str, items: &[Count]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let w = items
        .iter()
        .map(|c| c.label().chars().count())
        .max()
        .unwrap_or(0);
    let mut s = format!("{title}:\n");
    for c in items {
        let label = crate::commands::data::cell(c.label());
        s.push_str(&format!("  {label:w$}  {}\n", opt(c.count)));
    }
    s
}

/// An overview as text.
pub(crate) fn describe(o: &Overview) -> String {
    let mut s = String::new();
    if o.total_projects.is_some() || o.total_teams.is_some() {
        s.push_str(&format!(
            "projects: {}   teams: {}\n",
            opt(o.total_projects),
            opt(o.total_teams)
        ));
    }
    if o.risk_level.is_some() || o.risk_score.is_some() {
        s.push_str(&format!(
            "risk: {} ({})\n",
            opt(o.risk_level.as_deref()),
            number(o.risk_score)
        ));
    }
    s.push_str(&counts("by severity", &o.by_severity));
    s.push_str(&counts("by state", &o.by_state));
    s.push_str(&counts("by type", &o.by_type));
    s.trim_end().to_owned()
}
