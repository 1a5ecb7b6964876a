//! The loopback gateway of `proxy` and `exec --proxy`: other tools (an MCP server, an IDE
//! extension, curl) talk to the platform through it with a session key that works only on this
//! port while it runs; it sends their requests to the API with a fresh bearer token from this
//! CLI's credential chain, token cache and locked refresh.
//!
//! Every request must carry the session key (`x-api-key` or `Authorization: Bearer`, compared
//! in constant time) and a loopback `Host` (a page of another site that a DNS rebinding points
//! here is refused); anything else gets 401 or 403 and nothing is forwarded. The client's
//! credentials and cookies never leave; the request goes only to the API's origin (its path
//! and query are laid on the API URL, an absolute URL for another host is refused). Bodies
//! stream both ways; a small request body is held so that a request refused with 401 is sent
//! once more with a fresh token.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cybedefend_core::platform::{Bearer, Http};
use cybedefend_core::{Error, Result, Secret};
use futures_util::stream::{FuturesUnordered, StreamExt, TryStreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A token is renewed when less than this is left of it, so that no request leaves with a
/// token that expires on the way.
pub(crate) const TOKEN_LEFT: Duration = Duration::from_secs(120);

/// Largest request head (request line and headers) read from a client: more is answered 431.
const HEAD_CAP: usize = 64 * 1024;

/// Request bodies up to this size are held, so that a request refused with 401 can be sent
/// once more with a fresh token; larger ones stream through as they arrive.
const REPLAYABLE: u64 = 64 * 1024;

/// How long requests in flight may take to finish once the gateway is told to stop.
const GRACE: Duration = Duration::from_secs(2);

/// How long a request waits for a token (an exchange or refresh that hangs): past it, 502.
const TOKEN_WAIT: Duration = Duration::from_secs(30);

/// How long the API may send nothing while answering before the request fails, in request
/// time limits (`http_timeout`, 30 s by default: 2 minutes).
const IDLE_LIMITS: u32 = 4;

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 256;

/// How long a client has to send a request's head (and an idle connection is kept).
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// Request headers that never leave: the client's credentials and cookies, and what belongs
/// to one connection (RFC 9110 section 7.6.1).
const DROPPED_REQUEST: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// Response headers that are not passed back: cookies of the platform, and what belongs to
/// one connection.
const DROPPED_RESPONSE: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The key a client shows the gateway: random, for this run only.
pub(crate) struct SessionKey(Secret);

impl SessionKey {
    /// A new key: `cdsk_` and 64 hex digits (256 random bits). It is registered as a secret,
    /// so it is masked wherever the CLI prints (but where it is handed out on purpose).
    pub(crate) fn new() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::failure(format!("cannot draw a random session key: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(Secret::new(format!("cdsk_{hex}"))))
    }

    /// The key, to hand to the client.
    pub(crate) fn value(&self) -> &str {
        self.0.expose()
    }

    /// Whether `given` is the key, in time that does not depend on where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        let key = self.0.expose().as_bytes();
        if given.len() != key.len() {
            return false;
        }
        key.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The address to listen on: a loopback address with a port (`127.0.0.1:8080`, `[::1]:0`,
/// `localhost:8080`, or a bare port); anything else is refused.
pub(crate) fn loopback_address(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    let refused = || {
        Error::usage(format!(
            "--listen {}: the proxy listens on a loopback address only",
            cybedefend_core::text::one_line(text, 80)
        ))
        .with_hint("use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT (PORT 0 picks a free one): any other address would hand the API to the network")
    };
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = text
        .strip_prefix("localhost:")
        .or_else(|| text.strip_prefix("LOCALHOST:"))
    {
        let port = port.parse::<u16>().map_err(|_| refused())?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    match text.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Ok(a),
        _ => Err(refused()),
    }
}

/// The URL a client uses for `addr`.
pub(crate) fn url_of(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("http://{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("http://[{ip}]:{}", addr.port()),
    }
}

/// Whether a `Host` value names this machine's loopback (with or without a port).
fn loopback_host(value: &str) -> bool {
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, after)) => match after {
                "" => (h, None),
                p => match p.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None => return false,
                },
            },
            None => return false,
        },
        None => match value.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return false;
    }
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The gateway: its key, the bearer path and where requests go.
pub(crate) struct Gateway<'a> {
    pub(crate) bearer: Bearer<'a>,
    http: &'a Http,
    client: &'a reqwest::Client,
    base: url::Url,
    key: &'a SessionKey,
    log: &'a (dyn Fn(&str) + Sync),
}

