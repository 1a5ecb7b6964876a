//! The platform API client: typed `get`/`post`/`put`/`patch`/`delete` and a streaming
//! `download`, over one bearer path ([`Bearer`]).
//!
//! Every call: a time limit per request; retries with backoff on 429/503 (any method) and on
//! other 5xx and transport failures (GET, PUT, DELETE only: a POST that may have reached the
//! server is never repeated), within one retry budget for the whole command ([`deadline`]);
//! a `Retry-After` is waited for (and said) when it fits in what is left and in [`MAX_BACKOFF`],
//! and fails at once naming when to retry otherwise; one fresh token on 401; redirects
//! followed to the same origin only; answers read with a size cap; clear errors for 403, 404
//! and malformed answers.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub use reqwest::Method;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::platform::Endpoints;
use crate::platform::bearer::Bearer;
use crate::platform::http::{self, Http};

/// Attempts for one call (the first plus retries).
pub const ATTEMPTS: u32 = 4;
/// Longest wait between attempts, whatever `Retry-After` says.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Largest download (reports).
pub(crate) const DOWNLOAD_CAP: u64 = 2 << 30;

/// One retry budget per command, for every call of it: the time spent on failed attempts and
/// on waits between them adds up, across calls, to at most [`ATTEMPTS`] request time limits.
/// A command may also set a deadline of its own (`scan --timeout`). Past either, a request is
/// not sent again, a request is cut at the deadline, and a wait (a `Retry-After`) beyond what
/// is left fails at once, naming when to retry.
pub mod deadline {
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::time::Instant;

    static COMMAND: Mutex<Option<Instant>> = Mutex::new(None);
    static SPENT: Mutex<Duration> = Mutex::new(Duration::ZERO);

    /// The command's own deadline (`None` lifts it).
    pub fn set(at: Option<Instant>) {
        if let Ok(mut d) = COMMAND.lock() {
            *d = at;
        }
    }

    /// Forgets the time spent failing: a long-running command (`proxy`) gives each request
    /// the retry budget of a whole command.
    pub fn reset() {
        if let Ok(mut s) = SPENT.lock() {
            *s = Duration::ZERO;
        }
    }

    /// Time spent failing (a failed attempt, a wait before the next).
    pub(crate) fn spend(d: Duration) {
        if let Ok(mut s) = SPENT.lock() {
            *s += d;
        }
    }

    /// Whether any time was spent failing in this command.
    pub(crate) fn failing() -> bool {
        SPENT.lock().is_ok_and(|s| !s.is_zero())
    }

    /// Time left for retries (`budget` less what failing cost) and before the command's
    /// deadline, whichever is less.
    pub(crate) fn left(budget: Duration) -> Duration {
        let retries = budget.saturating_sub(SPENT.lock().map(|s| *s).unwrap_or(budget));
        match COMMAND.lock().ok().and_then(|d| *d) {
            Some(at) => retries.min(at.saturating_duration_since(Instant::now())),
            None => retries,
        }
    }

    /// Time left before the command's own deadline, if it has one.
    pub(crate) fn until_deadline() -> Option<Duration> {
        COMMAND
            .lock()
            .ok()
            .and_then(|d| *d)
            .map(|at| at.saturating_duration_since(Instant::now()))
    }
}

