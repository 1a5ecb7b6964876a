//! The HTTP client, built only when a request is about to go out (TLS set-up costs a few
//! milliseconds, which `auth status --offline` must not pay), and the rules every request
//! follows:
//!
//! - URLs: `https://` anywhere, plain `http://` on loopback addresses only ([`check_url`]).
//! - Redirects: followed only to the same origin (scheme, host and port), at most five hops,
//!   each logged; a redirect to another origin or a weaker scheme is not followed, so no PAT,
//!   bearer token or form is ever re-sent elsewhere.
//! - Bodies: read with a size cap ([`read_body`]).
//! - Failures: an unreachable server, a timeout or a TLS failure is [`ErrorKind::Network`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::net;
use crate::error::{Error, ErrorKind, Result};

/// Default time limit for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest JSON answer read from the platform or an auth server.
pub const JSON_BODY_CAP: usize = 16 << 20;
/// Largest answer read from a token endpoint, Vault or a discovery document.
pub const SMALL_BODY_CAP: usize = 1 << 20;
/// Redirect hops followed (same origin only).
const MAX_REDIRECTS: usize = 5;

/// A URL for logs and messages: scheme, host, port and path; the query shows its keys only
/// (pre-signed URLs carry signatures there); control characters are neutralised.
pub fn loggable(url: &url::Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(&loggable_target(url.path(), url.query()));
    crate::text::one_line(&out, 300)
}

/// A request's path and query for logs, as [`loggable`] shows them: the query's keys only,
/// control characters neutralised.
pub fn loggable_target(path: &str, query: Option<&str>) -> String {
    let mut out = path.to_owned();
    let keys: Vec<String> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| format!("{k}=…"))
                .collect()
        })
        .unwrap_or_default();
    if !keys.is_empty() {
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    crate::text::one_line(&out, 300)
}

fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Follows a redirect only to the same origin, at most five times, logging each hop.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(previous) = attempt.previous().last() else {
            return attempt.stop();
        };
        let from = loggable(previous);
        let to = loggable(attempt.url());
        if attempt.previous().len() > MAX_REDIRECTS {
            tracing::debug!(
                "http: redirect {from} -> {to} not followed: more than {MAX_REDIRECTS} hops"
            );
            return attempt.stop();
        }
        if same_origin(previous, attempt.url()) {
            tracing::debug!("http: redirect {from} -> {to} (same origin, followed)");
            attempt.follow()
        } else {
            tracing::debug!("http: redirect {from} -> {to} not followed: another origin");
            attempt.stop()
        }
    })
}

/// The error for a redirect that was not followed: `what` was answered with a redirect to
/// another origin (or too many hops).
pub fn redirect_error(what: &str, resp: &reqwest::Response) -> Error {
    let target = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| resp.url().join(l).ok())
        .map_or_else(|| "an unknown place".to_owned(), |u| loggable(&u));
    Error::failure(format!(
        "{what}: {} answered HTTP {} redirecting to {target}; not followed: credentials are never re-sent to another origin or over a weaker scheme",
        loggable(resp.url()),
        resp.status().as_u16()
    ))
    .with_hint("point the URL setting at the final address (`--api-url`, `--auth-endpoint`, a provider's `address`)")
}

