//! After the scan: the summary by severity, `--break-on-fail`, `--break-on-severity`, the
//! policy evaluation, and the job summary for GitHub Actions.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use cybedefend_core::platform::results::{
    Budget, Finding, Pages, RESULT_TYPES, ResultsQuery, SEVERITIES,
};
use cybedefend_core::platform::scan::ScanStatus;
use cybedefend_core::platform::{Api, policies};
use cybedefend_core::{Error, Result, env};

use crate::app::App;
use crate::commands::results::report::place;
use crate::exit::Exit;
use clap::{Args, ValueEnum};
use cybedefend_core::duration::Span;

mod wait;

/// Severity threshold of `--break-on-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Threshold {
    /// Critical findings
    Critical,
    /// High and above
    High,
    /// Medium and above
    Medium,
    /// Any severity
    Low,
    /// Never break
    None,
}

impl Threshold {
    /// Index into `SEVERITIES` (most severe first), or `None` for `none`.
    pub(crate) fn rank(self) -> Option<usize> {
        match self {
            Threshold::Critical => Some(0),
            Threshold::High => Some(1),
            Threshold::Medium => Some(2),
            Threshold::Low => Some(3),
            Threshold::None => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Threshold::Critical => "critical",
            Threshold::High => "high",
            Threshold::Medium => "medium",
            Threshold::Low => "low",
            Threshold::None => "none",
        }
    }
}

/// Waiting and the gates after a scan (`scan`, `container scan`).
#[derive(Debug, Clone, Args)]
pub(crate) struct GateArgs {
    /// The result types the severity gate counts (`container scan`: container findings only);
    /// every type when not set.
    #[arg(skip)]
    pub(crate) kinds: Option<&'static [&'static str]>,
    /// Time between status checks
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub(crate) interval: Span,
    /// Give up waiting after this long (the scan goes on on the platform)
    #[arg(long, default_value = "30m", value_name = "DURATION")]
    pub(crate) timeout: Span,
    /// Exit 1 if the scan fails
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) break_on_fail: bool,
    /// Exit 1 if an open finding has this severity or above
    #[arg(long, value_enum, ignore_case = true, value_name = "SEVERITY")]
    pub(crate) break_on_severity: Option<Threshold>,
    /// Evaluate the project's policies after the scan (exit 1 on a blocking violation)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) policy_check: bool,
    /// How long to wait for the policy evaluation
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub(crate) policy_timeout: Span,
    /// List up to 5 findings per policy violation
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) show_policy_vulns: bool,
    /// List every finding per policy violation
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) show_all_policy_vulns: bool,
}

/// The Markdown summary for `$GITHUB_STEP_SUMMARY`.
pub(crate) struct Summary {
    md: String,
}

impl Summary {
    pub(crate) fn new(scan_id: &str, project: &str, branch: &str) -> Self {
        let mut md = String::from("# CybeDefend scan\n\n| | |\n|---|---|\n");
        let _ = writeln!(md, "| Scan ID | `{scan_id}` |");
        let _ = writeln!(md, "| Project ID | `{project}` |");
        if !branch.is_empty() {
            let _ = writeln!(md, "| Branch | `{}` |", branch.replace('`', "'"));
        }
        md.push('\n');
        Self { md }
    }

    /// Appends the result and writes the summary file (GitHub Actions only).
    pub(crate) fn write(&mut self, passed: bool, message: &str) {
        let _ = writeln!(
            self.md,
            "\n---\n## Result: {}\n\n{message}\n",
            if passed { "PASSED ✅" } else { "FAILED ❌" }
        );
        let Some(path) = env::path_var(env::GITHUB_STEP_SUMMARY) else {
            return;
        };
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = f.write_all(cybedefend_core::secret::redact::redact(&self.md).as_bytes());
        }
    }
}

/// A started scan that a command follows to its end, and the gates it applies then.
#[derive(Clone, Copy)]
pub(crate) struct Followed<'a, 'b> {
    pub(crate) app: &'a App,
    pub(crate) api: &'a Api<'b>,
    pub(crate) project: &'a str,
    pub(crate) scan_id: &'a str,
    pub(crate) branch: &'a str,
    pub(crate) args: &'a GateArgs,
}

