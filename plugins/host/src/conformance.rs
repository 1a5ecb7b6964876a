//! The conformance run of `cybedefend plugin test`: the cases every plugin must pass, whatever
//! its language, judged from outside. Requests carry the reserved `cybedefend-conformance`
//! config key, which asks the plugin for a given answer instead of real work (the SDK answers
//! it; plugins in other languages implement it, see `plugins/PROTOCOL.md`).

use std::time::{Duration, Instant};

use cybedefend_plugin_sdk::{Action, CONFORMANCE_KEY, ErrorKind, Response, SUPPORTED_VERSIONS};
use serde_json::{Value, json};

use crate::discover::{Kind, Located};

/// One case and how it went.
#[derive(Debug, Clone)]
pub struct Case {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What happened.
    pub detail: String,
    /// How long the plugin took.
    pub elapsed: Duration,
}

fn request(action: &str, ask: &str) -> Value {
    json!({
        "v": 1,
        "action": action,
        "provider": "conformance",
        "config": { CONFORMANCE_KEY: ask },
        "context": {"region": "us", "api_url": "https://api-us.cybedefend.com", "interactive": false},
    })
}

async fn send(
    plugin: &Located,
    req: &Value,
    action: Action,
    limit: Duration,
) -> (cybedefend_core::Result<Response>, Duration) {
    let start = Instant::now();
    let r = match plugin.kind {
        Kind::Exec => crate::exec::call_raw(&plugin.path, req, limit)
            .await
            .map(|(_, r, _)| r),
        Kind::Native => crate::native::call_raw(&plugin.path, req, action, limit).await,
    };
    (r, start.elapsed())
}

fn judge(
    name: &str,
    r: cybedefend_core::Result<Response>,
    elapsed: Duration,
    ok: impl Fn(&Response) -> Result<String, String>,
) -> Case {
    let (passed, detail) = match r {
        Ok(resp) => match ok(&resp) {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        },
        Err(e) => (false, e.message().to_owned()),
    };
    Case {
        name: name.to_owned(),
        passed,
        detail,
        elapsed,
    }
}

fn describe(r: &Response) -> String {
    match r {
        Response::Ok(a) => format!(
            "answered ok{}",
            a.kind
                .as_deref()
                .map(|k| format!(" ({k})"))
                .unwrap_or_default()
        ),
        Response::Err(e) => format!("answered error `{}`", e.kind.as_str()),
    }
}

/// Runs every case against `plugin` (which passed the trust checks), each within `limit`.
pub async fn run(plugin: &Located, limit: Duration) -> Vec<Case> {
    let mut cases = Vec::new();
    // The hello (exec) or the table (native), and the version.
    let start = Instant::now();
    let hs = crate::handshake(plugin, limit).await;
    cases.push(match hs {
        Ok(info) => {
            let good = match plugin.kind {
                Kind::Exec => info.versions.iter().any(|v| SUPPORTED_VERSIONS.contains(v)),
                Kind::Native => info.versions == [cybedefend_plugin_sdk::native::ABI_VERSION],
            };
            Case {
                name: match plugin.kind {
                    Kind::Exec => "hello: protocol version 1 offered".into(),
                    Kind::Native => "table: native ABI version 1".into(),
                },
                passed: good,
                detail: format!("{} {} speaks {:?}", info.name, info.version, info.versions),
                elapsed: start.elapsed(),
            }
        }
        Err(e) => {
            // every other case needs the hello: one failure says it all
            cases.push(Case {
                name: "hello".into(),
                passed: false,
                detail: format!(
                    "{} (the other cases need a hello first; not run)",
                    e.message()
                ),
                elapsed: start.elapsed(),
            });
            return cases;
        }
    });

    let (r, t) = send(plugin, &request("get", "found"), Action::Get, limit).await;
    cases.push(judge("get: found", r, t, |resp| match resp {
        Response::Ok(a)
            if a.kind.as_deref() == Some("pat")
                && a.secret.as_ref().is_some_and(|s| !s.expose().is_empty()) =>
        {
            Ok("answered a PAT".into())
        }
        other => Err(format!(
            "{}; expected ok with kind `pat` and a secret",
            describe(other)
        )),
    }));

    for kind in ErrorKind::ALL {
        let name = format!("get: error `{}`", kind.as_str());
        let ask = if kind == ErrorKind::NotFound {
            "not-found".to_owned()
        } else {
            format!("error:{}", kind.as_str())
        };
        let (r, t) = send(plugin, &request("get", &ask), Action::Get, limit).await;
        cases.push(judge(&name, r, t, |resp| match resp {
            Response::Err(e) if e.kind == kind => Ok(format!("answered `{}`", kind.as_str())),
            other => Err(format!(
                "{}; expected error `{}`",
                describe(other),
                kind.as_str()
            )),
        }));
    }

    let mut extra = request("get", "found");
    extra["a-field-of-a-newer-host"] = json!({"x": 1});
    extra["context"]["newer-context-field"] = json!(true);
    let (r, t) = send(plugin, &extra, Action::Get, limit).await;
    cases.push(judge(
        "unknown fields are ignored",
        r,
        t,
        |resp| match resp {
            Response::Ok(_) => Ok("answered ok".into()),
            other => Err(format!(
                "{}; expected the same answer as without them",
                describe(other)
            )),
        },
    ));

    if plugin.kind == Kind::Exec {
        let (r, t) = send(plugin, &request("frobnicate", "found"), Action::Get, limit).await;
        cases.push(judge(
            "an unknown action is answered `unsupported`",
            r,
            t,
            |resp| match resp {
                Response::Err(e) if e.kind == ErrorKind::Unsupported => {
                    Ok("answered `unsupported`".into())
                }
                other => Err(format!("{}; expected error `unsupported`", describe(other))),
            },
        ));
    }

    for (action, a) in [("store", Action::Store), ("erase", Action::Erase)] {
        let mut req = request(action, "capabilities");
        if action == "store" {
            req["credential"] = json!({"kind": "pat", "secret": "cdp_conformance_store"});
        }
        let (r, t) = send(plugin, &req, a, limit).await;
        cases.push(judge(
            &format!("{action}: answered or `unsupported`"),
            r,
            t,
            |resp| match resp {
                Response::Ok(_) => Ok(format!("{action} supported")),
                Response::Err(e) if e.kind == ErrorKind::Unsupported => {
                    Ok(format!("{action} not supported"))
                }
                other => Err(format!(
                    "{}; expected ok or error `unsupported`",
                    describe(other)
                )),
            },
        ));
    }

    let slowest = cases.iter().map(|c| c.elapsed).max().unwrap_or_default();
    cases.push(Case {
        name: format!(
            "every answer within {}",
            cybedefend_core::duration::format(limit)
        ),
        passed: slowest <= limit,
        detail: format!("slowest {} ms", slowest.as_millis()),
        elapsed: slowest,
    });
    cases
}
