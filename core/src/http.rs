//! The HTTP client, built only when a request is about to go out (TLS set-up costs a few
//! milliseconds, which `auth status --offline` must not pay).

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Default time limit for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a URL's host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A URL for logs: scheme, host, port and path; the query shows its keys only (pre-signed
/// URLs carry signatures there).
pub fn loggable(url: &url::Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    if !keys.is_empty() {
        out.push('?');
        out.push_str(
            &keys
                .iter()
                .map(|k| format!("{k}=…"))
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    out
}

/// A reqwest client builder with the CLI's TLS provider and user agent, for clients that need
/// their own settings (a provider's CA file).
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("cybedefend-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
}

/// A lazily built reqwest client with the CLI's timeouts and user agent.
#[derive(Debug)]
pub struct Http {
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
    upload: OnceLock<reqwest::Client>,
}

impl Http {
    /// A client whose requests each time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            client: OnceLock::new(),
            upload: OnceLock::new(),
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
        // reqwest is built without a default crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("cybedefend-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// A client for long uploads: no overall limit, but connect and idle (read) limits.
    pub fn upload_client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.upload.get() {
            return Ok(c);
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("cybedefend-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .read_timeout(self.timeout.max(Duration::from_secs(60)))
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(self.upload.get_or_init(|| client))
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
        let method = request.method().clone();
        let url = request.url().clone();
        let shown = loggable(&url);
        let start = Instant::now();
        tracing::debug!("http: {method} {shown}");
        let result = self.client()?.execute(request).await;
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
                Err(self.transport_error(what, &url, &e))
            }
        }
    }

    /// A one-line explanation of a transport failure.
    pub fn transport_error(&self, what: &str, url: &url::Url, err: &reqwest::Error) -> Error {
        let host = url.host_str().unwrap_or("?");
        let place = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        if err.is_timeout() {
            return Error::failure(format!(
                "{what}: {place} did not answer within {} s",
                self.timeout.as_secs_f64()
            ))
            .with_hint("check your network or proxy; raise `http_timeout` (config) or CYBEDEFEND_HTTP_TIMEOUT if the server is slow");
        }
        if err.is_connect() {
            return Error::failure(format!("{what}: cannot connect to {place}")).with_hint(
                "check your network and the URL (`--api-url`, `--auth-endpoint`, `--region`)",
            );
        }
        let mut source: Option<&dyn std::error::Error> = Some(err);
        let mut text = String::new();
        while let Some(s) = source {
            text = s.to_string();
            source = s.source();
        }
        Error::failure(format!("{what}: request to {place} failed: {text}"))
    }
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
}
