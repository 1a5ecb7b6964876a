//! `config`: `pat:` in the merged configuration files (documented priority 3).

use async_trait::async_trait;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::Result;
use cybedefend_core::provider::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
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
                let (pat, via_op) = if ctx.peek {
                    (pat.clone(), false)
                } else {
                    crate::onepassword::resolve_if_reference(pat.clone(), ctx).await?
                };
                Ok(Lookup::Found(Found {
                    credential: Credential::Pat(pat),
                    detail: if via_op {
                        format!("`pat` in {origin} (1Password reference)")
                    } else {
                        format!("`pat` in {origin}")
                    },
                    region: None,
                    storage: None,
                    // A reference is not a plaintext secret.
                    plaintext: !via_op,
                    warning: None,
                }))
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
