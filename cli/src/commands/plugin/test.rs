//! `plugin test`: the conformance cases, one line each.

use cybedefend_core::duration::Span;
use cybedefend_core::{Error, Result};
use cybedefend_plugin_host::conformance;

use crate::app::App;

pub(crate) async fn run(app: &App, plugin: &str, limit: Span) -> Result<u8> {
    let located = super::locate(app, plugin)?;
    let verdict = super::check(app, &located, None).into_result(&located.name)?;
    let cases = conformance::run(&super::checked(&located, &verdict), limit.get()).await;
    let mut s = String::new();
    for c in &cases {
        s.push_str(&format!(
            "{} {:<46} {:>6} ms  {}\n",
            if c.passed { "✓" } else { "✗" },
            c.name,
            c.elapsed.as_millis(),
            c.detail
        ));
    }
    app.out.data(s.trim_end());
    let failed = cases.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        return Err(Error::failure(format!(
            "{failed} of {} conformance cases failed for plugin `{}`",
            cases.len(),
            located.name
        )));
    }
    app.out.success(&format!(
        "plugin `{}` passed all {} conformance cases",
        located.name,
        cases.len()
    ));
    Ok(0)
}
