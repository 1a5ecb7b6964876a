//! `overview org`.

use clap::Args;
use cybedefend_core::Result;
use cybedefend_core::platform::overview;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `overview org`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Lists are comma-separated. Severities: CRITICAL, HIGH, MEDIUM, LOW; states: to_verify, confirmed,
in_review, resolved, ignored; analysis types: SAST, SCA, IAC, CONTAINER, CICD, SECRET.

Examples:
  cybedefend overview org --organization-id ORG
  cybedefend overview org --organization-id ORG \\
      --severity-filter CRITICAL,HIGH --date-from 2026-01-01")]
pub(crate) struct OrgArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    /// Only these severities
    #[arg(long, value_name = "LIST")]
    pub(crate) severity_filter: Option<String>,
    /// Only these states
    #[arg(long, value_name = "LIST")]
    pub(crate) status_filter: Option<String>,
    /// Only these analysis types
    #[arg(long, value_name = "LIST")]
    pub(crate) analysis_types: Option<String>,
    /// Only these branches
    #[arg(long, value_name = "LIST")]
    pub(crate) branches: Option<String>,
    /// Only these teams
    #[arg(long, value_name = "LIST")]
    pub(crate) team_ids: Option<String>,
    /// From this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) date_from: Option<String>,
    /// Until this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = data::date)]
    pub(crate) date_to: Option<String>,
    /// Days of the trend (0: the platform's default)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3650))]
    pub(crate) trend_period_days: u64,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: OrgArgs) -> Result<Exit> {
    let mut q: Vec<(String, String)> = Vec::new();
    let checked = [
        (
            "severityFilter",
            data::one_of(
                "--severity-filter",
                args.severity_filter.as_deref(),
                &["CRITICAL", "HIGH", "MEDIUM", "LOW"],
            )?,
        ),
        (
            "statusFilter",
            data::one_of(
                "--status-filter",
                args.status_filter.as_deref(),
                &["to_verify", "confirmed", "in_review", "resolved", "ignored"],
            )?,
        ),
        (
            "analysisTypes",
            data::one_of(
                "--analysis-types",
                args.analysis_types.as_deref(),
                &["SAST", "SCA", "IAC", "CONTAINER", "CICD", "SECRET"],
            )?,
        ),
        (
            "branches",
            args.branches.as_deref().map(data::list).unwrap_or_default(),
        ),
        ("teamIds", {
            let ids = args.team_ids.as_deref().map(data::list).unwrap_or_default();
            for id in &ids {
                data::id(id).map_err(|e| {
                    cybedefend_core::Error::usage(format!(
                        "--team-ids: `{}` {e}",
                        cybedefend_core::text::one_line(id, 60)
                    ))
                })?;
            }
            ids
        }),
    ];
    for (key, values) in checked {
        for v in values {
            q.push((key.to_owned(), v));
        }
    }
    data::ordered(
        "--date-from",
        args.date_from.as_deref(),
        "--date-to",
        args.date_to.as_deref(),
    )?;
    let app = App::load(global, out)?;
    for (key, value) in [("dateFrom", &args.date_from), ("dateTo", &args.date_to)] {
        if let Some(v) = value {
            q.push((key.to_owned(), v.clone()));
        }
    }
    if args.trend_period_days > 0 {
        q.push(("trendPeriodDays".into(), args.trend_period_days.to_string()));
    }
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let a = overview::organization(&api, &args.organization.id, &q).await?;
    let text = super::describe(&a.view);
    if text.is_empty() && !args.out.json {
        app.out.info(
            "the answer holds none of the fields shown here (counts, risk); `--json` prints it whole",
        );
        return Ok(Exit::Success);
    }
    data::show(&app, args.out.json, &a.raw, || text)?;
    Ok(Exit::Success)
}
