//! `stored`: the login saved by `cybedefend login` in credentials.json (documented
//! priority 4). Supports `store` (login) and `erase` (logout).

use async_trait::async_trait;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::Result;
use cybedefend_core::paths::display;
use cybedefend_core::provider::{
    CredentialProvider, Erased, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::region::Region;
use cybedefend_core::store::{self, Removed};

struct StoredProvider {
    id: String,
}

#[async_trait]
impl CredentialProvider for StoredProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "stored"
    }

    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let path = display(&ctx.home.credentials_file());
        match store::load(&ctx.home)? {
            None => Ok(Lookup::NotFound(format!("no {path} (not logged in)"))),
            Some(login) => match login.credential {
                Some(credential) => Ok(Lookup::Found(Found {
                    credential,
                    detail: path,
                    region: Some(login.region),
                    plaintext: login.storage == "file",
                    warning: None,
                    storage: Some(login.storage),
                })),
                None => Ok(Lookup::NotFound(format!(
                    "{path} says the secret is kept in `{}`, which this provider does not read",
                    login.storage
                ))),
            },
        }
    }

    async fn store(
        &self,
        ctx: &ResolveContext,
        credential: &Credential,
        region: Region,
    ) -> Result<()> {
        store::save(&ctx.home, region, credential)
    }

    async fn erase(&self, ctx: &ResolveContext) -> Result<Erased> {
        let path = display(&ctx.home.credentials_file());
        Ok(match store::remove(&ctx.home)? {
            Removed::Deleted { pat_fingerprint } => Erased {
                removed: true,
                detail: path,
                pat_fingerprint,
            },
            Removed::NothingStored => Erased {
                removed: false,
                detail: path,
                pat_fingerprint: None,
            },
        })
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(StoredProvider {
        id: init.id.to_owned(),
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "stored",
        summary: "the login saved by `cybedefend login` (credentials.json)",
        default_timeout: None,
        default_position: Some(40),
        create,
    }
}