impl<'a> Gateway<'a> {
    /// A gateway to `api_url` for `key`'s holders; `log` gets one line per request.
    pub(crate) fn new(
        http: &'a Http,
        bearer: Bearer<'a>,
        api_url: &str,
        key: &'a SessionKey,
        log: &'a (dyn Fn(&str) + Sync),
    ) -> Result<Self> {
        let base = url::Url::parse(api_url)
            .map_err(|e| Error::usage(format!("the API URL is not valid: {e}")))?;
        // streaming bodies: no overall time limit (an upload may take long) but an idle one, a
        // connect limit, and no redirects (a streamed body cannot be sent twice; a redirect
        // goes back to the client as it is)
        let client = http.gateway_client(http.timeout() * IDLE_LIMITS)?;
        Ok(Self {
            bearer,
            http,
            client,
            base,
            key,
            log,
        })
    }

    /// Serves the clients of `listener` until `stop` completes; requests in flight then get
    /// [`GRACE`] to finish, idle connections are closed.
    pub(crate) async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        stop: impl Future<Output = ()>,
    ) {
        let mut connections = FuturesUnordered::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        let service = hyper::service::service_fn(move |req| self.handle(req));
                        connections.push(
                            hyper::server::conn::http1::Builder::new()
                                .max_buf_size(HEAD_CAP)
                                .header_read_timeout(HEAD_WAIT)
                                .timer(hyper_util::rt::TokioTimer::new())
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                        );
                    }
                    Err(e) => {
                        // out of descriptors, say: wait a little rather than spin
                        tracing::debug!("proxy: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.next(), if !connections.is_empty() => {}
                () = &mut stop => break,
            }
        }
        drop(listener);
        for c in std::pin::Pin::new(&mut connections).iter_pin_mut() {
            c.graceful_shutdown();
        }
        let _ = tokio::time::timeout(GRACE, async { while connections.next().await.is_some() {} })
            .await;
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
    ) -> std::result::Result<Response<Body>, Infallible> {
        let start = Instant::now();
        let method = req.method().clone();
        let shown =
            cybedefend_core::platform::http::loggable_target(req.uri().path(), req.uri().query());
        let resp = match self.refusal(&req) {
            Some(r) => r,
            None => self.forward(req).await,
        };
        (self.log)(&format!(
            "{method} {shown} -> {} in {:.1} ms",
            resp.status().as_u16(),
            start.elapsed().as_secs_f64() * 1000.0
        ));
        Ok(resp)
    }

    /// The answer to a request that must not be forwarded, if it is one.
    fn refusal(&self, req: &Request<Incoming>) -> Option<Response<Body>> {
        // hyper stops reading a head at about its buffer's size; this is the exact cap
        let head: usize = req.uri().to_string().len()
            + req
                .headers()
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 4)
                .sum::<usize>();
        if head > HEAD_CAP {
            return Some(answer(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request's headers are larger than 64 KB",
                None,
            ));
        }
        if req.method() == Method::CONNECT {
            return Some(answer(
                StatusCode::METHOD_NOT_ALLOWED,
                "this proxy does not tunnel: send the API request itself to it",
                None,
            ));
        }
        if let Some(host) = req.uri().host()
            && !loopback_host(host)
        {
            return Some(answer(
                StatusCode::FORBIDDEN,
                "this proxy forwards only to the CybeDefend API: ask it for a path, not for another host",
                None,
            ));
        }
        let mut hosts = req.headers().get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(h), None) => h.to_str().ok(),
            _ => None,
        };
        if !host.is_some_and(loopback_host) {
            return Some(answer(
                StatusCode::FORBIDDEN,
                "the Host header must name this machine (127.0.0.1, localhost or [::1]): requests for other names are refused",
                None,
            ));
        }
        let headers = req.headers();
        let given = headers
            .get("x-api-key")
            .map(HeaderValue::as_bytes)
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .map(HeaderValue::as_bytes)
                    .and_then(|v| {
                        v.get(..7)
                            .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
                            .map(|_| v[7..].trim_ascii())
                    })
            });
        match given {
            Some(k) if self.key.matches(k) => None,
            Some(_) => Some(answer(
                StatusCode::UNAUTHORIZED,
                "wrong session key: use the CYBEDEFEND_API_KEY this proxy printed when it started",
                None,
            )),
            None => Some(answer(
                StatusCode::UNAUTHORIZED,
                "no session key: send the proxy's CYBEDEFEND_API_KEY as `x-api-key` or `Authorization: Bearer`",
                None,
            )),
        }
    }

    async fn forward(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        if dot_segments(parts.uri.path()) {
            return answer(
                StatusCode::BAD_REQUEST,
                "a path with `.` or `..` segments (plain or percent-encoded) is not forwarded",
                None,
            );
        }
        // each request has the retries of a whole command
        cybedefend_core::platform::deadline::reset();
        let mut url = self.base.clone();
        let base_path = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{base_path}{}", parts.uri.path()));
        url.set_query(parts.uri.query());
        let mut headers = HeaderMap::new();
        let named_by_connection: Vec<String> = parts
            .headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        for (name, value) in &parts.headers {
            let n = name.as_str();
            if !DROPPED_REQUEST.contains(&n) && !named_by_connection.iter().any(|c| c == n) {
                headers.append(name.clone(), value.clone());
            }
        }
        // Held (and sent again after a 401) when small; streamed when large or unknown.
        let size = body.size_hint().exact();
        let mut held = None;
        let mut streamed = None;
        if size.is_some_and(|n| n <= REPLAYABLE) {
            match body.collect().await {
                Ok(b) => held = Some(b.to_bytes()),
                Err(e) => {
                    return answer(
                        StatusCode::BAD_REQUEST,
                        "the request's body could not be read",
                        Some(&e.to_string()),
                    );
                }
            }
        } else {
            streamed = Some(reqwest::Body::wrap(body));
        }
        let what = "the proxied request";
        let mut token =
            match tokio::time::timeout(TOKEN_WAIT, self.bearer.lasting(TOKEN_LEFT)).await {
                Ok(Ok(t)) => t.token,
                Ok(Err(e)) => return token_failure(&e),
                Err(_) => return token_late(),
            };
        let mut retried = false;
        loop {
            let body = match (&held, streamed.take()) {
                (Some(b), _) => reqwest::Body::from(b.clone()),
                (None, Some(s)) => s,
                (None, None) => reqwest::Body::from(Bytes::new()),
            };
            let request = self
                .client
                .request(parts.method.clone(), url.clone())
                .headers(headers.clone())
                .bearer_auth(token.expose())
                .body(body)
                .build();
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    return answer(
                        StatusCode::BAD_REQUEST,
                        "the request cannot be sent on",
                        Some(&e.to_string()),
                    );
                }
            };
            let resp = match self.http.execute(what, self.client, request).await {
                Ok(r) => r,
                Err(e) => {
                    return answer(
                        StatusCode::BAD_GATEWAY,
                        "the CybeDefend API could not be reached",
                        Some(e.message()),
                    );
                }
            };
            if resp.status() == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                tracing::debug!("proxy: HTTP 401; getting a fresh token");
                match tokio::time::timeout(TOKEN_WAIT, self.bearer.after_rejection(&token)).await {
                    Ok(Ok(t)) => token = t,
                    Ok(Err(e)) => return token_failure(&e),
                    Err(_) => return token_late(),
                }
                if held.is_some() {
                    continue;
                }
            }
            return passed_back(resp);
        }
    }
}