/// The `Retry-After` of an answer, range-checked (at most a day).
pub(crate) fn retry_after_of(resp: &reqwest::Response) -> Option<Duration> {
    retry_after_uncapped(
        resp.headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Runs `attempt` until it succeeds or fails for good: a network failure (an unreachable or
/// stalled server, a 429, a 5xx) is tried again, up to [`ATTEMPTS`] times with backoff or the
/// server's `Retry-After`, within the command's retry budget ([`deadline`]), when `safe` says
/// repeating it is safe. For calls outside [`Api`] (the token endpoint).
pub(crate) async fn with_retries<T, F, Fut>(
    what: &str,
    http: &Http,
    safe: impl Fn(&Error) -> bool,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let budget = http.timeout() * ATTEMPTS;
    let mut tries = 0;
    loop {
        tries += 1;
        let started = tokio::time::Instant::now();
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_network() && tries < ATTEMPTS && safe(&e) => {
                deadline::spend(started.elapsed());
                let wait = e
                    .retry_after()
                    .unwrap_or_else(|| backoff(Duration::from_secs(1), tries));
                let left = deadline::left(budget).min(MAX_BACKOFF);
                if wait > left {
                    if e.retry_after().is_some() {
                        return Err(out_of_time(
                            what,
                            "the server asks to retry later",
                            wait,
                            left,
                        ));
                    }
                    return Err(e);
                }
                deadline::spend(wait);
                tracing::debug!(
                    "{what}: {}; retrying in {}",
                    e.message(),
                    crate::duration::format(wait)
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                if e.is_network() {
                    deadline::spend(started.elapsed());
                }
                return Err(e);
            }
        }
    }
}

/// Why a retry is not made: the wait it needs is beyond what the command has left.
fn out_of_time(what: &str, why: &str, wait: Duration, left: Duration) -> Error {
    let when = time::OffsetDateTime::now_utc() + wait;
    let at = when
        .format(&time::macros::format_description!(
            "[hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    Error::network(format!(
        "{what}: {why}; the next try would be in {} ({at}), beyond the {} this command has left for retries",
        crate::duration::format(wait),
        crate::duration::format(left)
    ))
    .with_hint(format!("run the command again after {at}"))
}

/// Something the user should see while a call waits (a retry after a rate limit).
pub type Notice<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// An authenticated client for one platform.
pub struct Api<'a> {
    http: &'a Http,
    endpoints: &'a Endpoints,
    bearer: Bearer<'a>,
    backoff_base: Duration,
    notice: Option<Notice<'a>>,
    /// A 401 is an answer, not a reason to get a fresh token ([`Api::without_fresh_token`]).
    no_fresh_token: bool,
}

/// A path parameter, percent-encoded: every byte but the unreserved ones (`A-Z a-z 0-9 - . _
/// ~`) as `%XX`, so a space is `%20` (never `+`).
pub fn seg(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query parameters (repeated keys for lists).
pub type Query = [(String, String)];

/// `Retry-After` in seconds, range-checked: absent, negative, not a number or not finite is
/// `None`; anything longer than [`MAX_BACKOFF`] is cut to it.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(MAX_BACKOFF.as_secs_f64())))
}

/// `Retry-After` in seconds as the server asked (range-checked, not capped; at most a day).
fn retry_after_uncapped(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

/// A short, safe excerpt of an error body: its `message` field if it is JSON, else the first
/// line, cut and with control characters neutralised; HTML pages are named as such.
pub fn body_excerpt(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct WithMessage {
        message: serde_json::Value,
    }
    if let Ok(v) = serde_json::from_slice::<WithMessage>(body) {
        let text = match v.message {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(a) => a
                .iter()
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        return crate::text::one_line(&crate::secret::redact::redact(&text), 200);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let t = text.trim_start();
    if t.starts_with('<') {
        return "an HTML page".into();
    }
    let line = t.lines().next().unwrap_or("");
    crate::text::one_line(&crate::secret::redact::redact(line), 200)
}

impl<'a> Api<'a> {
    /// A client sending `bearer`'s tokens to `endpoints.api_url`.
    pub fn new(http: &'a Http, endpoints: &'a Endpoints, bearer: Bearer<'a>) -> Self {
        Self {
            http,
            endpoints,
            bearer,
            backoff_base: Duration::from_millis(500),
            notice: None,
            no_fresh_token: false,
        }
    }

    /// For a call that is only nice to have (naming the account after a login): a 401 fails it
    /// at once instead of costing another token exchange or a session refresh.
    #[must_use]
    pub fn without_fresh_token(mut self) -> Self {
        self.no_fresh_token = true;
        self
    }

    /// Shortens waits between retries (tests).
    #[must_use]
    pub fn with_backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }

    /// Tells the user about waits (rate limits) through `notice`.
    #[must_use]
    pub fn with_notices(mut self, notice: Notice<'a>) -> Self {
        self.notice = Some(notice);
        self
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.endpoints.api_url
    }

    /// The endpoints this client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        self.endpoints
    }

    /// The bearer path (for `auth token` and `auth status`).
    pub fn bearer(&self) -> &Bearer<'a> {
        &self.bearer
    }

    /// `GET path?query`, the answer as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &Query,
    ) -> Result<T> {
        let bytes = self.call(what, Method::GET, path, query, None).await?;
        parse(what, &bytes)
    }

    /// `POST path` with a JSON body, the answer as `T`.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.with_body(what, Method::POST, path, body).await
    }

    /// `PUT path` with a JSON body, the answer as `T`.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.with_body(what, Method::PUT, path, body).await
    }

    /// `PATCH path` with a JSON body, the answer as `T`.
    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.with_body(what, Method::PATCH, path, body).await
    }

    /// A request with a JSON body, the answer as `T`.
    async fn with_body<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = to_json(what, body)?;
        let bytes = self.call(what, method, path, &[], Some(body)).await?;
        parse(what, &bytes)
    }

    /// `DELETE path`, the answer as `T` (`serde_json::Value` for none).
    pub async fn delete<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T> {
        let bytes = self.call(what, Method::DELETE, path, &[], None).await?;
        parse(what, &bytes)
    }

    /// `DELETE path` with a JSON body (the platform's member removal), the answer as `T`.
    pub async fn delete_with<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.with_body(what, Method::DELETE, path, body).await
    }

    /// `GET path?query`, the whole answer as JSON and the fields this CLI reads as `T`.
    pub async fn get_answer<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &Query,
    ) -> Result<Answer<T>> {
        let raw: serde_json::Value = self.get(what, path, query).await?;
        Answer::read(what, raw)
    }

    /// Streams the answer of `method path?query` (with an optional JSON body) into `out` (a
    /// report file), at most [`DOWNLOAD_CAP`] bytes; returns the bytes written and the answer's
    /// content type. Retries happen before the first byte.
    pub async fn download(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<serde_json::Value>,
        out: &mut (dyn Write + Send),
    ) -> Result<(u64, Option<String>)> {
        let mut resp = self.response(what, method, path, query, body, true).await?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| crate::text::one_line(v, 100));
        let mut written = 0u64;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    written += chunk.len() as u64;
                    if written > DOWNLOAD_CAP {
                        return Err(Error::failure(format!(
                            "{what}: the download is larger than {} GiB; refused",
                            DOWNLOAD_CAP >> 30
                        )));
                    }
                    out.write_all(&chunk).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            Error::failure(format!(
                                "{what}: the program reading the output stopped early (broken pipe); the report was cut after {written} bytes"
                            ))
                        } else if e.kind() == std::io::ErrorKind::InvalidData {
                            // the content was refused (a report that is not what was asked)
                            Error::failure(format!("{what}: {e}")).with_hint(
                                "check --api-url and any proxy in between; nothing was saved",
                            )
                        } else {
                            Error::failure(format!("{what}: cannot write the file: {e}"))
                        }
                    })?;
                }
                Ok(None) => return Ok((written, content_type)),
                Err(e) if e.is_timeout() => {
                    return Err(Error::network(format!(
                        "{what}: the download stalled after {written} bytes: nothing arrived for {}",
                        crate::duration::format(self.http.timeout())
                    ))
                    .with_hint("retry; raise `http_timeout` (config) or CYBEDEFEND_HTTP_TIMEOUT if the server is slow"));
                }
                Err(e) => {
                    return Err(Error::network(format!(
                        "{what}: the download broke off after {written} bytes ({})",
                        crate::text::one_line(&e.to_string(), 200)
                    )));
                }
            }
        }
    }

    /// The bytes of a successful answer (empty for 204).
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<serde_json::Value>,
    ) -> Result<Vec<u8>> {
        let resp = self
            .response(what, method, path, query, body, false)
            .await?;
        http::read_body(what, resp, http::JSON_BODY_CAP).await
    }

    /// Sends a request until it succeeds (2xx) or fails for good; see the module docs.
    async fn response(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<serde_json::Value>,
        stream: bool,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.endpoints.api_url);
        // A path that a URL parser would rewrite (`.`/`..` segments) never reaches the server:
        // the request would go to another endpoint than the one named.
        if let Ok(parsed) = url::Url::parse(&url)
            && let Ok(base) = url::Url::parse(&self.endpoints.api_url)
            && parsed.path() != format!("{}{path}", base.path().trim_end_matches('/'))
        {
            return Err(Error::usage(format!(
                "{what}: refusing a request whose path holds `.` or `..` segments"
            ))
            .with_hint("check the ids given (an id is never `.` or `..`)"));
        }
        let build = |req: reqwest::RequestBuilder| {
            let mut req = req.header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            req
        };
        self.attempts(what, method, &url, &build, stream, false)
            .await
    }

    /// Sends any request to a URL of the API's origin (`cybedefend api`): the bearer added,
    /// `build` adds the rest (headers, body). The same retries, time limits and single 401
    /// refresh as every call, but any final answer is returned, whatever its status: the caller
    /// reads it. A redirect is not followed across origins.
    pub async fn raw(
        &self,
        what: &str,
        method: Method,
        url: &url::Url,
        build: &(dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder + Sync),
    ) -> Result<reqwest::Response> {
        let origin = |u: &url::Url| u.origin();
        let base = url::Url::parse(&self.endpoints.api_url)
            .map_err(|e| Error::usage(format!("the API URL is not valid: {e}")))?;
        if origin(url) != origin(&base) {
            return Err(Error::usage(format!(
                "{what}: {} is not on the API's origin ({})",
                http::loggable(url),
                base.origin().ascii_serialization()
            )));
        }
        self.attempts(what, method, url.as_str(), build, true, true)
            .await
    }

    /// The attempts of one request: see the module docs. With `raw`, a final answer of any
    /// status is returned instead of turned into an error.
    async fn attempts(
        &self,
        what: &str,
        method: Method,
        url: &str,
        build: &(dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder + Sync),
        stream: bool,
        raw: bool,
    ) -> Result<reqwest::Response> {
        // A POST or PATCH that may have reached the server (timeout, 500) is not repeated: it
        // could start a second scan. 429 and 503 say the request was not processed.
        let idempotent = method != Method::POST && method != Method::PATCH;
        let mut token = self.bearer.token().await?;
        let mut refreshed = self.no_fresh_token;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = if stream {
                self.http.download_client()?
            } else {
                self.http.client()?
            };
            let mut req = build(
                client
                    .request(method.clone(), url)
                    .bearer_auth(token.expose()),
            );
            // No request goes past the command's deadline, nor, once calls have failed, past
            // what is left of the retry budget.
            let budget = self.http.timeout() * ATTEMPTS;
            let limit = match (deadline::until_deadline(), deadline::failing()) {
                (Some(d), _) => Some(d.min(deadline::left(budget))),
                (None, true) => Some(deadline::left(budget)),
                (None, false) => None,
            };
            if limit.is_some_and(|l| l.is_zero()) {
                return Err(Error::network(format!(
                    "{what}: this command's time is up (its retries, or its own time limit)"
                ))
                .with_hint("check the network and the platform's status, then run it again"));
            }
            if let Some(l) = limit
                && !stream
            {
                req = req.timeout(l.min(self.http.timeout()));
            }
            let req = req
                .build()
                .map_err(|e| Error::failure(format!("cannot build the {what} request: {e}")))?;
            let sent_at = tokio::time::Instant::now();
            let resp = match self.http.execute(what, client, req).await {
                Ok(r) => r,
                Err(e) if e.is_network() => {
                    deadline::spend(sent_at.elapsed());
                    let wait = backoff(self.backoff_base, attempt);
                    if !idempotent || attempt >= ATTEMPTS || wait >= deadline::left(budget) {
                        return Err(e);
                    }
                    deadline::spend(wait);
                    self.wait(e.message(), wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::debug!("{what}: HTTP 401; getting a fresh token once");
                refreshed = true;
                token = self.bearer.after_rejection(&token).await?;
                attempt -= 1;
                continue;
            }
            if status.is_success() {
                return Ok(resp);
            }
            if raw && status.is_redirection() {
                return Ok(resp);
            }
            if status.is_redirection() {
                return Err(http::redirect_error(what, &resp));
            }
            let transient = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
                || (idempotent && status.is_server_error());
            if raw && !(transient && attempt < ATTEMPTS) {
                return Ok(resp);
            }
            if transient && attempt < ATTEMPTS {
                deadline::spend(sent_at.elapsed());
                let header = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                let asked = retry_after_uncapped(header);
                let wait = asked.unwrap_or_else(|| backoff(self.backoff_base, attempt));
                let why = format!("{what}: HTTP {}", status.as_u16());
                // A wait the command cannot afford (beyond its give-up clock, or longer than
                // 30 s) fails now, saying when to come back, instead of being waited for.
                let left = deadline::left(budget).min(MAX_BACKOFF);
                if wait > left {
                    return Err(out_of_time(
                        what,
                        &format!(
                            "the server answered HTTP {} and asks to retry later",
                            status.as_u16()
                        ),
                        wait,
                        left,
                    )
                    .with_status(status.as_u16()));
                }
                deadline::spend(wait);
                self.wait(&why, wait).await;
                continue;
            }
            let text = http::read_body(what, resp, http::SMALL_BODY_CAP)
                .await
                .unwrap_or_default();
            return Err(self.status_error(what, status, &text));
        }
    }

    async fn wait(&self, why: &str, wait: Duration) {
        let text = format!("{why}; retrying in {}", crate::duration::format(wait));
        match self.notice {
            Some(n) if wait >= Duration::from_secs(2) => n(&text),
            _ => tracing::debug!("{text}"),
        }
        tokio::time::sleep(wait).await;
    }

    fn status_error(&self, what: &str, status: StatusCode, text: &[u8]) -> Error {
        let code = status.as_u16();
        let e = match code {
            401 => Error::auth(format!("{what}: the API rejected the credential (HTTP 401)"))
                .with_hint("run `cybedefend auth status` to see which credential is used; log in again or use another PAT"),
            403 => Error::auth(format!(
                "{what}: access denied (HTTP 403): this account has no access to that project, organisation or operation"
            ))
            .with_hint("check the id, and that the PAT's user is a member of the project's team (`cybedefend auth status` shows the account)"),
            404 => Error::not_found(format!("{what}: not found (HTTP 404): {}", body_excerpt(text)))
                .with_detail(body_excerpt(text))
                .with_hint("check the id and the region (`--region`)"),
            429 => Error::network(format!("{what}: rate limited (HTTP 429) after {ATTEMPTS} attempts"))
                .with_hint("wait a minute and retry"),
            500..=599 => Error::network(format!(
                "{what}: the API answered HTTP {code}: {}",
                body_excerpt(text)
            ))
            .with_hint("the platform had a problem; retry later"),
            _ => Error::failure(format!(
                "{what}: the API answered HTTP {code}: {}",
                body_excerpt(text)
            )),
        };
        let e = e.with_status(code);
        if e.detail().is_none() && !text.is_empty() {
            let d = body_excerpt(text);
            return e.with_detail(d);
        }
        e
    }

    /// Uploads a file to a pre-signed URL; see [`upload`].
    pub async fn upload(
        &self,
        url: &str,
        file: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        upload_file(self.http, url, file, progress, self.backoff_base).await
    }
}