impl Followed<'_, '_> {
    /// The job summary of this scan (`$GITHUB_STEP_SUMMARY`).
    pub(crate) fn summary(&self) -> Summary {
        Summary::new(self.scan_id, self.project, self.branch)
    }
}

/// Waits for the scan to finish, then applies every gate; the exit code (`scan` and
/// `container scan`).
pub(crate) async fn follow(scan: Followed<'_, '_>, summary: &mut Summary) -> Result<Exit> {
    let status = wait::until_done(scan, summary).await?;
    apply(scan, status, summary).await
}

/// How many findings a tripped gate lists.
const TOP: usize = 10;

/// One type's open findings by severity, and its most severe ones at or above a threshold.
#[derive(Default)]
struct Tally {
    counts: [u64; 4],
    other: u64,
    top: Vec<(usize, Finding)>,
}

impl Tally {
    fn add(&mut self, findings: Vec<Finding>, threshold: Option<usize>) {
        for f in findings.into_iter().filter(|f| f.is_open()) {
            match SEVERITIES.iter().position(|s| *s == f.severity) {
                Some(i) => {
                    self.counts[i] += 1;
                    if threshold.is_some_and(|rank| i <= rank) {
                        keep_top(&mut self.top, i, f);
                    }
                }
                None => self.other += 1,
            }
        }
    }
}

/// Keeps the [`TOP`] most severe findings (`rank` 0 is critical), first seen first among equals.
fn keep_top(top: &mut Vec<(usize, Finding)>, rank: usize, f: Finding) {
    if top.len() == TOP && top.last().is_some_and(|(r, _)| *r <= rank) {
        return;
    }
    let at = top.partition_point(|(r, _)| *r <= rank);
    top.insert(at, (rank, f));
    top.truncate(TOP);
}

/// Text for a Markdown table cell: one line, no `|`.
fn md_cell(text: &str) -> String {
    cybedefend_core::text::one_line(text, 120).replace('|', "\\|")
}

/// The findings that tripped a gate, most severe first: severity, type, rule, file:line.
fn tripped_by(top: &[(usize, Finding)], hits: u64) -> String {
    let mut s = String::from("Tripped by:\n");
    for (_, f) in top {
        let _ = writeln!(
            s,
            "  {:<9} {:<9} {}  {}",
            f.severity,
            cybedefend_core::text::one_line(&f.kind, 12),
            cybedefend_core::text::one_line(&f.name, 80),
            cybedefend_core::text::one_line(&place(f), 160)
        );
    }
    if hits > top.len() as u64 {
        let _ = writeln!(s, "  ... and {} more", hits - top.len() as u64);
    }
    s.trim_end().to_owned()
}

