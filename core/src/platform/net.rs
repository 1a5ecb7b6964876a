//! Corporate networks: which proxy a request goes through, and which certificate authorities
//! TLS trusts.
//!
//! **Proxies.** `proxy` (config, `CYBEDEFEND_PROXY`, `--proxy`) wins over `HTTPS_PROXY` and
//! `ALL_PROXY` (either case); `none` there means no proxy at all. `NO_PROXY` (either case)
//! lists hosts reached directly: `*`, domains (`example.com` also covers its subdomains; a
//! leading `.` or `*.` is allowed), IP addresses and CIDR blocks, each with an optional
//! `:port`. Only `https://` requests go through a proxy: plain `http://` is accepted for
//! loopback addresses only, and a proxy would see its tokens in clear, so `HTTP_PROXY` never
//! applies. A proxy URL is `http://` or `https://`, with an optional `user:password@` that is
//! never printed ([`ProxyUrl::shown`]).
//!
//! **Certificate authorities.** `ca_cert` (config, `CYBEDEFEND_CA_CERT`) and the conventional
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` are PEM files *added to* the system's trust store;
//! `ca_cert_only: true` trusts them alone. The Vault provider keeps its own CA setting, added
//! to the same system store ([`tls_config_with`]).
//!
//! **Diagnosis.** A certificate that fails verification is reported with the issuer and
//! name it was for ([`Rejected`]), so a TLS error can say "issued by `CN=Acme Proxy CA`".
//!
//! The settings are handed over once per process ([`configure`]); the proxy choice is read
//! then, the CA files when the first client is built.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::credentials::display;
use crate::error::{Error, Result};
use crate::text::one_line;

/// Largest CA file read (system bundles are about 200 KiB).
const CA_FILE_CAP: u64 = 8 << 20;
/// Most files read from one `SSL_CERT_DIR` folder.
const CA_DIR_FILES: usize = 10_000;

/// A value with where it came from (`--proxy`, `CYBEDEFEND_CA_CERT`, a config file).
#[derive(Debug, Clone)]
pub struct Setting<T> {
    /// The value.
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

/// Reads an environment variable (a test passes its own).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Result<Option<String>>;

fn process_env(name: &str) -> Result<Option<String>> {
    crate::env::non_empty(name)
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
pub(crate) fn mask_userinfo(text: &str) -> String {
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
            crate::credentials::redact::register(password);
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                crate::credentials::redact::register(&decoded);
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

    /// Whether the proxy is reached over TLS (`https://`).
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// Whether the URL carries a user name or password.
    pub fn has_credentials(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    All,
    Domain {
        name: String,
        port: Option<u16>,
    },
    Net {
        addr: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
}

fn split_port(entry: &str) -> std::result::Result<(&str, Option<u16>), ()> {
    // `[v6]:port` or `[v6]`
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(())?;
        return match after {
            "" => Ok((host, None)),
            p => Ok((
                host,
                Some(p.strip_prefix(':').ok_or(())?.parse().map_err(|_| ())?),
            )),
        };
    }
    // A bare IPv6 address has several colons and no port.
    if entry.matches(':').count() > 1 {
        return Ok((entry, None));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(port.parse().map_err(|_| ())?))),
        None => Ok((entry, None)),
    }
}

