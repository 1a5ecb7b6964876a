//! The platform API client: bearer token from the credential, timeouts, retries with backoff
//! on 429/5xx and connection failures (honouring `Retry-After`), one fresh token exchange on
//! 401, and clear errors for 403, 404 and malformed answers.

use std::path::Path;
use std::time::Duration;

pub use reqwest::Method;
use reqwest::StatusCode;
use serde_json::Value;

use crate::config::Endpoints;
use crate::credential::Credential;
use crate::error::{Error, ErrorCategory, Result};
use crate::exchange::Exchanger;
use crate::http::Http;
use crate::paths::Home;
use crate::secret::Secret;

/// Attempts for one call (the first plus retries).
pub const ATTEMPTS: u32 = 4;
/// Longest wait between attempts, whatever `Retry-After` says.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// An authenticated client for one platform.
pub struct Api<'a> {
    http: &'a Http,
    endpoints: &'a Endpoints,
    home: &'a Home,
    credential: Credential,
    token: tokio::sync::Mutex<Option<Secret>>,
    backoff_base: Duration,
}

/// A path parameter, percent-encoded.
pub fn seg(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    (base * 2u32.saturating_pow(attempt.saturating_sub(1))).min(MAX_BACKOFF)
}

/// A short, safe excerpt of an error body: its `message` field if it is JSON, else the first
/// line, cut; HTML pages are named as such.
pub fn body_excerpt(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body)
        && let Some(m) = v.get("message")
    {
        return match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let t = body.trim_start();
    if t.starts_with('<') {
        return "an HTML page".into();
    }
    let line = t.lines().next().unwrap_or("");
    line.chars().take(200).collect()
}

impl<'a> Api<'a> {
    /// A client using `credential` (a PAT is exchanged through the shared token cache).
    pub fn new(
        http: &'a Http,
        endpoints: &'a Endpoints,
        home: &'a Home,
        credential: Credential,
    ) -> Self {
        Self {
            http,
            endpoints,
            home,
            credential,
            token: tokio::sync::Mutex::new(None),
            backoff_base: Duration::from_millis(500),
        }
    }