/// The upstream answer for the client: its status and headers (but cookies and what belongs
/// to one connection), its body streamed.
fn passed_back(resp: reqwest::Response) -> Response<Body> {
    let mut out = Response::builder().status(resp.status());
    if let Some(h) = out.headers_mut() {
        for (name, value) in resp.headers() {
            if !DROPPED_RESPONSE.contains(&name.as_str()) {
                h.append(name.clone(), value.clone());
            }
        }
    }
    let stream = resp
        .bytes_stream()
        .map_ok(Frame::data)
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
    out.body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap_or_else(|_| {
            answer(
                StatusCode::BAD_GATEWAY,
                "the API's answer cannot be passed on",
                None,
            )
        })
}

/// A 504 for a token exchange or refresh that did not finish in time.
fn token_late() -> Response<Body> {
    answer(
        StatusCode::GATEWAY_TIMEOUT,
        "cannot get an access token for the CybeDefend API: the token exchange did not finish within 30s",
        Some("the auth server is slow or unreachable; `cybedefend auth status` checks it"),
    )
}

/// Whether a path has `.` or `..` segments, plain or percent-encoded: the server would
/// rewrite it to another path than the one asked for.
pub(crate) fn dot_segments(path: &str) -> bool {
    path.split('/').any(|seg| {
        let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}

/// Makes this process's memory and environment unreadable to other processes of the same user
/// (`/proc/PID/environ`, a debugger): a program run by `exec`, or a client of the proxy, must
/// not read the PAT or tokens from this process.
pub(crate) fn keep_private() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::debug!("cannot make this process undumpable: {e}");
    }
}

