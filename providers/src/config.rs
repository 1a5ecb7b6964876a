//! `config`: `pat:` in the merged configuration files (documented priority 3).

use async_trait::async_trait;
use cybedefend_core::Result;
use cybedefend_core::credentials::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};

struct ConfigProvider;

#[async_trait]
impl CredentialProvider for ConfigProvider {
    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        match &ctx.config_pat {
            Some((pat, origin)) => {
                crate::onepassword::found_pat(pat.clone(), format!("`pat` in {origin}"), true, ctx)
                    .await
            }
            None => Lookup::not_found("no `pat` in any config file"),
        }
    }
}

fn create(_: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(ConfigProvider))
}

inventory::submit! {
    ProviderFactory::new("config", "`pat:` in a config file", create).in_default_chain(30)
}