/// A builder with the user agent and connect limit, without proxy or TLS settings.
fn base_builder(timeout: Duration) -> reqwest::ClientBuilder {
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("cybedefend-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
}

/// A reqwest client builder with the process's proxies and trusted CAs ([`net`]), user agent,
/// time limits and redirect rule.
pub fn client_builder(timeout: Duration) -> Result<reqwest::ClientBuilder> {
    Ok(net::network()?.apply(
        base_builder(timeout)
            .timeout(timeout)
            .redirect(redirect_policy()),
    ))
}

/// [`client_builder`] for a provider with its own CA setting (Vault): the process's proxies,
/// and the system store (with `SSL_CERT_FILE`/`SSL_CERT_DIR`) plus `roots`; the platform's
/// `ca_cert` is not part of it.
pub fn client_builder_with_roots(
    timeout: Duration,
    roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<reqwest::ClientBuilder> {
    net::with_roots(
        base_builder(timeout)
            .timeout(timeout)
            .redirect(redirect_policy()),
        roots,
    )
}

/// Reads a response body of at most `cap` bytes.
pub async fn read_body(what: &str, mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>> {
    if let Some(len) = resp.content_length()
        && len > cap as u64
    {
        return Err(too_large(what, cap));
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > cap {
                    return Err(too_large(what, cap));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(Error::network(format!(
                    "{what}: the answer broke off: {}",
                    innermost(&e)
                )));
            }
        }
    }
}

fn too_large(what: &str, cap: usize) -> Error {
    Error::failure(format!(
        "{what}: the answer is larger than {} MiB, far more than such an answer can be; refused",
        cap >> 20
    ))
}

fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    crate::text::one_line(&text, 200)
}

/// A TLS failure found in an error chain.
#[derive(Debug, Clone)]
pub struct TlsFailure {
    /// What went wrong, in one line (with the certificate's issuer when one was refused).
    pub text: String,
    /// The refused certificate's issuer, if it could be read.
    pub issuer: Option<String>,
    /// Whether trusting another certificate authority could fix it (unknown issuer).
    pub untrusted: bool,
    /// Whether a certificate was refused at all (not a protocol failure).
    pub certificate: bool,
}

/// The TLS failure in an error chain, if there is one (as rustls reported it).
pub fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    let e = rustls_error(err)?;
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = e
        && let Some(r) = other.0.downcast_ref::<net::Rejected>()
    {
        return Some(TlsFailure {
            text: crate::text::one_line(&r.to_string(), 400),
            issuer: r.issuer.clone(),
            untrusted: r.untrusted_issuer(),
            certificate: true,
        });
    }
    let certificate = matches!(e, rustls::Error::InvalidCertificate(_));
    Some(TlsFailure {
        text: crate::text::one_line(&e.to_string(), 200),
        issuer: None,
        untrusted: matches!(
            e,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        certificate,
    })
}

fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        // An io::Error's `source()` skips the error it wraps: look inside it too.
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(t) = rustls_error(inner)
        {
            return Some(t);
        }
        source = s.source();
    }
    None
}

/// A lazily built reqwest client with the CLI's timeouts and user agent.
#[derive(Debug)]
pub struct Http {
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
    upload: OnceLock<reqwest::Client>,
    download: OnceLock<reqwest::Client>,
    gateway: OnceLock<reqwest::Client>,
}

impl Http {
    /// A client whose requests each time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            client: OnceLock::new(),
            upload: OnceLock::new(),
            download: OnceLock::new(),
            gateway: OnceLock::new(),
        }
    }

    /// The per-request time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Builds the client on first use.
    pub fn client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let client = client_builder(self.timeout)?
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// A client for long uploads: no overall limit and no read limit (a read limit would run
    /// while the body is still being sent, and cut an upload that takes longer than it); the
    /// caller watches progress instead (an idle limit). A connect limit, and no redirects at
    /// all (a streamed body cannot be sent twice).
    pub fn upload_client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.upload.get() {
            return Ok(c);
        }
        let client = net::network()?
            .apply(base_builder(self.timeout).redirect(reqwest::redirect::Policy::none()))
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.upload.get_or_init(|| client))
    }

    /// A client for the loopback gateway (`proxy`): bodies streamed both ways, so no overall
    /// limit and no redirects (as [`Http::upload_client`]), but an idle limit: an API that
    /// sends nothing for `idle` (at least the request time limit) fails the request instead
    /// of holding it open forever.
    pub fn gateway_client(&self, idle: Duration) -> Result<&reqwest::Client> {
        if let Some(c) = self.gateway.get() {
            return Ok(c);
        }
        let client = net::network()?
            .apply(
                base_builder(self.timeout)
                    .read_timeout(idle.max(self.timeout))
                    .redirect(reqwest::redirect::Policy::none()),
            )
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.gateway.get_or_init(|| client))
    }

    /// A client for downloads (reports): the API's redirect rule, a connect limit and an idle
    /// (read) limit, but no overall limit: a large report that keeps arriving is not cut.
    pub fn download_client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.download.get() {
            return Ok(c);
        }
        let client = net::network()?
            .apply(
                base_builder(self.timeout)
                    .read_timeout(self.timeout)
                    .redirect(redirect_policy()),
            )
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.download.get_or_init(|| client))
    }

    /// Sends a request, logging method, URL (query values hidden), status and time at debug
    /// level. Bodies and headers are never logged.
    pub async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let request = request
            .build()
            .map_err(|e| Error::failure(format!("cannot build the {what} request: {e}")))?;
        self.execute(what, self.client()?, request).await
    }

    /// Sends a request built for `client` (see [`Http::send`]).
    pub async fn execute(
        &self,
        what: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response> {
        let method = request.method().clone();
        let url = request.url().clone();
        let shown = loggable(&url);
        let start = Instant::now();
        match net::proxies()
            .ok()
            .as_deref()
            .and_then(|p| p.proxy_for(&url))
        {
            Some(p) => tracing::debug!(
                "http: {method} {shown} (through the proxy {}, from {})",
                p.shown(),
                p.origin
            ),
            None => tracing::debug!("http: {method} {shown}"),
        }
        let result = client.execute(request).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(resp) => {
                tracing::debug!(
                    "http: {method} {shown} -> {} in {ms:.1} ms",
                    resp.status().as_u16()
                );
                Ok(resp)
            }
            Err(e) => {
                tracing::debug!("http: {method} {shown} failed after {ms:.1} ms");
                Err(transport_error(what, &url, &e, self.timeout))
            }
        }
    }
}

