//! `plugin verify`: the trust checks and a handshake, with every reason spelled out.

use std::fmt::Write as _;
use std::time::Duration;

use cybedefend_core::credentials::display;
use cybedefend_core::{Error, Result};

use crate::app::App;

pub(crate) async fn run(app: &App, plugin: &str, pin: Option<&str>) -> Result<u8> {
    let located = super::locate(app, plugin)?;
    let verdict = super::check(app, &located, pin);
    let mut s = String::new();
    let _ = writeln!(s, "plugin:  {} ({})", located.name, located.kind.as_str());
    let _ = writeln!(s, "file:    {}", display(&verdict.real_path));
    let _ = writeln!(s, "hash:    {}", verdict.sha256);
    if !verdict.trusted() {
        let _ = writeln!(s, "trust:   refused");
        for r in &verdict.refusals {
            let _ = writeln!(s, "  - {r}");
        }
        app.out.data(s.trim_end());
        return Err(
            Error::usage(format!("plugin `{}` may not run", located.name))
                .with_hint("fix what is listed above; `cybedefend plugin verify` checks again"),
        );
    }
    let _ = writeln!(
        s,
        "trust:   ok (owner, permissions, folders{}{})",
        if pin.is_some() { ", pin" } else { "" },
        if app.plugin_settings().allow.is_some() {
            ", allow-list"
        } else {
            ""
        }
    );
    match cybedefend_plugin_host::handshake(&located, Duration::from_secs(5)).await {
        Ok(info) => {
            let _ = writeln!(
                s,
                "answers: {} {} (versions {:?})",
                info.name, info.version, info.versions
            );
            app.out.data(s.trim_end());
            app.out
                .success(&format!("plugin `{}` can be used", located.name));
            Ok(0)
        }
        Err(e) => {
            let _ = writeln!(s, "answers: no");
            app.out.data(s.trim_end());
            Err(e.context(format!("plugin `{}` failed its handshake", located.name)))
        }
    }
}
