//! `exec`: a command whose first line of stdout is the PAT (`op read`, `pass show`,
//! `vault kv get -field=pat`, `secret-tool lookup`, `aws secretsmanager get-secret-value`, ...).
//!
//! ```yaml
//! pass: {type: exec, command: [pass, show, cybedefend/pat], timeout: 10s}
//! ```
//! No shell unless `shell: true` (then `command` is one string). A non-zero exit is an error
//! quoting the last lines of stderr; empty output is "not found".

use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::Error;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::Result;
use cybedefend_core::provider::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;
use serde::Deserialize;

use crate::process;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    command: Option<Command>,
    #[serde(default)]
    shell: bool,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Command {
    Argv(Vec<String>),
    Line(String),
}

struct ExecProvider {
    id: String,
    argv: Vec<String>,
    shell: bool,
    env: Vec<(String, String)>,
}

#[async_trait]
impl CredentialProvider for ExecProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "exec"
    }

    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let shown = self.argv.first().cloned().unwrap_or_default();
        let out = process::run(&self.argv, self.shell, &self.env).await?;
        if out.code != Some(0) {
            let code = out
                .code
                .map_or("a signal".to_owned(), |c| format!("exit code {c}"));
            let tail = if out.stderr_tail.is_empty() {
                String::new()
            } else {
                format!(": {}", out.stderr_tail)
            };
            return Err(Error::failure(format!(
                "`{shown}` failed with {code}{tail}"
            )));
        }
        match process::first_line(&out.stdout).map(normalize_pat) {
            None | Some(Ok(None)) => Ok(Lookup::NotFound(format!("`{shown}` printed nothing"))),
            Some(Ok(Some(pat))) => Ok(Lookup::Found(Found {
                credential: Credential::Pat(pat),
                detail: format!("`{shown}`"),
                region: None,
                storage: None,
                plaintext: false,
                warning: None,
            })),
            Some(Err(e)) => Err(Error::failure(format!("the PAT printed by `{shown}` {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let argv = match o.command {
        Some(Command::Argv(v)) if !v.is_empty() && !v[0].trim().is_empty() => v,
        Some(Command::Line(s)) if o.shell && !s.trim().is_empty() => vec![s],
        Some(Command::Line(s)) if !s.trim().is_empty() => {
            return Err(Error::usage(format!(
                "provider `{}` (from {}): `command` is a string; give a list such as [pass, show, cybedefend/pat], or set `shell: true`",
                init.id, init.origin
            )));
        }
        _ => {
            return Err(Error::usage(format!(
                "provider `{}` (from {}) needs `command`, e.g. [pass, show, cybedefend/pat]",
                init.id, init.origin
            )));
        }
    };
    Ok(Box::new(ExecProvider {
        id: init.id.to_owned(),
        argv,
        shell: o.shell,
        env: o.env.into_iter().collect(),
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "exec",
        summary: "a command whose first line of output is the PAT (pass, op, vault, secret-tool, ...)",
        default_position: None,
        default_timeout: Some(Duration::from_secs(10)),
        create,
    }
}
