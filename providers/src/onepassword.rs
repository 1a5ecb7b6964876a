//! `onepassword`: `op read REFERENCE` with the 1Password CLI, using a service account
//! (`OP_SERVICE_ACCOUNT_TOKEN`, for CI), a Connect server or the desktop app's session.
//!
//! ```yaml
//! op: {type: onepassword, reference: "op://CI/CybeDefend/pat"}
//! ```
//! A PAT given anywhere (flag, env, config) as an `op://` reference is resolved the same way,
//! like `op run` does.

use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::provider::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::{Secret, normalize_pat};
use serde::Deserialize;

use crate::process;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    account: Option<String>,
}

/// Whether `op` can answer without a person: a service account, a Connect server or an
/// existing CLI session in the environment.
fn has_headless_session() -> bool {
    std::env::vars_os().any(|(k, v)| {
        let k = k.to_string_lossy();
        !v.is_empty()
            && (k == "OP_SERVICE_ACCOUNT_TOKEN"
                || k == "OP_CONNECT_TOKEN"
                || k.starts_with("OP_SESSION_"))
    })
}

/// Reads a secret reference with `op read`.
pub(crate) async fn read_reference(
    reference: &str,
    account: Option<&str>,
    interactive: bool,
) -> Result<Option<Secret>> {
    if !reference.starts_with("op://") {
        return Err(Error::usage(format!(
            "`{reference}` is not a 1Password secret reference (op://vault/item/field)"
        )));
    }
    if !interactive && !has_headless_session() {
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
    let out = match process::run(&argv, false, &[]).await {
        Ok(o) => o,
        Err(e) if e.message.contains("was not found on PATH") => {
            return Err(Error::usage("the 1Password CLI (`op`) is not installed")
                .with_hint("install it from 1Password's site, or remove the `onepassword` provider / op:// reference"));
        }
        Err(e) => return Err(e),
    };
    if out.code != Some(0) {
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
    id: String,
    reference: String,
    account: Option<String>,
}

#[async_trait]
impl CredentialProvider for OnePasswordProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "onepassword"
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        match read_reference(&self.reference, self.account.as_deref(), ctx.interactive).await? {
            Some(pat) => Ok(Lookup::Found(Found {
                credential: Credential::Pat(pat),
                detail: self.reference.clone(),
                region: None,
                storage: None,
                plaintext: false,
                warning: None,
            })),
            None => Ok(Lookup::NotFound(format!(
                "{} does not exist",
                self.reference
            ))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let reference = o
        .reference
        .filter(|r| r.starts_with("op://"))
        .ok_or_else(|| {
            Error::usage(format!(
                "provider `{}` (from {}) needs `reference: op://vault/item/field`",
                init.id, init.origin
            ))
        })?;
    Ok(Box::new(OnePasswordProvider {
        id: init.id.to_owned(),
        reference,
        account: o.account,
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "onepassword",
        summary: "1Password: `op read op://vault/item/field` (service account or desktop app)",
        default_position: None,
        default_timeout: Some(Duration::from_secs(15)),
        create,
    }
}

/// A PAT value that is an `op://` reference is read through `op`; any other value is kept.
pub(crate) async fn resolve_if_reference(
    value: Secret,
    ctx: &ResolveContext,
) -> Result<(Secret, bool)> {
    if value.expose().starts_with("op://") {
        let reference = value.expose().to_owned();
        // A reference names a secret; it is not one, and messages should show it.
        cybedefend_core::redact::unregister(&reference);
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
    Ok(Lookup::Found(Found {
        credential: Credential::Pat(pat),
        detail: if via_op {
            format!("{detail} (1Password reference)")
        } else {
            detail
        },
        region: None,
        storage: None,
        // A reference is not a plaintext secret.
        plaintext: plaintext && !via_op,
        warning: None,
    }))
}
