//! `results`: fetch findings and write a report (json, sarif, markdown, html).
//!
//! The report is streamed to its file under a temporary name and renamed when complete (so a
//! CI job never uploads half a report), or to stdout with `-f -`. When some result types
//! cannot be fetched, the report says what it has, the command warns and exits 5 (partial);
//! when none can, no report is written.

mod baseline;
pub(crate) mod report;
mod store;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use cybedefend_core::fsutil::AtomicFile;
use cybedefend_core::platform::results::{self, Budget, Pages, RESULT_TYPES, ResultsQuery};
use cybedefend_core::{Error, Result};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;
use crate::progress::{Progress, Unit, following};
use report::Report;
use store::{Segment, SegmentWriter, Store};

/// Report formats of `results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// The official CLI's JSON
    Json,
    /// SARIF 2.1.0 (GitHub code scanning, IDEs)
    Sarif,
    /// Markdown
    Markdown,
    /// A self-contained HTML page (works offline)
    Html,
}

impl OutputFormat {
    fn extension(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Sarif => "sarif",
            OutputFormat::Markdown => "md",
            OutputFormat::Html => "html",
        }
    }
}

/// Result types of `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ResultType {
    /// Every type
    All,
    /// Static analysis
    Sast,
    /// Dependencies
    Sca,
    /// Infrastructure as code
    Iac,
    /// Secrets
    Secret,
    /// CI/CD pipelines
    Cicd,
    /// Container images
    Container,
}

impl ResultType {
    fn name(self) -> &'static str {
        match self {
            ResultType::All => "all",
            ResultType::Sast => "sast",
            ResultType::Sca => "sca",
            ResultType::Iac => "iac",
            ResultType::Secret => "secret",
            ResultType::Cicd => "cicd",
            ResultType::Container => "container",
        }
    }
}

/// `results`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Open findings (to verify, confirmed) are fetched; with --type all (default) every type, every page,
8 requests at a time (`http_concurrency` in the config or CYBEDEFEND_HTTP_CONCURRENCY: 1 to 32).

Exit codes: 0 report written, 5 report written without some result types (each is named in a
warning), 1 nothing could be fetched (no report) or --break-on-new found a new finding, 2 usage
(or a baseline that is not this project's report), 3 platform unreachable, 4 access denied.

Examples:
  cybedefend results --project-id ID -o sarif       # results.sarif here
  cybedefend results --project-id ID -o sarif -f -    # SARIF on stdout
  cybedefend results --project-id ID -t sast --all=false -p 2
  cybedefend results --project-id ID -t sca --grouped
  cybedefend results --project-id ID --baseline main.json --break-on-new
  cybedefend results --project-id ID -o markdown -f - --max-findings 20")]
pub(crate) struct ResultsArgs {
    #[command(flatten)]
    pub(crate) project: crate::commands::data::ProjectId,
    /// Result type
    #[arg(
        short = 't',
        long = "type",
        value_enum,
        default_value = "all",
        ignore_case = true,
        value_name = "TYPE"
    )]
    pub(crate) kind: ResultType,
    /// Page to fetch with --all=false (20 findings a page)
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) page: u64,
    /// Fetch every page
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) all: bool,
    /// Report format
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,
    /// File name: `-` for stdout; the format's extension is added when the name has none
    /// [default: results.<format extension>]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) filename: Option<String>,
    /// Folder for the file (created if missing)
    #[arg(long, default_value = ".", value_name = "FOLDER")]
    pub(crate) filepath: PathBuf,
    /// Only this branch [default: all branches]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) branch: Option<String>,
    /// SARIF: the folder the scanned one is in the repository (`services/api` when a monorepo's
    /// subfolder was scanned), put before every path so that code scanning finds the files
    #[arg(long, value_name = "DIR", value_parser = path_prefix)]
    pub(crate) path_prefix: Option<String>,
    /// Markdown: how many critical and high occurrences to list (default 50); the report never
    /// exceeds the 65,536 characters of a pull-request comment either way
    #[arg(long, value_name = "N")]
    pub(crate) max_findings: Option<usize>,
    /// A report written earlier by `results -o json` (the main branch's, say): each finding
    /// is marked new or existing, and the fixed ones are listed ("N new, M fixed")
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when there is a new finding (at or above --break-on-severity)
    #[arg(long, requires = "baseline")]
    pub(crate) break_on_new: bool,
    /// With --break-on-new: only new findings of this severity or above count [default: any]
    #[arg(long, value_enum, value_name = "LEVEL", requires = "break_on_new")]
    pub(crate) break_on_severity: Option<crate::gates::Threshold>,
    /// Group findings by rule or package (JSON only)
    #[arg(short, long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) grouped: bool,
    /// `report`'s name for the format, taken only to say that here it is `--output`
    #[arg(long, hide = true, value_name = "FORMAT")]
    pub(crate) format: Option<String>,
}

