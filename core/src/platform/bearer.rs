//! The one path from a credential to a bearer token, used by every API command:
//!
//! - a PAT is exchanged for an access token, through the shared token cache;
//! - a browser-login session's access token is used while fresh, and refreshed under the
//!   credentials lock when it expires;
//! - after the API answers 401, [`Bearer::after_rejection`] gets one fresh token: a new
//!   exchange for a PAT, a refresh for a session.

use tokio::sync::Mutex;

use crate::Secret;
use crate::credentials::Credential;
use crate::error::Result;
use crate::home::Home;
use crate::platform::exchange::{AccessToken, Exchanger, TokenStore};
use crate::platform::http::Http;
use crate::platform::{Endpoints, oauth};

/// Bearer tokens for one credential.
pub struct Bearer<'a> {
    http: &'a Http,
    endpoints: &'a Endpoints,
    home: &'a Home,
    store: &'a dyn TokenStore,
    credential: Credential,
    current: Mutex<Option<Secret>>,
}

impl<'a> Bearer<'a> {
    /// Tokens for `credential`, exchanged through `store`.
    pub fn new(
        http: &'a Http,
        endpoints: &'a Endpoints,
        home: &'a Home,
        store: &'a dyn TokenStore,
        credential: Credential,
    ) -> Self {
        Self {
            http,
            endpoints,
            home,
            store,
            credential,
            current: Mutex::new(None),
        }
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The token to send: the one already obtained, else the cache's, else a new one.
    pub async fn token(&self) -> Result<Secret> {
        let mut slot = self.current.lock().await;
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = self.obtain(false, None).await?.token;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// A fresh token after the API refused `rejected` (one attempt per call).
    pub async fn after_rejection(&self, rejected: &Secret) -> Result<Secret> {
        let mut slot = self.current.lock().await;
        if let Some(t) = slot.as_ref()
            && t != rejected
        {
            return Ok(t.clone());
        }
        let t = self.obtain(true, Some(rejected)).await?.token;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// Checks the credential with the server: a PAT is exchanged (not read from the cache); a
    /// session is refreshed when it has expired. Used by `login` and `auth status`.
    pub async fn check(&self) -> Result<AccessToken> {
        let t = self.obtain(true, None).await?;
        *self.current.lock().await = Some(t.token.clone());
        Ok(t)
    }

    async fn obtain(&self, fresh: bool, rejected: Option<&Secret>) -> Result<AccessToken> {
        match &self.credential {
            Credential::Pat(pat) => {
                Exchanger::new(self.http, self.endpoints, self.home, self.store)
                    .access_token(pat, fresh)
                    .await
            }
            Credential::OAuth(session) => {
                if rejected.is_none() && !oauth::needs_refresh(session.expires_at) {
                    return Ok(AccessToken {
                        token: session.access_token.clone(),
                        expires_at: session.expires_at,
                        from_cache: true,
                    });
                }
                let (token, expires_at) =
                    oauth::session_access_token(self.http, self.endpoints, self.home, rejected)
                        .await?;
                Ok(AccessToken {
                    token,
                    expires_at,
                    from_cache: false,
                })
            }
        }
    }
}