fn parse_bypass(entry: &str) -> Option<Bypass> {
    if entry == "*" {
        return Some(Bypass::All);
    }
    if let Some((addr, prefix)) = entry.split_once('/') {
        let addr: IpAddr = addr.trim_matches(['[', ']']).parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return (prefix <= max).then_some(Bypass::Net {
            addr,
            prefix,
            port: None,
        });
    }
    let (host, port) = split_port(entry).ok()?;
    if let Ok(addr) = host.parse::<IpAddr>() {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        return Some(Bypass::Net { addr, prefix, port });
    }
    let name = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('.'))
        .unwrap_or(host)
        .trim_end_matches('.');
    // International names compare in their ASCII (punycode) form, as URLs carry them.
    let name = match url::Host::parse(name) {
        Ok(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        _ => return None,
    };
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(Bypass::Domain { name, port })
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    // `::ffff:10.1.2.3` is the IPv4 address 10.1.2.3.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The `NO_PROXY` list.
#[derive(Debug, Clone, Default)]
struct NoProxy {
    entries: Vec<Bypass>,
    origin: String,
}

impl NoProxy {
    /// Parses the list; an entry that is neither `*`, a domain, an address nor a CIDR block is
    /// ignored with a warning naming it.
    fn parse(raw: &str, origin: &str, warnings: &mut Vec<String>) -> Self {
        let mut entries = Vec::new();
        for entry in raw.split([',', ' ', '\t']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            match parse_bypass(entry) {
                Some(b) => entries.push(b),
                None => warnings.push(format!(
                    "{origin}: `{}` is not a host, domain, IP address or CIDR block (such as `.corp.example`, `10.0.0.0/8`, `localhost:8080`); that entry is ignored",
                    one_line(entry, 80)
                )),
            }
        }
        Self {
            entries,
            origin: origin.to_owned(),
        }
    }

    fn matches(&self, target: &url::Url) -> bool {
        let port = target.port_or_known_default();
        self.entries.iter().any(|b| match b {
            Bypass::All => true,
            Bypass::Domain { name, port: p } => {
                p.is_none_or(|p| Some(p) == port)
                    && match target.host() {
                        Some(url::Host::Domain(d)) => {
                            let d = d.trim_end_matches('.').to_ascii_lowercase();
                            d == *name
                                || d.strip_suffix(name.as_str())
                                    .is_some_and(|head| head.ends_with('.'))
                        }
                        _ => false,
                    }
            }
            Bypass::Net {
                addr,
                prefix,
                port: p,
            } => {
                p.is_none_or(|p| Some(p) == port)
                    && match target.host() {
                        Some(url::Host::Ipv4(ip)) => in_net(IpAddr::V4(ip), *addr, *prefix),
                        Some(url::Host::Ipv6(ip)) => in_net(IpAddr::V6(ip), *addr, *prefix),
                        _ => false,
                    }
            }
        })
    }
}

#[derive(Debug, Clone)]
enum Choice {
    /// `proxy: none`.
    Direct(String),
    /// `proxy` set.
    Fixed(ProxyUrl),
    /// From the environment (the first of `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`,
    /// `all_proxy`), if any.
    Env(Option<ProxyUrl>),
}

/// Which proxy each request goes through.
#[derive(Debug, Clone)]
pub struct Proxies {
    choice: Choice,
    no_proxy: Option<NoProxy>,
    /// `HTTP_PROXY` (either case) is set while nothing applies to https URLs.
    http_only: Option<String>,
}

/// How a request to one URL travels.
#[derive(Debug, Clone)]
pub enum Route<'a> {
    /// Through this proxy.
    Proxy(&'a ProxyUrl),
    /// Directly, and why (`no proxy is set`, `NO_PROXY lists it`, `proxy: none (from …)`).
    Direct(String),
}

impl Proxies {
    /// Reads the proxy settings: `proxy` first, then the environment. Errors (a malformed
    /// proxy URL) name the setting or variable; malformed `NO_PROXY` entries become warnings.
    pub fn resolve(
        setting: Option<&Setting<String>>,
        lookup: Lookup<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let choice = match setting {
            Some(s) if s.value.trim().eq_ignore_ascii_case("none") => {
                Choice::Direct(s.origin.clone())
            }
            Some(s) => Choice::Fixed(ProxyUrl::parse(&s.value, &s.origin)?),
            None => {
                let mut found = None;
                for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
                    if let Some(v) = lookup(var)? {
                        found = Some(ProxyUrl::parse(&v, var)?);
                        break;
                    }
                }
                for (upper, lower) in [("HTTPS_PROXY", "https_proxy"), ("ALL_PROXY", "all_proxy")] {
                    if let (Some(a), Some(b)) = (lookup(upper)?, lookup(lower)?)
                        && a != b
                    {
                        warnings.push(format!(
                            "{upper} and {lower} are both set, to different proxies; {upper} is used"
                        ));
                    }
                }
                Choice::Env(found)
            }
        };
        let mut no_proxy = None;
        for var in ["NO_PROXY", "no_proxy"] {
            if let Some(v) = lookup(var)? {
                no_proxy = Some(NoProxy::parse(&v, var, warnings));
                break;
            }
        }
        let mut http_only = None;
        if matches!(choice, Choice::Env(None)) {
            for var in ["HTTP_PROXY", "http_proxy"] {
                if lookup(var)?.is_some() {
                    http_only = Some(var.to_owned());
                    break;
                }
            }
        }
        Ok(Self {
            choice,
            no_proxy,
            http_only,
        })
    }

    /// How a request to `target` travels.
    pub fn route(&self, target: &url::Url) -> Route<'_> {
        if target.scheme() != "https" {
            return Route::Direct(
                "plain-http URLs (loopback only) never go through a proxy".to_owned(),
            );
        }
        let proxy = match &self.choice {
            Choice::Direct(origin) => return Route::Direct(format!("proxy: none (from {origin})")),
            Choice::Fixed(p) | Choice::Env(Some(p)) => p,
            Choice::Env(None) => {
                let why = match &self.http_only {
                    Some(var) => format!(
                        "no proxy is set for https URLs ({var} is set, but applies to plain-http URLs only; set HTTPS_PROXY)"
                    ),
                    None => "no proxy is set".to_owned(),
                };
                return Route::Direct(why);
            }
        };
        match &self.no_proxy {
            Some(n) if n.matches(target) => Route::Direct(format!("{} lists this host", n.origin)),
            _ => Route::Proxy(proxy),
        }
    }

    /// The proxy a request to `target` goes through, if any.
    pub fn proxy_for(&self, target: &url::Url) -> Option<&ProxyUrl> {
        match self.route(target) {
            Route::Proxy(p) => Some(p),
            Route::Direct(_) => None,
        }
    }

    /// The reqwest proxy rule implementing [`Proxies::route`] (reqwest's own reading of the
    /// environment is switched off, so this is the only rule).
    fn reqwest_proxy(self: &Arc<Self>) -> reqwest::Proxy {
        let me = Arc::clone(self);
        reqwest::Proxy::custom(move |target| me.proxy_for(target).map(|p| p.url.clone()))
    }
}

