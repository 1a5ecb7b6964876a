//! `results`: fetch findings and write a report (json, sarif, markdown, html).

use std::path::{Path, PathBuf};

use cybedefend_core::api::Api;
use cybedefend_core::error::{Error, ErrorCategory, Result};
use cybedefend_core::paths::display;
use cybedefend_core::platform::{self, Finding, RESULT_TYPES, ResultsQuery};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::args::{GlobalArgs, OutputFormat, ResultsArgs};
use crate::output::Printer;
use crate::report::{self, Report};

fn extension(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Json => "json",
        OutputFormat::Sarif => "sarif",
        OutputFormat::Markdown => "md",
        OutputFormat::Html => "html",
    }
}

/// `--filepath` joined with `--filename` (absolute names win). A name whose extension does not
/// fit the format becomes `results.<ext>`, as in the official CLI, with a warning.
fn target(args: &ResultsArgs, out: &Printer) -> PathBuf {
    let ext = extension(args.output);
    let name = match &args.filename {
        None => PathBuf::from(format!("results.{ext}")),
        Some(n) => {
            let fits = Path::new(n).extension().and_then(|e| e.to_str()) == Some(ext);
            if fits {
                PathBuf::from(n)
            } else {
                out.warn(&format!(
                    "--filename {n} does not end in .{ext}; writing results.{ext} instead (as the official CLI does)"
                ));
                PathBuf::from(format!("results.{ext}"))
            }
        }
    };
    if name.is_absolute() {
        name
    } else {
        args.filepath.join(name)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot create folder", dir, &e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot write in", dir, &e))?;
    use std::io::Write;
    tmp.write_all(bytes)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot write", path, &e))?;
    tmp.persist(path)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot write", path, &e.error))?;
    Ok(())
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ResultsArgs) -> Result<u8> {
    let kind = args.kind.to_ascii_lowercase();
    if kind != "all" && !RESULT_TYPES.contains(&kind.as_str()) {
        return Err(Error::usage(format!(
            "--type `{}`: expected all, {}",
            args.kind,
            RESULT_TYPES.join(", ")
        )));
    }
    if args.page == 0 {
        return Err(Error::usage("--page starts at 1"));
    }
    if args.grouped && args.output != OutputFormat::Json {
        return Err(Error::usage("--grouped writes JSON only")
            .with_hint("drop --output or use --output json"));
    }
    let app = App::load(global, out)?;
    let project = app.project_id(args.project_id.as_deref())?;
    let (endpoints, winner) = app.credential().await?;
    let api = Api::new(
        &app.http,
        &endpoints,
        &app.home,
        winner.found.credential.clone(),
    );
    let path = target(&args, &app.out);
    let q = ResultsQuery {
        branch: args.branch.clone(),
        severities: Vec::new(),
        open_only: true,
    };

    if args.grouped {
        let value = grouped(&api, &project, &kind, &args).await?;
        let text =
            serde_json::to_string_pretty(&value).map_err(|e| Error::failure(e.to_string()))?;
        write_atomic(&path, text.as_bytes())?;
        app.out
            .success(&format!("Grouped results saved to {}", display(&path)));
        return Ok(0);
    }

    let mut name = String::new();
    let findings: Vec<Finding>;
    let mut by_type: Vec<(&str, Vec<Finding>)> = Vec::new();
    let mut page_info = (1u64, 1u64, 0u64);
    if kind == "all" {
        for t in RESULT_TYPES {
            match platform::all_results(&api, &project, t, &q).await {
                Ok((n, f)) => {
                    if name.is_empty() {
                        name = n;
                    }
                    by_type.push((t, f));
                }
                Err(e) if e.category == ErrorCategory::Auth => return Err(e),
                Err(e) if e.message.contains("HTTP 404") => return Err(e),
                Err(e) => {
                    app.out.warn(&format!("{} ({t} left empty)", e.message));
                    by_type.push((t, Vec::new()));
                }
            }
        }
        findings = by_type
            .iter()
            .flat_map(|(_, f)| f.iter().cloned())
            .collect();
    } else if args.all {
        let (n, f) = platform::all_results(&api, &project, &kind, &q).await?;
        name = n;
        page_info = (1, 1, f.len() as u64);
        findings = f;
    } else {
        let mut p = platform::results_page(&api, &project, &kind, args.page, 20, &q).await?;
        if p.total_pages > 0 && args.page > p.total_pages {
            app.out.warn(&format!(
                "page {} is past the last page ({}); showing the last one",
                args.page, p.total_pages
            ));
            p = platform::results_page(&api, &project, &kind, p.total_pages, 20, &q).await?;
        }
        name = p.project_name.clone();
        page_info = (p.page, p.total_pages.max(1), p.total);
        findings = p.findings;
    }
    if findings.is_empty() {
        app.out.info("No results");
    }

    let now = OffsetDateTime::now_utc();
    let generated = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default();
    let report = Report {
        project_id: &project,
        project_name: &name,
        kind: &kind,
        findings: &findings,
    };
    let text = match args.output {
        OutputFormat::Json => {
            let v = if kind == "all" {
                let mut v = json!({"projectId": project, "projectName": name});
                for (t, f) in &by_type {
                    v[*t] = Value::Array(f.iter().map(report::record).collect());
                }
                v
            } else {
                json!({
                    "projectId": project,
                    "projectName": name,
                    "page": page_info.0,
                    "total": page_info.2,
                    "totalPages": page_info.1,
                    "severity": Value::Null,
                    "vulnerabilities": findings.iter().map(report::record).collect::<Vec<_>>(),
                })
            };
            serde_json::to_string_pretty(&v).map_err(|e| Error::failure(e.to_string()))?
        }
        OutputFormat::Sarif => serde_json::to_string_pretty(&report::sarif(&report))
            .map_err(|e| Error::failure(e.to_string()))?,
        OutputFormat::Markdown => report::markdown(&report, &generated),
        OutputFormat::Html => report::html(&report, &generated),
    };
    write_atomic(&path, text.as_bytes())?;
    app.out.success(&format!(
        "{} findings saved to {}",
        findings.len(),
        display(&path)
    ));
    Ok(0)
}

