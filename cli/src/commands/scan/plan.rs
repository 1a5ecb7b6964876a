//! `scan --dry-run`: what would be uploaded, without an account or network. Files that look
//! like secrets (`.env`, keys, keystores, credential files) are always named, since they are
//! the first thing a user of a security tool must know about.

use std::fmt::Write as _;
use std::path::PathBuf;

use cybedefend_archive::{self as archive, IgnoredGroup, Plan, looks_like_secret};
use cybedefend_core::Result;
use serde_json::json;

use super::{Running, ScanArgs, archive as pack, files};
use crate::app::App;
use crate::exit::Exit;
use crate::output::size;

/// Folders with at most this many files are listed whole; larger ones show the largest files.
const LIST_ALL_UP_TO: usize = 50;

pub(crate) async fn dry_run(
    app: &App,
    args: &ScanArgs,
    dir: PathBuf,
    running: Running,
) -> Result<Exit> {
    let respect = !args.no_ignore;
    let plan = pack::plan(&running, &dir, args).await?;
    let ignored = if respect {
        let p = plan.clone();
        running.blocking(move || archive::ignored(&p)).await?
    } else {
        Vec::new()
    };
    let secrets = secret_warnings(&plan, true);
    if args.json {
        app.out.json(&plan_json(&plan, &ignored, respect))?;
    } else if args.list {
        let mut s = String::new();
        for f in &plan.files {
            let _ = writeln!(s, "{:>10}  {}", size(f.size), f.name);
        }
        app.out.data(s.trim_end());
    } else {
        app.out.data(&summary(&plan, &ignored, respect));
    }
    for warning in &secrets {
        app.out.warn(warning);
    }
    if let Some(target) = &args.archive_out {
        pack::write_to(app, &running, plan, target).await?;
    }
    app.out
        .info("Dry run: nothing was uploaded and no network call was made");
    Ok(Exit::Success)
}

/// One warning for each planned file that looks like a secret, saying what keeps it out
/// (`.cybedefend` does not: the platform reads it to hide findings, after the upload).
pub(crate) fn secret_warnings(plan: &Plan, dry_run: bool) -> Vec<String> {
    let will = if dry_run { "would be" } else { "will be" };
    plan.files
        .iter()
        .filter_map(|f| looks_like_secret(&f.name).map(|why| (f.name.as_str(), why)))
        .map(|(name, why)| {
            // (the printer neutralises what it prints)
            format!(
                "{name} looks like a secret ({why}) and {will} uploaded; to keep it on this machine, add `/{name}` to .gitignore or .ignore, or pass --exclude '/{name}'"
            )
        })
        .collect()
}

fn plan_json(plan: &Plan, ignored: &[IgnoredGroup], respect: bool) -> serde_json::Value {
    json!({
        "root": cybedefend_core::home::tilde(&plan.root),
        "ignore_rules": respect,
        "files": plan.files.iter().map(|f| json!({
            "path": f.name,
            "size": f.size,
            "looks_like_secret": looks_like_secret(&f.name),
        })).collect::<Vec<_>>(),
        "total_files": plan.files.len(),
        "total_bytes": plan.total_bytes,
        "ignored": ignored.iter().map(|g| json!({"path": g.path, "files": g.files, "bytes": g.bytes})).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(|s| json!({"path": s.name, "reason": s.reason})).collect::<Vec<_>>(),
        "excluded": plan.excluded,
    })
}

fn summary(plan: &Plan, ignored: &[IgnoredGroup], respect: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Would upload {}, {} from {}{}",
        files(plan.files.len()),
        size(plan.total_bytes),
        cybedefend_core::home::tilde(&plan.root),
        if respect {
            " (after .gitignore and .ignore rules; .git/ is never uploaded)"
        } else {
            " (--no-ignore; .git/ is never uploaded)"
        }
    );
    if plan.files.len() <= LIST_ALL_UP_TO {
        if !plan.files.is_empty() {
            let _ = writeln!(s, "Files:");
        }
        for f in &plan.files {
            let _ = writeln!(s, "  {:>10}  {}", size(f.size), f.name);
        }
    } else {
        let mut largest: Vec<&archive::PlannedFile> = plan.files.iter().collect();
        largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
        let _ = writeln!(s, "Largest files (--list shows all {}):", plan.files.len());
        for f in largest.iter().take(10) {
            let _ = writeln!(s, "  {:>10}  {}", size(f.size), f.name);
        }
    }
    if !ignored.is_empty() {
        let count: u64 = ignored.iter().map(|g| g.files).sum();
        let bytes: u64 = ignored.iter().map(|g| g.bytes).sum();
        let _ = writeln!(
            s,
            "Left out by ignore rules: {}, {} (--no-ignore keeps them):",
            super::files(usize::try_from(count).unwrap_or(usize::MAX)),
            size(bytes)
        );
        for g in ignored.iter().take(15) {
            let _ = writeln!(
                s,
                "  {:>10}  {:>13}  {}",
                size(g.bytes),
                super::files(usize::try_from(g.files).unwrap_or(usize::MAX)),
                g.path
            );
        }
        if ignored.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", ignored.len() - 15);
        }
    }
    if !plan.excluded.is_empty() {
        let _ = writeln!(s, "Left out by --exclude: {}:", files(plan.excluded.len()));
        for name in plan.excluded.iter().take(15) {
            let _ = writeln!(s, "  {name}");
        }
        if plan.excluded.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", plan.excluded.len() - 15);
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(s, "Skipped:");
        for k in plan.skipped.iter().take(15) {
            let _ = writeln!(s, "  {}  ({})", k.name, k.reason);
        }
        if plan.skipped.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", plan.skipped.len() - 15);
        }
    }
    s.trim_end().to_owned()
}
