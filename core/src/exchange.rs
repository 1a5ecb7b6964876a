//! PAT to access token: the OAuth 2.0 Token Exchange (RFC 8693) of the platform's auth
//! server, with a cache of exchanged tokens shared by all processes.
//!
//! `POST {auth}/oidc/token` with `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
//! `subject_token=<PAT>`, `subject_token_type=urn:logto:token-type:personal_access_token`,
//! `client_id` (from `GET {api}/client-apps`, or the region's fallback id) and `resource`
//! (the API URL).
//!
//! The cache (`token-cache.json`, 0600) is keyed by a SHA-256 of PAT, auth endpoint and
//! resource, so the file never holds a PAT. A miss takes an exclusive lock, re-reads the cache
//! and only then exchanges: parallel processes with the same PAT do one exchange between them.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::Endpoints;
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use crate::http::Http;
use crate::paths::Home;
use crate::secret::Secret;

/// Grant type of the exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Subject token type of a PAT.
pub const PAT_TOKEN_TYPE: &str = "urn:logto:token-type:personal_access_token";
/// Cached tokens are used until this long before they expire.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// `/client-apps` gets this long before the fallback id is used.
pub const CLIENT_APPS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a process waits for another one's exchange.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// An access token and its expiry.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// When it expires, if the server said.
    pub expires_at: Option<OffsetDateTime>,
    /// Whether it came from the cache rather than a new exchange.
    pub from_cache: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    #[serde(default)]
    entries: BTreeMap<String, CacheEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    pat_fingerprint: String,
}

fn cache_key(pat: &Secret, endpoints: &Endpoints) -> String {
    let mut h = Sha256::new();
    h.update(pat.expose().as_bytes());
    h.update([0]);
    h.update(endpoints.auth_endpoint.as_bytes());
    h.update([0]);
    h.update(endpoints.resource.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn read_cache(home: &Home) -> CacheFile {
    // A missing or damaged cache is just empty: it is rebuilt on the next write.
    fs::read(home.token_cache_file())
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
        .filter(|c| c.version == 1)
        .unwrap_or(CacheFile {
            version: 1,
            entries: BTreeMap::new(),
        })
}

fn fresh(entry: &CacheEntry) -> bool {
    entry.expires_at - EXPIRY_MARGIN > OffsetDateTime::now_utc()
}

fn write_cache(home: &Home, cache: &mut CacheFile) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    cache.entries.retain(|_, e| e.expires_at > now);
    let bytes = serde_json::to_vec(cache)
        .map_err(|e| Error::failure(format!("cannot serialise the token cache: {e}")))?;
    fsutil::write_private_atomic(&home.token_cache_file(), &bytes)
}

/// Removes cached access tokens of the PAT with this fingerprint (on logout).
pub fn forget(home: &Home, pat_fingerprint: &str) -> Result<usize> {
    if !home.token_cache_file().exists() {
        return Ok(0);
    }
    let _lock = FileLock::acquire(&home.token_cache_lock(), LOCK_WAIT)?;
    let mut cache = read_cache(home);
    let before = cache.entries.len();
    cache
        .entries
        .retain(|_, e| e.pat_fingerprint != pat_fingerprint);
    let removed = before - cache.entries.len();
    if removed > 0 {
        write_cache(home, &mut cache)?;
    }
    Ok(removed)
}

/// Talks to the auth server.
#[derive(Debug)]
pub struct Exchanger<'a> {
    http: &'a Http,
    endpoints: &'a Endpoints,
    home: &'a Home,
}

#[derive(Deserialize)]
struct ClientApps {
    cli: Option<AppId>,
}

#[derive(Deserialize)]
struct AppId {
    #[serde(rename = "appId")]
    app_id: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: Option<String>,
}

impl<'a> Exchanger<'a> {
    /// An exchanger for these endpoints, caching under `home`.
    pub fn new(http: &'a Http, endpoints: &'a Endpoints, home: &'a Home) -> Self {
        Self {
            http,
            endpoints,
            home,
        }
    }

    /// The CLI's OAuth client id: `GET {api}/client-apps` (3 s), else the region's fallback.
    pub async fn client_id(&self) -> String {
        let fallback = self.endpoints.region.fallback_client_id().to_owned();
        let url = format!("{}/client-apps", self.endpoints.api_url);
        let Ok(client) = self.http.client() else {
            return fallback;
        };
        let req = client.get(&url).timeout(CLIENT_APPS_TIMEOUT);
        match self.http.send("client id lookup", req).await {
            Ok(resp) if resp.status().as_u16() == 200 => match resp.json::<ClientApps>().await {
                Ok(ClientApps {
                    cli: Some(AppId { app_id: Some(id) }),
                }) if !id.trim().is_empty() => id.trim().to_owned(),
                _ => {
                    tracing::debug!(
                        "client-apps: unreadable answer; using the region's fallback id"
                    );
                    fallback
                }
            },
            _ => {
                tracing::debug!("client-apps: not available; using the region's fallback id");
                fallback
            }
        }
    }

