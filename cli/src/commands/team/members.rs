//! `team members`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::teams;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, opt, table};
use crate::exit::Exit;
use crate::output::Printer;

/// `team members`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend team members --team-id TEAM
  cybedefend team members --team-id TEAM --search alice --json")]
pub(crate) struct MembersArgs {
    #[command(flatten)]
    pub(crate) team: data::TeamId,
    /// Page
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) page: u64,
    /// Members per page (the platform serves at most 20)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub(crate) page_size: u64,
    /// Only members whose name or email contains this
    #[arg(long, value_name = "TEXT", value_parser = crate::commands::data::search)]
    pub(crate) search: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: MembersArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = teams::members(
        &api,
        &args.team.id,
        args.page,
        args.page_size,
        args.search.as_deref(),
    )
    .await?;
    if a.view.users.is_empty() && !args.out.json {
        let total = a.view.total_pages.unwrap_or(0);
        if args.page > 1 && args.page > total {
            app.out.info(&format!(
                "page {} is past the last page ({total})",
                args.page
            ));
        } else {
            app.out.info("No members.");
        }
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &a.raw, || {
        let rows: Vec<Vec<String>> = a
            .view
            .users
            .iter()
            .map(|m| {
                vec![
                    opt(m.id.as_deref()),
                    cell(&m.email),
                    cell(&m.name()),
                    cell(&m.role),
                ]
            })
            .collect();
        let mut t = table(&["ID", "EMAIL", "NAME", "ROLE"], &rows);
        t.push_str(&format!(
            "\n\npage {} of {} ({} members)",
            args.page,
            opt(a.view.total_pages),
            opt(a.view.total_users)
        ));
        t
    })?;
    Ok(Exit::Success)
}