/// A 502 that names why no token could be had.
fn token_failure(e: &Error) -> Response<Body> {
    answer(
        StatusCode::BAD_GATEWAY,
        "cannot get an access token for the CybeDefend API",
        Some(&match e.hint() {
            Some(h) => format!("{} ({h})", e.message()),
            None => e.message().to_owned(),
        }),
    )
}

/// A JSON answer of the gateway's own: `{"error": …, "cause": …, "from": "cybedefend proxy"}`.
fn answer(status: StatusCode, error: &str, cause: Option<&str>) -> Response<Body> {
    let mut body = serde_json::json!({ "error": error, "from": "cybedefend proxy" });
    if let Some(c) = cause {
        body["cause"] = serde_json::Value::String(cybedefend_core::secret::redact::redact(
            &cybedefend_core::text::one_line(c, 400),
        ));
    }
    let bytes = Bytes::from(body.to_string());
    let mut r = Response::new(Full::new(bytes).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_listened_on() {
        for ok in [
            "127.0.0.1:0",
            "[::1]:8080",
            "localhost:9",
            "8080",
            "127.0.0.2:1",
        ] {
            assert!(loopback_address(ok).is_ok(), "{ok}");
        }
        for refused in [
            "0.0.0.0:80",
            "192.168.1.2:80",
            "[::]:80",
            "example.com:80",
            "localhost",
            "",
        ] {
            assert!(
                loopback_address(refused).unwrap_err().is_usage(),
                "{refused}"
            );
        }
    }

    #[test]
    fn only_loopback_host_names_are_answered() {
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "127.0.0.1",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "10.0.0.1",
            "localhost.evil.example",
            "[::2]:80",
            "",
        ] {
            assert!(!loopback_host(refused), "{refused}");
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_private_process_is_not_dumpable() {
        // (what keeps /proc/PID/environ and ptrace from other processes of the same user; a
        // test run as root cannot show that from outside, so the flag itself is checked)
        keep_private();
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }

    #[test]
    fn dot_segments_are_found_encoded_too() {
        for dotted in ["/a/../b", "/a/%2e%2e/b", "/x/.%2E/y", "/./a", "/a/%2E"] {
            assert!(dot_segments(dotted), "{dotted}");
        }
        for plain in ["/a/b", "/a/..b", "/a/%2e%2ex", "/"] {
            assert!(!dot_segments(plain), "{plain}");
        }
    }

    #[test]
    fn the_session_key_matches_itself_only() {
        let k = SessionKey::new().unwrap();
        assert!(k.value().starts_with("cdsk_") && k.value().len() == 69);
        assert!(k.matches(k.value().as_bytes()));
        let mut other = k.value().as_bytes().to_vec();
        other[68] ^= 1;
        assert!(!k.matches(&other));
        assert!(!k.matches(&k.value().as_bytes()[..68]));
        assert_ne!(SessionKey::new().unwrap().value(), k.value());
    }
}
