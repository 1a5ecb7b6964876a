//! `env`: the `CYBEDEFEND_PAT` environment variable (documented priority 2). A configured
//! `env` provider may read another variable (`variable: MY_PAT`).

use async_trait::async_trait;
use cybedefend_core::Error;
use cybedefend_core::env::CYBEDEFEND_PAT;
use cybedefend_core::error::Result;
use cybedefend_core::provider::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;

struct EnvProvider {
    id: String,
    variable: String,
}

#[async_trait]
impl CredentialProvider for EnvProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "env"
    }

    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let var = &self.variable;
        let raw = match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                return Ok(Lookup::NotFound(format!("{var} is not set")));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::usage(format!("{var} is not valid UTF-8")));
            }
        };
        match normalize_pat(&raw) {
            Ok(Some(pat)) => crate::onepassword::found_pat(pat, var.clone(), false, ctx).await,
            Ok(None) => Ok(Lookup::NotFound(format!("{var} is empty"))),
            Err(e) => Err(Error::usage(format!("the PAT in {var} {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let variable = match init.spec.and_then(|s| s.options.get("variable")) {
        None => CYBEDEFEND_PAT.to_owned(),
        Some(serde_json::Value::String(v)) if !v.trim().is_empty() => v.trim().to_owned(),
        Some(_) => {
            return Err(Error::usage(format!(
                "provider `{}`: `variable` (from {}) must be the name of an environment variable",
                init.id, init.origin
            )));
        }
    };
    Ok(Box::new(EnvProvider {
        id: init.id.to_owned(),
        variable,
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "env",
        summary: "an environment variable (CYBEDEFEND_PAT unless `variable` says otherwise)",
        default_timeout: None,
        default_position: Some(20),
        create,
    }
}
