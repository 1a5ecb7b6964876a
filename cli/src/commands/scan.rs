//! `scan`: archive, upload, wait, summarise, evaluate policies, set the exit code.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cybedefend_core::api::Api;
use cybedefend_core::archive::{self, Plan};
use cybedefend_core::chain::parse_duration;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::paths::display;
use cybedefend_core::platform::{self, CLOSED_STATES, RESULT_TYPES, ResultsQuery, SEVERITIES};

use crate::app::App;
use crate::args::{GlobalArgs, ScanArgs};
use crate::output::Printer;

/// Compression level, as `zip -6`.
const LEVEL: i64 = 6;

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn severity_rank(s: &str) -> Option<usize> {
    SEVERITIES.iter().position(|x| *x == s)
}

/// Validates flags before any work.
fn check_args(args: &ScanArgs) -> Result<()> {
    match (&args.dir, &args.file) {
        (Some(_), Some(_)) => {
            return Err(Error::usage("give either --dir or --file, not both")
                .with_hint("--dir packages a folder; --file uploads an existing zip"));
        }
        (None, None) => {
            return Err(
                Error::usage("nothing to scan: give --dir FOLDER or --file ARCHIVE.zip")
                    .with_hint("for the current folder: `cybedefend scan --dir . --project-id ID`"),
            );
        }
        _ => {}
    }
    if let Some(s) = &args.break_on_severity {
        let s = s.to_ascii_lowercase();
        if s != "none" && severity_rank(&s).is_none() {
            return Err(Error::usage(format!(
                "--break-on-severity `{s}`: expected one of critical, high, medium, low, none"
            )));
        }
    }
    if args.file.is_some() && (args.dry_run || args.archive_out.is_some()) {
        return Err(Error::usage(
            "--dry-run and --archive-out work with --dir only",
        ));
    }
    Ok(())
}

fn check_zip(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot read", path, &e))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(Error::usage(format!("{} is empty", display(path)))
            .with_hint("--file takes a zip archive of the source code"));
    }
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).unwrap_or(0);
    if n < 4 || !(magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
        return Err(
            Error::usage(format!("{} is not a zip archive", display(path)))
                .with_hint("--file takes a zip archive; use --dir to package a folder"),
        );
    }
    Ok(())
}

fn print_plan(out: &Printer, plan: &Plan, ignored: &[archive::IgnoredGroup], respect: bool) {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Would upload {} files, {} from {}{}",
        plan.files.len(),
        human_bytes(plan.total_bytes),
        display(&plan.root),
        if respect {
            " (after .gitignore and .ignore rules; .git/ is never uploaded)"
        } else {
            " (--no-ignore; .git/ is never uploaded)"
        }
    );
    let mut largest: Vec<&archive::PlannedFile> = plan.files.iter().collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
    if !largest.is_empty() {
        let _ = writeln!(s, "Largest files:");
        for f in largest.iter().take(10) {
            let _ = writeln!(s, "  {:>10}  {}", human_bytes(f.size), f.name);
        }
    }
    if !ignored.is_empty() {
        let files: u64 = ignored.iter().map(|g| g.files).sum();
        let bytes: u64 = ignored.iter().map(|g| g.bytes).sum();
        let _ = writeln!(
            s,
            "Left out by ignore rules: {files} files, {} (--no-ignore keeps them):",
            human_bytes(bytes)
        );
        for g in ignored.iter().take(15) {
            let _ = writeln!(
                s,
                "  {:>10}  {:>7} files  {}",
                human_bytes(g.bytes),
                g.files,
                g.path
            );
        }
        if ignored.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", ignored.len() - 15);
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(s, "Skipped:");
        for k in plan.skipped.iter().take(15) {
            let _ = writeln!(s, "  {}  ({})", k.name, k.reason);
        }
    }
    out.data(s.trim_end());
}

