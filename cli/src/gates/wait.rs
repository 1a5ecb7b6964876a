//! Waiting for the scan: status every `--interval`, up to `--timeout`.

use std::time::Instant;

use cybedefend_core::platform::scan::{self, ScanStatus};
use cybedefend_core::{Error, Result};

use super::{Followed, Summary};

/// How often a line is printed without a terminal while the status does not change.
const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

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
    // At a terminal, one line that keeps the elapsed time current; without one, a line when
    // the status changes, and every 10 s while it does not.
    let spinner = {
        use std::io::IsTerminal;
        (!app.config.ci() && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg} ({elapsed}) {spinner}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(250));
            b
        })
    };
    let mut last_status = String::new();
    let mut last_line = Instant::now();
    loop {
        let s = match scan::status(api, project, scan_id).await {
            Ok(s) => s,
            Err(e) => {
                if let Some(b) = &spinner {
                    b.finish_and_clear();
                }
                return Err(e);
            }
        };
        let status = format!("Scan {}: {:.0}% {}", s.state, s.percent(), s.step);
        let status = status.trim_end().to_owned();
        match &spinner {
            Some(b) => b.set_message(cybedefend_core::text::one_line(&status, 120)),
            None if status != last_status || last_line.elapsed() >= EVERY => {
                app.out.info(&format!(
                    "{status} ({})",
                    crate::progress::elapsed(start.elapsed())
                ));
                last_line = Instant::now();
            }
            None => {}
        }
        last_status = status;
        if s.is_terminal() {
            if let Some(b) = spinner {
                b.finish_and_clear();
                app.out.info(&format!(
                    "{last_status} ({})",
                    crate::progress::elapsed(start.elapsed())
                ));
            }
            return Ok(s);
        }
        if start.elapsed() + interval > limit {
            if let Some(b) = &spinner {
                b.finish_and_clear();
            }
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