async fn grouped(api: &Api<'_>, project: &str, kind: &str, args: &ResultsArgs) -> Result<Value> {
    use cybedefend_core::api::Method;
    let kind = if kind == "all" {
        return Err(Error::usage(
            "--grouped needs one --type (sast, sca, iac, secret, cicd or container)",
        ));
    } else {
        kind
    };
    let container = kind == "container";
    let path = if container {
        format!(
            "/project/{}/results/container/images/grouped",
            cybedefend_core::api::seg(project)
        )
    } else {
        format!(
            "/project/{}/results/{kind}/grouped",
            cybedefend_core::api::seg(project)
        )
    };
    let per_page = if args.all { 100 } else { 50 };
    let mut page = if args.all { 1 } else { args.page };
    let mut merged: Option<Value> = None;
    let list_key = if container {
        "groupedImages"
    } else {
        "groupedVulnerabilities"
    };
    loop {
        let mut q: Vec<(String, String)> = vec![
            ("page".into(), page.to_string()),
            ("order".into(), "DESC".into()),
        ];
        if container {
            q.push(("limit".into(), per_page.to_string()));
            q.push(("sort".into(), "latestScanAt".into()));
        } else {
            q.push(("perPage".into(), per_page.to_string()));
            q.push(("sort".into(), "occurrenceCount".into()));
            for s in ["critical", "high", "medium", "low"] {
                q.push(("severityFilter[]".into(), s.into()));
            }
            for s in ["to_verify", "confirmed"] {
                q.push(("statusFilter[]".into(), s.into()));
            }
        }
        if let Some(b) = args.branch.as_deref().filter(|b| !b.is_empty()) {
            q.push(("branch".into(), b.into()));
        }
        let v = api
            .json(
                &format!("grouped {kind} results"),
                Method::GET,
                &path,
                &q,
                None,
            )
            .await?;
        let total_pages = v.get("totalPages").and_then(Value::as_u64).unwrap_or(1);
        let items = v
            .get(list_key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match merged.as_mut() {
            None => merged = Some(v.clone()),
            Some(m) => {
                if let Some(Value::Array(a)) = m.get_mut(list_key) {
                    a.extend(items.iter().cloned());
                }
            }
        }
        if !args.all || items.is_empty() || page >= total_pages {
            break;
        }
        page += 1;
    }
    let mut m = merged.unwrap_or(Value::Null);
    if args.all {
        let n = m
            .get(list_key)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if container {
            m["currentPage"] = json!(1);
            m["totalPages"] = json!(1);
            m["pageSize"] = json!(n);
        } else {
            m["page"] = json!(1);
            m["totalPages"] = json!(1);
            m["limit"] = json!(n);
        }
    }
    Ok(m)
}