/// Builds the archive off the async runtime, with a progress bar on a terminal.
async fn build_archive(
    app: &App,
    plan: Arc<Plan>,
    target: PathBuf,
    cancel: Arc<AtomicBool>,
) -> Result<archive::Written> {
    let progress = Arc::new(AtomicU64::new(0));
    let total = plan.total_bytes;
    let bar = progress_bar(app, total, "Packaging");
    let (p2, c2, t2) = (progress.clone(), cancel.clone(), target.clone());
    let task =
        tokio::task::spawn_blocking(move || archive::write(&plan, &t2, LEVEL, threads(), &p2, &c2));
    tokio::pin!(task);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let result = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = tick.tick() => if let Some(b) = &bar { b.set_position(progress.load(Ordering::Relaxed)); },
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result.map_err(|e| Error::failure(format!("archive task failed: {e}")))?
}

fn progress_bar(app: &App, total: u64, label: &str) -> Option<indicatif::ProgressBar> {
    if app.config.ci() || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{label} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

struct Summary {
    md: String,
}

impl Summary {
    fn new(scan_id: &str, project: &str, branch: &str) -> Self {
        let mut md = String::from("# CybeDefend scan\n\n| | |\n|---|---|\n");
        let _ = writeln!(md, "| Scan ID | `{scan_id}` |");
        let _ = writeln!(md, "| Project ID | `{project}` |");
        if !branch.is_empty() {
            let _ = writeln!(md, "| Branch | `{branch}` |");
        }
        md.push('\n');
        Self { md }
    }

    fn write(&mut self, passed: bool, message: &str) {
        let _ = writeln!(
            self.md,
            "\n---\n## Result: {}\n\n{message}\n",
            if passed { "PASSED ✅" } else { "FAILED ❌" }
        );
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
            return;
        };
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = f.write_all(self.md.as_bytes());
        }
    }
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ScanArgs) -> Result<u8> {
    check_args(&args)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    tokio::select! {
        r = scan(global, out, args, cancel) => r,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the scan future removes the temp archive; the flag stops the compressors.
            flag.store(true, Ordering::Relaxed);
            out.error(&Error::failure("interrupted; the temporary archive was removed"));
            Ok(130)
        }
    }
}

