//! `plugin verify`: the trust checks and a handshake, with every reason spelled out.

use std::fmt::Write as _;

use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::exit::Exit;

pub(crate) async fn run(
    app: &App,
    plugin: &str,
    pin: Option<&str>,
    table_json: bool,
) -> Result<Exit> {
    let located = super::locate(app, plugin)?;
    if table_json {
        // the child of `plugin list` or `plugin verify`: this process loads the library
        let (verdict, trusted) = super::check(app, &located, pin);
        let Some(trusted) = trusted else {
            return Err(verdict.to_error(&located.name));
        };
        let info = cybedefend_plugin_host::handshake(&trusted, super::HANDSHAKE_LIMIT).await?;
        app.out.json(&serde_json::json!({
            "name": info.name,
            "version": info.version,
            "versions": info.versions,
        }))?;
        return Ok(Exit::Success);
    }
    let configured = super::configured_pin(app, &located);
    let (verdict, trusted) = super::check(app, &located, pin);
    let mut s = String::new();
    let _ = writeln!(s, "plugin:  {} ({})", located.name, located.kind.as_str());
    let _ = writeln!(
        s,
        "file:    {}",
        cybedefend_core::home::tilde(&verdict.real_path)
    );
    let _ = writeln!(s, "hash:    {}", verdict.sha256);
    let Some(trusted) = trusted else {
        let _ = writeln!(s, "trust:   refused");
        for r in &verdict.refusals {
            let _ = writeln!(s, "  - {}\n    fix: {}", r.reason, r.fix);
        }
        app.out.data(s.trim_end());
        return Err(
            Error::usage(format!("plugin `{}` may not run", located.name)).with_hint(format!(
                "fix what is listed above, then run `cybedefend plugin verify {}` again",
                cybedefend_core::text::one_line(plugin, 200)
            )),
        );
    };
    let _ = writeln!(
        s,
        "trust:   ok (owner, permissions, folders{}{})",
        if pin.is_some() || configured.is_some() {
            ", pin"
        } else {
            ""
        },
        if app.plugin_settings().allow.is_some() {
            ", allow-list"
        } else {
            ""
        }
    );
    let start = std::time::Instant::now();
    let first = super::handshake(app, &trusted, pin).await;
    let mut times = vec![start.elapsed()];
    if first.is_ok() {
        // two more, warm: what every command pays
        for _ in 0..2 {
            let start = std::time::Instant::now();
            if super::handshake(app, &trusted, pin).await.is_err() {
                break;
            }
            times.push(start.elapsed());
        }
    }
    times.sort();
    let startup = times[times.len() / 2];
    match first {
        Ok(info) => {
            if info.name != located.name {
                app.out.warn(&format!(
                    "the plugin calls itself `{}`, but its file is named for `{}`; configurations name it `{}`",
                    info.name, located.name, located.name
                ));
            }
            let _ = writeln!(
                s,
                "answers: {} {} (versions {:?})",
                info.name, info.version, info.versions
            );
            let ms = startup.as_secs_f64() * 1000.0;
            let _ = writeln!(
                s,
                "start-up: {ms:.1} ms to its hello (median of {}; every command that reaches it pays this)",
                times.len()
            );
            if ms > 100.0 {
                app.out.note(&format!(
                    "`{}` takes {ms:.0} ms to start: an interpreter found through `#!/usr/bin/env` can be a version manager's shim; naming it by its path (`#!/usr/bin/python3`) is often several times faster (PROTOCOL.md, \"What an interpreter costs\")",
                    located.name
                ));
            }
            app.out.data(s.trim_end());
            app.out
                .success(&format!("plugin `{}` can be used", located.name));
            Ok(Exit::Success)
        }
        Err(e) => {
            let _ = writeln!(s, "answers: no");
            app.out.data(s.trim_end());
            Err(e.context(format!("plugin `{}` failed its handshake", located.name)))
        }
    }
}