    /// An access token for the PAT: from the cache when one is fresh, else one exchange
    /// (single flight across processes). `force` skips the cache read (used to validate a PAT
    /// with the server).
    pub async fn access_token(&self, pat: &Secret, force: bool) -> Result<AccessToken> {
        let key = cache_key(pat, self.endpoints);
        if !force && let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let _lock = FileLock::acquire(&self.home.token_cache_lock(), LOCK_WAIT)?;
        if !force && let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let token = self.exchange(pat).await?;
        if let Some(expires_at) = token.expires_at {
            let mut cache = read_cache(self.home);
            cache.entries.insert(
                key,
                CacheEntry {
                    access_token: token.token.expose().to_owned(),
                    expires_at,
                    pat_fingerprint: pat.fingerprint(),
                },
            );
            if let Err(e) = write_cache(self.home, &mut cache) {
                // The token is good; only the next process pays for the failed write.
                tracing::debug!("token cache not written: {}", e.message);
            }
        }
        Ok(token)
    }

    fn cached(&self, key: &str) -> Option<AccessToken> {
        let cache = read_cache(self.home);
        let entry = cache.entries.get(key).filter(|e| fresh(e))?;
        tracing::debug!("token cache: hit (expires {})", entry.expires_at);
        Some(AccessToken {
            token: Secret::new(entry.access_token.clone()),
            expires_at: Some(entry.expires_at),
            from_cache: true,
        })
    }

    /// One token exchange, no cache.
    pub async fn exchange(&self, pat: &Secret) -> Result<AccessToken> {
        let client_id = self.client_id().await;
        let url = format!("{}/oidc/token", self.endpoints.auth_endpoint);
        let form = [
            ("client_id", client_id.as_str()),
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", pat.expose()),
            ("subject_token_type", PAT_TOKEN_TYPE),
            ("resource", self.endpoints.resource.as_str()),
        ];
        let req = self.http.client()?.post(&url).form(&form);
        let what = "token exchange";
        let resp = self.http.send(what, req).await?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.text().await.map_err(|e| {
            Error::failure(format!("{what}: cannot read the auth server's answer: {e}"))
        })?;
        let pat_page = self.endpoints.region.pat_page();
        let looks_html = content_type.contains("html") || body.trim_start().starts_with('<');
        match status {
            200 => {}
            401 | 403 => {
                return Err(Error::auth(format!(
                    "the auth server rejected the PAT {} (HTTP {status})",
                    pat.fingerprint()
                ))
                .with_hint(format!(
                    "the token may be invalid, expired or revoked; create a new one at {pat_page}"
                )));
            }
            400 => {
                let code = serde_json::from_str::<OAuthErrorBody>(&body)
                    .ok()
                    .and_then(|b| b.error)
                    .unwrap_or_default();
                if body.contains("token_exchange_not_allowed") {
                    return Err(Error::failure(
                        "the auth server does not allow token exchange for this client",
                    )
                    .with_hint("contact CybeDefend support; this is a server-side setting"));
                }
                if code == "invalid_grant" {
                    return Err(Error::auth(format!(
                        "the auth server does not accept the PAT {} (invalid_grant)",
                        pat.fingerprint()
                    ))
                    .with_hint(format!(
                        "the token is unknown, expired or revoked, or belongs to another region \
                         (now `{}`); create a new one at {pat_page}",
                        self.endpoints.region
                    )));
                }
                let shown = if code.is_empty() {
                    "no error code".to_owned()
                } else {
                    code
                };
                return Err(Error::failure(format!(
                    "token exchange refused by {} (HTTP 400, {shown})",
                    self.endpoints.auth_endpoint
                )));
            }
            _ => {
                let kind = if looks_html { ", an HTML page" } else { "" };
                return Err(Error::failure(format!(
                    "token exchange failed: {} answered HTTP {status}{kind}",
                    self.endpoints.auth_endpoint
                ))
                .with_hint("retry later; if it persists, check `--auth-endpoint` / `--region`"));
            }
        }
        if looks_html {
            return Err(Error::failure(format!(
                "token exchange: {} answered with an HTML page instead of JSON",
                self.endpoints.auth_endpoint
            ))
            .with_hint("check `--auth-endpoint` / `auth_endpoint`: it should be the auth server, not the web app"));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|_| {
            Error::failure(format!(
                "token exchange: {} answered with something that is not JSON",
                self.endpoints.auth_endpoint
            ))
        })?;
        let token = parsed
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::failure(format!(
                    "token exchange: {} answered without an access token",
                    self.endpoints.auth_endpoint
                ))
                .with_hint("retry later; if it persists, contact CybeDefend support")
            })?;
        let expires_in = parsed.expires_in.and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        let expires_at = expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| OffsetDateTime::now_utc() + Duration::from_secs_f64(s));
        Ok(AccessToken {
            token: Secret::new(token),
            expires_at,
            from_cache: false,
        })
    }
}
