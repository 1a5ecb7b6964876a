//! The network settings as configured, checked when read: a proxy URL (parsed, its password
//! registered for redaction and never shown), the CA settings, and the rule for the platform's
//! URLs (`https://`, or `http://` on loopback only). The platform's network module applies
//! them.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::text::one_line;

/// A value with where it came from (`--proxy`, `CYBEDEFEND_CA_CERT`, a config file).
#[derive(Debug, Clone)]
pub struct Setting<T> {
    /// As given, not yet checked.
    pub value: T,
    /// Where it was set.
    pub origin: String,
}

/// The network settings of the configuration (`Debug` masks the proxy's credentials).
#[derive(Clone, Default)]
pub struct NetSettings {
    /// `proxy`: a proxy URL, or `none`.
    pub proxy: Option<Setting<String>>,
    /// `ca_cert`: a PEM file of extra certificate authorities.
    pub ca_cert: Option<Setting<PathBuf>>,
    /// `ca_cert_only`: trust the given CA files alone, not the system store.
    pub ca_cert_only: Option<Setting<bool>>,
}

impl fmt::Debug for NetSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetSettings")
            .field(
                "proxy",
                &self.proxy.as_ref().map(|p| mask_userinfo(&p.value)),
            )
            .field("ca_cert", &self.ca_cert)
            .field("ca_cert_only", &self.ca_cert_only)
            .finish()
    }
}

/// A proxy URL that may not parse, for a message: without `user:password@`, and not at all
/// when a password could hide where no `@` marks it (`http://alice:secret`).
fn shown_unparsed(raw: &str) -> String {
    let masked = mask_userinfo(raw);
    let rest = masked.split_once("://").map_or(masked.as_str(), |(_, r)| r);
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let authority = host_part.split(['/', '?', '#']).next().unwrap_or("");
    let after_colon = authority.rsplit_once(':').map(|(_, p)| p);
    if after_colon.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        masked
    } else {
        "(not shown: it may hold a password)".to_owned()
    }
}

/// A proxy URL and where it was set.
#[derive(Clone)]
pub struct ProxyUrl {
    url: url::Url,
    /// Where it was set (`--proxy`, `HTTPS_PROXY`, a config file).
    pub origin: String,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({} from {})", self.shown(), self.origin)
    }
}

/// `text` with anything between the scheme and the last `@` of the authority replaced by
/// `***` (proxy URLs carry passwords there); for messages about a value that did not parse.
pub fn mask_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    // The last `@` anywhere: a password may hold `/`, `?`, `#` or `@` itself, and a proxy URL
    // has no path that could hold one.
    match rest.rfind('@') {
        Some(at) => one_line(&format!("{scheme}***{}", &rest[at..]), 200),
        None => one_line(text, 200),
    }
}

impl ProxyUrl {
    /// Parses a proxy URL; a bare `host:port` means `http://host:port`. Errors name `origin`
    /// and never show a password.
    pub fn parse(raw: &str, origin: &str) -> Result<Self> {
        let raw = raw.trim();
        let shown = shown_unparsed(raw);
        let full = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let hint = "give it as http://host:port, with user:password@ before the host if the proxy asks for them; percent-encode special characters in them (`@` as %40, `/` as %2F, `#` as %23, `\\` as %5C)";
        let url = url::Url::parse(&full).map_err(|e| {
            Error::usage(format!(
                "the proxy `{shown}` (from {origin}) is not a valid URL: {e}"
            ))
            .with_hint(hint)
        })?;
        match url.scheme() {
            "http" | "https" => {}
            s @ ("socks4" | "socks4a" | "socks5" | "socks5h") => {
                return Err(Error::usage(format!(
                    "the proxy `{shown}` (from {origin}) is a {s} proxy; only http:// and https:// proxies are supported"
                ))
                .with_hint("most companies offer an HTTP proxy next to a SOCKS one; ask for its address"));
            }
            s => {
                return Err(Error::usage(format!(
                    "the proxy `{shown}` (from {origin}) has scheme `{}`; expected http:// or https://",
                    one_line(s, 40)
                ))
                .with_hint(hint));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(
                Error::usage(format!("the proxy `{shown}` (from {origin}) names no host"))
                    .with_hint(hint),
            );
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(Error::usage(format!(
                "the proxy `{shown}` (from {origin}) has a path, a query or a fragment; a proxy is only scheme://host:port"
            ))
            .with_hint(hint));
        }
        if !raw.contains("://") && url.port().is_none() {
            return Err(Error::usage(format!(
                "the proxy `{shown}` (from {origin}) has no port: give it as host:port or with a scheme (http://{shown}:3128)"
            ))
            .with_hint("`none` means no proxy at all"));
        }
        // Whatever prints text masks the password too, should it ever reach a message.
        if let Some(password) = url.password() {
            crate::secret::redact::register(password);
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                crate::secret::redact::register(&decoded);
            }
        }
        Ok(Self {
            url,
            origin: origin.to_owned(),
        })
    }