/// Where the report goes.
pub(crate) enum Target {
    Stdout,
    File(PathBuf),
}

/// `--filepath` joined with `--filename` (absolute names win); the format's extension is added
/// to a name that has none (and said), any other name is honoured as given.
fn target(args: &ResultsArgs, out: &Printer) -> Target {
    let ext = args.output.extension();
    let name = match args.filename.as_deref() {
        Some("-") => return Target::Stdout,
        None => PathBuf::from(format!("results.{ext}")),
        Some(n) => {
            let p = PathBuf::from(n);
            match p.extension().and_then(|e| e.to_str()) {
                None => {
                    let with = p.with_extension(ext);
                    out.info(&format!(
                        "--filename {n} has no extension; writing {}",
                        with.display()
                    ));
                    with
                }
                Some(e) if e != ext => {
                    out.warn(&format!(
                        "--filename {n} ends in .{e}, but the report is {}; writing it there as asked",
                        args.output.extension()
                    ));
                    p
                }
                Some(_) => p,
            }
        }
    };
    Target::File(if name.is_absolute() {
        name
    } else {
        args.filepath.join(name)
    })
}

/// Writes a report: to stdout through the redactor, or to a file that appears only when
/// complete.
pub(crate) fn write_report(
    out: &Printer,
    target: &Target,
    json: bool,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    match target {
        Target::Stdout => {
            let mut w = crate::output::TerminalSafe::new(out.stdout_stream(), json);
            body(&mut w)
                .and_then(|()| w.finish())
                .and_then(|inner| inner.finish())
                .map(drop)
                .map_err(|e| Error::failure(format!("cannot write the report: {e}")))
        }
        Target::File(path) => {
            let mut file = AtomicFile::create(path)?;
            let result = {
                let mut w = cybedefend_core::secret::redact::RedactingWriter::new(BufWriter::new(
                    file.file(),
                ));
                body(&mut w)
                    .and_then(|()| w.finish())
                    .and_then(|mut b| b.flush())
            };
            result.map_err(|e| cybedefend_core::fsutil::io_error("cannot write", path, &e))?;
            file.commit()
        }
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Stdout => "standard output".into(),
        Target::File(p) => cybedefend_core::home::tilde(p),
    }
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ResultsArgs) -> Result<Exit> {
    let kind = args.kind.name();
    if let Some(format) = &args.format {
        let shown = cybedefend_core::text::one_line(format, 40);
        return Err(
            Error::usage(format!("`results` takes the format with -o/--output: `-o {shown}`"))
                .with_hint("in `results`, -o is the format and -f the file name (as in the official CLI); --format and --output FILE are `report`'s"),
        );
    }
    // Grouping is by one type: with every type (the default), --grouped is set aside and the
    // results are written flat, as the official CLI does.
    let grouped = args.grouped && args.kind != ResultType::All;
    if grouped && args.output != OutputFormat::Json {
        return Err(Error::usage("--grouped writes JSON only")
            .with_hint("drop --output or use --output json"));
    }
    // the baseline is read before any request: a wrong file costs no fetch
    let baseline = args
        .baseline
        .as_deref()
        .map(baseline::Baseline::read)
        .transpose()?;
    let app = App::load(global, out)?;
    if let Some(b) = &baseline {
        check_baseline(b, &args.project.resolve(&app)?, args.kind)?;
    }
    if args.grouped && !grouped {
        app.out.note(
            "--grouped groups one type (-t sast, sca, iac, secret, cicd or container); with all types the results are written flat",
        );
    }
    let project = args.project.resolve(&app)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let target = target(&args, &app.out);
    let q = ResultsQuery {
        branch: args.branch.clone(),
        severities: Vec::new(),
        open_only: true,
    };

    if grouped {
        let value = results::grouped(
            &api,
            &project,
            kind,
            &results::Grouped {
                all: args.all,
                page: args.page,
                branch: args.branch.clone().filter(|b| !b.is_empty()),
            },
        )
        .await?;
        write_report(&app.out, &target, true, |w| {
            serde_json::to_writer_pretty(&mut *w, &value).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        })?;
        if let Target::File(_) = target {
            app.out
                .success(&format!("Grouped results saved to {}", describe(&target)));
        }
        return Ok(Exit::Success);
    }

    let budget = Budget::default();
    let seen = budget.seen();
    let pages = Pages::new(&api, &project, &q, &budget, app.http_concurrency());
    let mut progress = Progress::new(&app, "Fetching results", None, Unit::Things("findings"));
    let mut name = String::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut page_info = (1u64, 1u64, 0u64);
    let mut failed: Vec<(&str, Error)> = Vec::new();
    if args.kind == ResultType::All {
        // every type at once; the first error that no type can get past stops them all
        let each = RESULT_TYPES.iter().map(|t| fetch_type(&pages, t));
        let fetched = following(
            &mut progress,
            &seen,
            futures_util::future::try_join_all(each),
        )
        .await?;
        for (t, result) in RESULT_TYPES.iter().zip(fetched) {
            match result {
                Ok((n, segment)) => {
                    if name.is_empty() {
                        name = n;
                    }
                    segments.push(segment);
                }
                Err(e) => {
                    app.out
                        .warn(&format!("{} ({t} left out of the report)", e.message()));
                    segments.push(Segment::empty(t));
                    failed.push((t, e));
                }
            }
        }
        if failed.len() == RESULT_TYPES.len() {
            let (_, first) = failed.swap_remove(0);
            return Err(first.context("no result type could be fetched, so no report was written"));
        }
    } else if args.all {
        let (n, segment) = following(&mut progress, &seen, fetch_type(&pages, kind)).await??;
        name = n;
        page_info = (1, 1, segment.len as u64);
        segments.push(segment);
    } else {
        let mut p = results::page(&api, &project, kind, args.page, 20, &q).await?;
        if p.total_pages > 0 && args.page > p.total_pages {
            app.out.warn(&format!(
                "page {} is past the last page ({}); showing the last one",
                args.page, p.total_pages
            ));
            p = results::page(&api, &project, kind, p.total_pages, 20, &q).await?;
        }
        name = p.project_name.clone();
        page_info = (p.page, p.total_pages.max(1), p.total);
        let mut w = SegmentWriter::new(static_kind(kind));
        w.push(p.findings)?;
        segments.push(w.finish()?);
    }
    progress.finish();
    let store = Store::new(segments);

    let now = OffsetDateTime::now_utc();
    let generated = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default();
    // links to the web app only where it is known to be the API's: the region's, or `app_url`
    let app_url = app.endpoints().ok().and_then(|e| {
        (e.api_url == e.region.api_url() || app.config.settings.app_url.is_some())
            .then_some(e.app_url)
    });
    if args.path_prefix.is_some() && args.output != OutputFormat::Sarif {
        app.out
            .note("--path-prefix applies to SARIF only; it is not used here");
    }
    if args.max_findings.is_some() && args.output != OutputFormat::Markdown {
        app.out
            .note("--max-findings applies to Markdown only; it is not used here");
    }
    let against = baseline.as_ref().map(|b| report::Against::of(b, &store));
    let report = Report {
        project_id: &project,
        project_name: &name,
        kind,
        store: &store,
        page: page_info,
        path_prefix: args.path_prefix.as_deref(),
        max_findings: args.max_findings,
        against: against.as_ref(),
        app_url: app_url.as_deref(),
        branch: args.branch.as_deref(),
    };
    let count = report.count();
    if count == 0 && failed.is_empty() {
        app.out.info("No results");
    }
    let json = matches!(args.output, OutputFormat::Json | OutputFormat::Sarif);
    write_report(&app.out, &target, json, |w| {
        match args.output {
            OutputFormat::Json => report::json(&report, w),
            OutputFormat::Sarif => report::sarif(&report, w),
            OutputFormat::Markdown => report::markdown(&report, &generated, w),
            OutputFormat::Html => report::html(&report, &generated, w),
        }?;
        // a finding that could not be read back means no report, not a shorter one
        store.check()
    })?;
    if !failed.is_empty() {
        let missing: Vec<&str> = failed.iter().map(|(t, _)| *t).collect();
        app.out.warn(&format!(
            "the report in {} is partial: {} could not be fetched (exit code {})",
            describe(&target),
            missing.join(", "),
            Exit::Partial.code()
        ));
        return Ok(Exit::Partial);
    }
    if count > 0 {
        app.out.info(&summary(&store));
    }
    if let Target::File(_) = target {
        app.out.success(&format!(
            "{count} finding{} saved to {}",
            if count == 1 { "" } else { "s" },
            describe(&target)
        ));
    }
    let exit = match &against {
        Some(a) => compared(&app, a, &report, &args),
        None => Exit::Success,
    };
    store.check().map_err(|e| Error::failure(e.to_string()))?;
    Ok(exit)
}

