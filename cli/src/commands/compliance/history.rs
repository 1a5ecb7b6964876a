//! `compliance history`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::compliance;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, opt, table, when};
use crate::exit::Exit;
use crate::output::Printer;

/// `compliance history`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend compliance history --project-id ID
  cybedefend compliance history --project-id ID --start-date 2026-01-01 --json")]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Page
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) page: u64,
    /// Evaluations per page
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) page_size: u64,
    /// From this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) start_date: Option<String>,
    /// Until this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) end_date: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: HistoryArgs) -> Result<Exit> {
    data::ordered(
        "--start-date",
        args.start_date.as_deref(),
        "--end-date",
        args.end_date.as_deref(),
    )?;
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let mut q = vec![
        ("page".to_owned(), args.page.to_string()),
        ("pageSize".to_owned(), args.page_size.to_string()),
    ];
    if let Some(d) = &args.start_date {
        q.push(("startDate".into(), d.clone()));
    }
    if let Some(d) = &args.end_date {
        q.push(("endDate".into(), d.clone()));
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = compliance::history(&api, &project, &q).await?;
    if a.view.entries.is_empty() && !args.out.json {
        match a.view.total {
            Some(t) if t > 0 => app.out.info(&format!(
                "page {} is past the last evaluation ({t} in all)",
                args.page
            )),
            _ => app.out.info("No policy evaluations yet."),
        }
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &a.raw, || {
        let rows: Vec<Vec<String>> = a
            .view
            .entries
            .iter()
            .map(|e| {
                vec![
                    when(e.evaluated_at.as_deref()),
                    opt(e.evaluation_id.as_deref()),
                    opt(e.scan_id.as_deref()),
                    match e.compliant {
                        Some(true) => "yes".into(),
                        Some(false) => "NO".into(),
                        None => "-".into(),
                    },
                    opt(e.blocking),
                    opt(e.warnings),
                ]
            })
            .collect();
        let mut t = table(
            &[
                "EVALUATED",
                "EVALUATION",
                "SCAN",
                "COMPLIANT",
                "BLOCKING",
                "WARNINGS",
            ],
            &rows,
        );
        t.push_str(&format!("\n\n{} evaluations in all", opt(a.view.total)));
        t
    })?;
    Ok(Exit::Success)
}
