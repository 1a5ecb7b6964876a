//! `flag`: the `--pat` command-line flag (documented priority 1).

use async_trait::async_trait;
use cybedefend_core::Error;
use cybedefend_core::error::Result;
use cybedefend_core::provider::{
    CredentialProvider, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;

struct FlagProvider {
    id: String,
}

#[async_trait]
impl CredentialProvider for FlagProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "flag"
    }

    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let Some(raw) = &ctx.flag_pat else {
            return Ok(Lookup::NotFound("--pat not given".into()));
        };
        match normalize_pat(raw) {
            Ok(Some(pat)) => crate::onepassword::found_pat(pat, "--pat".into(), false, ctx).await,
            Ok(None) => Ok(Lookup::NotFound("--pat is empty".into())),
            Err(e) => Err(Error::usage(format!("the PAT given with --pat {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(FlagProvider {
        id: init.id.to_owned(),
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "flag",
        summary: "the --pat command-line flag",
        default_timeout: None,
        default_position: Some(10),
        create,
    }
}
