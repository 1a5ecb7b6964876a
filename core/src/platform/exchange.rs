//! PAT to access token: the OAuth 2.0 Token Exchange (RFC 8693) of the platform's auth
//! server, with a cache of exchanged tokens shared by all processes.
//!
//! `POST {auth}/oidc/token` with `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
//! `subject_token=<PAT>`, `subject_token_type=urn:logto:token-type:personal_access_token`,
//! `client_id` (from `GET {api}/client-apps`, or the region's fallback id) and `resource`
//! (the API URL).
//!
//! The cache ([`TokenStore`]) is keyed by a SHA-256 of PAT, auth endpoint and resource, so it
//! never holds a PAT: `token-cache.json` (0600) by default, the OS keyring, or nothing
//! (`credentials.token_cache`). A miss takes an exclusive lock, reads the cache again and only
//! then exchanges: parallel processes with the same PAT do one exchange between them.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Secret;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::{self, FileLock, ReadError};
use crate::home::Home;
use crate::platform::Endpoints;
use crate::platform::http::{self, Http};

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
/// The longest token lifetime believed; longer `expires_in` values are cut to this.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Largest token cache file read.
const CACHE_FILE_CAP: u64 = 1 << 20;

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

/// When a token with this `expires_in` (seconds, a number or a numeric string) expires: `None`
/// when the value is missing, not a number, not positive or not finite; values longer than
/// [`MAX_TOKEN_LIFETIME`] are cut to it, so no server can make the arithmetic overflow.
pub fn expiry_from(expires_in: Option<&serde_json::Value>) -> Option<OffsetDateTime> {
    let secs = match expires_in? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    let lifetime = Duration::from_secs_f64(secs.min(MAX_TOKEN_LIFETIME.as_secs_f64()));
    Some(OffsetDateTime::now_utc() + lifetime)
}

/// An access token from a server, checked: visible ASCII only, so nothing in it can break a
/// header, a file or a terminal.
pub fn checked_token(what: &str, token: Option<String>) -> Result<Secret> {
    let token = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(Error::failure(format!(
            "{what}: the auth server answered without an access token"
        ))
        .with_hint("retry later; if it persists, contact CybeDefend support"));
    };
    if token.len() > 64 * 1024 || !crate::text::is_visible_ascii(&token) {
        crate::secret::redact::register(&token);
        return Err(Error::failure(format!(
            "{what}: the auth server answered with an access token that is not plain visible ASCII (or is far too long); refused"
        )));
    }
    Ok(Secret::new(token))
}

/// Where exchanged access tokens are kept between commands.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// A fresh token for this cache key.
    async fn get(&self, key: &str, pat_fingerprint: &str) -> Option<(Secret, OffsetDateTime)>;
    /// Keeps a token. A failure costs the next process an exchange, nothing more.
    async fn put(
        &self,
        key: &str,
        pat_fingerprint: &str,
        token: &Secret,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// Removes every token of the PAT with this fingerprint (logout); how many went.
    async fn forget(&self, pat_fingerprint: &str) -> Result<usize>;
    /// Whether exchanges should be single-flight across processes (a store others can read).
    fn shared(&self) -> bool {
        true
    }
}

/// A token store backend registered by another crate (the keyring).
#[derive(Debug)]
pub struct TokenStoreBackend {
    /// `credentials.token_cache` value it serves (`keyring`).
    pub name: &'static str,
    /// Opens the store; `Err(why)` when it cannot be used on this machine.
    pub open: fn(&Home) -> std::result::Result<Box<dyn TokenStore>, String>,
}

inventory::collect!(TokenStoreBackend);

/// The registered backend for `name`.
pub fn token_store_backend(name: &str) -> Option<&'static TokenStoreBackend> {
    inventory::iter::<TokenStoreBackend>
        .into_iter()
        .find(|b| b.name == name)
}

/// No cache: every command exchanges again.
#[derive(Debug, Default)]
pub struct NoTokenStore;

#[async_trait]
impl TokenStore for NoTokenStore {
    async fn get(&self, _: &str, _: &str) -> Option<(Secret, OffsetDateTime)> {
        None
    }
    async fn put(&self, _: &str, _: &str, _: &Secret, _: OffsetDateTime) -> Result<()> {
        Ok(())
    }
    async fn forget(&self, _: &str) -> Result<usize> {
        Ok(0)
    }
    fn shared(&self) -> bool {
        false
    }
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

/// `token-cache.json` in the cybedefend home (0600, atomic writes, under the exchange lock).
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    home: Home,
}

impl FileTokenStore {
    /// The cache file of `home`.
    pub fn new(home: &Home) -> Self {
        Self { home: home.clone() }
    }

