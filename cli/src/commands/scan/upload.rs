//! Starting the scan and uploading the archive to the pre-signed URL, with progress.

use std::io::Read;
use std::path::Path;

use cybedefend_core::platform::{Api, scan};
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::output::size;
use crate::progress::{Progress, Unit};

/// A `--file` must be a non-empty zip archive.
pub(crate) fn check_zip(path: &Path) -> Result<()> {
    let mut f = cybedefend_core::fsutil::open_regular(path, true).map_err(|e| {
        e.into_error("archive", path)
            .with_kind(cybedefend_core::ErrorKind::Usage)
            .with_hint("--file takes a zip archive of the source code")
    })?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(
            Error::usage(format!("{} is empty", cybedefend_core::home::tilde(path)))
                .with_hint("--file takes a zip archive of the source code"),
        );
    }
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).unwrap_or(0);
    if n < 4 || !(magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
        return Err(Error::usage(format!(
            "{} is not a zip archive",
            cybedefend_core::home::tilde(path)
        ))
        .with_hint("--file takes a zip archive; use --dir to package a folder"));
    }
    Ok(())
}

/// Starts the scan and uploads the archive; returns the scan id.
pub(crate) async fn start_and_upload(
    app: &App,
    api: &Api<'_>,
    project: &str,
    branch: &str,
    archive: &Path,
) -> Result<String> {
    let started = scan::start(api, project, Some(branch)).await?;
    tracing::debug!("scan start: scan id {}", started.scan_id);
    let total = std::fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
    app.out.info(&format!("Uploading {} ...", size(total)));
    let shown = std::sync::Mutex::new(Progress::new(app, "Uploading", Some(total), Unit::Bytes));
    let report = |sent: u64| {
        if let Ok(mut p) = shown.lock() {
            p.set(sent);
        }
    };
    let start = std::time::Instant::now();
    api.upload(&started.upload_url, archive, &report).await?;
    if let Ok(p) = shown.into_inner() {
        p.finish();
    }
    app.out.info(&format!(
        "Uploaded {} in {:.2} s",
        size(total),
        start.elapsed().as_secs_f64()
    ));
    app.out
        .success(&format!("Scan started: {}", started.scan_id));
    Ok(started.scan_id)
}