/// One source of extra certificate authorities.
#[derive(Debug, Clone)]
pub struct CaSource {
    /// `ca_cert /etc/corp-ca.pem (from ~/.cybedefend/config.yaml)`, `SSL_CERT_FILE=/x.pem`.
    pub label: String,
    certs: Vec<CertificateDer<'static>>,
}

impl CaSource {
    /// How many certificates it holds.
    pub fn count(&self) -> usize {
        self.certs.len()
    }
}

/// What TLS trusts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Extra CA files, in the order read.
    pub extra: Vec<CaSource>,
    /// Trust the extra files alone (`ca_cert_only`), not the system store.
    pub only: Option<String>,
    /// Certificates of the system store read by hand: when `SSL_CERT_FILE`/`SSL_CERT_DIR` are
    /// set, the system verifier reads them *instead of* the system store, which is therefore
    /// added back here.
    system_again: Vec<CertificateDer<'static>>,
    /// Verify with these roots alone (see `system_again`): the system verifier would read the
    /// variables again, without this module's size limits.
    own_roots: bool,
}

/// Known system bundle files (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE, older RHEL, the
/// BSDs and macOS' OpenSSL).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
    "/etc/ssl/cert.pem",
];

/// Reads a PEM file of certificates; `label` names it in errors (`ca_cert /x (from …)`).
fn read_pem(path: &Path, label: &str, fix: &str) -> Result<Vec<CertificateDer<'static>>> {
    use crate::fsutil::{ReadError, read_capped};
    // Capped while reading (a /proc file says it is empty), opened without blocking (a FIFO).
    let bytes = read_capped(path, CA_FILE_CAP, true).map_err(|e| {
        let why = match e {
            ReadError::NotFound => "no such file".to_owned(),
            ReadError::NotRegular(kind) => format!("it is a {kind}, not a regular file"),
            ReadError::TooLarge(_) => format!(
                "it is larger than {} MiB, far more than a CA bundle",
                CA_FILE_CAP >> 20
            ),
            ReadError::Symlink => "it is a symbolic link".to_owned(),
            ReadError::Refused(why) => one_line(&why, 300),
            ReadError::Io(e) => one_line(&e.to_string(), 120),
        };
        Error::usage(format!("cannot read the CA file of {label}: {why}")).with_hint(fix.to_owned())
    })?;
    parse_pem(&bytes, label, fix)
}

