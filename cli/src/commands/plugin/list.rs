//! `plugin list`: every plugin found, whether it may run, and what it says about itself.

use std::fmt::Write as _;

use cybedefend_core::Result;
use cybedefend_plugin_host::discover;
use serde_json::json;

use crate::app::App;
use crate::exit::Exit;

pub(crate) async fn run(app: &App, as_json: bool) -> Result<Exit> {
    let settings = app.plugin_settings();
    let mut rows = Vec::new();
    let plugins = discover::all(&settings.dirs);
    let ignored: Vec<_> = discover::misnamed(&settings.dirs, None)
        .into_iter()
        .filter(|p| !plugins.iter().any(|l| &l.path == p))
        .collect();
    for plugin in plugins {
        let (verdict, trusted) = super::check(app, &plugin, None);
        // Only a plugin that may run is asked who it is.
        let info = match &trusted {
            Some(t) => Some(super::handshake(app, t, None).await),
            None => None,
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
                    "path": cybedefend_core::home::tilde(&p.path),
                    "version": version,
                    "protocol_or_abi": versions,
                    "sha256": v.sha256,
                    "trusted": v.trusted(),
                    "refusals": v.refusals.iter().map(|r| json!({"reason": r.reason, "fix": r.fix})).collect::<Vec<_>>(),
                    "handshake_error": error,
                })
            })
            .collect();
        app.out.json(&json!({
            "dirs": settings.dirs.iter().map(|d| cybedefend_core::home::tilde(d)).collect::<Vec<_>>(),
            "allow": settings.allow,
            "plugins": list,
            "ignored": ignored.iter().map(|d| json!({"path": cybedefend_core::home::tilde(d), "rename_to": rename(d)})).collect::<Vec<_>>(),
        }))?;
        return Ok(Exit::Success);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Plugin folders: {} (and PATH for exec plugins)",
        settings
            .dirs
            .iter()
            .map(|d| cybedefend_core::home::tilde(d))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if rows.is_empty() {
        s.push_str("No plugins found.");
    }
    for (p, v, info) in &rows {
        let _ = writeln!(
            s,
            "{} ({}) {}",
            p.name,
            p.kind.as_str(),
            cybedefend_core::home::tilde(&p.path)
        );
        if !v.sha256.is_empty() {
            let _ = writeln!(s, "  {}", v.sha256);
        }
        match info {
            Some(Ok(i)) => {
                let what = match p.kind {
                    discover::Kind::Exec => "protocol",
                    discover::Kind::Native => "ABI",
                };
                let version = if i.version.is_empty() {
                    "unknown"
                } else {
                    i.version.as_str()
                };
                let _ = writeln!(s, "  trusted; version {version} ({what} {:?})", i.versions);
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "  trusted, but the handshake failed: {}", e.message());
            }
            None => {
                for r in &v.refusals {
                    let _ = writeln!(s, "  refused: {} (fix: {})", r.reason, r.fix);
                }
            }
        }
    }
    if !ignored.is_empty() {
        let _ = writeln!(
            s,
            "Ignored (not named as a plugin: `cybedefend-credential-NAME` or `libcybedefend_credential_NAME.so`, NAME in lower-case letters, digits and dashes): {}",
            ignored
                .iter()
                .map(|d| match rename(d) {
                    Some(right) => format!(
                        "{} (a library is named {right})",
                        cybedefend_core::home::tilde(d)
                    ),
                    None => cybedefend_core::home::tilde(d),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    app.out.data(s.trim_end());
    Ok(Exit::Success)
}

/// The name an ignored file should have, when that can be told.
fn rename(path: &std::path::Path) -> Option<String> {
    path.file_name()
        .and_then(|f| discover::right_name(&f.to_string_lossy()))
}
