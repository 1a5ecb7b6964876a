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

mod proxy;
mod rejected;
mod trust;

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

pub use crate::config::net::{NetSettings, ProxyUrl, Setting, mask_userinfo};
use crate::error::{Error, Result};
pub use proxy::{Proxies, Route};
pub use rejected::Rejected;
pub use trust::{CaSource, Trust};

/// Reads an environment variable by name (the process's, or a test's own).
pub type ReadVar<'a> = &'a dyn Fn(&str) -> Result<Option<String>>;

fn process_env(name: &str) -> Result<Option<String>> {
    crate::env::non_empty(name)
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
    let trust = Trust::load(&settings, true, process_vars())?;
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

fn process_vars() -> ReadVar<'static> {
    &process_env
}

/// Hands this process's network settings over (once, before the first request) and returns
/// the warnings about them (malformed `NO_PROXY` entries). A `proxy` setting that does not
/// parse is an error here, naming where it was set; a malformed proxy variable of the
/// environment (shared with other programs) is one only when a request is about to go out.
pub fn configure(settings: NetSettings) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let proxies = Proxies::resolve(settings.proxy.as_ref(), process_vars(), &mut warnings);
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
            let p = Proxies::resolve(None, process_vars(), &mut warnings).map(Arc::new);
            for w in warnings {
                tracing::warn!("{w}");
            }
            p
        })
        .clone()
}

/// Reads and parses every CA file `settings` names (`ca_cert`, and `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` when `with_env`), as the first request would (`config validate`): the
/// error that request would meet, if any.
pub fn check_ca_files(settings: &NetSettings, with_env: bool) -> Result<()> {
    let none = |_: &str| -> Result<Option<String>> { Ok(None) };
    let lookup: ReadVar<'_> = if with_env { process_vars() } else { &none };
    let trust = Trust::load(settings, true, lookup)?;
    trust.tls_config(&[]).map(drop)
}

/// The network of this process, resolved on first use (CA files are read then).
pub fn network() -> Result<Arc<Network>> {
    NETWORK
        .get_or_init(|| {
            let settings = SETTINGS.get_or_init(NetSettings::default);
            let proxies = proxies()?;
            let trust = Trust::load(settings, true, process_vars())?;
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
pub(super) mod tests {
    pub(crate) fn env_of(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> crate::error::Result<Option<String>> {
        move |name| {
            Ok(pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned()))
        }
    }

    pub(crate) fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }
}
