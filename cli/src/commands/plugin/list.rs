//! `plugin list`: every plugin found, whether it may run, and what it says about itself.

use std::fmt::Write as _;
use std::time::Duration;

use cybedefend_core::Result;
use cybedefend_core::credentials::display;
use cybedefend_plugin_host::discover;
use serde_json::json;

use crate::app::App;

pub(crate) async fn run(app: &App, as_json: bool) -> Result<u8> {
    let settings = app.plugin_settings();
    let mut rows = Vec::new();
    for plugin in discover::all(&settings.dirs) {
        let verdict = super::check(app, &plugin, None);
        // Only a plugin that may run is asked who it is.
        let info = if verdict.trusted() {
            Some(cybedefend_plugin_host::handshake(&plugin, Duration::from_secs(5)).await)
        } else {
            None
        };
        rows.push((plugin, verdict, info));
    }
    if as_json {
        let list: Vec<_> = rows
            .iter()
            .map(|(p, v, info)| {
                let (version, versions, error) = match info {
                    Some(Ok(i)) => (Some(i.version.clone()), Some(i.versions.clone()), None),
                    Some(Err(e)) => (None, None, Some(e.message().to_owned())),
                    None => (None, None, None),
                };
                json!({
                    "name": p.name,
                    "kind": p.kind.as_str(),
                    "path": display(&p.path),
                    "version": version,
                    "protocol_or_abi": versions,
                    "sha256": v.sha256,
                    "trusted": v.trusted(),
                    "refusals": v.refusals,
                    "handshake_error": error,
                })
            })
            .collect();
        app.out.json(&json!({
            "dirs": settings.dirs.iter().map(|d| display(d)).collect::<Vec<_>>(),
            "allow": settings.allow,
            "plugins": list,
        }))?;
        return Ok(0);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Plugin folders: {} (and PATH for exec plugins)",
        settings
            .dirs
            .iter()
            .map(|d| display(d))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if rows.is_empty() {
        s.push_str("No plugins found.");
    }
    for (p, v, info) in &rows {
        let _ = writeln!(s, "{} ({}) {}", p.name, p.kind.as_str(), display(&p.path));
        let _ = writeln!(s, "  {}", v.sha256);
        match info {
            Some(Ok(i)) => {
                let what = match p.kind {
                    discover::Kind::Exec => "protocol",
                    discover::Kind::Native => "ABI",
                };
                let _ = writeln!(
                    s,
                    "  trusted; version {} ({what} {:?})",
                    i.version, i.versions
                );
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "  trusted, but the handshake failed: {}", e.message());
            }
            None => {
                let _ = writeln!(s, "  refused: {}", v.refusals.join("; "));
            }
        }
    }
    app.out.data(s.trim_end());
    Ok(0)
}