/// An answer kept whole (what `--json` prints: every field the server sent) together with the
/// fields this CLI reads from it (tolerantly, see [`crate::platform::de`]).
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The answer as the server sent it.
    pub raw: serde_json::Value,
    /// The fields this CLI reads.
    pub view: T,
}

impl<T: DeserializeOwned> Answer<T> {
    /// Reads `raw` as `T`; an answer that does not fit is an error naming the call.
    pub fn read(what: &str, raw: serde_json::Value) -> Result<Self> {
        let view = T::deserialize(&raw).map_err(|e| {
            let detail = crate::text::one_line(&crate::secret::redact::redact(&e.to_string()), 200);
            Error::failure(format!(
                "{what}: the API answered with something this CLI cannot read ({detail})"
            ))
            .with_hint(
                "retry; if it persists, check `--api-url` and report it to CybeDefend support",
            )
        })?;
        Ok(Self { raw, view })
    }
}

/// The kind of thing a request was about: it decides which command the hint of a 404 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A project (`project list` lists them).
    Project,
    /// A team or a member of one (`team list`, `team members`).
    Team,
    /// An organisation (`auth status` shows them).
    Organisation,
    /// A personal access token, by name (`pat list`).
    Pat,
}

/// What a request was about, as a 403 or 404 names it: "project `p1`", "member `u` of team
/// `t`", with its [`Kind`].
#[derive(Debug, Clone)]
pub struct About {
    kind: Kind,
    named: String,
}