fn parse_pem(bytes: &[u8], label: &str, fix: &str) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(bytes).enumerate() {
        let cert = item.map_err(|e| {
            Error::usage(format!(
                "the CA file of {label} is not valid PEM (certificate {}): {}",
                i + 1,
                one_line(&e.to_string(), 120)
            ))
            .with_hint(fix.to_owned())
        })?;
        // The verifier takes only certificates that can be trust anchors: check each here, so
        // the error names the file.
        let mut probe = rustls::RootCertStore::empty();
        probe.add(cert.clone()).map_err(|e| {
            Error::usage(format!(
                "certificate {} in the CA file of {label} cannot be used as a certificate authority: {}",
                i + 1,
                one_line(&e.to_string(), 120)
            ))
            .with_hint(fix.to_owned())
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "the CA file of {label} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ))
        .with_hint(format!(
            "{fix}; a DER file converts with `openssl x509 -inform der -in FILE -out FILE.pem`"
        )));
    }
    Ok(certs)
}

/// Most certificates taken from `SSL_CERT_DIR` folders (a system store has a few hundred).
const CA_DIR_CERTS: usize = 5_000;

/// What the `SSL_CERT_DIR` folders have used so far: certificates and files already taken,
/// and bytes read.
#[derive(Default)]
struct DirBudget {
    certs: std::collections::HashSet<Vec<u8>>,
    files: std::collections::HashSet<(u64, u64)>,
    bytes: u64,
}

/// Largest file read from an `SSL_CERT_DIR` folder (one CA is 2 KiB, a bundle 200 KiB).
const CA_DIR_FILE_CAP: u64 = 2 << 20;
/// Most bytes read from all `SSL_CERT_DIR` folders together.
const CA_DIR_BYTES: u64 = 32 << 20;

fn read_pem_dir(
    dir: &Path,
    label: &str,
    fix: &str,
    budget: &mut DirBudget,
) -> Result<Vec<CertificateDer<'static>>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::usage(format!(
            "cannot read the CA folder of {label}: {}",
            one_line(&e.to_string(), 120)
        ))
        .with_hint(fix.to_owned())
    })?;
    let mut certs: Vec<CertificateDer<'static>> = Vec::new();
    for entry in entries.flatten().take(CA_DIR_FILES) {
        // Capped, non-blocking reads; a hashed CA folder holds other files too (CRLs,
        // READMEs): take what parses, skip what cannot be read.
        let path = entry.path();
        // Each file once (hashed folders hold links to the same file).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = std::fs::metadata(&path)
                && !budget.files.insert((m.dev(), m.ino()))
            {
                continue;
            }
        }
        let Ok(bytes) = crate::fsutil::read_capped(&path, CA_DIR_FILE_CAP, true) else {
            continue;
        };
        budget.bytes += bytes.len() as u64;
        if budget.bytes > CA_DIR_BYTES {
            return Err(Error::usage(format!(
                "the CA folders of SSL_CERT_DIR hold more than {} MiB of files; a trust store is far smaller",
                CA_DIR_BYTES >> 20
            ))
            .with_hint(fix.to_owned()));
        }
        for cert in CertificateDer::pem_slice_iter(&bytes).flatten() {
            if budget.certs.len() >= CA_DIR_CERTS {
                return Err(Error::usage(format!(
                    "the CA folders of SSL_CERT_DIR hold more than {CA_DIR_CERTS} certificates; a trust store has a few hundred"
                ))
                .with_hint(fix.to_owned()));
            }
            let mut probe = rustls::RootCertStore::empty();
            if probe.add(cert.clone()).is_ok() && budget.certs.insert(cert.as_ref().to_vec()) {
                certs.push(cert);
            }
        }
    }
    if certs.is_empty() {
        return Err(
            Error::usage(format!("the CA folder of {label} holds no PEM certificate"))
                .with_hint(fix.to_owned()),
        );
    }
    Ok(certs)
}

