//! `scan --dry-run`: what would be uploaded, without an account or network. Files that look
//! like secrets (`.env`, keys, keystores, credential files) are always named, since they are
//! the first thing a user of a security tool must know about.

use std::fmt::Write as _;
use std::path::PathBuf;

use cybedefend_archive::{self as archive, IgnoredGroup, Plan, looks_like_secret};
use cybedefend_core::config::SecretFiles;
use cybedefend_core::{Error, Result, text};
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
    let (plan, secrets) = pack::plan(app, &running, &dir, args, true).await?;
    let ignored = if respect {
        let p = plan.clone();
        running.blocking(move || archive::ignored(&p)).await?
    } else {
        Vec::new()
    };
    if args.json {
        app.out
            .json(&plan_json(&plan, &ignored, respect, &secrets))?;
    } else if args.list {
        let mut s = String::new();
        for f in &plan.files {
            let _ = writeln!(s, "{:>10}  {}", size(f.size), text::name(&f.name));
        }
        app.out.data(s.trim_end());
    } else {
        app.out.data(&summary(&plan, &ignored, respect));
    }
    secrets.print(app);
    if let Some(target) = &args.archive_out {
        pack::write_to(app, &running, plan, target).await?;
    }
    app.out
        .info("Dry run: nothing was uploaded and no network call was made");
    match secrets.refusal() {
        Some(e) => Err(e),
        None => Ok(Exit::Success),
    }
}

/// What a scan does with the planned files that look like secrets, and says about them.
pub(crate) struct Secrets {
    /// The mode in force and what set it (`--secret-files`, the config file).
    mode: SecretFiles,
    origin: String,
    /// Each file with why it looks like a secret.
    found: Vec<(String, &'static str)>,
    dry_run: bool,
}

impl Secrets {
    /// One line per file: a warning when it is uploaded, a note when it is left out. A name is
    /// shown with its control characters escaped (it cannot split or forge a line), and the
    /// advice holds the pattern that matches it alone, quoted for a shell.
    pub(crate) fn print(&self, app: &App) {
        let will = if self.dry_run { "would be" } else { "will be" };
        for (name, why) in &self.found {
            let shown = text::name(name);
            match self.mode {
                SecretFiles::Exclude => app.out.note(&format!(
                    "{shown} looks like a secret ({why}) and is left out ({})",
                    self.origin
                )),
                SecretFiles::Fail => app.out.warn(&format!(
                    "{shown} looks like a secret ({why}); a real scan refuses to upload it ({})",
                    self.origin
                )),
                SecretFiles::Warn => {
                    let pattern = archive::literal_pattern(name);
                    app.out.warn(&format!(
                        "{shown} looks like a secret ({why}) and {will} uploaded; to keep it on this machine, add `{}` to .gitignore or .ignore, or pass --exclude {} (or --secret-files exclude)",
                        text::name(&pattern),
                        text::shell_word(&pattern)
                    ));
                }
            }
        }
    }

