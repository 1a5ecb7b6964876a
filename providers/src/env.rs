//! `env`: the `CYBEDEFEND_PAT` environment variable (documented priority 2). A configured
//! `env` provider may read another variable (`variable: MY_PAT`).

use async_trait::async_trait;
use cybedefend_core::credentials::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::env::{self, CYBEDEFEND_PAT};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    variable: Option<String>,
}

struct EnvProvider {
    variable: String,
}

#[async_trait]
impl CredentialProvider for EnvProvider {
    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let var = &self.variable;
        let Some(raw) = env::var(var)? else {
            return Lookup::not_found(format!("{var} is not set"));
        };
        match normalize_pat(&raw) {
            Ok(Some(pat)) => crate::onepassword::found_pat(pat, var.clone(), false, ctx).await,
            Ok(None) => Lookup::not_found(format!("{var} is empty")),
            Err(e) => Err(Error::usage(format!("the PAT in {var} {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let variable = match o.variable {
        None => CYBEDEFEND_PAT.to_owned(),
        Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
        Some(_) => return Err(init.error("`variable` must name an environment variable")),
    };
    Ok(Box::new(EnvProvider { variable }))
}

inventory::submit! {
    ProviderFactory::new(
        "env",
        "an environment variable (CYBEDEFEND_PAT unless `variable` says otherwise)",
        create,
    )
    .in_default_chain(20)
}
