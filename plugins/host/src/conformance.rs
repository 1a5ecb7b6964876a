//! The conformance run of `cybedefend plugin test`: the cases every plugin must pass, whatever
//! its language, judged from outside. Requests carry the reserved `cybedefend-conformance`
//! config key, which asks the plugin for a given answer instead of real work (the SDK answers
//! it; plugins in other languages implement it, see `plugins/PROTOCOL.md`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cybedefend_plugin_sdk::{Action, CONFORMANCE_KEY, ErrorKind, Response, SUPPORTED_VERSIONS};
use serde_json::{Value, json};

use crate::discover::Kind;
use crate::trust::Trusted;

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

impl Case {
    /// As one JSON object (a case run in a child process reports this way).
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// From [`Case::to_json`]'s object.
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            name: v["name"].as_str()?.to_owned(),
            passed: v["passed"].as_bool()?,
            detail: v["detail"].as_str()?.to_owned(),
            elapsed: Duration::from_millis(v["elapsed_ms"].as_u64()?),
        })
    }

    /// A case that did not run to its end, with why.
    pub fn failed(name: &str, detail: String, elapsed: Duration) -> Self {
        Self {
            name: name.to_owned(),
            passed: false,
            detail,
            elapsed,
        }
    }
}

/// What one case asks.
#[derive(Debug, Clone, Copy)]
enum Def {
    Hello,
    Found,
    Error(ErrorKind),
    UnknownFields,
    UnknownAction,
    Capability(Action),
}

fn defs(kind: Kind) -> Vec<Def> {
    let mut d = vec![Def::Hello, Def::Found];
    d.extend(ErrorKind::ALL.iter().map(|k| Def::Error(*k)));
    d.push(Def::UnknownFields);
    if kind == Kind::Exec {
        d.push(Def::UnknownAction);
    }
    d.push(Def::Capability(Action::Store));
    d.push(Def::Capability(Action::Erase));
    d
}

/// How many cases [`run_one`] knows for this kind of plugin (the first is the handshake;
/// when it fails, the others cannot run).
pub fn count(kind: Kind) -> usize {
    defs(kind).len()
}

/// The name of case `index`, for a report when it could not say it itself.
pub fn name(kind: Kind, index: usize) -> String {
    defs(kind)
        .get(index)
        .map_or_else(String::new, |d| def_name(kind, *d))
}

