//! The one path from a credential to a bearer token, used by every API command:
//!
//! - a PAT is exchanged for an access token, through the shared token cache;
//! - a browser-login session's access token is used while fresh, and refreshed under the
//!   credentials lock when it expires;
//! - after the API answers 401, [`Bearer::after_rejection`] gets one fresh token: a new
//!   exchange for a PAT, a refresh for a session.

use std::time::Duration;

use time::OffsetDateTime;
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
    /// The token obtained last, and when it expires (if the server said).
    current: Mutex<Option<(Secret, Option<OffsetDateTime>)>>,
    /// The life of a fresh token, when it was shorter than a caller asked of it.
    short_life: Mutex<Option<Duration>>,
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
            short_life: Mutex::new(None),
        }
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The token to send: the one already obtained, else the cache's, else a new one.
    pub async fn token(&self) -> Result<Secret> {
        let mut slot = self.current.lock().await;
        if let Some((t, _)) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = self.obtain(false, None).await?;
        *slot = Some((t.token.clone(), t.expires_at));
        Ok(t.token)
    }

    /// A token with at least `left` of life: the one held while it has that much, else the
    /// cache's or the stored session's, else a new exchange or refresh. Concurrent callers
    /// share one exchange (they wait for the first). A token the server gives a shorter life
    /// than `left` is returned as it is: [`lasts`] tells the caller; from then on, half of
    /// that life is what is asked (not a new exchange at every call).
    pub async fn lasting(&self, left: Duration) -> Result<AccessToken> {
        let left = match *self.short_life.lock().await {
            Some(life) => left.min(life / 2),
            None => left,
        };
        let mut slot = self.current.lock().await;
        if let Some((t, at)) = slot.as_ref()
            && lasts(*at, left)
        {
            return Ok(AccessToken {
                token: t.clone(),
                expires_at: *at,
                from_cache: true,
            });
        }
        let held = slot.as_ref().map(|(t, _)| t.clone());
        let mut t = self.obtain(false, held.as_ref()).await?;
        if !lasts(t.expires_at, left) {
            // the cache's (or another process's) token is about to expire: a new one
            t = self.obtain(true, Some(&t.token)).await?;
            if let Some(at) = t.expires_at
                && !lasts(Some(at), left)
            {
                let life = (at - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
                *self.short_life.lock().await = Some(Duration::try_from(life).unwrap_or_default());
            }
        }
        *slot = Some((t.token.clone(), t.expires_at));
        Ok(t)
    }

    /// A fresh token after the API refused `rejected` (one attempt per call).
    pub async fn after_rejection(&self, rejected: &Secret) -> Result<Secret> {
        let mut slot = self.current.lock().await;
        if let Some((t, _)) = slot.as_ref()
            && t != rejected
        {
            return Ok(t.clone());
        }
        let t = self.obtain(true, Some(rejected)).await?;
        *slot = Some((t.token.clone(), t.expires_at));
        Ok(t.token)
    }

    /// Checks the credential with the server: a PAT is exchanged (not read from the cache); a
    /// session is refreshed when it has expired. Used by `login` and `auth status`.
    pub async fn check(&self) -> Result<AccessToken> {
        let t = self.obtain(true, None).await?;
        *self.current.lock().await = Some((t.token.clone(), t.expires_at));
        Ok(t)
    }

    /// A token: the cache's or the stored session's unless `fresh`; a session is refreshed when
    /// it needs it, or when its token is `rejected`.
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

/// Whether a token that expires at `at` has at least `left` of life (a token without an expiry
/// is taken to last).
pub fn lasts(at: Option<OffsetDateTime>, left: Duration) -> bool {
    at.is_none_or(|at| at - left >= OffsetDateTime::now_utc())
}