    /// The URL without credentials: `http://***@proxy.corp:3128` when it has a user name or
    /// password, else `http://proxy.corp:3128`.
    pub fn shown(&self) -> String {
        let creds = if !self.url.username().is_empty() || self.url.password().is_some() {
            "***@"
        } else {
            ""
        };
        let host = self.url.host_str().unwrap_or("");
        let port = self.url.port().map(|p| format!(":{p}")).unwrap_or_default();
        one_line(&format!("{}://{creds}{host}{port}", self.url.scheme()), 300)
    }

    /// The URL, credentials included: for the HTTP client only, never for a message.
    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// Whether the proxy is reached over TLS (`https://`).
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// Whether the URL carries a user name or password.
    pub fn has_credentials(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }
}

/// Whether a URL's host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Accepts `https://` anywhere and `http://` on loopback hosts only. `key` and `origin` name
/// the setting in the error.
pub fn check_url(key: &str, value: &str, origin: &str) -> Result<url::Url> {
    let shown = crate::text::one_line(value, 200);
    let url = url::Url::parse(value).map_err(|e| {
        Error::usage(format!(
            "`{key}` {shown} (from {origin}) is not a valid URL: {e}"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::usage(format!(
            "`{key}` (from {origin}) has a user name or password in it; credentials never go in URLs"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::usage(format!(
            "`{key}` {shown} (from {origin}) has a query (`?`) or a fragment (`#`); give the base URL only"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::usage(format!(
            "`{key}` {shown} (from {origin}) uses plain http: tokens would travel unencrypted"
        ))
        .with_hint("use an https:// URL; plain http is accepted only for loopback addresses (localhost, 127.0.0.1, ::1)")),
        other => Err(Error::usage(format!(
            "`{key}` {shown} (from {origin}) has scheme `{other}`; expected https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_only_on_loopback_and_no_userinfo() {
        assert!(check_url("api_url", "http://127.0.0.1:8080", "x").is_ok());
        assert!(check_url("api_url", "http://localhost:1", "x").is_ok());
        assert!(check_url("api_url", "http://[::1]:1", "x").is_ok());
        assert!(check_url("api_url", "http://api.example.com", "x").is_err());
        assert!(check_url("api_url", "ftp://x", "x").is_err());
        let e = check_url("api_url", "https://u:p@x.example", "x").unwrap_err();
        assert!(!e.message().contains("u:p"), "{e}");
    }

    #[test]
    fn userinfo_is_masked_in_unparsed_text() {
        assert_eq!(mask_userinfo("http://a:b@h:1"), "http://***@h:1");
        assert_eq!(mask_userinfo("a:b@c@h:1"), "***@h:1");
        assert_eq!(
            mask_userinfo("http://alice:Sup3r/Secret@h:1"),
            "http://***@h:1"
        );
        assert_eq!(mask_userinfo("http://alice:p@ss%w#1@h:1"), "http://***@h:1");
        assert_eq!(mask_userinfo("http://h:1"), "http://h:1");
        for raw in [
            "http://alice:Sup3r/Secret@h:1",
            "http://alice:p@ss#w?1@h:1",
            "http://D\\alice:pw9@h:1",
            "http://alice:Secret",
            "alice:Secret",
            "http://alice@h:Secret",
        ] {
            if let Err(e) = ProxyUrl::parse(raw, "X") {
                assert!(
                    !e.to_string().contains("Secret")
                        && !e.to_string().contains("ss#w")
                        && !e.to_string().contains("pw9"),
                    "{e}"
                );
            }
        }
    }
}