/// A one-line explanation of a transport failure ([`ErrorKind::Network`]), naming the host,
/// the proxy in the path if any, and for TLS the issuer seen and the setting that would fix it.
pub fn transport_error(what: &str, url: &url::Url, err: &reqwest::Error, limit: Duration) -> Error {
    let e = transport_error_of(what, url, err, limit);
    // reqwest's own text names the whole URL, query included (a pre-signed upload URL carries
    // its signature there): the causes start below it, with hyper's and the system's words
    let e = match std::error::Error::source(err) {
        Some(inner) => e.with_source(inner),
        None => e,
    };
    // a connection that could not be made sent nothing (a TLS failure did not get that far
    // either, but it is no failure to retry)
    if err.is_connect() && e.kind() == ErrorKind::Network {
        e.not_sent()
    } else {
        e
    }
}

fn transport_error_of(what: &str, url: &url::Url, err: &reqwest::Error, limit: Duration) -> Error {
    let host = url.host_str().unwrap_or("?");
    let place = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let proxies = net::proxies().ok();
    let proxy = proxies.as_deref().and_then(|p| p.proxy_for(url));
    let via = proxy
        .map(|p| format!(" through the proxy {} (from {})", p.shown(), p.origin))
        .unwrap_or_default();
    if let Some(tls) = tls_failure(err) {
        let message = format!(
            "{what}: the TLS connection to {place}{via} failed: {}",
            tls.text
        );
        // An issuer this machine does not trust is a setting to fix, not a failure to retry.
        let kind = if tls.untrusted {
            ErrorKind::Usage
        } else {
            ErrorKind::Network
        };
        return Error::new(kind, message).with_hint(tls_hint(&tls, proxy.is_some()));
    }
    if err.is_builder() {
        return Error::failure(format!(
            "{what}: cannot build the request to {place}: {}",
            innermost(err)
        ))
        .with_hint("a value given may be too long for a URL; shorten it");
    }
    if err.is_timeout() {
        // A connection that never opens is cut by the connect limit, not the request limit.
        let limit = if err.is_connect() {
            limit.min(Duration::from_secs(10))
        } else {
            limit
        };
        let hint = match proxy {
            Some(p) if p.is_https() => format!(
                "the proxy URL {} uses https://, but most proxies speak plain http:// even for https sites (the tunnel is still encrypted end to end): try http://",
                p.shown()
            ),
            _ => "check your network or proxy; raise `http_timeout` (config) or CYBEDEFEND_HTTP_TIMEOUT if the server is slow".to_owned(),
        };
        return Error::network(format!(
            "{what}: {place}{via} did not answer within {}",
            crate::duration::format(limit)
        ))
        .with_hint(hint);
    }
    if let Some(p) = proxy
        && err.is_connect()
    {
        let why = innermost(err);
        let lower = why.to_ascii_lowercase();
        // A proxy that refuses (credentials, or this host) needs a setting fixed: retrying
        // does not help.
        // The proxy answered with a refusal (407, 403, ...): a setting to fix. A proxy that
        // dropped the connection while the tunnel was opened said nothing of the kind: a
        // network failure, retried like others.
        let dropped = lower.contains("end of file") || lower.contains("eof");
        let refused = !dropped && (lower.contains("auth") || lower.contains("unsuccessful"));
        let kind = if refused {
            ErrorKind::Usage
        } else {
            ErrorKind::Network
        };
        let hint = if dropped {
            format!(
                "the proxy {} closed the connection while it opened the tunnel; retry, and if it persists, check the proxy (its logs say why)",
                p.shown()
            )
        } else if lower.contains("auth") && !p.has_credentials() {
            "the proxy asks for a user name and password: give them in its URL (http://user:password@host:port), which is never printed".to_owned()
        } else if lower.contains("auth") || (refused && p.has_credentials()) {
            "the proxy refused the tunnel: check the user name and password in its URL, and that the proxy lets you reach this host and port".to_owned()
        } else if refused {
            "the proxy refused the tunnel to this host: it may want a user name and password (http://user:password@host:port), or not allow this host or port".to_owned()
        } else {
            format!(
                "check that the proxy {} is running and reachable; `--proxy none`, or the host in NO_PROXY, goes direct",
                p.shown()
            )
        };
        return Error::new(kind, format!("{what}: cannot reach {place}{via}: {why}"))
            .with_hint(hint);
    }
    if err.is_connect() {
        return Error::network(format!("{what}: cannot connect to {place}")).with_hint(
            "check your network and the URL (`--api-url`, `--auth-endpoint`, `--region`); behind a company proxy set HTTPS_PROXY or `proxy`",
        );
    }
    Error::network(format!(
        "{what}: request to {place}{via} failed: {}",
        innermost(err)
    ))
}

