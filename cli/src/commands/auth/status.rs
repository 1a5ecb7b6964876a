//! `auth status`: which credential is used, where it came from, what the server says about it,
//! and every provider of the chain with its outcome.
//!
//! The server check has four outcomes, in text and in JSON (`server_check`): `accepted`,
//! `rejected` (the auth server refused the credential: exit 4), `unreachable` (no answer, a
//! timeout or a 5xx: nothing was decided about the credential, exit 3) and `skipped`
//! (`--offline`, or no credential).

use std::fmt::Write as _;

use cybedefend_core::credentials::{Credential, Outcome, TraceEntry, Winner};
use cybedefend_core::platform::net::{self, Route};
use cybedefend_core::platform::user::{self, Profile};
use cybedefend_core::platform::{Endpoints, oauth};
use cybedefend_core::{Error, ErrorKind, Result};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::{App, Connected, no_credential};
use crate::exit::Exit;
use crate::session::builtin_provider;

/// What the server said about the credential.
enum Check {
    Skipped,
    Accepted,
    Rejected(Error),
    Unreachable(Error),
    /// A local setting (a CA file, a proxy) kept the check from being made.
    NotChecked(Error),
}

impl Check {
    fn name(&self) -> &'static str {
        match self {
            Check::Skipped => "skipped",
            Check::Accepted => "accepted",
            Check::Rejected(_) => "rejected",
            Check::Unreachable(_) => "unreachable",
            Check::NotChecked(_) => "not_checked",
        }
    }
}

pub(crate) async fn run(app: &App, offline: bool, as_json: bool) -> Result<Exit> {
    let endpoints = app.endpoints()?;
    let chain = app.chain()?;
    let ctx = app.resolve_context(&endpoints);
    let res = app.resolve(&chain, &ctx).await;

    let mut failure: Option<Error> = res.error.clone();
    let mut check = Check::Skipped;
    let mut expires_at: Option<OffsetDateTime> = None;
    let mut account: Option<Profile> = None;
    let mut account_error: Option<Error> = None;
    if let Some(w) = &res.winner {
        if let Credential::OAuth(s) = &w.found.credential {
            expires_at = s.expires_at;
        }
        let expired_session = matches!(&w.found.credential, Credential::OAuth(s) if oauth::needs_refresh(s.expires_at));
        if offline && expired_session {
            failure = Some(
                Error::auth("the browser-login session's access token has expired (not refreshed: --offline)")
                    .with_hint("run `cybedefend auth status` without --offline to refresh it, or `cybedefend login`"),
            );
        } else if !offline && (expired_session || matches!(w.found.credential, Credential::Pat(_)))
        {
            let connected = Connected {
                endpoints: endpoints.clone(),
                winner: w.clone(),
            };
            check = match app.bearer(&connected).check().await {
                Ok(t) => {
                    expires_at = t.expires_at.or(expires_at);
                    // Whose credential this is: a wrong account is found before a CI job fails.
                    match user::profile(&app.api(&connected)).await {
                        Ok(p) => account = Some(p.view),
                        Err(e) => account_error = Some(e),
                    }
                    Check::Accepted
                }
                Err(e) if e.is_network() => Check::Unreachable(e),
                Err(e) if e.kind() == ErrorKind::Usage => Check::NotChecked(e),
                Err(e) => Check::Rejected(e),
            };
        }
    }
    if let Check::Rejected(e) | Check::Unreachable(e) | Check::NotChecked(e) = &check {
        failure.get_or_insert_with(|| e.clone());
    }
    if res.winner.is_none() && failure.is_none() {
        // (without the advice to run `auth status`: this is it)
        let e = no_credential(&endpoints);
        let hint = e.hint().unwrap_or_default();
        let hint = hint
            .split_once("; `cybedefend auth status`")
            .map_or(hint, |(first, _)| first)
            .to_owned();
        failure = Some(Error::auth(e.message()).with_hint(hint));
    }

    let mut warnings: Vec<String> = res.warnings.clone();
    if let Some(w) = res.winner.as_ref().filter(|w| w.found.plaintext)
        && builtin_provider("keyring")?.can_store(&ctx).await
    {
        warnings.push(format!(
            "the PAT in {} is stored in plaintext although this machine has a keyring; `cybedefend auth migrate --to keyring` moves it",
            w.found.detail
        ));
    }
    // the CAs trusted matter where a request went over TLS
    let tls_used = !matches!(check, Check::Skipped) && endpoints.api_url.starts_with("https:");
    let net = NetView::of(&endpoints, tls_used);
    let winner = res.winner.as_ref();
    let authenticated =
        winner.is_some() && failure.is_none() && matches!(check, Check::Accepted | Check::Skipped);
    let status = Status {
        winner,
        check: &check,
        offline,
        authenticated,
        endpoints: &endpoints,
        expires_at,
        account: account.as_ref(),
        net: &net,
        trace: &res.trace,
    };
    if as_json {
        let mut all_warnings = warnings.clone();
        all_warnings.extend(app.config.warnings.iter().cloned());
        all_warnings.extend(app.config.unknown.iter().cloned());
        all_warnings.extend(app.config.notes.iter().cloned());
        app.out
            .json(&status.json(app, failure.as_ref(), account_error.as_ref(), all_warnings))?;
    } else {
        match &app.config.profile {
            Some(p) => {
                app.out.info(&format!(
                    "Profile {} ({}; defined in {})",
                    p.name, p.reason, p.defined_in
                ));
                if !app.config.outside_profile.is_empty() {
                    app.out.info(&format!(
                        "Not used in profile {} (defined outside it; a profile uses only its own credentials, --pat and CYBEDEFEND_PAT): {}",
                        p.name,
                        app.config.outside_profile.join(", ")
                    ));
                }
            }
            None if !app.config.settings.profiles.is_empty() => app.out.info(&format!(
                "No profile applies here (profiles: {}); `--profile NAME` picks one",
                app.config
                    .settings
                    .profiles
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => {}
        }
        app.out.data(&status.text());
        if let Some(e) = &account_error {
            warnings.push(format!(
                "the credential works, but the account behind it could not be read: {}",
                e.message()
            ));
        }
        for w in &warnings {
            app.out.warn(w);
        }
    }
    match failure {
        None => Ok(Exit::Success),
        Some(e) => {
            if !as_json {
                app.out.error(&e);
            }
            Ok(Exit::of(&e))
        }
    }
}

/// What `auth status` found, shown as text ([`Status::text`]) or JSON ([`Status::json`]).
struct Status<'a> {
    winner: Option<&'a Winner>,
    check: &'a Check,
    offline: bool,
    authenticated: bool,
    endpoints: &'a Endpoints,
    expires_at: Option<OffsetDateTime>,
    account: Option<&'a Profile>,
    net: &'a NetView,
    trace: &'a [TraceEntry],
}

/// `auth status --json`: its fields, in this order, are a contract (scripts read them; a
/// golden test pins them).
#[derive(Serialize)]
struct StatusJson<'a> {
    authenticated: bool,
    source: Option<&'a str>,
    credential_type: Option<&'static str>,
    fingerprint: Option<String>,
    region: &'static str,
    api_url: &'a str,
    auth_endpoint: &'a str,
    storage: Option<&'a str>,
    expires_at: Option<String>,
    checked_with_server: bool,
    server_check: &'static str,
    error: Option<&'a str>,
    error_kind: Option<&'static str>,
    hint: Option<&'a str>,
    account: Option<AccountJson<'a>>,
    account_error: Option<&'a str>,
    profile: Option<&'a str>,
    profile_reason: Option<&'a str>,
    outside_profile: &'a [String],
    proxy: Option<ProxyJson<'a>>,
    proxy_route: &'a str,
    tls_trust: Option<&'a str>,
    chain: &'a [TraceEntry],
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct AccountJson<'a> {
    id: Option<&'a str>,
    email: Option<&'a str>,
    name: String,
    organizations: Vec<OrganizationJson<'a>>,
}

