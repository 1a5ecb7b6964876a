//! Packaging the folder: the walk and the compression run off the async runtime, with a
//! progress bar on a terminal. Every file written appears under its final name only when
//! complete; Ctrl-C stops the compressors, which remove their temporary files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cybedefend_archive::{self as archive, Plan};
use cybedefend_core::fsutil::AtomicFile;
use cybedefend_core::{Error, Result};

use super::{ScanArgs, describe_written, files};
use crate::app::App;
use crate::output::size;
use crate::progress::{Progress, Unit};

/// Deflate level. 5 with zlib-rs gives archives no larger than Info-ZIP's `zip -6` (1% smaller
/// on scripts/bench-archive.sh's tree) for 25% less CPU than level 6; 4 made them larger.
const LEVEL: i64 = 5;

/// The archive work in flight: a cancel flag for the compressors, and a count of blocking
/// tasks that have not finished (Ctrl-C waits for them to clean up).
#[derive(Debug, Clone, Default)]
pub(crate) struct Running {
    pub(crate) cancel: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
}

impl Running {
    /// Waits until no archive task runs, at most `limit`.
    pub(crate) async fn wait_idle(&self, limit: Duration) {
        let start = Instant::now();
        while self.active.load(Ordering::SeqCst) > 0 && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs `f` off the runtime, counted as active until it returns.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        struct Done(Arc<AtomicUsize>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.active.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.active.clone());
        // tokio panics when the OS refuses it a thread (a tight `ulimit -v`)
        let task = cybedefend_core::recover::catching(|| {
            tokio::task::spawn_blocking(move || {
                let _done = done;
                f()
            })
        })
        .map_err(|e| {
            Error::failure(format!("cannot start a thread for the archive: {e}")).with_hint(
                "the process ran short of memory or threads: raise the limit (`ulimit -v`, \
                 `ulimit -u`, the container's memory limit) or free some, then run it again",
            )
        })?;
        task.await
            .map_err(|e| Error::failure(format!("archive task failed: {e}")))?
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Plans the archive of `dir` (off the runtime), with the exclude patterns of the flags and
/// the config, then applies the secret-files mode: the plan, and what it says about the files
/// that look like secrets (warnings for `warn`, notes for `exclude`; `fail` is an error).
pub(crate) async fn plan(
    app: &App,
    running: &Running,
    dir: &Path,
    args: &ScanArgs,
    dry_run: bool,
) -> Result<(Plan, super::plan::Secrets)> {
    let dir = dir.to_owned();
    let mut exclude = app.config.settings.scan.exclude.clone();
    exclude.extend(args.exclude.iter().cloned());
    let respect_ignore = !args.no_ignore;
    let mut plan = running
        .blocking(move || archive::plan_excluding(&dir, respect_ignore, &exclude))
        .await?;
    let secrets = super::plan::secrets(app, args, &mut plan, dry_run)?;
    Ok((plan, secrets))
}

/// The compressors deflate files up to 16 MB whole, in buffers freed after each: glibc's malloc
/// would keep freed buffers of that size in each thread's heap (its threshold for giving memory
/// straight back to the system grows with the largest freed), and the process would hold the
/// largest buffer each thread ever had. With the threshold fixed at 4 MB they go back when
/// freed: on scripts/bench-archive.sh's tree, peak RSS 46-50 MB instead of 67-72 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn large_buffers_go_back() {
    // SAFETY: mallopt changes a setting of the allocator; it takes no pointer and is safe to
    // call at any time (a value glibc does not take is refused by the call, not acted on).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn large_buffers_go_back() {}

/// Writes the archive of `plan` to `target` with a progress bar.
pub(crate) async fn write(
    app: &App,
    running: &Running,
    plan: Arc<Plan>,
    target: PathBuf,
) -> Result<archive::Written> {
    large_buffers_go_back();
    let progress = Arc::new(AtomicU64::new(0));
    let mut shown = Progress::new(app, "Packaging", Some(plan.total_bytes), Unit::Bytes);
    let (p2, c2) = (progress.clone(), running.cancel.clone());
    let task = running.blocking(move || archive::write(&plan, &target, LEVEL, threads(), &p2, &c2));
    let result = crate::progress::following(&mut shown, &progress, task).await;
    shown.finish();
    if let Ok(w) = &result {
        changed_notes(app, &w.changed);
    }
    result
}

/// One note per file whose size changed while it was archived (at most 10): what went into the
/// archive, and how to leave such a file out. Never an error: a log written into the scanned
/// folder (`scan ... | tee scan.log`) grows on every run, and a retry would meet it again.
fn changed_notes(app: &App, changed: &[archive::Changed]) {
    use cybedefend_core::text;
    for c in changed.iter().take(10) {
        let text = if c.now > c.planned {
            format!(
                "{} grew while it was being archived (to {}); the archive holds its first {}, its size when the scan started; a file written during the scan, such as a log in this folder, is better left out: --exclude {}",
                text::name(&c.name),
                size(c.now),
                size(c.planned),
                text::shell_word(&archive::literal_pattern(&c.name))
            )
        } else {
            format!(
                "{} changed while it was being archived ({} when the scan started, {} now); the archive holds the {} read",
                text::name(&c.name),
                size(c.planned),
                size(c.now),
                size(c.archived)
            )
        };
        app.out.note(&text);
    }
    if changed.len() > 10 {
        app.out.note(&format!(
            "{} more files changed while they were being archived",
            changed.len() - 10
        ));
    }
}

/// Writes the archive straight to `target` (`--archive-out` of a dry run): under a temporary
/// name next to it, renamed when complete.
pub(crate) async fn write_to(
    app: &App,
    running: &Running,
    plan: Plan,
    target: &Path,
) -> Result<()> {
    let start = Instant::now();
    let out = AtomicFile::create(target)?;
    let w = write(app, running, Arc::new(plan), out.temp_path().to_owned()).await?;
    out.commit()?;
    app.out.success(&format!(
        "Wrote {} in {:.2} s",
        describe_written(target, &w),
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Packages the folder for upload into a temporary file (removed when the guard drops), and
/// copies it to `--archive-out` when asked.
pub(crate) async fn package(
    app: &App,
    args: &ScanArgs,
    dir: &Path,
    running: &Running,
) -> Result<(PathBuf, tempfile::TempPath)> {
    // what looks like a secret is named before anything leaves, terminal or CI
    let start = Instant::now();
    let (plan, secrets) = plan(app, running, dir, args, false).await?;
    let listed = start.elapsed();
    secrets.print(app);
    let tmp = tempfile::Builder::new()
        .prefix("cybedefend-scan-")
        .suffix(".zip")
        .tempfile()
        .map_err(|e| Error::failure(format!("cannot create a temp file: {e}")))?
        .into_temp_path();
    let path = tmp.to_path_buf();
    app.out.info(&format!(
        "Packaging {} ({}) from {}",
        files(plan.files.len()),
        size(plan.total_bytes),
        cybedefend_core::home::tilde(&plan.root)
    ));
    let w = write(app, running, Arc::new(plan), path.clone()).await?;
    app.out.info(&format!(
        "Archive ready: {} in {:.2} s (listing the files {:.2} s, compressing {:.2} s)",
        size(w.bytes_out),
        start.elapsed().as_secs_f64(),
        listed.as_secs_f64(),
        start.elapsed().saturating_sub(listed).as_secs_f64()
    ));
    if let Some(keep) = &args.archive_out {
        let mut out = AtomicFile::create(keep)?;
        let mut src = std::fs::File::open(&path)
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot read", &path, &e))?;
        std::io::copy(&mut src, out.file())
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot write", keep, &e))?;
        out.commit()?;
    }
    Ok((path, tmp))
}
