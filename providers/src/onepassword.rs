//! `onepassword`: `op read REFERENCE` with the 1Password CLI, using a service account
//! (`OP_SERVICE_ACCOUNT_TOKEN`, for CI), a Connect server or the desktop app's session.
//!
//! ```yaml
//! op: {type: onepassword, reference: "op://CI/CybeDefend/pat"}
//! ```
//! A PAT given anywhere (flag, env, config) as an `op://` reference is resolved the same way,
//! like `op run` does.

use async_trait::async_trait;
use cybedefend_core::Secret;
use cybedefend_core::credentials::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::env;
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::secret::redact;
use cybedefend_core::{Error, Result};
use serde::Deserialize;

use cybedefend_core::process;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    account: Option<String>,
}

/// Whether `op` can answer without a person: a service account, a Connect server or an
/// existing CLI session in the environment. Their values are registered as secrets.
fn has_headless_session() -> bool {
    let mut found = false;
    for name in env::names() {
        if name == env::OP_SERVICE_ACCOUNT_TOKEN
            || name == env::OP_CONNECT_TOKEN
            || name.starts_with(env::OP_SESSION_PREFIX)
        {
            if let Ok(Some(v)) = env::non_empty(&name) {
                redact::register(&v);
            }
            found = true;
        }
    }
    found
}

/// Reads a secret reference with `op read`. Whether `op` is installed is checked first, so the
/// diagnosis is the same with or without a terminal.
pub(crate) async fn read_reference(
    reference: &str,
    account: Option<&str>,
    interactive: bool,
) -> Result<Option<Secret>> {
    if !reference.starts_with("op://") {
        return Err(Error::usage(format!(
            "`{}` is not a 1Password secret reference (op://vault/item/field)",
            cybedefend_core::text::one_line(reference, 100)
        )));
    }
    if !process::on_path("op") {
        return Err(Error::usage("the 1Password CLI (`op`) is not installed (not on PATH)")
            .with_hint("install it from 1Password's site, or remove the `onepassword` provider / op:// reference"));
    }
    let headless = has_headless_session();
    if !interactive && !headless {
        return Err(Error::auth(
            "1Password needs the desktop app's approval, and nobody can give it here (CI or no terminal)",
        )
        .with_hint("set OP_SERVICE_ACCOUNT_TOKEN (a 1Password service account) for unattended use"));
    }
    let mut argv = vec![
        "op".to_owned(),
        "read".to_owned(),
        "--no-newline".to_owned(),
    ];
    if let Some(a) = account {
        argv.push("--account".into());
        argv.push(a.into());
    }
    argv.push(reference.into());
    let out = process::run(process::Spec {
        argv: &argv,
        ..process::Spec::default()
    })
    .await?;
    if let Some(line) = process::first_line(&out.stdout) {
        redact::register(line);
    }
    if out.code != Some(0) {
        // `op` says why only in words; these are its messages for the two cases that are not
        // failures of ours.
        let text = out.stderr_tail.to_ascii_lowercase();
        if text.contains("not currently signed in")
            || text.contains("not signed in")
            || text.contains("no accounts configured")
        {
            return Err(Error::auth("1Password: `op` is not signed in")
                .with_hint("run `op signin`, or set OP_SERVICE_ACCOUNT_TOKEN for unattended use"));
        }
        if text.contains("isn't an item")
            || text.contains("could not find item")
            || text.contains("no item")
            || text.contains("isn't a field")
        {
            return Ok(None);
        }
        return Err(Error::failure(format!(
            "`op read` failed: {}",
            out.stderr_tail
        )));
    }
    normalize_pat(&out.stdout).map_err(|e| Error::failure(format!("the secret at {reference} {e}")))
}

struct OnePasswordProvider {
    reference: String,
    account: Option<String>,
}

#[async_trait]
impl CredentialProvider for OnePasswordProvider {
    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        match read_reference(&self.reference, self.account.as_deref(), ctx.interactive).await? {
            Some(pat) => Found::pat(pat, self.reference.clone()).into_lookup(),
            None => Lookup::not_found(format!("{} does not exist", self.reference)),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let reference = o
        .reference
        .filter(|r| r.starts_with("op://"))
        .ok_or_else(|| init.error("needs `reference: op://vault/item/field`"))?;
    Ok(Box::new(OnePasswordProvider {
        reference,
        account: o.account,
    }))
}

inventory::submit! {
    ProviderFactory::new(
        "onepassword",
        "1Password: `op read op://vault/item/field` (service account or desktop app)",
        create,
    )
    .timeout_secs(15)
}

/// A PAT value that is an `op://` reference is read through `op`; any other value is kept.
pub(crate) async fn resolve_if_reference(
    value: Secret,
    ctx: &ResolveContext,
) -> Result<(Secret, bool)> {
    if value.expose().starts_with("op://") {
        let reference = value.expose().to_owned();
        // A reference names a secret; it is not one, and messages should show it.
        redact::unregister(&reference);
        match read_reference(&reference, None, ctx.interactive).await? {
            Some(s) => Ok((s, true)),
            None => Err(Error::failure(format!(
                "{reference} does not exist in 1Password"
            ))),
        }
    } else {
        Ok((value, false))
    }
}

/// A PAT from a flag, variable or config value: an `op://` reference is read through `op`
/// (except when peeking), and the trace says so.
pub(crate) async fn found_pat(
    pat: Secret,
    detail: String,
    plaintext: bool,
    ctx: &ResolveContext,
) -> Result<Lookup> {
    let (pat, via_op) = if ctx.peek {
        (pat, false)
    } else {
        resolve_if_reference(pat, ctx).await?
    };
    let detail = if via_op {
        format!("{detail} (1Password reference)")
    } else {
        detail
    };
    // A reference is not a plaintext secret.
    Found::pat(pat, detail)
        .plaintext(plaintext && !via_op)
        .into_lookup()
}