impl Trust {
    /// Reads the CA files: `ca_cert` (if `with_ca_cert`), then `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`.
    pub fn load(settings: &NetSettings, with_ca_cert: bool, lookup: Lookup<'_>) -> Result<Self> {
        let mut trust = Self::default();
        if with_ca_cert && let Some(ca) = &settings.ca_cert {
            let label = format!("ca_cert {} (from {})", display(&ca.value), ca.origin);
            let fix = format!(
                "fix `ca_cert` in {}: it takes a PEM file of the certificate authorities to trust",
                ca.origin
            );
            let certs = read_pem(&ca.value, &label, &fix)?;
            trust.extra.push(CaSource { label, certs });
        }
        let mut conventional = false;
        // A relative file or folder would be read from whatever directory a command runs in:
        // a repository's PEM would become a trusted CA.
        let relative = |var: &str, value: &str| {
            Error::usage(format!(
                "{var}={} is not an absolute path: it would be read from whatever directory a command runs in (a repository's PEM would become a trusted CA)",
                one_line(value, 200)
            ))
            .with_hint(format!("give an absolute path: export {var}=\"$PWD/{}\"", one_line(value, 200)))
        };
        if let Some(file) = lookup("SSL_CERT_FILE")? {
            if Path::new(&file).is_relative() {
                return Err(relative("SSL_CERT_FILE", &file));
            }
            let label = format!("SSL_CERT_FILE={}", one_line(&file, 200));
            let fix = "fix or unset SSL_CERT_FILE: it takes a PEM file of certificate authorities";
            let certs = read_pem(Path::new(&file), &label, fix)?;
            trust.extra.push(CaSource { label, certs });
            conventional = true;
        }
        if let Some(dirs) = lookup("SSL_CERT_DIR")? {
            let fix = "fix or unset SSL_CERT_DIR: it takes folders of PEM files";
            let mut budget = DirBudget::default();
            let mut missing = Vec::new();
            for dir in std::env::split_paths(&dirs).filter(|p| !p.as_os_str().is_empty()) {
                if dir.is_relative() {
                    return Err(relative("SSL_CERT_DIR", &dir.to_string_lossy()));
                }
                // A folder that does not exist is skipped, as OpenSSL does.
                if !dir.exists() {
                    missing.push(display(&dir));
                    continue;
                }
                let label = format!("SSL_CERT_DIR entry {}", display(&dir));
                let certs = read_pem_dir(&dir, &label, fix, &mut budget)?;
                trust.extra.push(CaSource { label, certs });
                conventional = true;
            }
            if !conventional && !missing.is_empty() {
                return Err(Error::usage(format!(
                    "none of the folders of SSL_CERT_DIR exists ({})",
                    one_line(&missing.join(", "), 200)
                ))
                .with_hint(fix));
            }
        }
        if let Some(only) = settings.ca_cert_only.as_ref().filter(|o| o.value) {
            if trust.extra.is_empty() {
                return Err(Error::usage(format!(
                    "`ca_cert_only` (from {}) trusts the given CA files alone, but none is given",
                    only.origin
                ))
                .with_hint(
                    "set `ca_cert` (config) or CYBEDEFEND_CA_CERT, or drop `ca_cert_only`",
                ));
            }
            trust.only = Some(only.origin.clone());
        } else if conventional && cfg!(all(unix, not(target_vendor = "apple"))) {
            trust.own_roots = true;
            // The system verifier reads SSL_CERT_FILE/SSL_CERT_DIR in place of the system
            // store; add the store back, so they add to it as every other CA setting does.
            if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
                match read_pem(bundle, &display(bundle), "") {
                    Ok(c) => trust.system_again = c,
                    Err(e) => tracing::debug!("tls: system bundle skipped: {e}"),
                }
            }
        }
        Ok(trust)
    }

    fn extra_certs(&self) -> impl Iterator<Item = CertificateDer<'static>> + '_ {
        self.extra.iter().flat_map(|s| s.certs.iter().cloned())
    }

    /// One line for `auth status` and logs: `the system store + ca_cert /x (2 certificates)`.
    pub fn describe(&self) -> String {
        let extra: Vec<String> = self
            .extra
            .iter()
            .map(|s| {
                format!(
                    "{} ({} certificate{})",
                    s.label,
                    s.count(),
                    plural(s.count())
                )
            })
            .collect();
        match (&self.only, extra.is_empty()) {
            (Some(origin), _) => format!("only {} (ca_cert_only from {origin})", extra.join(" + ")),
            (None, true) => "the system's trust store".to_owned(),
            (None, false) => format!("the system's trust store + {}", extra.join(" + ")),
        }
    }

    /// The CA settings in force, for a TLS error's hint.
    pub fn labels(&self) -> Vec<String> {
        self.extra.iter().map(|s| s.label.clone()).collect()
    }

    /// A rustls configuration trusting this (plus `more`, a provider's own CA).
    fn tls_config(&self, more: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let setup = |e: &dyn fmt::Display| {
            Error::failure(format!(
                "cannot set up TLS verification: {}",
                one_line(&e.to_string(), 200)
            ))
        };
        let extra: Vec<CertificateDer<'static>> = self
            .extra_certs()
            .chain(self.system_again.iter().cloned())
            .chain(more.iter().cloned())
            .collect();
        let inner: Arc<dyn ServerCertVerifier> = if self.only.is_some() || self.own_roots {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(extra);
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| setup(&e))?
        } else if extra.is_empty() {
            Arc::new(
                rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
                    .map_err(|e| setup(&e))?,
            )
        } else {
            Arc::new(
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    extra,
                    Arc::clone(&provider),
                )
                .map_err(|e| setup(&e))?,
            )
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoteIssuer(inner)))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A certificate that failed verification, with what it said about itself.
#[derive(Debug)]
pub struct Rejected {
    /// Why it was refused.
    pub cause: CertificateError,
    /// Its issuer (`CN=Acme Proxy CA, O=Acme`), if it could be read.
    pub issuer: Option<String>,
    /// The name the client asked for.
    pub server: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match &self.cause {
            CertificateError::UnknownIssuer => {
                "is not signed by a trusted certificate authority".to_owned()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "is not valid yet (check the clock)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("is not valid for the name {}", self.server)
            }
            CertificateError::Revoked => "has been revoked".to_owned(),
            other => format!("was refused ({})", one_line(&format!("{other:?}"), 120)),
        };
        write!(f, "the certificate presented for {}", self.server)?;
        if let Some(issuer) = &self.issuer {
            write!(f, " (issued by `{issuer}`)")?;
        }
        write!(f, " {why}")
    }
}