/// Every page of one type into a temporary file. An error that no type can get past (the
/// project or the credential is wrong, the temporary file cannot be written) is the outer
/// error; one that leaves only this type out is the inner one.
async fn fetch_type(
    pages: &Pages<'_>,
    kind: &str,
) -> Result<std::result::Result<(String, Segment), Error>> {
    let mut writer = SegmentWriter::new(static_kind(kind));
    let mut spill_error = None;
    let fetched = pages
        .each(kind, &mut |findings| {
            writer.push(findings).inspect_err(|e| {
                spill_error = Some(e.clone());
            })
        })
        .await;
    if let Some(e) = spill_error {
        return Err(e);
    }
    match fetched {
        Ok(name) => Ok(Ok((name, writer.finish()?))),
        // the cap is the command's: whichever types were still coming when it was reached
        // would be left out, so no report is better than an arbitrary one
        Err(e) if e.is_auth() || e.is_not_found() || pages.over_budget() => Err(e),
        Err(e) => Ok(Err(e)),
    }
}

/// The type's name as the report keeps it.
fn static_kind(kind: &str) -> &'static str {
    RESULT_TYPES
        .iter()
        .find(|t| **t == kind)
        .copied()
        .unwrap_or("results")
}

/// "Against OLD.json: 3 new, 40 existing, 2 fixed", the new ones listed, and the
/// `--break-on-new` gate.
fn compared(app: &App, a: &report::Against<'_>, r: &Report<'_>, args: &ResultsArgs) -> Exit {
    use cybedefend_core::text::one_line;
    app.out.info(&format!(
        "Against {}: {} new, {} existing, {} fixed",
        a.baseline.shown,
        a.new.len(),
        a.existing,
        a.fixed.len()
    ));
    for (_, at) in a.new.iter().take(10) {
        let f = r.store.get(*at);
        app.out.info(&format!(
            "  new    {:<9} {:<9} {}  {}",
            f.severity,
            f.kind,
            one_line(&f.name, 80),
            one_line(&report::place(&f), 160)
        ));
    }
    if a.new.len() > 10 {
        app.out
            .info(&format!("  ... and {} more new", a.new.len() - 10));
    }
    if !args.break_on_new {
        return Exit::Success;
    }
    if args.break_on_severity == Some(crate::gates::Threshold::None) {
        app.out
            .info("--break-on-severity none: new findings never fail this run");
        return Exit::Success;
    }
    let threshold = args
        .break_on_severity
        .and_then(crate::gates::Threshold::rank);
    let counted = match threshold {
        None => a.new.len(),
        Some(t) => a.new.iter().filter(|(rank, _)| *rank <= t).count(),
    };
    let level = args
        .break_on_severity
        .map_or("any severity".to_owned(), |t| {
            format!("severity {} or above", t.name())
        });
    if counted > 0 {
        app.out.error(&Error::failure(format!(
            "gate: {counted} new finding(s) of {level} (--break-on-new)"
        )));
        Exit::Failed
    } else {
        app.out.success(&format!(
            "No new finding of {level} since {}",
            a.baseline.shown
        ));
        Exit::Success
    }
}