    /// Shortens waits between retries (tests).
    #[must_use]
    pub fn with_backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.endpoints.api_url
    }

    async fn bearer(&self, fresh: bool) -> Result<Secret> {
        let mut slot = self.token.lock().await;
        if !fresh && let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let token = match &self.credential {
            Credential::Pat(pat) => {
                Exchanger::new(self.http, self.endpoints, self.home)
                    .access_token(pat, fresh)
                    .await?
                    .token
            }
            Credential::OAuth(s) => {
                let expired = s.expires_at.is_none_or(|t| {
                    t - time::Duration::seconds(30) <= time::OffsetDateTime::now_utc()
                });
                if expired || fresh {
                    return Err(Error::auth("the browser-login session has expired")
                        .with_hint("run `cybedefend login` again, or use a PAT"));
                }
                s.access_token.clone()
            }
        };
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Sends a JSON request and returns the parsed answer (`Value::Null` for an empty body).
    /// `what` names the operation in errors ("scan start", "scan status", ...).
    pub async fn json(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.endpoints.api_url);
        // A POST that may have reached the server (timeout, 500) is not repeated: it could
        // start a second scan. 429 and 503 say the request was not processed.
        let idempotent = method != Method::POST && method != Method::PATCH;
        let mut fresh_token = false;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.bearer(fresh_token).await?;
            let mut req = self
                .http
                .client()?
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match self.http.send(what, req).await {
                Ok(r) => r,
                Err(e)
                    if idempotent && attempt < ATTEMPTS && e.category == ErrorCategory::Failure =>
                {
                    let wait = backoff(self.backoff_base, attempt);
                    tracing::debug!(
                        "{what}: {} ; retrying in {:.1} s",
                        e.message,
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && matches!(self.credential, Credential::Pat(_))
            {
                tracing::debug!("{what}: HTTP 401; exchanging the PAT for a fresh token once");
                refreshed = true;
                fresh_token = true;
                attempt -= 1;
                continue;
            }
            fresh_token = false;
            let transient = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
                || (idempotent && status.is_server_error());
            if transient && attempt < ATTEMPTS {
                let wait = retry_after(&resp)
                    .unwrap_or_else(|| backoff(self.backoff_base, attempt))
                    .min(MAX_BACKOFF);
                tracing::debug!(
                    "{what}: HTTP {}; retrying in {:.1} s",
                    status.as_u16(),
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = resp
                .text()
                .await
                .map_err(|e| Error::failure(format!("{what}: cannot read the answer: {e}")))?;
            return self.interpret(what, status, &text);
        }
    }

    fn interpret(&self, what: &str, status: StatusCode, text: &str) -> Result<Value> {
        let code = status.as_u16();
        match code {
            200..=299 => {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(text).map_err(|e| {
                    Error::failure(format!(
                        "{what}: the API answered HTTP {code} with malformed JSON ({e})"
                    ))
                    .with_hint("retry; if it persists, check `--api-url` and report it to CybeDefend support")
                })
            }
            401 => Err(Error::auth(format!("{what}: the API rejected the credential (HTTP 401)"))
                .with_hint("run `cybedefend auth status` to see which credential is used; log in again or use another PAT")),
            403 => Err(Error::auth(format!(
                "{what}: access denied (HTTP 403): this account has no access to the project or operation"
            ))
            .with_hint("check the project id, and that the PAT's user is a member of the project's team")),
            404 => Err(Error::failure(format!("{what}: not found (HTTP 404): {}", body_excerpt(text)))
                .with_hint("check the project id (`--project-id`) and the region (`--region`)")),
            429 => Err(Error::failure(format!("{what}: rate limited (HTTP 429) after {ATTEMPTS} attempts"))
                .with_hint("wait a minute and retry")),
            _ => Err(Error::failure(format!(
                "{what}: the API answered HTTP {code}: {}",
                body_excerpt(text)
            ))),
        }
    }

    /// Uploads a file to a pre-signed URL: PUT, streamed from disk with `Content-Length`, no
    /// Authorization header, Google Cloud Storage create-only headers when the URL is GCS.
    /// Retries 5xx and connection failures. `progress` gets the bytes sent so far.
    pub async fn upload(
        &self,
        url: &str,
        file: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        upload(self.http, url, file, progress, self.backoff_base).await
    }
}

/// See [`Api::upload`].
pub async fn upload(
    http: &Http,
    url: &str,
    file: &Path,
    progress: &(dyn Fn(u64) + Sync),
    backoff_base: Duration,
) -> Result<()> {
    use futures_util::StreamExt;

    let parsed = url::Url::parse(url)
        .map_err(|_| Error::failure("scan start: the upload URL in the answer is not a URL"))?;
    if parsed.scheme() != "https"
        && !(parsed.scheme() == "http" && crate::http::is_loopback(&parsed))
    {
        return Err(Error::failure(format!(
            "scan start: refusing to upload to {} (not https)",
            crate::http::loggable(&parsed)
        )));
    }
    let size = std::fs::metadata(file)
        .map_err(|e| crate::fsutil::io_error("cannot read", file, &e))?
        .len();
    let gcs = parsed
        .host_str()
        .is_some_and(|h| h.ends_with("storage.googleapis.com"));
    // The upload may take long: no overall timeout, but connect and idle limits.
    let client = http.upload_client()?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| crate::fsutil::io_error("cannot read", file, &e))?;
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).map(move |chunk| {
            if let Ok(c) = &chunk {
                counter.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            chunk
        });
        let mut req = client
            .put(parsed.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(stream));
        if gcs {
            req = req
                .header("x-goog-if-generation-match", "0")
                .header("x-goog-content-length-range", "0,5368709120");
        }
        let fut = http.send("upload", req);
        tokio::pin!(fut);
        let mut ticker = tokio::time::interval(Duration::from_millis(200));
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                _ = ticker.tick() => progress(sent.load(std::sync::atomic::Ordering::Relaxed)),
            }
        };
        match result {
            Ok(resp) if resp.status().is_success() => {
                progress(size);
                return Ok(());
            }
            Ok(resp) if resp.status().is_server_error() && attempt < ATTEMPTS => {
                let wait = backoff(backoff_base, attempt);
                tracing::debug!(
                    "upload: HTTP {}; retrying in {:.1} s",
                    resp.status().as_u16(),
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => {
                let code = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let mut e = Error::failure(format!(
                    "upload failed: the storage answered HTTP {code}: {}",
                    body_excerpt(&body)
                ));
                if code == 403 {
                    e = e.with_hint("the pre-signed upload URL was refused (it may have expired); run the scan again");
                }
                return Err(e);
            }
            Err(e) if attempt < ATTEMPTS => {
                let wait = backoff(backoff_base, attempt);
                tracing::debug!(
                    "upload: {}; retrying in {:.1} s",
                    e.message,
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
            }
            Err(mut e) => {
                e.message = format!("upload failed: {}", e.message);
                return Err(e);
            }
        }
    }
}