    fn read(&self) -> CacheFile {
        // A missing, damaged or special file is just empty: it is replaced on the next write.
        let path = self.home.token_cache_file();
        let bytes = match fsutil::read_capped(&path, CACHE_FILE_CAP, true) {
            Ok(b) => b,
            Err(ReadError::NotFound) => Vec::new(),
            Err(e) => {
                tracing::debug!(
                    "token cache: {} (ignored)",
                    e.into_error("token cache", &path).message()
                );
                Vec::new()
            }
        };
        serde_json::from_slice::<CacheFile>(&bytes)
            .ok()
            .filter(|c| c.version == 1)
            .unwrap_or(CacheFile {
                version: 1,
                entries: BTreeMap::new(),
            })
    }

    fn write(&self, cache: &mut CacheFile) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        cache.entries.retain(|_, e| e.expires_at > now);
        let bytes = serde_json::to_vec(cache)
            .map_err(|e| Error::failure(format!("cannot serialise the token cache: {e}")))?;
        fsutil::write_private_atomic(&self.home.token_cache_file(), &bytes)
    }
}

fn fresh(expires_at: OffsetDateTime) -> bool {
    expires_at - EXPIRY_MARGIN > OffsetDateTime::now_utc()
}

#[async_trait]
impl TokenStore for FileTokenStore {
    async fn get(&self, key: &str, _: &str) -> Option<(Secret, OffsetDateTime)> {
        let cache = self.read();
        let entry = cache.entries.get(key).filter(|e| fresh(e.expires_at))?;
        if !crate::text::is_visible_ascii(&entry.access_token) {
            return None;
        }
        Some((Secret::new(entry.access_token.clone()), entry.expires_at))
    }

    async fn put(
        &self,
        key: &str,
        pat_fingerprint: &str,
        token: &Secret,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let mut cache = self.read();
        cache.entries.insert(
            key.to_owned(),
            CacheEntry {
                access_token: token.expose().to_owned(),
                expires_at,
                pat_fingerprint: pat_fingerprint.to_owned(),
            },
        );
        self.write(&mut cache)
    }

    async fn forget(&self, pat_fingerprint: &str) -> Result<usize> {
        let path = self.home.token_cache_file();
        let stale = fsutil::parent_of(&path).is_dir()
            && std::fs::read_dir(fsutil::parent_of(&path)).is_ok_and(|mut d| {
                d.any(|e| {
                    e.is_ok_and(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(".token-cache.json.")
                    })
                })
            });
        if !path.exists() && !stale {
            return Ok(0);
        }
        let _lock = FileLock::acquire(&self.home.token_cache_lock(), LOCK_WAIT)?;
        // a write killed half-way left its temporary, with tokens in it
        fsutil::remove_stale_temporaries(&path);
        if !path.exists() {
            return Ok(0);
        }
        let mut cache = self.read();
        let before = cache.entries.len();
        cache
            .entries
            .retain(|_, e| e.pat_fingerprint != pat_fingerprint);
        let removed = before - cache.entries.len();
        if removed > 0 {
            self.write(&mut cache)?;
        }
        Ok(removed)
    }
}

/// token-cache.json's bytes through the reader (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_cache(data: &[u8]) {
    if let Ok(c) = serde_json::from_slice::<CacheFile>(data) {
        for e in c.entries.values() {
            let _ = fresh(e.expires_at);
            let _ = crate::text::is_visible_ascii(&e.access_token);
        }
    }
}

/// A token endpoint's answer through the reader (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_token_answer(data: &[u8]) {
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let _ = OAuthErrorBody::code(data);
    if let Ok(t) = serde_json::from_slice::<TokenResponse>(data) {
        let _ = checked_token("fuzz", t.access_token);
        let _ = expiry_from(t.expires_in.as_ref());
    }
}