impl std::error::Error for Rejected {}

impl Rejected {
    /// Whether trusting another certificate authority could fix it.
    pub fn untrusted_issuer(&self) -> bool {
        matches!(
            self.cause,
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        )
    }
}

/// The issuer of a DER certificate (`CN=Acme Proxy CA, O=Acme`), if it can be read.
fn issuer_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let issuer = cert.issuer().to_string();
    (!issuer.is_empty()).then(|| one_line(&issuer, 200))
}

/// Verifies with the inner verifier; a refused certificate's error carries its issuer.
#[derive(Debug)]
struct NoteIssuer(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for NoteIssuer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(cause) => {
                    let issuer = issuer_of(end_entity);
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(Rejected {
                            cause,
                            issuer,
                            server: one_line(&server_name.to_str(), 200),
                        }),
                    )))
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The network of this process: proxies and trust, resolved.
#[derive(Debug)]
pub struct Network {
    /// Which proxy each request goes through.
    pub proxies: Arc<Proxies>,
    /// What TLS trusts for the platform and its auth server.
    pub trust: Trust,
    tls: rustls::ClientConfig,
}

impl Network {
    /// Applies proxies and trust to a client builder.
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        configured(builder, &self.proxies, self.tls.clone())
    }
}

/// Applies the process's proxies and the process's trust (the system store unless
/// `ca_cert_only`, `ca_cert`, `SSL_CERT_FILE`, `SSL_CERT_DIR`) plus `roots` to a client
/// builder: for a provider with its own CA setting (Vault's `ca_cert`).
pub fn with_roots(
    builder: reqwest::ClientBuilder,
    roots: &[CertificateDer<'static>],
) -> Result<reqwest::ClientBuilder> {
    let proxies = proxies()?;
    // One trust rule for every connection: `ca_cert` and `ca_cert_only` of the configuration
    // apply here too (Vault's), and `roots` add to them.
    let settings = SETTINGS.get().cloned().unwrap_or_default();
    let trust = Trust::load(&settings, true, settings_lookup())?;
    let tls = trust.tls_config(roots)?;
    Ok(configured(builder, &proxies, tls))
}

/// `builder` with this module's proxy rule as its only one (reqwest's own reading of the
/// environment off) and `tls` as its TLS set-up.
fn configured(
    builder: reqwest::ClientBuilder,
    proxies: &Arc<Proxies>,
    tls: rustls::ClientConfig,
) -> reqwest::ClientBuilder {
    builder
        .no_proxy()
        .proxy(proxies.reqwest_proxy())
        .tls_backend_preconfigured(tls)
}

static SETTINGS: OnceLock<NetSettings> = OnceLock::new();
static PROXIES: OnceLock<std::result::Result<Arc<Proxies>, Error>> = OnceLock::new();
static NETWORK: OnceLock<std::result::Result<Arc<Network>, Error>> = OnceLock::new();

fn settings_lookup() -> Lookup<'static> {
    &process_env
}

