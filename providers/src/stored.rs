//! `stored`: the login saved by `cybedefend login` in credentials.json (documented
//! priority 4). Supports `store` (login) and `erase` (logout).

use async_trait::async_trait;
use cybedefend_core::Result;
use cybedefend_core::credentials::store::{self, Removed};
use cybedefend_core::credentials::{
    Credential, CredentialProvider, Erased, Found, Lookup, ProviderFactory, ProviderInit,
    ResolveContext,
};
use cybedefend_core::region::Region;

struct StoredProvider;

#[async_trait]
impl CredentialProvider for StoredProvider {
    fn peekable(&self) -> bool {
        true
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        let path = cybedefend_core::home::tilde(&ctx.home.credentials_file());
        let Some(login) = store::load(&ctx.home)? else {
            return Lookup::not_found(format!("no {path} (not logged in)"));
        };
        match login.credential {
            Some(credential) => Found::new(credential, path)
                .plaintext(login.storage == store::Storage::File)
                .with_warning(login.warning)
                .stored(login.region, login.storage.to_string())
                .into_lookup(),
            None => Lookup::not_found(format!(
                "{path} says the secret is kept in `{}`, which this provider does not read",
                login.storage
            )),
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
        let path = cybedefend_core::home::tilde(&ctx.home.credentials_file());
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

    async fn can_store(&self, _ctx: &ResolveContext) -> bool {
        true
    }
}

fn create(_: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(StoredProvider))
}

inventory::submit! {
    ProviderFactory::new(
        "stored",
        "the login saved by `cybedefend login` (credentials.json)",
        create,
    )
    .in_default_chain(40)
}