#[derive(Serialize)]
struct OrganizationJson<'a> {
    id: Option<&'a str>,
    name: &'a str,
    role: Option<&'a str>,
}

#[derive(Serialize)]
struct ProxyJson<'a> {
    url: &'a str,
    origin: &'a str,
}

impl<'a> Status<'a> {
    fn json(
        &self,
        app: &'a App,
        failure: Option<&'a Error>,
        account_error: Option<&'a Error>,
        warnings: Vec<String>,
    ) -> StatusJson<'a> {
        let winner = self.winner;
        StatusJson {
            authenticated: self.authenticated,
            source: winner.map(|w| w.provider.as_str()),
            credential_type: winner.map(|w| w.found.credential.type_name()),
            fingerprint: winner.map(|w| w.found.credential.fingerprint()),
            region: self.endpoints.region.as_str(),
            api_url: &self.endpoints.api_url,
            auth_endpoint: &self.endpoints.auth_endpoint,
            storage: winner.and_then(|w| w.found.storage.as_deref()),
            expires_at: self.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
            checked_with_server: matches!(self.check, Check::Accepted | Check::Rejected(_)),
            server_check: self.check.name(),
            error: failure.map(Error::message),
            error_kind: failure.map(|e| e.kind().as_str()),
            hint: failure.and_then(Error::hint),
            account: self.account.map(|a| AccountJson {
                id: a.id.as_deref(),
                email: a.email.as_deref(),
                name: a.name(),
                organizations: a
                    .organizations
                    .iter()
                    .map(|o| OrganizationJson {
                        id: o.id.as_deref(),
                        name: &o.name,
                        role: o.role.as_deref(),
                    })
                    .collect(),
            }),
            account_error: account_error.map(Error::message),
            profile: app.config.profile.as_ref().map(|p| p.name.as_str()),
            profile_reason: app.config.profile.as_ref().map(|p| p.reason.as_str()),
            outside_profile: &app.config.outside_profile,
            proxy: self
                .net
                .proxy
                .as_ref()
                .map(|(url, origin)| ProxyJson { url, origin }),
            proxy_route: &self.net.route,
            tls_trust: self.net.trust.as_deref(),
            chain: self.trace,
            warnings,
        }
    }

    fn text(&self) -> String {
        let Status {
            winner,
            check,
            offline,
            authenticated,
            endpoints,
            expires_at,
            account,
            net,
            trace,
        } = *self;
        let mut s = String::new();
        if let Some(w) = winner {
            let what = format!(
                "{} {} from `{}` ({})",
                w.found.credential.type_name().to_uppercase(),
                w.found.credential.fingerprint(),
                w.provider,
                w.found.detail
            );
            let _ = match check {
                Check::Accepted => writeln!(s, "Authenticated with {what}, accepted by the server"),
                Check::Rejected(_) => {
                    writeln!(s, "Not authenticated: {what} was rejected by the server")
                }
                Check::Unreachable(_) => writeln!(
                    s,
                    "Not checked: {what} was found, but the server could not be reached"
                ),
                Check::NotChecked(_) => writeln!(
                    s,
                    "Not checked: {what} was found, but a local setting must be fixed before the server can be asked"
                ),
                Check::Skipped if offline && authenticated => writeln!(
                    s,
                    "Authenticated with {what}, not checked with the server (--offline)"
                ),
                Check::Skipped if authenticated => writeln!(s, "Authenticated with {what}"),
                Check::Skipped => writeln!(s, "Not authenticated: {what} cannot be used"),
            };
        } else {
            s.push_str("Not authenticated\n");
        }
        let _ = writeln!(
            s,
            "  region:        {} ({})",
            endpoints.region, endpoints.region_origin
        );
        let _ = writeln!(
            s,
            "  api_url:       {} ({})",
            endpoints.api_url, endpoints.api_url_origin
        );
        let _ = writeln!(
            s,
            "  auth_endpoint: {} ({})",
            endpoints.auth_endpoint, endpoints.auth_endpoint_origin
        );
        let _ = writeln!(s, "  proxy:         {}", net.route);
        if let Some(t) = &net.trust {
            let _ = writeln!(s, "  tls trust:     {t}");
        }
        if let Some(storage) = winner.and_then(|w| w.found.storage.clone()) {
            let _ = writeln!(s, "  storage:       {storage}");
        }
        if let Some(t) = expires_at {
            let _ = writeln!(
                s,
                "  token expires: {} (the access token; it is renewed as needed)",
                crate::commands::data::human_time(t)
            );
        }
        if let Some(a) = account {
            let name = a.name();
            let _ = writeln!(
                s,
                "  account:       {}{}",
                a.email.as_deref().unwrap_or("(no email)"),
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" ({name})")
                }
            );
            for o in &a.organizations {
                let _ = writeln!(s, "  organisation:  {}", o.described());
            }
        }
        s.push_str("Credential chain (first match wins):\n");
        let width = trace.iter().map(|t| t.provider.len()).max().unwrap_or(6);
        for t in trace {
            let mark = match t.outcome {
                Outcome::Found => "✓",
                Outcome::NotFound => "-",
                Outcome::Error => "✗",
                Outcome::NotReached => " ",
            };
            let time = if t.outcome == Outcome::NotReached {
                String::new()
            } else {
                format!("{:.2} ms", t.elapsed_ms)
            };
            let line = format!(
                "  {mark} {:width$}  {:11}  {time:>9}  {}",
                t.provider,
                t.outcome.label(),
                t.detail,
            );
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s.trim_end().to_owned()
    }
}

/// How requests to the API travel: the proxy (never with its credentials) and, when a request
/// went over TLS, the certificate authorities trusted.
struct NetView {
    proxy: Option<(String, String)>,
    route: String,
    trust: Option<String>,
}

impl NetView {
    fn of(endpoints: &Endpoints, online: bool) -> Self {
        let api = url::Url::parse(&endpoints.api_url).ok();
        let (proxy, route) = match (net::proxies(), api) {
            (Ok(p), Some(api)) => match p.route(&api) {
                Route::Proxy(via) => (
                    Some((via.shown(), via.origin.clone())),
                    format!("{} (from {})", via.shown(), via.origin),
                ),
                Route::Direct(why) => (None, format!("none, direct: {why}")),
            },
            (Err(e), _) => (None, format!("unusable: {}", e.message())),
            (_, None) => (None, "none".to_owned()),
        };
        let trust = online
            .then(net::network)
            .and_then(Result::ok)
            .map(|n| n.trust.describe());
        Self {
            proxy,
            route,
            trust,
        }
    }
}