/// What would fix a TLS failure.
fn tls_hint(tls: &TlsFailure, proxied: bool) -> String {
    if !tls.certificate {
        return "the server (or a proxy in between) does not speak TLS correctly here; check the URL and the proxy settings".to_owned();
    }
    if !tls.untrusted {
        return "the certificate itself is wrong for this server (expired, or for another name): check the URL (`--api-url`, `--region`) and this machine's clock; trusting another CA cannot fix this".to_owned();
    }
    let issuer = tls
        .issuer
        .as_deref()
        .map_or_else(|| "the issuer".to_owned(), |i| format!("`{i}`"));
    let network = net::network().ok();
    let labels = network
        .as_ref()
        .map(|n| n.trust.labels())
        .unwrap_or_default();
    let only = network.as_ref().and_then(|n| n.trust.only.clone());
    let mut hint = if let Some(origin) = only {
        format!(
            "only {} are trusted (`ca_cert_only` from {origin}: not the system's store), and none signed it; add the certificate of {issuer} to that file, or drop `ca_cert_only`",
            labels.join(", ")
        )
    } else if labels.is_empty() {
        format!(
            "if {issuer} is your company's proxy or private CA, give its certificate (a PEM file) with `ca_cert` in ~/.cybedefend/config.yaml or CYBEDEFEND_CA_CERT: it is added to the system's trust store"
        )
    } else {
        format!(
            "the CA files trusted besides the system store ({}) did not sign it either; give the certificate of {issuer} (a PEM file) with `ca_cert` or CYBEDEFEND_CA_CERT",
            labels.join(", ")
        )
    };
    if proxied {
        hint.push_str(
            "; a proxy that inspects TLS signs with its own CA, and that is the one to give",
        );
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_hidden_in_logs() {
        let u = url::Url::parse("https://storage.example/b/o?X-Goog-Signature=abc&x=1").unwrap();
        assert_eq!(
            loggable(&u),
            "https://storage.example/b/o?X-Goog-Signature=…&x=…"
        );
    }

    #[tokio::test]
    async fn a_tls_failure_is_recognised_through_the_error_chain() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Some(Ok(mut s)) = l.incoming().next() {
                let mut b = [0u8; 512];
                let _ = s.read(&mut b);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nplain text, not TLS");
            }
        });
        let c = client_builder(Duration::from_secs(5))
            .unwrap()
            .build()
            .unwrap();
        let e = c
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(tls_failure(&e).is_some(), "{e:?}");
        let url = url::Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
        let err = transport_error("probe", &url, &e, DEFAULT_TIMEOUT);
        assert!(err.message().contains("TLS connection"), "{err}");
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = url::Url::parse("https://x.example/a").unwrap();
        assert!(same_origin(
            &a,
            &url::Url::parse("https://x.example:443/b").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &url::Url::parse("http://x.example/b").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &url::Url::parse("https://y.example/b").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &url::Url::parse("https://x.example:8443/b").unwrap()
        ));
    }
}