    /// `fail` with such files: the error that refuses the upload (a dry run ends with it too,
    /// after its listing, so that a pre-commit check fails as the real scan would).
    pub(crate) fn refusal(&self) -> Option<Error> {
        if self.mode != SecretFiles::Fail || self.found.is_empty() {
            return None;
        }
        Some(refusal(&self.found, &self.origin))
    }
}

/// "2 files look like secrets and ... refuses to upload them: .env (environment file), ...".
fn refusal(found: &[(String, &'static str)], origin: &str) -> Error {
    let names: Vec<String> = found
        .iter()
        .take(10)
        .map(|(n, why)| format!("{} ({why})", text::one_line(&text::name(n), 200)))
        .collect();
    let more = found.len().saturating_sub(10);
    Error::usage(format!(
        "{} look{} like secrets and {origin} refuses to upload them: {}{}",
        files(found.len()),
        if found.len() == 1 { "s" } else { "" },
        names.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    ))
    .with_hint(
        "keep them on this machine with a .gitignore or .ignore line or --exclude PATTERN, or \
         pass --secret-files exclude to leave every such file out; nothing was packaged or uploaded",
    )
}

/// The secret-files mode in force (`--secret-files`, else `scan.secret_files`, else warn), and
/// what set it, for messages.
fn mode(app: &App, args: &ScanArgs) -> (SecretFiles, String) {
    match args.secret_files.as_deref() {
        Some("exclude") => (SecretFiles::Exclude, "--secret-files exclude".to_owned()),
        Some("fail") => (SecretFiles::Fail, "--secret-files fail".to_owned()),
        Some(_) => (SecretFiles::Warn, "--secret-files warn".to_owned()),
        None => {
            let mode = app.config.settings.scan.secret_files.unwrap_or_default();
            let origin = app
                .config
                .origin("scan.secret_files")
                .map(|o| format!("`scan.secret_files: {}` in {o}", mode.as_str()))
                .unwrap_or_default();
            (mode, origin)
        }
    }
}

/// Finds the planned files that look like secrets and applies the mode: `exclude` takes them
/// out of `plan`, `fail` refuses a real scan (exit 2) naming each one and what to do.
pub(crate) fn secrets(
    app: &App,
    args: &ScanArgs,
    plan: &mut Plan,
    dry_run: bool,
) -> Result<Secrets> {
    let (mode, origin) = mode(app, args);
    let found: Vec<(String, &'static str)> = plan
        .files
        .iter()
        .filter_map(|f| looks_like_secret(&f.name).map(|why| (f.name.clone(), why)))
        .collect();
    if mode == SecretFiles::Exclude {
        plan.leave_out_secrets();
    }
    let secrets = Secrets {
        mode,
        origin,
        found,
        dry_run,
    };
    match secrets.refusal() {
        Some(e) if !dry_run => Err(e),
        _ => Ok(secrets),
    }
}

/// `scan --file`: the archive's entries that look like secrets, named before the upload as a
/// folder's are; `fail` refuses it, and `exclude` cannot take files out of an archive made
/// elsewhere, so it refuses too, saying how to package the folder instead.
pub(crate) fn secrets_in_zip(app: &App, args: &ScanArgs, zip: &std::path::Path) -> Result<()> {
    let (mode, origin) = mode(app, args);
    let names = match archive::entry_names(zip) {
        Ok(names) => names,
        // the platform judges the archive; what cannot be listed cannot be checked, which only
        // a mode that refuses makes an error
        Err(e) if mode == SecretFiles::Warn => {
            app.out.note(&format!(
                "the files of {} could not be listed ({}), so they were not checked for secrets",
                cybedefend_core::home::tilde(zip),
                e.message()
            ));
            return Ok(());
        }
        Err(e) => {
            return Err(e.with_hint(format!(
                "{origin} needs the archive's file list to check it; nothing was uploaded"
            )));
        }
    };
    let found: Vec<(String, &'static str)> = names
        .into_iter()
        .filter_map(|n| looks_like_secret(&n).map(|why| (n, why)))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    match mode {
        SecretFiles::Fail => Err(refusal(&found, &origin)),
        SecretFiles::Exclude => Err(Error::usage(format!(
            "{} in {} look{} like secrets, and {origin} cannot leave files out of an archive made elsewhere",
            files(found.len()),
            cybedefend_core::home::tilde(zip),
            if found.len() == 1 { "s" } else { "" }
        ))
        .with_hint("package the folder with --dir instead (the files are then left out), or rebuild the archive without them; nothing was uploaded")),
        SecretFiles::Warn => {
            for (name, why) in &found {
                app.out.warn(&format!(
                    "{} in {} looks like a secret ({why}) and will be uploaded; rebuild the archive without it, or package the folder with --dir and --secret-files exclude",
                    text::name(name),
                    cybedefend_core::home::tilde(zip)
                ));
            }
            Ok(())
        }
    }
}

fn plan_json(
    plan: &Plan,
    ignored: &[IgnoredGroup],
    respect: bool,
    secrets: &Secrets,
) -> serde_json::Value {
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
        "secret_files": secrets.mode.as_str(),
        "secrets_left_out": plan.secrets_left_out,
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
            let _ = writeln!(s, "  {:>10}  {}", size(f.size), text::name(&f.name));
        }
    } else {
        let mut largest: Vec<&archive::PlannedFile> = plan.files.iter().collect();
        largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
        let _ = writeln!(s, "Largest files (--list shows all {}):", plan.files.len());
        for f in largest.iter().take(10) {
            let _ = writeln!(s, "  {:>10}  {}", size(f.size), text::name(&f.name));
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
                text::name(&g.path)
            );
        }
        if ignored.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", ignored.len() - 15);
        }
    }
    names(&mut s, "Left out by --exclude", &plan.excluded);
    names(
        &mut s,
        "Left out as secrets (secret files: exclude)",
        &plan.secrets_left_out,
    );
    if !plan.skipped.is_empty() {
        let _ = writeln!(s, "Skipped:");
        for k in plan.skipped.iter().take(15) {
            let _ = writeln!(s, "  {}  ({})", text::name(&k.name), k.reason);
        }
        if plan.skipped.len() > 15 {
            let _ = writeln!(s, "  ... and {} more", plan.skipped.len() - 15);
        }
    }
    s.trim_end().to_owned()
}

/// "TITLE: N files:" and the first 15 names.
fn names(s: &mut String, title: &str, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}: {}:", files(names.len()));
    for name in names.iter().take(15) {
        let _ = writeln!(s, "  {}", text::name(name));
    }
    if names.len() > 15 {
        let _ = writeln!(s, "  ... and {} more", names.len() - 15);
    }
}