impl About {
    /// "project `ID`".
    pub fn project(id: &str) -> Self {
        Self::described(Kind::Project, format!("project `{id}`"))
    }

    /// "team `ID`".
    pub fn team(id: &str) -> Self {
        Self::described(Kind::Team, format!("team `{id}`"))
    }

    /// "organisation `ID`".
    pub fn organisation(id: &str) -> Self {
        Self::described(Kind::Organisation, format!("organisation `{id}`"))
    }

    /// "the PAT named `NAME`".
    pub fn pat(name: &str) -> Self {
        Self::described(Kind::Pat, format!("the PAT named `{name}`"))
    }

    /// Anything else, in words, with the kind whose listing helps
    /// ("organisation `o` or one of the projects `a`, `b`").
    pub fn described(kind: Kind, named: String) -> Self {
        Self { kind, named }
    }
}

/// Rewords a 403 or 404 of a call about `thing` so the user reads what was missing or refused;
/// other errors pass unchanged. The hint says where the right id or name can be found, by the
/// thing's [`Kind`].
pub fn about(thing: About) -> impl FnOnce(Error) -> Error {
    let lookup = match thing.kind {
        Kind::Project => "; `cybedefend project list` lists the projects this account sees",
        Kind::Team => {
            "; `cybedefend team list --organization-id ORG` lists the teams, `cybedefend team members --team-id TEAM` their members"
        }
        Kind::Organisation => "; `cybedefend auth status` shows the organisations of this account",
        Kind::Pat => "; `cybedefend pat list` shows the names",
    };
    let pat = thing.kind == Kind::Pat;
    let thing = thing.named;
    move |e| {
        // What the server said, when it says more than "not found".
        let said = e
            .detail()
            .filter(|d| {
                !d.is_empty()
                    && !d.eq_ignore_ascii_case("not found")
                    && !d.eq_ignore_ascii_case("forbidden")
                    && !d.eq_ignore_ascii_case("forbidden resource")
            })
            .map(|d| format!("; the server said: {d}"))
            .unwrap_or_default();
        match e.http_status() {
            Some(403) => Error::auth(format!(
                "access denied (HTTP 403): this account has no access to {thing}{said}"
            ))
            .with_hint(if pat {
                "this credential may not manage personal access tokens; `cybedefend auth status` shows the account"
            } else {
                "check the id, and that the PAT's user is a member of its organisation or team (`cybedefend auth status` shows the account)"
            })
            .with_status(403),
            Some(404) => Error::not_found(format!("{thing} was not found (HTTP 404){said}"))
                .with_hint(if pat {
                    "check the name; `cybedefend pat list` shows the names".to_owned()
                } else {
                    format!("check the id and the region (`--region`){lookup}")
                })
                .with_status(404),
            _ => e,
        }
    }
}