/// Applies every gate to a finished scan; the exit code.
async fn apply(scan: Followed<'_, '_>, status: ScanStatus, summary: &mut Summary) -> Result<Exit> {
    let Followed {
        app,
        api,
        project,
        scan_id,
        branch,
        args,
    } = scan;
    let _ = writeln!(
        summary.md,
        "## Scan status: {}\n",
        status.state.to_ascii_uppercase()
    );
    if status.state == "failed" {
        let why = status
            .error_message
            .clone()
            .unwrap_or_else(|| "no reason given".into());
        if args.break_on_fail {
            summary.write(false, &format!("The scan failed: {why}"));
            return Err(Error::failure(format!("the scan failed: {why}")));
        }
        app.out.warn(&format!(
            "the scan failed ({why}); exit code 0 because --break-on-fail is not set"
        ));
        summary.write(true, "The scan failed; --break-on-fail is not set.");
        return Ok(Exit::Success);
    }

    // Open findings by severity, over every result type and page.
    let q = ResultsQuery {
        branch: Some(branch.to_owned()).filter(|b| !b.is_empty()),
        severities: Vec::new(),
        open_only: true,
    };
    let threshold = args
        .break_on_severity
        .and_then(|t| t.rank().map(|r| (t, r)));
    let budget = Budget::default();
    let kinds = args.kinds.unwrap_or(RESULT_TYPES);
    let seen = budget.seen();
    let pages = Pages::new(api, project, &q, &budget, app.http_concurrency());
    let mut progress = crate::progress::Progress::new(
        app,
        "Counting findings",
        None,
        crate::progress::Unit::Things("findings"),
    );
    // every type at once, each counted on its own and the counts added in type order (so that
    // the findings listed are the same whatever order the pages came in)
    let each = kinds.iter().map(|kind| {
        let pages = &pages;
        async move {
            let mut tally = Tally::default();
            let fetched = pages
                .each(kind, &mut |findings| {
                    tally.add(findings, threshold.map(|(_, rank)| rank));
                    Ok(())
                })
                .await;
            match fetched {
                Ok(_) => Ok(Ok(tally)),
                // A gate cannot be decided on a partial count.
                Err(e) if threshold.is_some() => Err(e),
                Err(e) => Ok(Err(e)),
            }
        }
    });
    let tallies = crate::progress::following(
        &mut progress,
        &seen,
        futures_util::future::try_join_all(each),
    )
    .await?;
    let mut counts = [0u64; 4];
    let mut other = 0u64;
    // the most severe open findings at or above the threshold, for a gate that trips
    let mut top: Vec<(usize, Finding)> = Vec::new();
    for tally in tallies {
        match tally {
            Ok(t) => {
                for (a, n) in counts.iter_mut().zip(t.counts) {
                    *a += n;
                }
                other += t.other;
                for (rank, f) in t.top {
                    keep_top(&mut top, rank, f);
                }
            }
            Err(e) => app
                .out
                .warn(&format!("{} (left out of the summary)", e.message())),
        }
    }
    progress.finish();
    let mut table = String::from("Open findings by severity:\n");
    let _ = writeln!(summary.md, "| Severity | Open findings |\n|---|---|");
    for (i, s) in SEVERITIES.iter().enumerate() {
        let _ = writeln!(table, "  {s:<9} {}", counts[i]);
        let _ = writeln!(summary.md, "| {s} | {} |", counts[i]);
    }
    if other > 0 {
        let _ = writeln!(table, "  {:<9} {other}", "other");
    }
    app.out.data(table.trim_end());

    if let Some((t, rank)) = threshold {
        let name = t.name();
        let hits: u64 = counts[..=rank].iter().sum();
        if hits > 0 {
            let msg = format!("{hits} open finding(s) of severity {name} or above");
            let listed = tripped_by(&top, hits);
            let word = cybedefend_core::text::shell_word;
            let next = if branch.is_empty() {
                format!("cybedefend results --project-id {} -o html", word(project))
            } else {
                format!(
                    "cybedefend results --project-id {} --branch {} -o html",
                    word(project),
                    word(branch)
                )
            };
            let _ = writeln!(summary.md, "\n### What tripped the gate\n");
            let _ = writeln!(
                summary.md,
                "| Severity | Type | Finding | Where |\n|---|---|---|---|"
            );
            for (_, f) in &top {
                let _ = writeln!(
                    summary.md,
                    "| {} | {} | {} | `{}` |",
                    f.severity,
                    md_cell(&f.kind),
                    md_cell(&f.name),
                    md_cell(&place(f)).replace('`', "'")
                );
            }
            let _ = writeln!(summary.md, "\nEvery finding: `{next}`\n");
            summary.write(false, &msg);
            app.out.data(&listed);
            app.out.error(
                &Error::failure(format!("gate: {msg} (--break-on-severity {name})"))
                    .with_hint(format!("every finding, as a report: `{next}`")),
            );
            return Ok(Exit::Failed);
        }
        app.out
            .success(&format!("No open finding of severity {name} or above"));
    }

    if !args.policy_check {
        summary.write(true, "Policy evaluation disabled.");
        return Ok(Exit::Success);
    }
    policy_gate(app, api, project, scan_id, args, summary).await
}