async fn scan(
    global: GlobalArgs,
    out: Printer,
    args: ScanArgs,
    cancel: Arc<AtomicBool>,
) -> Result<u8> {
    let app = App::load(global, out)?;

    if let Some(dir) = &args.dir
        && args.dry_run
    {
        let dir = dir.clone();
        let respect = !args.no_ignore;
        let (plan, ignored) = tokio::task::spawn_blocking(move || -> Result<_> {
            let plan = archive::plan(&dir, respect)?;
            let ignored = if respect {
                archive::ignored(&plan)?
            } else {
                Vec::new()
            };
            Ok((plan, ignored))
        })
        .await
        .map_err(|e| Error::failure(format!("walk task failed: {e}")))??;
        print_plan(&app.out, &plan, &ignored, !args.no_ignore);
        if let Some(target) = &args.archive_out {
            let start = Instant::now();
            let written = build_archive(&app, Arc::new(plan), target.clone(), cancel.clone()).await;
            if written.is_err() {
                let _ = std::fs::remove_file(target);
            }
            let w = written?;
            app.out.success(&format!(
                "Wrote {} ({} files, {} → {}) in {:.2} s",
                display(target),
                w.files,
                human_bytes(w.bytes_in),
                human_bytes(w.bytes_out),
                start.elapsed().as_secs_f64()
            ));
        }
        app.out
            .info("Dry run: nothing was uploaded and no network call was made");
        return Ok(0);
    }

    // Everything that can fail without work comes first: credential, project, endpoints.
    let project = app.project_id(args.project_id.as_deref())?;
    let branch = args
        .branch
        .clone()
        .or_else(|| app.config.settings.branch.clone())
        .unwrap_or_else(|| "main".into());
    let (endpoints, winner) = app.credential().await?;
    let api = Api::new(
        &app.http,
        &endpoints,
        &app.home,
        winner.found.credential.clone(),
    );

    // The archive: a temp file removed on every path (the guard's drop, or Ctrl-C below).
    let mut temp_guard: Option<tempfile::TempPath> = None;
    let archive_path: PathBuf = match (&args.dir, &args.file) {
        (Some(dir), _) => {
            let dir = dir.clone();
            let respect = !args.no_ignore;
            let plan = tokio::task::spawn_blocking(move || archive::plan(&dir, respect))
                .await
                .map_err(|e| Error::failure(format!("walk task failed: {e}")))??;
            let tmp = tempfile::Builder::new()
                .prefix("cybedefend-scan-")
                .suffix(".zip")
                .tempfile()
                .map_err(|e| Error::failure(format!("cannot create a temp file: {e}")))?
                .into_temp_path();
            let path = tmp.to_path_buf();
            temp_guard = Some(tmp);
            app.out.info(&format!(
                "Packaging {} files ({}) from {}",
                plan.files.len(),
                human_bytes(plan.total_bytes),
                display(&plan.root)
            ));
            let w = build_archive(&app, Arc::new(plan), path.clone(), cancel.clone()).await?;
            app.out
                .info(&format!("Archive ready: {}", human_bytes(w.bytes_out)));
            if let Some(keep) = &args.archive_out {
                std::fs::copy(&path, keep)
                    .map_err(|e| cybedefend_core::fsutil::io_error("cannot write", keep, &e))?;
            }
            path
        }
        (None, Some(file)) => {
            check_zip(file)?;
            file.clone()
        }
        (None, None) => unreachable_args()?,
    };

    let started = platform::start_scan(&api, &project, Some(&branch)).await?;
    tracing::debug!("scan start: scan id {}", started.scan_id);
    let size = std::fs::metadata(&archive_path)
        .map(|m| m.len())
        .unwrap_or(0);
    app.out
        .info(&format!("Uploading {} ...", human_bytes(size)));
    let bar = progress_bar(&app, size, "Uploading");
    let ci_mode = bar.is_none();
    let last_decile = AtomicU64::new(0);
    let out = app.out;
    let report = |sent: u64| {
        if let Some(b) = &bar {
            b.set_position(sent);
        } else if ci_mode && size > 0 {
            let decile = sent * 10 / size;
            if decile > last_decile.swap(decile, Ordering::Relaxed) && decile < 10 {
                out.info(&format!("Upload progress: {}%", decile * 10));
            }
        }
    };
    api.upload(&started.upload_url, &archive_path, &report)
        .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(temp_guard.take());
    app.out
        .success(&format!("Scan started: {}", started.scan_id));

    let mut summary = Summary::new(&started.scan_id, &project, &branch);
    if !args.wait {
        app.out.data(&started.scan_id);
        summary.write(true, "Scan started; not waiting for it (`--wait=false`).");
        return Ok(0);
    }

    // Wait.
    let interval = Duration::from_secs_f64(args.interval.max(0.2));
    let limit = parse_duration(&args.timeout).ok_or_else(|| {
        Error::usage(format!(
            "--timeout `{}` is not a duration such as `30m` or `90s`",
            args.timeout
        ))
    })?;
    let start = Instant::now();
    let mut last_line = String::new();
    let status = loop {
        let s = platform::scan_status(&api, &project, &started.scan_id).await?;
        let line = format!("Scan {}: {:.0}% {}", s.state, s.progress, s.step);
        if line != last_line {
            app.out.info(&line);
            last_line = line;
        }
        if s.is_terminal() {
            break s;
        }
        if start.elapsed() + interval > limit {
            summary.write(false, "The scan did not finish in time.");
            return Err(Error::failure(format!(
                "the scan did not finish within {} (state `{}`); it goes on on the platform as {}",
                args.timeout, s.state, started.scan_id
            ))
            .with_hint("raise --timeout, or use --wait=false and fetch results later with `cybedefend results`"));
        }
        tokio::time::sleep(interval).await;
    };
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
        return Ok(0);
    }

    // Summary by severity over every result type and page (open findings only).
    let q = ResultsQuery {
        branch: Some(branch.clone()),
        severities: Vec::new(),
        open_only: true,
    };
    let mut counts = [0u64; 4];
    let mut other = 0u64;
    for kind in RESULT_TYPES {
        match platform::all_results(&api, &project, kind, &q).await {
            Ok((_, findings)) => {
                for f in findings
                    .iter()
                    .filter(|f| !CLOSED_STATES.contains(&f.state.as_str()))
                {
                    match severity_rank(&f.severity) {
                        Some(i) => counts[i] += 1,
                        None => other += 1,
                    }
                }
            }
            Err(e) if args.break_on_severity.is_some() => return Err(e),
            Err(e) => app
                .out
                .warn(&format!("{} (left out of the summary)", e.message)),
        }
    }
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

    if let Some(threshold) = args
        .break_on_severity
        .as_deref()
        .map(str::to_ascii_lowercase)
        && let Some(rank) = severity_rank(&threshold)
    {
        let hits: u64 = counts[..=rank].iter().sum();
        if hits > 0 {
            let msg = format!("{hits} open finding(s) of severity {threshold} or above");
            summary.write(false, &msg);
            app.out.error(&Error::failure(format!(
                "gate: {msg} (--break-on-severity {threshold})"
            )));
            return Ok(1);
        }
        app.out
            .success(&format!("No open finding of severity {threshold} or above"));
    }

    if !args.policy_check {
        summary.write(true, "Policy evaluation disabled.");
        return Ok(0);
    }
    let code = policies(&app, &api, &project, &started.scan_id, &args, &mut summary).await?;
    Ok(code)
}