/// The short table on stderr after a report: a row per result type that has findings, a
/// column per severity.
fn summary(store: &Store) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "{:<10} {:>8} {:>6} {:>6} {:>6} {:>6}",
        "", "critical", "high", "medium", "low", "total"
    );
    for segment in store.segments().iter().filter(|s| s.len > 0) {
        let c = segment.counts;
        let _ = write!(
            s,
            "\n{:<10} {:>8} {:>6} {:>6} {:>6} {:>6}",
            segment.kind, c[0], c[1], c[2], c[3], segment.len
        );
    }
    let all = store.counts();
    let _ = write!(
        s,
        "\n{:<10} {:>8} {:>6} {:>6} {:>6} {:>6}",
        "all",
        all[0],
        all[1],
        all[2],
        all[3],
        store.len()
    );
    s
}

/// `--path-prefix`: a relative folder of the repository, `/`-separated, without `..`.
fn path_prefix(value: &str) -> std::result::Result<String, String> {
    let raw = value.trim().replace('\\', "/");
    if raw.starts_with('/') || raw.contains(':') {
        return Err("give the folder relative to the repository root (`services/api`)".into());
    }
    if raw.chars().any(|c| c.is_control() || c == '%') {
        return Err("must not hold control characters or `%`".into());
    }
    // `./a//b/` is `a/b`
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err("give the folder relative to the repository root, without `..`".into());
    }
    Ok(parts.join("/"))
}