async fn policy_gate(
    app: &App,
    api: &Api<'_>,
    project: &str,
    scan: &str,
    args: &GateArgs,
    summary: &mut Summary,
) -> Result<Exit> {
    let start = Instant::now();
    let limit = args.policy_timeout.get();
    let eval = loop {
        if start.elapsed() > limit {
            summary.write(false, "Policy evaluation timed out.");
            return Err(Error::failure(format!(
                "policy evaluation did not finish within {}",
                args.policy_timeout
            ))
            .with_hint("raise --policy-timeout, or skip it with --policy-check=false"));
        }
        let e = policies::evaluation_status(api, project, scan).await?;
        if e.has_evaluation == Some(false) {
            app.out.info("No policy evaluation available for this scan");
            summary.write(true, "No policy evaluation available.");
            return Ok(Exit::Success);
        }
        match e.status.as_str() {
            "COMPLETED" | "FAILED" | "NOT_STARTED" => break e,
            "IN_PROGRESS" => tracing::debug!(
                "policy evaluation: {:.0}%",
                e.progress.unwrap_or(0.0).clamp(0.0, 100.0)
            ),
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(2).min(limit / 4)).await;
    };
    match eval.status.as_str() {
        "NOT_STARTED" => {
            app.out.info("No policies configured for this project");
            summary.write(true, "No policies configured.");
            return Ok(Exit::Success);
        }
        "FAILED" => {
            summary.write(false, "Policy evaluation failed.");
            return Err(Error::failure(format!(
                "policy evaluation failed: {}",
                eval.message
            )));
        }
        _ => {}
    }
    let violations = policies::violations(api, project, scan).await?;
    let blocking: Vec<_> = violations.iter().filter(|v| v.is_blocking()).collect();
    let acknowledged: Vec<_> = violations
        .iter()
        .filter(|v| v.action == "BLOCK" && v.acknowledged)
        .collect();
    let warnings: Vec<_> = violations.iter().filter(|v| v.action != "BLOCK").collect();
    let _ = writeln!(
        summary.md,
        "\n## Policy evaluation\n\n| Blocking | Warnings | Acknowledged |\n|---|---|---|\n| {} | {} | {} |",
        blocking.len(),
        warnings.len(),
        acknowledged.len()
    );
    if violations.is_empty() {
        app.out.success("Policy check passed: no violations");
        summary.write(true, "No policy violations.");
        return Ok(Exit::Success);
    }
    let shown = if args.show_all_policy_vulns {
        usize::MAX
    } else if args.show_policy_vulns {
        5
    } else {
        0
    };
    let app_url = app.endpoints().map(|e| e.app_url).unwrap_or_default();
    let mut text = String::new();
    for (label, list) in [
        ("Blocking", &blocking),
        ("Acknowledged", &acknowledged),
        ("Warning", &warnings),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(text, "{label} policy violations ({}):", list.len());
        // what blocks is always shown (three findings a rule at least): a tripped gate says
        // what tripped it
        let shown = if label == "Blocking" {
            shown.max(3)
        } else {
            shown
        };
        for v in list.iter() {
            let _ = writeln!(
                text,
                "  - {}: {} ({} finding(s))",
                v.rule, v.description, v.affected_count
            );
            if v.acknowledged && !v.acknowledgement_reason.is_empty() {
                let _ = writeln!(text, "    acknowledged: {}", v.acknowledgement_reason);
            }
            for a in v.affected.iter().take(shown) {
                let _ = writeln!(text, "    → [{}] {} - {}", a.severity, a.name, a.location);
                let pid = if v.project_id.is_empty() {
                    project
                } else {
                    v.project_id.as_str()
                };
                let _ = writeln!(
                    text,
                    "      {app_url}/project/{}/{}/issue/{}",
                    cybedefend_core::platform::seg(pid),
                    cybedefend_core::platform::seg(&a.kind),
                    cybedefend_core::platform::seg(&a.id)
                );
            }
            if v.affected.len() > shown && shown > 0 {
                let _ = writeln!(text, "    ... and {} more", v.affected.len() - shown);
            }
        }
    }
    app.out.data(text.trim_end());
    if blocking.is_empty() {
        app.out
            .success("Policy check passed: no blocking violation");
        summary.write(true, "No blocking policy violation.");
        Ok(Exit::Success)
    } else {
        let msg = format!("{} blocking policy violation(s)", blocking.len());
        let _ = writeln!(summary.md, "\n### Blocking violations\n");
        for v in &blocking {
            let _ = writeln!(
                summary.md,
                "- **{}**: {} ({} finding(s))",
                md_cell(&v.rule),
                md_cell(&v.description),
                v.affected_count
            );
        }
        let next = format!(
            "cybedefend compliance violations --project-id {}",
            cybedefend_core::text::shell_word(project)
        );
        let _ = writeln!(summary.md, "\nEvery violation: `{next}`\n");
        app.out
            .error(&Error::failure(format!("gate: {msg}")).with_hint(format!(
                "`{next}` lists every violation; --show-all-policy-vulns shows every finding"
            )));
        summary.write(false, &msg);
        Ok(Exit::Failed)
    }
}