/// Whether `value` can be one path segment: not empty, not `.` or `..` (which a URL resolves
/// to another path), no `/`, `\`, `?`, `#` or control characters, at most 200 bytes. Ids from
/// flags, the environment, config and answers (scan ids) go through it.
pub fn check_id(what: &str, value: &str) -> Result<()> {
    match crate::text::id_problem(value) {
        Some(why) => Err(Error::usage(format!("{what} {why}"))),
        None => Ok(()),
    }
}

fn to_json<B: Serialize + ?Sized>(what: &str, body: &B) -> Result<serde_json::Value> {
    serde_json::to_value(body)
        .map_err(|e| Error::failure(format!("{what}: cannot build the request: {e}")))
}

/// Parses an answer as `T`; an empty body reads as JSON `null`.
pub fn parse<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let detail = crate::text::one_line(&crate::secret::redact::redact(&e.to_string()), 200);
        Error::new(
            ErrorKind::Failed,
            format!("{what}: the API answered with something this CLI cannot read ({detail})"),
        )
        .with_hint("retry; if it persists, check `--api-url` and report it to CybeDefend support")
    })
}

/// Uploads a file to a pre-signed URL: PUT, streamed from disk with `Content-Length`, no
/// Authorization header, Google Cloud Storage create-only headers when the URL is GCS.
/// Retries 5xx and connection failures. `progress` gets the bytes sent so far.
async fn upload_file(
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
        && !(parsed.scheme() == "http" && crate::config::net::is_loopback(&parsed))
    {
        return Err(Error::failure(format!(
            "scan start: refusing to upload to {} (not https)",
            http::loggable(&parsed)
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
        // When a chunk was last taken by the connection (milliseconds since `began`): the
        // idle limit runs from there, while the body is sent and while the answer is awaited.
        let began = tokio::time::Instant::now();
        let moved = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mover = moved.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).map(move |chunk| {
            if let Ok(c) = &chunk {
                counter.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            let ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
            mover.store(ms, std::sync::atomic::Ordering::Relaxed);
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
        let request = req
            .build()
            .map_err(|e| Error::failure(format!("cannot build the upload request: {e}")))?;
        let fut = http.execute("upload", client, request);
        tokio::pin!(fut);
        let mut ticker = tokio::time::interval(Duration::from_millis(200));
        let idle = http.timeout();
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                _ = ticker.tick() => {
                    let done = sent.load(std::sync::atomic::Ordering::Relaxed);
                    progress(done);
                    let last = Duration::from_millis(moved.load(std::sync::atomic::Ordering::Relaxed));
                    if began.elapsed().saturating_sub(last) > idle {
                        let what = if done >= size {
                            format!("the storage did not answer within {} after the whole archive was sent", crate::duration::format(idle))
                        } else {
                            format!(
                                "the upload made no progress for {} ({} of {} bytes sent)",
                                crate::duration::format(idle),
                                done,
                                size
                            )
                        };
                        break Err(Error::network(what).with_hint(
                            "the idle limit is `http_timeout` (CYBEDEFEND_HTTP_TIMEOUT); check the network, or raise it for a slow link",
                        ));
                    }
                }
            }
        };
        match result {
            Ok(resp) if resp.status().is_success() => {
                progress(size);
                return Ok(());
            }
            Ok(resp)
                if (resp.status().is_server_error()
                    || resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS)
                    && attempt < ATTEMPTS =>
            {
                let header = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                let wait = retry_after(header).unwrap_or_else(|| backoff(backoff_base, attempt));
                tracing::debug!(
                    "upload: HTTP {}; retrying in {}",
                    resp.status().as_u16(),
                    crate::duration::format(wait)
                );
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => {
                let code = resp.status().as_u16();
                let body = http::read_body("upload", resp, http::SMALL_BODY_CAP)
                    .await
                    .unwrap_or_default();
                let mut e = Error::failure(format!(
                    "upload failed: the storage answered HTTP {code}: {}",
                    body_excerpt(&body)
                ));
                if code >= 500 {
                    e = e.with_kind(ErrorKind::Network);
                }
                if code == 403 {
                    e = e.with_hint("the pre-signed upload URL was refused (it may have expired); run the scan again");
                }
                return Err(e);
            }
            Err(e) if attempt < ATTEMPTS => {
                let wait = backoff(backoff_base, attempt);
                tracing::debug!(
                    "upload: {}; retrying in {}",
                    e.message(),
                    crate::duration::format(wait)
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e.context("upload failed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_range_checked_and_capped() {
        assert_eq!(retry_after(Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("1e30")), Some(MAX_BACKOFF));
        assert_eq!(retry_after(Some("18446744073709551615")), Some(MAX_BACKOFF));
        assert_eq!(retry_after(Some("-1")), None);
        assert_eq!(retry_after(Some("NaN")), None);
        assert_eq!(retry_after(Some("inf")), None);
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(None), None);
        assert_eq!(backoff(Duration::from_secs(1), 200), MAX_BACKOFF);
    }

    #[test]
    fn excerpts_are_one_safe_line() {
        assert_eq!(
            body_excerpt(br#"{"message":"no\nway\u001b[2J"}"#),
            "no way\\x1b[2J"
        );
        assert_eq!(body_excerpt(b"<html>"), "an HTML page");
        assert_eq!(body_excerpt(br#"{"message":["a","b"]}"#), "a; b");
    }

    #[test]
    fn unreadable_answers_are_failures_that_name_the_call() {
        let e = parse::<Vec<u32>>("scan status", b"{\"x\":1}").unwrap_err();
        assert!(e.message().starts_with("scan status: "), "{e}");
        let v: serde_json::Value = parse("x", b"  ").unwrap();
        assert!(v.is_null());
    }
}
