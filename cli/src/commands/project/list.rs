//! `project list`: every project of an organisation, every page.

use clap::Args;
use cybedefend_core::platform::projects;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, number, opt, table};
use crate::exit::Exit;
use crate::output::Printer;

/// `project list`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Every page is fetched. --json prints an array of the server's project objects, whole.
Without --organization-id, the account's organisation is used when it has only one; otherwise
the error lists them (`cybedefend auth status` shows them too).

Examples:
  cybedefend project list
  cybedefend project list --organization-id ORG
  cybedefend project list --search web --json | jq -r '.[].projectId'")]
pub(crate) struct ListArgs {
    /// Organisation [default: the account's only organisation]
    #[arg(long = "organization-id", value_name = "ID", value_parser = data::id)]
    pub(crate) organization: Option<String>,
    /// Only projects whose name contains this
    #[arg(long, value_name = "TEXT", value_parser = crate::commands::data::search)]
    pub(crate) search: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ListArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let organization = match args.organization {
        Some(id) => id,
        None => only_organization(&app, &api).await?,
    };
    let (raw, views) = projects::all(&api, &organization, args.search.as_deref()).await?;
    if views.is_empty() && !args.out.json {
        app.out.info("No projects found.");
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &serde_json::Value::Array(raw), || {
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|p| {
                vec![
                    opt(p.id()),
                    cell(&p.name),
                    opt(p.team_name.as_deref()),
                    format!("{} {}", opt(p.risk_level.as_deref()), number(p.risk_score)),
                    p.issues.map_or_else(
                        || "-".to_owned(),
                        |i| {
                            format!(
                                "{}/{}/{}/{}",
                                opt(i.critical),
                                opt(i.high),
                                opt(i.medium),
                                opt(i.low)
                            )
                        },
                    ),
                    crate::commands::data::when(p.updated_at.as_deref()),
                ]
            })
            .collect();
        let mut t = table(
            &["ID", "NAME", "TEAM", "RISK", "OPEN C/H/M/L", "UPDATED"],
            &rows,
        );
        t.push_str(&format!(
            "\n\n{} project{}; OPEN: open findings by severity (critical/high/medium/low)",
            views.len(),
            if views.len() == 1 { "" } else { "s" }
        ));
        t
    })?;
    Ok(Exit::Success)
}

/// The account's organisation when it has exactly one (said on stderr); otherwise a usage
/// error that lists them, each with the command to run.
async fn only_organization(app: &App, api: &cybedefend_core::platform::Api<'_>) -> Result<String> {
    let profile = cybedefend_core::platform::user::profile(api).await?.view;
    let orgs: Vec<(&str, &str)> = profile
        .organizations
        .iter()
        .filter_map(|o| o.id.as_deref().map(|id| (id, o.name.as_str())))
        .collect();
    match orgs.as_slice() {
        [(id, name)] => {
            app.out.note(&format!(
                "organisation {} (id {id}), the account's only one",
                cell(name)
            ));
            Ok((*id).to_owned())
        }
        [] => Err(Error::usage(
            "--organization-id is required: this account belongs to no organisation",
        )
        .with_hint("ask an administrator of your organisation for an invitation, or pass --organization-id ID")),
        many => Err(Error::usage(format!(
            "--organization-id is required: this account belongs to {} organisations: {}",
            many.len(),
            many.iter()
                .take(20)
                .map(|(id, name)| format!("{} (id {id})", cell(name)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint(format!(
            "cybedefend project list --organization-id {}",
            cybedefend_core::text::shell_word(many[0].0)
        ))),
    }
}
