//! Which proxy a request goes through: the `proxy` setting, else `HTTPS_PROXY`/`ALL_PROXY`,
//! with `NO_PROXY` bypasses (domains, addresses, CIDR blocks, ports).

use std::net::IpAddr;
use std::sync::Arc;

use super::{ProxyUrl, ReadVar, Setting};
use crate::env;
use crate::error::Result;
use crate::text::one_line;

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
        lookup: ReadVar<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let choice = match setting {
            Some(s) if s.value.trim().eq_ignore_ascii_case("none") => {
                Choice::Direct(s.origin.clone())
            }
            Some(s) => Choice::Fixed(ProxyUrl::parse(&s.value, &s.origin)?),
            None => {
                let mut found = None;
                let spellings = env::HTTPS_PROXY_VARS.iter().flat_map(|(u, l)| [*u, *l]);
                for var in spellings {
                    if let Some(v) = lookup(var)? {
                        found = Some(ProxyUrl::parse(&v, var)?);
                        break;
                    }
                }
                for (upper, lower) in env::HTTPS_PROXY_VARS {
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
        for var in env::NO_PROXY_VARS {
            if let Some(v) = lookup(var)? {
                no_proxy = Some(NoProxy::parse(&v, var, warnings));
                break;
            }
        }
        let mut http_only = None;
        if matches!(choice, Choice::Env(None)) {
            for var in env::HTTP_PROXY_VARS {
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
    pub(super) fn reqwest_proxy(self: &Arc<Self>) -> reqwest::Proxy {
        let me = Arc::clone(self);
        reqwest::Proxy::custom(move |target| me.proxy_for(target).map(|p| p.url().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{env_of, url};
    use super::*;

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
}