fn def_name(kind: Kind, d: Def) -> String {
    match d {
        Def::Hello if kind == Kind::Exec => "hello: protocol version 1 offered".into(),
        Def::Hello => "table: native ABI version 1".into(),
        Def::Found => "get: found".into(),
        Def::Error(k) => format!("get: error `{}`", k.as_str()),
        Def::UnknownFields => "unknown fields are ignored".into(),
        Def::UnknownAction => "an unknown action is answered `unsupported`".into(),
        Def::Capability(a) => format!(
            "{}: answered or `unsupported`",
            if a == Action::Store { "store" } else { "erase" }
        ),
    }
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
    plugin: &Arc<Trusted>,
    req: &Value,
    action: Action,
    limit: Duration,
) -> (cybedefend_core::Result<Response>, Duration) {
    let start = Instant::now();
    let r = match plugin.kind {
        Kind::Exec => crate::exec::call_raw(plugin, req, limit)
            .await
            .map(|(_, r, _)| r),
        Kind::Native => crate::native::call_raw(plugin.clone(), req, action, limit).await,
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
        Err(e) => (
            false,
            match e.hint() {
                Some(h) => format!("{} (hint: {h})", e.message()),
                None => e.message().to_owned(),
            },
        ),
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

/// Runs every case against `plugin` in this process, each within `limit`, and the timing
/// case last.
pub async fn run(plugin: &Arc<Trusted>, limit: Duration) -> Vec<Case> {
    let mut cases = Vec::new();
    for index in 0..count(plugin.kind) {
        let case = run_one(plugin, index, limit).await;
        let stop = index == 0 && !case.passed;
        cases.push(case);
        if stop {
            break;
        }
    }
    cases.push(timing(&cases, limit));
    cases
}

/// The last case: every answer came within the time limit.
pub fn timing(cases: &[Case], limit: Duration) -> Case {
    let slowest = cases.iter().map(|c| c.elapsed).max().unwrap_or_default();
    Case {
        name: format!(
            "every answer within {}",
            cybedefend_core::duration::format(limit)
        ),
        passed: slowest <= limit,
        detail: format!("slowest {} ms", slowest.as_millis()),
        elapsed: slowest,
    }
}

/// Runs case `index` (see [`count`]) against `plugin`.
pub async fn run_one(plugin: &Arc<Trusted>, index: usize, limit: Duration) -> Case {
    let Some(def) = defs(plugin.kind).get(index).copied() else {
        return Case::failed(
            "unknown case",
            format!("there is no case {index}"),
            Duration::ZERO,
        );
    };
    let name = def_name(plugin.kind, def);
    match def {
        Def::Hello => {
            let start = Instant::now();
            match crate::handshake(plugin, limit).await {
                Ok(info) => {
                    let good = match plugin.kind {
                        Kind::Exec => info.versions.iter().any(|v| SUPPORTED_VERSIONS.contains(v)),
                        Kind::Native => {
                            info.versions == [cybedefend_plugin_sdk::native::ABI_VERSION]
                        }
                    };
                    Case {
                        name,
                        passed: good,
                        detail: format!(
                            "{} {} speaks {:?}",
                            info.name, info.version, info.versions
                        ),
                        elapsed: start.elapsed(),
                    }
                }
                // every other case needs the hello: one failure says it all
                Err(e) => Case::failed(
                    "hello",
                    format!(
                        "{} (the other cases need a hello first; not run)",
                        e.message()
                    ),
                    start.elapsed(),
                ),
            }
        }
        Def::Found => {
            let (r, t) = send(plugin, &request("get", "found"), Action::Get, limit).await;
            judge(&name, r, t, |resp| match resp {
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
            })
        }
        Def::Error(kind) => {
            let ask = if kind == ErrorKind::NotFound {
                "not-found".to_owned()
            } else {
                format!("error:{}", kind.as_str())
            };
            let (r, t) = send(plugin, &request("get", &ask), Action::Get, limit).await;
            judge(&name, r, t, |resp| match resp {
                Response::Err(e) if e.kind == kind => Ok(format!("answered `{}`", kind.as_str())),
                other => Err(format!(
                    "{}; expected error `{}`",
                    describe(other),
                    kind.as_str()
                )),
            })
        }
        Def::UnknownFields => {
            let mut extra = request("get", "found");
            extra["a-field-of-a-newer-host"] = json!({"x": 1});
            extra["context"]["newer-context-field"] = json!(true);
            let (r, t) = send(plugin, &extra, Action::Get, limit).await;
            judge(&name, r, t, |resp| match resp {
                Response::Ok(_) => Ok("answered ok".into()),
                other => Err(format!(
                    "{}; expected the same answer as without them",
                    describe(other)
                )),
            })
        }
        Def::UnknownAction => {
            let (r, t) = send(plugin, &request("frobnicate", "found"), Action::Get, limit).await;
            judge(&name, r, t, |resp| match resp {
                Response::Err(e) if e.kind == ErrorKind::Unsupported => {
                    Ok("answered `unsupported`".into())
                }
                other => Err(format!("{}; expected error `unsupported`", describe(other))),
            })
        }
        Def::Capability(a) => {
            let action = if a == Action::Store { "store" } else { "erase" };
            let mut req = request(action, "capabilities");
            if a == Action::Store {
                req["credential"] = json!({"kind": "pat", "secret": "cdp_conformance_store"});
            }
            let (r, t) = send(plugin, &req, a, limit).await;
            judge(&name, r, t, |resp| match resp {
                Response::Ok(_) => Ok(format!("{action} supported")),
                Response::Err(e) if e.kind == ErrorKind::Unsupported => {
                    Ok(format!("{action} not supported"))
                }
                other => Err(format!(
                    "{}; expected ok or error `unsupported`",
                    describe(other)
                )),
            })
        }
    }
}
