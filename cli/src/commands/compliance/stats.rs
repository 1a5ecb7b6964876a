//! `compliance stats`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::compliance;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag, fields, opt};
use crate::exit::Exit;
use crate::output::Printer;

/// `compliance stats`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  cybedefend compliance stats --project-id ID --start-date 2026-01-01 \\
      --end-date 2026-01-31")]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// From this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) start_date: Option<String>,
    /// Until this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) end_date: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: StatsArgs) -> Result<Exit> {
    data::ordered(
        "--start-date",
        args.start_date.as_deref(),
        "--end-date",
        args.end_date.as_deref(),
    )?;
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let mut q = Vec::new();
    if let Some(d) = &args.start_date {
        q.push(("startDate".to_owned(), d.clone()));
    }
    if let Some(d) = &args.end_date {
        q.push(("endDate".to_owned(), d.clone()));
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = compliance::stats(&api, &project, &q).await?;
    data::show(&app, args.out.json, &a.raw, || {
        let v = &a.view;
        fields(&[
            ("status", opt(v.status.as_deref())),
            ("violations", opt(v.total)),
            ("blocked", opt(v.blocked)),
            ("warned", opt(v.warned)),
            ("policies", opt(v.policies)),
        ])
    })?;
    Ok(Exit::Success)
}