fn unreachable_args() -> Result<PathBuf> {
    Err(Error::usage(
        "nothing to scan: give --dir FOLDER or --file ARCHIVE.zip",
    ))
}

async fn policies(
    app: &App,
    api: &Api<'_>,
    project: &str,
    scan: &str,
    args: &ScanArgs,
    summary: &mut Summary,
) -> Result<u8> {
    let start = Instant::now();
    let limit = Duration::from_secs_f64(args.policy_timeout.max(1.0));
    let eval = loop {
        if start.elapsed() > limit {
            summary.write(false, "Policy evaluation timed out.");
            return Err(Error::failure(format!(
                "policy evaluation did not finish within {} s",
                args.policy_timeout
            ))
            .with_hint("raise --policy-timeout, or skip it with --policy-check=false"));
        }
        let e = platform::evaluation_status(api, project, scan).await?;
        if !e.has_evaluation {
            app.out.info("No policy evaluation available for this scan");
            summary.write(true, "No policy evaluation available.");
            return Ok(0);
        }
        match e.status.as_str() {
            "COMPLETED" | "FAILED" | "NOT_STARTED" => break e,
            "IN_PROGRESS" => tracing::debug!("policy evaluation: {:.0}%", e.progress),
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(2).min(limit / 4)).await;
    };
    match eval.status.as_str() {
        "NOT_STARTED" => {
            app.out.info("No policies configured for this project");
            summary.write(true, "No policies configured.");
            return Ok(0);
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
    let violations = platform::violations(api, project, scan).await?;
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
        return Ok(0);
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
                    "      {app_url}/project/{pid}/{}/issue/{}",
                    a.kind, a.id
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
        Ok(0)
    } else {
        let msg = format!("{} blocking policy violation(s)", blocking.len());
        app.out.error(&Error::failure(format!("gate: {msg}")));
        summary.write(false, &msg);
        Ok(1)
    }
}