/// A baseline must be a report of the same project, with the types this run writes: compared
/// with another project's, or with a report of one type, every finding would look new.
fn check_baseline(b: &baseline::Baseline, project: &str, kind: ResultType) -> Result<()> {
    if b.project != project {
        return Err(Error::usage(format!(
            "--baseline {} is a report of project `{}`, not `{project}`",
            b.shown,
            cybedefend_core::text::one_line(&b.project, 80)
        ))
        .with_hint("give the report this project's results wrote earlier"));
    }
    let wanted: Vec<&str> = match kind {
        ResultType::All => RESULT_TYPES.to_vec(),
        k => vec![k.name()],
    };
    if let Some(types) = &b.types {
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|t| !types.contains(*t))
            .collect();
        if !missing.is_empty() {
            let mut held: Vec<&str> = types.iter().map(String::as_str).collect();
            held.sort_unstable();
            return Err(Error::usage(format!(
                "--baseline {} holds {} findings only, and this run also writes {}",
                b.shown,
                held.join(", "),
                missing.join(", ")
            ))
            .with_hint(
                "write the baseline with the same --type as this run (without -t for every type)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_prefix_is_a_relative_folder() {
        assert_eq!(
            super::path_prefix("./services//api/").unwrap(),
            "services/api"
        );
        assert_eq!(super::path_prefix("services\\api").unwrap(), "services/api");
        for bad in ["/abs", "../x", "a/../../b", "C:/x", "a%2e", "x\u{7}"] {
            assert!(super::path_prefix(bad).is_err(), "{bad}");
        }
    }
}
