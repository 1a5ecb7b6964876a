//! `scan`: plan, archive, upload, wait, gates.
//!
//! Cheap checks come before expensive work: flags and the folder (usage errors) first, then the
//! credential, a token and the project (one API call), and only then the archive.

mod archive;
mod plan;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use clap::Args;
use cybedefend_core::platform::Api;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::gates::{self, GateArgs};
use crate::output::{Printer, size};

pub(crate) use archive::Running;

const SCAN_HELP: &str = "\
The folder is zipped without .git/ and without what .gitignore/.ignore exclude (--no-ignore keeps
everything); .cybedefend at the root is always included. Symbolic links never lead out of it.
Before anything is packaged, the credential and the project are checked with the platform.

Files that look like secrets (.env, private keys, keystores, credential files) are named on stderr
before anything is packaged; --secret-files (or `scan.secret_files` in config) can leave them out
or refuse the upload instead.

Exit codes: 0 scan done and no gate tripped (or --wait=false), 1 a gate tripped (--break-on-fail,
--break-on-severity, a blocking policy violation) or the scan could not be run, 2 usage error
(or a file that looks like a secret under --secret-files fail), 3 the platform could not be
reached, 4 no credential or access denied, 130 interrupted.

Examples:
  cybedefend scan --dir . --dry-run            # what would leave; no account
  cybedefend scan --dir . --dry-run --list     # every file, one a line
  cybedefend scan --dir . --exclude '*.pem' --secret-files fail --project-id ID
  cybedefend scan --dir . --project-id ID --break-on-severity high
  CYBEDEFEND_PAT=... cybedefend scan --dir . --project-id ID --ci
  cybedefend scan --file build/source.zip --project-id ID --wait=false";

/// `scan`.
#[derive(Debug, Clone, Args)]
#[command(after_help = SCAN_HELP)]
pub(crate) struct ScanArgs {
    /// Folder to package and scan
    #[arg(short, long, value_name = "FOLDER", conflicts_with = "file")]
    pub(crate) dir: Option<PathBuf>,
    /// Existing zip archive to upload instead of a folder
    #[arg(short, long, value_name = "ZIP")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) project: crate::commands::data::ProjectId,
    /// Branch the scan belongs to [default: `branch:` in config, else main]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) branch: Option<String>,
    /// Wait for the scan to finish (--wait=false prints the scan id and exits)
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) wait: bool,
    #[command(flatten)]
    pub(crate) gates: GateArgs,
    /// Keep files that .gitignore/.ignore exclude (.git/ is still left out); they are packed at
    /// a faster deflate level than the source (half the CPU, about 5% more bytes)
    #[arg(long)]
    pub(crate) no_ignore: bool,
    /// Leave out the files GLOB matches (.gitignore syntax, relative to --dir: `*.pem`,
    /// `secrets/`, `/config/local.env`); repeatable, added to `scan.exclude` of the config,
    /// and applied with --no-ignore too
    #[arg(long, value_name = "GLOB", conflicts_with = "file")]
    pub(crate) exclude: Vec<String>,
    /// Files that look like secrets (.env, private keys, keystores): `warn` names each one and
    /// uploads it, `exclude` leaves them out, `fail` refuses to upload (exit 2) [default:
    /// `scan.secret_files` of the config, else warn]
    #[arg(long, value_name = "MODE", value_parser = ["warn", "exclude", "fail"])]
    pub(crate) secret_files: Option<String>,
    /// Show what would be uploaded (files, sizes, secrets-looking files, what the ignore rules
    /// removed); no account and no network needed
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// With --dry-run: list every file that would be uploaded, one a line
    #[arg(long, requires = "dry_run")]
    pub(crate) list: bool,
    /// With --dry-run: print the whole plan as JSON
    #[arg(long, requires = "dry_run", conflicts_with = "list")]
    pub(crate) json: bool,
    /// Also write the archive to this file (written under a temporary name, renamed when
    /// complete)
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub(crate) archive_out: Option<PathBuf>,
}

