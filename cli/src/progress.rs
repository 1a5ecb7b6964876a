//! Progress of long work (packaging, uploading, fetching results): a bar or a counter at a
//! terminal; without one (CI, a pipe), one plain line each time the work moves by a tenth, or
//! every 10 s when it moves slower, so that a log never goes silent for long.

use std::time::{Duration, Instant};

use crate::app::App;
use crate::output::{Printer, size};

/// How often a line is printed without a terminal when the work moves slowly.
const EVERY: Duration = Duration::from_secs(10);

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Bytes (shown as `12.3 MB`).
    Bytes,
    /// Things, named (`findings`).
    Things(&'static str),
}

impl Unit {
    fn show(self, n: u64) -> String {
        match self {
            Self::Bytes => size(n),
            Self::Things(what) => format!("{n} {what}"),
        }
    }
}

/// One piece of long work.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    out: Printer,
    label: String,
    total: Option<u64>,
    unit: Unit,
    start: Instant,
    last_line: Instant,
    last_tenth: u64,
    last_done: u64,
}

impl Progress {
    /// `label` is what is being done (`Packaging`); `total`, when known, gives percentages.
    pub(crate) fn new(app: &App, label: &str, total: Option<u64>, unit: Unit) -> Self {
        use std::io::IsTerminal;
        let terminal = !app.config.ci() && std::io::stderr().is_terminal();
        let mut p = Self::plain(app.out, label, total, unit);
        p.bar = terminal.then(|| bar(label, total, unit));
        p
    }

    /// Without a bar: the plain lines only.
    fn plain(out: Printer, label: &str, total: Option<u64>, unit: Unit) -> Self {
        let now = Instant::now();
        Self {
            bar: None,
            out,
            label: label.to_owned(),
            total,
            unit,
            start: now,
            last_line: now,
            last_tenth: 0,
            last_done: 0,
        }
    }

    /// The work done so far.
    pub(crate) fn set(&mut self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
            return;
        }
        if let Some(line) = self.line_at(done, Instant::now()) {
            self.out.info(&line);
        }
    }

    /// Without a terminal: the line to print at `now` for `done`, if one is due (the work
    /// moved into a new tenth, or it moved and 10 s passed since the last line).
    fn line_at(&mut self, done: u64, now: Instant) -> Option<String> {
        if done == self.last_done {
            return None;
        }
        let tenth = match self.total {
            Some(t) if t > 0 => done.saturating_mul(10) / t,
            _ => 0,
        };
        let moved = tenth > self.last_tenth && tenth < 10;
        if !moved && now.duration_since(self.last_line) < EVERY {
            return None;
        }
        self.last_tenth = tenth.max(self.last_tenth);
        self.last_done = done;
        self.last_line = now;
        Some(self.line(done, now))
    }

    /// The line printed without a terminal: `Packaging: 40% (1.2 MB of 3.0 MB), 12 s`.
    fn line(&self, done: u64, now: Instant) -> String {
        let elapsed = elapsed(now.duration_since(self.start));
        match self.total {
            Some(t) if t > 0 => format!(
                "{}: {}% ({} of {}), {elapsed}",
                self.label,
                (done.saturating_mul(100) / t).min(100),
                self.unit.show(done),
                self.unit.show(t)
            ),
            _ => format!("{}: {} so far, {elapsed}", self.label, self.unit.show(done)),
        }
    }

    /// Clears the bar (a terminal) when the work is over (dropping it does the same, on an
    /// error's path too).
    pub(crate) fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn bar(label: &str, total: Option<u64>, unit: Unit) -> indicatif::ProgressBar {
    let (bar, template) = match (total, unit) {
        (Some(t), Unit::Bytes) => (
            indicatif::ProgressBar::new(t),
            format!(
                "{label} [{{bar:30}}] {{decimal_bytes}}/{{decimal_total_bytes}} {{decimal_bytes_per_sec}} {{eta}}"
            ),
        ),
        (Some(t), Unit::Things(what)) => (
            indicatif::ProgressBar::new(t),
            format!("{label} [{{bar:30}}] {{pos}}/{{len}} {what} {{elapsed}}"),
        ),
        (None, Unit::Bytes) => (
            indicatif::ProgressBar::no_length(),
            format!("{label} {{spinner}} {{decimal_bytes}} {{elapsed}}"),
        ),
        (None, Unit::Things(what)) => (
            indicatif::ProgressBar::no_length(),
            format!("{label} {{spinner}} {{pos}} {what} {{elapsed}}"),
        ),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// Runs `work` while `progress` follows `counter` (read every 200 ms).
pub(crate) async fn following<F: std::future::Future>(
    progress: &mut Progress,
    counter: &std::sync::atomic::AtomicU64,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = &mut work => {
                progress.set(counter.load(std::sync::atomic::Ordering::Relaxed));
                return r;
            }
            _ = tick.tick() => progress.set(counter.load(std::sync::atomic::Ordering::Relaxed)),
        }
    }
}

/// `12 s`, `3 min 05 s`, `1 h 02 min`.
pub(crate) fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(total: Option<u64>, unit: Unit) -> Progress {
        Progress::plain(Printer::new(true), "Packaging", total, unit)
    }

    /// Without a terminal: a line for each new tenth, and every 10 s while the work moves
    /// slower; never a line when nothing moved.
    #[test]
    fn plain_lines_come_each_tenth_or_every_ten_seconds() {
        let mut p = plain(Some(1000), Unit::Bytes);
        let t0 = p.start;
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(p.line_at(50, at(1)), None, "within the first tenth");
        assert_eq!(
            p.line_at(120, at(2)).as_deref(),
            Some("Packaging: 12% (120 B of 1.00 kB), 2 s")
        );
        assert_eq!(p.line_at(150, at(3)), None);
        assert!(p.line_at(450, at(4)).unwrap().starts_with("Packaging: 45%"));
        assert_eq!(p.line_at(460, at(13)), None, "9 s since the last line");
        assert!(
            p.line_at(470, at(15))
                .unwrap()
                .starts_with("Packaging: 47%")
        );
        assert_eq!(p.line_at(470, at(40)), None, "nothing moved");

        let mut p = plain(None, Unit::Things("findings"));
        let t0 = p.start;
        assert_eq!(p.line_at(100, t0 + Duration::from_secs(5)), None);
        assert_eq!(
            p.line_at(2400, t0 + Duration::from_secs(11)).as_deref(),
            Some("Packaging: 2400 findings so far, 11 s")
        );
    }

    #[test]
    fn elapsed_reads_as_people_say_it() {
        assert_eq!(elapsed(Duration::from_millis(12_400)), "12 s");
        assert_eq!(elapsed(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(elapsed(Duration::from_secs(3720)), "1 h 02 min");
    }
}
