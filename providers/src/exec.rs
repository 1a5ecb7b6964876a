//! `exec`: a command whose first line of stdout is the PAT (`op read`, `pass show`,
//! `vault kv get -field=pat`, `secret-tool lookup`, `aws secretsmanager get-secret-value`, ...).
//!
//! ```yaml
//! pass: {type: exec, command: [pass, show, cybedefend/pat], timeout: 10s}
//! ```
//! No shell unless `shell: true` (then `command` is one string). A non-zero exit is an error
//! quoting the last lines of stderr (redacted); empty output is "not found". The helper does
//! not see `CYBEDEFEND_PAT` unless `pass_env: [CYBEDEFEND_PAT]` says so.

use std::collections::BTreeMap;

use async_trait::async_trait;
use cybedefend_core::credentials::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::secret::redact;
use cybedefend_core::{Error, Result};
use serde::Deserialize;

use cybedefend_core::process;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    command: Option<Command>,
    #[serde(default)]
    shell: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    pass_env: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Command {
    Argv(Vec<String>),
    Line(String),
}

struct ExecProvider {
    argv: Vec<String>,
    shell: bool,
    env: Vec<(String, String)>,
    pass_env: Vec<String>,
}

#[async_trait]
impl CredentialProvider for ExecProvider {
    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let shown =
            cybedefend_core::text::one_line(self.argv.first().map_or("", String::as_str), 80);
        let out = process::run(process::Spec {
            argv: &self.argv,
            shell: self.shell,
            env: &self.env,
            pass_env: &self.pass_env,
            ..process::Spec::default()
        })
        .await?;
        let first = process::first_line(&out.stdout);
        if let Some(line) = first {
            // Whatever it printed is treated as a secret from here on.
            redact::register(line);
        }
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
        match first.map(normalize_pat) {
            None | Some(Ok(None)) => Lookup::not_found(format!("`{shown}` printed nothing")),
            Some(Ok(Some(pat))) => Found::pat(pat, format!("`{shown}`")).into_lookup(),
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
            return Err(init.error(
                "`command` is a string; give a list such as [pass, show, cybedefend/pat], or set `shell: true`",
            ));
        }
        _ => {
            return Err(init.error("needs `command`, e.g. [pass, show, cybedefend/pat]"));
        }
    };
    // A program given by a relative path would be whatever the working directory holds.
    if !o.shell && argv[0].contains('/') && !argv[0].starts_with('/') && !argv[0].starts_with("~/")
    {
        return Err(init
            .error(format!(
                "`command` starts with `{}`, a relative path: it would run whatever the directory a command runs in holds",
                cybedefend_core::text::one_line(&argv[0], 80)
            ))
            .with_hint("give the program's absolute path, or a name found on PATH"));
    }
    for var in &o.pass_env {
        if !process::CLI_SECRET_VARS.contains(&var.as_str()) {
            return Err(init.error(format!(
                "`pass_env` lists `{var}`; only {} are kept from helpers, every other variable reaches them anyway",
                process::CLI_SECRET_VARS.join(", ")
            )));
        }
    }
    for (k, v) in &o.env {
        if redact::is_secret_name(k) {
            redact::register(v);
        }
    }
    Ok(Box::new(ExecProvider {
        argv,
        shell: o.shell,
        env: o.env.into_iter().collect(),
        pass_env: o.pass_env,
    }))
}

inventory::submit! {
    ProviderFactory::new(
        "exec",
        "a command whose first line of output is the PAT (pass, op, vault, secret-tool, ...)",
        create,
    )
    .timeout_secs(10)
}
