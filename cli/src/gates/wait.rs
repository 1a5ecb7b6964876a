//! Waiting for the scan: status every `--interval`, up to `--timeout`.

use std::time::Instant;

use cybedefend_core::platform::scan::{self, ScanStatus};
use cybedefend_core::{Error, Result};

use super::{Followed, Summary};

pub(crate) async fn until_done(
    scan: Followed<'_, '_>,
    summary: &mut Summary,
) -> Result<ScanStatus> {
    let Followed { scan_id, args, .. } = scan;
    let interval = args.interval.get();
    let limit = args.timeout.get();
    let start = Instant::now();
    // No status request, nor its retries, goes past `--timeout`.
    cybedefend_core::platform::deadline::set(Some(tokio::time::Instant::now() + limit));
    let result = poll(scan, summary, start, interval, limit).await;
    cybedefend_core::platform::deadline::set(None);
    result.map_err(|e| {
        if e.is_network() && start.elapsed() >= limit {
            e.context(format!("the scan was not followed to its end within --timeout {}", args.timeout))
                .with_hint(format!("it goes on on the platform as {scan_id}; `cybedefend results` fetches its findings later"))
        } else {
            e
        }
    })
}

async fn poll(
    scan: Followed<'_, '_>,
    summary: &mut Summary,
    start: Instant,
    interval: std::time::Duration,
    limit: std::time::Duration,
) -> Result<ScanStatus> {
    let Followed {
        app,
        api,
        project,
        scan_id,
        args,
        ..
    } = scan;
    let mut last_line = String::new();
    loop {
        let s = scan::status(api, project, scan_id).await?;
        let line = format!("Scan {}: {:.0}% {}", s.state, s.percent(), s.step);
        if line != last_line {
            app.out.info(line.trim_end());
            last_line = line;
        }
        if s.is_terminal() {
            return Ok(s);
        }
        if start.elapsed() + interval > limit {
            summary.write(false, "The scan did not finish in time.");
            return Err(Error::failure(format!(
                "the scan did not finish within {} (state `{}`); it goes on on the platform as {scan_id}",
                args.timeout, s.state
            ))
            .with_hint("raise --timeout, or use --wait=false and fetch results later with `cybedefend results`"));
        }
        tokio::time::sleep(interval).await;
    }
}
