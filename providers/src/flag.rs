//! `flag`: the `--pat` command-line flag (documented priority 1).

use async_trait::async_trait;
use cybedefend_core::credentials::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result};

struct FlagProvider;

#[async_trait]
impl CredentialProvider for FlagProvider {
    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let Some(raw) = &ctx.flag_pat else {
            return Lookup::not_found("--pat not given");
        };
        match normalize_pat(raw.expose()) {
            Ok(Some(pat)) => crate::onepassword::found_pat(pat, "--pat".into(), false, ctx).await,
            Ok(None) => Lookup::not_found("--pat is empty"),
            Err(e) => Err(Error::usage(format!("the PAT given with --pat {e}"))),
        }
    }
}

fn create(_: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(FlagProvider))
}

inventory::submit! {
    ProviderFactory::new("flag", "the --pat command-line flag", create).in_default_chain(10)
}
