//! `config`: `pat:` in the merged configuration files (documented priority 3).

use async_trait::async_trait;
use cybedefend_core::error::Result;
use cybedefend_core::provider::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};

struct ConfigProvider {
    id: String,
}

#[async_trait]
impl CredentialProvider for ConfigProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "config"
    }

    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        match &ctx.config_pat {
            Some((pat, origin)) => {
                crate::onepassword::found_pat(pat.clone(), format!("`pat` in {origin}"), true, ctx)
                    .await
            }
            None => Ok(Lookup::NotFound("no `pat` in any config file".into())),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(ConfigProvider {
        id: init.id.to_owned(),
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "config",
        summary: "`pat:` in a config file",
        default_timeout: None,
        default_position: Some(30),
        create,
    }
}