/// The cache key of a PAT for these endpoints.
pub fn cache_key(pat: &Secret, endpoints: &Endpoints) -> String {
    let mut h = Sha256::new();
    h.update(pat.expose().as_bytes());
    h.update([0]);
    h.update(endpoints.auth_endpoint.as_bytes());
    h.update([0]);
    h.update(endpoints.resource.as_bytes());
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Talks to the auth server.
pub struct Exchanger<'a> {
    http: &'a Http,
    endpoints: &'a Endpoints,
    home: &'a Home,
    store: &'a dyn TokenStore,
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

/// An OAuth error answer; only the `error` code is ever shown (descriptions are server text
/// that may echo what was sent, a PAT included).
#[derive(Deserialize, Default)]
pub(crate) struct OAuthErrorBody {
    pub(crate) error: Option<String>,
}

impl OAuthErrorBody {
    /// The error code if it looks like one (`invalid_grant`), else `None`.
    pub(crate) fn code(body: &[u8]) -> Option<String> {
        let code = serde_json::from_slice::<OAuthErrorBody>(body).ok()?.error?;
        (!code.is_empty()
            && code.len() <= 64
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
        .then_some(code)
    }
}

/// Why the token cache was off in this process, once (the CLI says so at the end).
static CACHE_OFF: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Why the token cache could not be used by this command, if it could not.
pub fn cache_notice() -> Option<&'static str> {
    CACHE_OFF.get().map(String::as_str)
}

impl<'a> Exchanger<'a> {
    /// An exchanger for these endpoints, caching in `store` and locking under `home`.
    pub fn new(
        http: &'a Http,
        endpoints: &'a Endpoints,
        home: &'a Home,
        store: &'a dyn TokenStore,
    ) -> Self {
        Self {
            http,
            endpoints,
            home,
            store,
        }
    }

    /// An access token for the PAT: from the cache when one is fresh, else one exchange
    /// (single flight across processes). `force` skips the cache read (to validate a PAT with
    /// the server, or after the API refused the cached token).
    pub async fn access_token(&self, pat: &Secret, force: bool) -> Result<AccessToken> {
        let key = cache_key(pat, self.endpoints);
        let fp = pat.fingerprint();
        if !force && let Some(hit) = self.cached(&key, &fp).await {
            return Ok(hit);
        }
        let lock_path = self.home.token_cache_lock();
        let (_lock, cache_on) = if self.store.shared() {
            match FileLock::acquire_if_possible(&lock_path, LOCK_WAIT)? {
                Some(l) => (Some(l), true),
                None => {
                    // A read-only home: every command works, each with its own exchange.
                    let _ = CACHE_OFF.set(format!(
                        "the token cache is off: {} cannot be created (a read-only or foreign folder), so each command exchanges its PAT again",
                        crate::home::tilde(&lock_path)
                    ));
                    (None, false)
                }
            }
        } else {
            (None, true)
        };
        if !force && let Some(hit) = self.cached(&key, &fp).await {
            return Ok(hit);
        }
        let token = exchange(self.http, self.endpoints, pat).await?;
        if let Some(expires_at) = token.expires_at
            && cache_on
            && let Err(e) = self.store.put(&key, &fp, &token.token, expires_at).await
        {
            // The token is good; only the next process pays for the failed write.
            tracing::debug!("token cache not written: {}", e.message());
        }
        Ok(token)
    }

    async fn cached(&self, key: &str, fp: &str) -> Option<AccessToken> {
        let (token, expires_at) = self.store.get(key, fp).await?;
        tracing::debug!("token cache: hit (expires {expires_at})");
        Some(AccessToken {
            token,
            expires_at: Some(expires_at),
            from_cache: true,
        })
    }
}

/// The CLI's OAuth client id: `GET {api}/client-apps` (3 s), else the region's fallback.
pub async fn client_id(http: &Http, endpoints: &Endpoints) -> String {
    let fallback = endpoints.region.fallback_client_id().to_owned();
    let url = format!("{}/client-apps", endpoints.api_url);
    let Ok(client) = http.client() else {
        return fallback;
    };
    let req = client.get(&url).timeout(CLIENT_APPS_TIMEOUT);
    let resp = match http.send("client id lookup", req).await {
        Ok(r) if r.status().as_u16() == 200 => r,
        _ => {
            tracing::debug!("client-apps: not available; using the region's fallback id");
            return fallback;
        }
    };
    let body = http::read_body("client id lookup", resp, http::SMALL_BODY_CAP)
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<ClientApps>(&body) {
        Ok(ClientApps {
            cli: Some(AppId { app_id: Some(id) }),
        }) if is_client_id(id.trim()) => id.trim().to_owned(),
        _ => {
            tracing::debug!("client-apps: unreadable answer; using the region's fallback id");
            fallback
        }
    }
}

fn is_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// One token exchange, no cache.
pub async fn exchange(http: &Http, endpoints: &Endpoints, pat: &Secret) -> Result<AccessToken> {
    // An exchange changes nothing on the server: a 429, a 5xx or a connection that broke is
    // tried again, as API calls are, within the command's retry budget.
    crate::platform::api::with_retries(
        "token exchange",
        http,
        |_| true,
        || exchange_once(http, endpoints, pat),
    )
    .await
}

async fn exchange_once(http: &Http, endpoints: &Endpoints, pat: &Secret) -> Result<AccessToken> {
    let what = "token exchange";
    let client_id = client_id(http, endpoints).await;
    let url = format!("{}/oidc/token", endpoints.auth_endpoint);
    let form = [
        ("client_id", client_id.as_str()),
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("subject_token", pat.expose()),
        ("subject_token_type", PAT_TOKEN_TYPE),
        ("resource", endpoints.resource.as_str()),
    ];
    let req = http.client()?.post(&url).form(&form);
    let resp = http.send(what, req).await?;
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        return Err(http::redirect_error(what, &resp));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let asked = crate::platform::api::retry_after_of(&resp);
    let body = http::read_body(what, resp, http::SMALL_BODY_CAP).await?;
    let auth = &endpoints.auth_endpoint;
    let pat_page = endpoints.region.pat_page();
    let looks_html =
        content_type.contains("html") || body.trim_ascii_start().first() == Some(&b'<');
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
            let code = OAuthErrorBody::code(&body).unwrap_or_default();
            if code == "invalid_grant" {
                return Err(Error::auth(format!(
                    "the auth server does not accept the PAT {} (invalid_grant)",
                    pat.fingerprint()
                ))
                .with_hint(format!(
                    "the token is unknown, expired or revoked, or belongs to another region \
                     (now `{}`); create a new one at {pat_page}",
                    endpoints.region
                )));
            }
            if String::from_utf8_lossy(&body).contains("token_exchange_not_allowed") {
                return Err(Error::failure(
                    "the auth server does not allow token exchange for this client",
                )
                .with_hint("contact CybeDefend support; this is a server-side setting"));
            }
            let shown = if code.is_empty() {
                "no error code".to_owned()
            } else {
                code
            };
            return Err(Error::failure(format!(
                "token exchange refused by {auth} (HTTP 400, {shown})"
            )));
        }
        429 | 500..=599 => {
            let kind = if looks_html { ", an HTML page" } else { "" };
            return Err(Error::network(format!(
                "token exchange: {auth} answered HTTP {status}{kind}; the PAT was not checked"
            ))
            .with_hint("retry later; if it persists, check `--auth-endpoint` / `--region`")
            .with_status(status)
            .with_retry_after(asked));
        }
        _ => {
            let kind = if looks_html { ", an HTML page" } else { "" };
            return Err(Error::failure(format!(
                "token exchange failed: {auth} answered HTTP {status}{kind}"
            ))
            .with_hint("check `--auth-endpoint` / `--region`"));
        }
    }
    if looks_html {
        return Err(Error::failure(format!(
            "token exchange: {auth} answered with an HTML page instead of JSON"
        ))
        .with_hint("check `--auth-endpoint` / `auth_endpoint`: it should be the auth server, not the web app"));
    }
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
        Error::failure(format!(
            "token exchange: {auth} answered with something that is not the expected JSON"
        ))
    })?;
    let token = checked_token(what, parsed.access_token)?;
    Ok(AccessToken {
        token,
        expires_at: expiry_from(parsed.expires_in.as_ref()),
        from_cache: false,
    })
}