/// Checks what can be checked without any work: the folder or zip, the project id.
fn check_args(args: &ScanArgs, configured_project: Option<&str>) -> Result<Option<String>> {
    if args.dir.is_none() && args.file.is_none() {
        return Err(
            Error::usage("nothing to scan: give --dir FOLDER or --file ARCHIVE.zip")
                .with_hint("for the current folder: `cybedefend scan --dir . --project-id ID`"),
        );
    }
    if let Some(dir) = &args.dir {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::usage(format!(
                    "{} is not a folder",
                    cybedefend_core::home::tilde(dir)
                ))
                .with_hint("--dir takes a folder; use --file for a zip archive"));
            }
            Err(_) => {
                return Err(Error::usage(format!(
                    "{} does not exist",
                    cybedefend_core::home::tilde(dir)
                ))
                .with_hint("give the folder to scan with --dir"));
            }
        }
    }
    if let Some(file) = &args.file {
        upload::check_zip(file)?;
    }
    if args.dry_run {
        return Ok(None);
    }
    args.project.or(configured_project).map(Some)
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ScanArgs) -> Result<Exit> {
    let running = Running::default();
    let cancel = running.cancel.clone();
    let watch = running.clone();
    let work = scan(global, out, args, running);
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        name = stop_signal() => {
            // A session refresh that was sent is finished and saved first.
            if cybedefend_core::shield::active() {
                tokio::select! {
                    _ = &mut work => {}
                    () = cybedefend_core::shield::released() => {}
                }
            }
            // Stop the compressors and wait (briefly) for them to remove their temp files;
            // dropping the scan future removes the archive and any partial --archive-out file.
            cancel.store(true, Ordering::Relaxed);
            watch.wait_idle(std::time::Duration::from_secs(3)).await;
            Err(Error::cancelled(format!("interrupted: stopped by {name}; nothing partial was left behind (temporary archives removed)")))
        }
    }
}

/// The first of SIGINT, SIGTERM or SIGHUP, by name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut hup = signal(SignalKind::hangup()).ok();
        async fn wait(s: Option<&mut tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "an interrupt (SIGINT)",
            () = wait(term.as_mut()) => "SIGTERM",
            () = wait(hup.as_mut()) => "a hangup (SIGHUP)",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "an interrupt"
    }
}

async fn scan(global: GlobalArgs, out: Printer, args: ScanArgs, running: Running) -> Result<Exit> {
    let app = App::load(global, out)?;
    let project = check_args(&args, app.config.settings.project_id.as_deref())?;

    let Some(project) = project else {
        // --dry-run: no account, no network.
        let Some(dir) = args.dir.clone() else {
            return Err(Error::usage("--dry-run works with --dir only"));
        };
        return plan::dry_run(&app, &args, dir, running).await;
    };

    // Credential, token and project before any packaging.
    let branch = args
        .branch
        .clone()
        .or_else(|| app.config.settings.branch.clone())
        .unwrap_or_else(|| "main".into());
    let connected = app.connect().await?;
    let api = app.api(&connected);
    check_project(&api, &project).await?;

    // The archive: a temp file removed on every path (the guard's drop).
    let started = std::time::Instant::now();
    let (archive_path, _guard): (PathBuf, Option<tempfile::TempPath>) =
        match (&args.dir, &args.file) {
            (Some(dir), _) => {
                let (path, guard) = archive::package(&app, &args, dir, &running).await?;
                (path, Some(guard))
            }
            (None, Some(file)) => {
                plan::secrets_in_zip(&app, &args, file)?;
                (file.clone(), None)
            }
            (None, None) => return Err(Error::usage("give --dir FOLDER or --file ARCHIVE.zip")),
        };
    let packaged = started.elapsed();
    let scan_id = upload::start_and_upload(&app, &api, &project, &branch, &archive_path).await?;
    drop(_guard);
    let uploaded = started.elapsed();

    let scan = gates::Followed {
        app: &app,
        api: &api,
        project: &project,
        scan_id: &scan_id,
        branch: &branch,
        args: &args.gates,
    };
    let mut summary = scan.summary();
    if !args.wait {
        app.out.data(&scan_id);
        summary.write(true, "Scan started; not waiting for it (`--wait=false`).");
        return Ok(Exit::Success);
    }
    let exit = gates::follow(scan, &mut summary).await?;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    app.out.info(&format!(
        "Took {:.2} s: packaging {:.2} s, starting and uploading {:.2} s, the scan and its results {:.2} s",
        secs(started.elapsed()),
        secs(packaged),
        secs(uploaded - packaged),
        secs(started.elapsed() - uploaded)
    ));
    Ok(exit)
}

/// `GET /project/{id}`: a wrong id or missing access is found before any packaging.
async fn check_project(api: &Api<'_>, project: &str) -> Result<()> {
    cybedefend_core::platform::projects::get(api, project)
        .await
        .map_err(|e| {
            // the words every command uses, and what this one did not do
            let hint = e.hint().map(str::to_owned);
            match (e.http_status(), hint) {
                (Some(403 | 404), Some(h)) => {
                    e.with_hint(format!("{h}; nothing was packaged or uploaded"))
                }
                _ => e,
            }
        })?;
    Ok(())
}

/// "1 file", "2 files".
pub(crate) fn files(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

pub(crate) fn describe_written(target: &Path, w: &cybedefend_archive::Written) -> String {
    format!(
        "{} ({}, {} → {})",
        cybedefend_core::home::tilde(target),
        files(w.files as usize),
        size(w.bytes_in),
        size(w.bytes_out)
    )
}
