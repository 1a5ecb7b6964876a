//! `compliance violations`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::compliance;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, cell, opt, table, when};
use crate::exit::Exit;
use crate::output::Printer;

/// `compliance violations`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend compliance violations --project-id ID
  cybedefend compliance violations --project-id ID --page 2 --limit 50 --json")]
pub(crate) struct ViolationsArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Page
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) page: u64,
    /// Violations per page
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) limit: u64,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ViolationsArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let q = vec![
        ("page".to_owned(), args.page.to_string()),
        ("limit".to_owned(), args.limit.to_string()),
    ];
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = compliance::violations(&api, &project, &q).await?;
    if a.view.violations.is_empty() && !args.out.json {
        app.out.info("No policy violations.");
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &a.raw, || {
        let rows: Vec<Vec<String>> = a
            .view
            .violations
            .iter()
            .map(|v| {
                vec![
                    cell(&v.action),
                    cell(&v.rule_name()),
                    opt(v.affected),
                    when(v.created_at.as_deref()),
                    opt(v.id.as_deref()),
                ]
            })
            .collect();
        let mut t = table(&["ACTION", "RULE", "FINDINGS", "CREATED", "ID"], &rows);
        t.push_str(&format!("\n\n{} violations in all", opt(a.view.total)));
        t
    })?;
    Ok(Exit::Success)
}