/// Whether an exchange error says nothing about the PAT (server unreachable, 5xx).
pub fn undecided(e: &Error) -> bool {
    e.kind() == ErrorKind::Network
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absurd_expiries_are_cut_or_dropped_never_panic() {
        let day = OffsetDateTime::now_utc() + MAX_TOKEN_LIFETIME;
        for v in [json!(1e30), json!("1e30"), json!(u64::MAX), json!(1e308)] {
            let t = expiry_from(Some(&v)).unwrap();
            assert!(t <= day + Duration::from_secs(1), "{v}");
        }
        for v in [
            json!(-5),
            json!(0),
            json!("NaN"),
            json!("x"),
            json!(null),
            json!([1]),
        ] {
            assert!(expiry_from(Some(&v)).is_none(), "{v}");
        }
        assert!(expiry_from(Some(&json!("600"))).is_some());
    }

    #[test]
    fn tokens_with_control_characters_are_refused() {
        assert!(checked_token("t", Some("abc\x1b]0;x\x07".into())).is_err());
        assert!(checked_token("t", Some("abc\ndef".into())).is_err());
        assert!(checked_token("t", Some(String::new())).is_err());
        assert!(checked_token("t", Some("eyJhbGciOi.J9-_".into())).is_ok());
    }

    #[test]
    fn only_plain_error_codes_are_shown() {
        assert_eq!(
            OAuthErrorBody::code(br#"{"error":"invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(
            OAuthErrorBody::code(br#"{"error":"pat cdp_x is bad"}"#),
            None
        );
        assert_eq!(OAuthErrorBody::code(b"[]"), None);
    }
}