/// Hands this process's network settings over (once, before the first request) and returns
/// the warnings about them (malformed `NO_PROXY` entries). A `proxy` setting that does not
/// parse is an error here, naming where it was set; a malformed proxy variable of the
/// environment (shared with other programs) is one only when a request is about to go out.
pub fn configure(settings: NetSettings) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let proxies = Proxies::resolve(settings.proxy.as_ref(), settings_lookup(), &mut warnings);
    let fatal = settings.proxy.is_some();
    let _ = SETTINGS.set(settings);
    let _ = PROXIES.set(proxies.clone().map(Arc::new));
    match proxies {
        Err(e) if fatal => Err(e),
        _ => Ok(warnings),
    }
}

/// The proxies of this process ([`configure`]d, else from the environment alone).
pub fn proxies() -> Result<Arc<Proxies>> {
    PROXIES
        .get_or_init(|| {
            let mut warnings = Vec::new();
            let p = Proxies::resolve(None, settings_lookup(), &mut warnings).map(Arc::new);
            for w in warnings {
                tracing::warn!("{w}");
            }
            p
        })
        .clone()
}

/// The network of this process, resolved on first use (CA files are read then).
pub fn network() -> Result<Arc<Network>> {
    NETWORK
        .get_or_init(|| {
            let settings = SETTINGS.get_or_init(NetSettings::default);
            let proxies = proxies()?;
            let trust = Trust::load(settings, true, settings_lookup())?;
            let tls = trust.tls_config(&[])?;
            tracing::debug!("tls: trusting {}", trust.describe());
            Ok(Arc::new(Network {
                proxies,
                trust,
                tls,
            }))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Result<Option<String>> {
        move |name| {
            Ok(pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned()))
        }
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn https_proxy_then_all_proxy_and_no_proxy_bypasses() {
        let env = env_of(&[
            ("https_proxy", "http://user:s3cret@proxy.corp:3128"),
            ("ALL_PROXY", "http://other:1"),
            (
                "NO_PROXY",
                ".internal.example, 10.0.0.0/8,localhost:8443, [::1]",
            ),
        ]);
        let mut w = Vec::new();
        let p = Proxies::resolve(None, &env, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let via = p.proxy_for(&url("https://api.cybedefend.com/x")).unwrap();
        assert_eq!(via.origin, "https_proxy");
        assert_eq!(via.shown(), "http://***@proxy.corp:3128");
        assert!(!format!("{via:?}").contains("s3cret"));
        for direct in [
            "https://api.internal.example/",
            "https://internal.example/",
            "https://10.1.2.3/",
            "https://localhost:8443/",
            "https://[::1]:9/",
            "http://127.0.0.1:8080/",
        ] {
            assert!(p.proxy_for(&url(direct)).is_none(), "{direct}");
        }
        for proxied in [
            "https://notinternal.example/",
            "https://11.0.0.1/",
            "https://localhost:8444/",
        ] {
            assert!(p.proxy_for(&url(proxied)).is_some(), "{proxied}");
        }
    }

    #[test]
    fn the_proxy_setting_wins_and_none_means_direct() {
        let env = env_of(&[("HTTPS_PROXY", "http://env:1")]);
        let mut w = Vec::new();
        let set = Setting {
            value: "proxy.corp:8080".to_owned(),
            origin: "--proxy".to_owned(),
        };
        let p = Proxies::resolve(Some(&set), &env, &mut w).unwrap();
        let via = p.proxy_for(&url("https://a.example/")).unwrap();
        assert_eq!(
            (via.shown().as_str(), via.origin.as_str()),
            ("http://proxy.corp:8080", "--proxy")
        );
        let none = Setting {
            value: "none".to_owned(),
            origin: "--proxy".to_owned(),
        };
        let p = Proxies::resolve(Some(&none), &env, &mut w).unwrap();
        assert!(
            matches!(p.route(&url("https://a.example/")), Route::Direct(why) if why.contains("--proxy"))
        );
    }

    #[test]
    fn http_proxy_alone_is_named_but_not_used_for_https() {
        let env = env_of(&[("HTTP_PROXY", "http://p:1")]);
        let p = Proxies::resolve(None, &env, &mut Vec::new()).unwrap();
        match p.route(&url("https://a.example/")) {
            Route::Direct(why) => assert!(
                why.contains("HTTP_PROXY") && why.contains("HTTPS_PROXY"),
                "{why}"
            ),
            Route::Proxy(_) => panic!("HTTP_PROXY used for https"),
        }
    }

    #[test]
    fn malformed_proxies_are_errors_that_hide_passwords() {
        for (raw, expect) in [
            ("socks5://u:pw1@h:1", "socks5"),
            ("ftp://u:pw1@h:1", "scheme"),
            ("http://u:pw1@h:1/path", "path"),
            ("http://u:pw1@:1", "URL"),
            ("http://u:pw1@h:99999", "URL"),
        ] {
            let e = ProxyUrl::parse(raw, "HTTPS_PROXY").unwrap_err();
            assert!(e.to_string().contains(expect), "{raw}: {e}");
            assert!(e.to_string().contains("HTTPS_PROXY"), "{raw}: {e}");
            assert!(!e.to_string().contains("pw1"), "{raw}: {e}");
        }
    }

    #[test]
    fn malformed_no_proxy_entries_are_named_and_skipped() {
        let mut w = Vec::new();
        let n = NoProxy::parse(
            "good.example,10.0.0.0/33,http://x.example/,bad!host,1.2.3.4:99999,*.ok.example",
            "NO_PROXY",
            &mut w,
        );
        assert_eq!(n.entries.len(), 2, "{:?}", n.entries);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().all(|x| x.starts_with("NO_PROXY")), "{w:?}");
        assert!(w[0].contains("10.0.0.0/33"), "{w:?}");
        assert!(n.matches(&url("https://a.ok.example/")));
        let n = NoProxy::parse("bücher.example,10.0.0.0/8", "NO_PROXY", &mut w);
        assert!(n.matches(&url("https://www.bücher.example/")));
        assert!(n.matches(&url("https://[::ffff:10.1.2.3]/")));
    }

    #[test]
    fn conventional_ca_variables_add_to_the_system_store() {
        let dir = tempfile::tempdir().unwrap();
        // Any CA certificate will do: take the first of the system bundle.
        let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) else {
            panic!("no system CA bundle on this machine; install ca-certificates");
        };
        let all = read_pem(bundle, "system", "").unwrap();
        assert!(all.len() > 10);
        let one = dir.path().join("one.pem");
        let pem = std::fs::read_to_string(bundle).unwrap();
        let first = pem
            .split_inclusive("-----END CERTIFICATE-----")
            .next()
            .unwrap();
        std::fs::write(&one, first).unwrap();
        let path: &'static str = Box::leak(one.to_string_lossy().into_owned().into_boxed_str());
        let pairs: &'static [(&str, &str)] = Box::leak(Box::new([("SSL_CERT_FILE", path)]));
        let env = env_of(pairs);
        let t = Trust::load(&NetSettings::default(), true, &env).unwrap();
        assert_eq!(t.extra.len(), 1);
        assert_eq!(t.extra[0].count(), 1);
        assert_eq!(
            t.system_again.len(),
            all.len(),
            "the system store is added back"
        );
        assert!(
            t.describe()
                .starts_with("the system's trust store + SSL_CERT_FILE="),
            "{}",
            t.describe()
        );
        // ca_cert_only: the files alone
        let only = NetSettings {
            ca_cert_only: Some(Setting {
                value: true,
                origin: "CYBEDEFEND_CA_CERT_ONLY".into(),
            }),
            ..NetSettings::default()
        };
        let t = Trust::load(&only, true, &env).unwrap();
        assert!(t.system_again.is_empty());
        assert!(
            t.describe().starts_with("only SSL_CERT_FILE="),
            "{}",
            t.describe()
        );
        // ca_cert_only with nothing given
        let e = Trust::load(&only, true, &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("none is given"), "{e}");
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
