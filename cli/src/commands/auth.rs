//! `auth status` and `auth token`.

use cybedefend_core::chain::{Outcome, Resolution};
use cybedefend_core::config::Endpoints;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::exchange::Exchanger;
use cybedefend_core::oauth;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::args::{AuthCommand, GlobalArgs};
use crate::output::Printer;

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: AuthCommand) -> Result<u8> {
    if let AuthCommand::Providers { json } = &cmd {
        let json = *json;
        return providers(out, json);
    }
    let app = App::load(global, out)?;
    match cmd {
        AuthCommand::Status { offline, json } => status(&app, offline, json).await,
        AuthCommand::Token => token(&app).await,
        AuthCommand::Migrate { .. } => migrate(&app).await,
        AuthCommand::Providers { .. } => Ok(0),
    }
}

/// The error when no provider had a credential.
pub(crate) fn no_credential(endpoints: &Endpoints) -> Error {
    Error::auth("no credential found: not logged in, and no PAT given")
        .with_hint(format!(
            "run `cybedefend login --pat PAT --region {}`, or set CYBEDEFEND_PAT (create a PAT at {}); `cybedefend auth status` shows where cybedefend looked",
            endpoints.region,
            endpoints.region.pat_page()
        ))
}

/// A bearer token for API calls from the resolved credential.
pub(crate) async fn access_token(
    app: &App,
    endpoints: &Endpoints,
    credential: &Credential,
) -> Result<cybedefend_core::Secret> {
    match credential {
        Credential::Pat(pat) => {
            let exchanger = Exchanger::new(&app.http, endpoints, &app.home);
            Ok(exchanger.access_token(pat, false).await?.token)
        }
        Credential::OAuth(session) => {
            if oauth::needs_refresh(session.expires_at) {
                Ok(
                    oauth::session_access_token(&app.http, endpoints, &app.home, false)
                        .await?
                        .0,
                )
            } else {
                Ok(session.access_token.clone())
            }
        }
    }
}

async fn status(app: &App, offline: bool, as_json: bool) -> Result<u8> {
    let endpoints = app.endpoints()?;
    let chain = app.chain()?;
    let ctx = app.resolve_context();
    let res: Resolution = app.resolve(&chain, &ctx).await;

    let mut failure: Option<Error> = res.error.clone();
    let mut checked = false;
    let mut authenticated = res.winner.is_some() && failure.is_none();
    let mut expires_at: Option<OffsetDateTime> = None;
    if let Some(w) = &res.winner {
        match &w.found.credential {
            Credential::OAuth(s) => {
                expires_at = s.expires_at;
                if oauth::needs_refresh(s.expires_at) {
                    if offline {
                        authenticated = false;
                        failure = Some(
                            Error::auth("the browser-login session's access token has expired (not refreshed: --offline)")
                                .with_hint("run `cybedefend auth status` without --offline to refresh it, or `cybedefend login`"),
                        );
                    } else {
                        checked = true;
                        match oauth::session_access_token(&app.http, &endpoints, &app.home, false)
                            .await
                        {
                            Ok((_, t)) => expires_at = t,
                            Err(e) => {
                                authenticated = false;
                                failure = Some(e);
                            }
                        }
                    }
                }
            }
            Credential::Pat(pat) if !offline => {
                checked = true;
                let exchanger = Exchanger::new(&app.http, &endpoints, &app.home);
                match exchanger.access_token(pat, true).await {
                    Ok(t) => expires_at = t.expires_at,
                    Err(e) => {
                        authenticated = false;
                        failure = Some(e);
                    }
                }
            }
            Credential::Pat(_) => {}
        }
    }
    if res.winner.is_none() && failure.is_none() {
        failure = Some(no_credential(&endpoints));
    }

    let mut extra_warnings: Vec<String> = Vec::new();
    if let Some(w) = res.winner.as_ref().filter(|w| w.found.plaintext)
        && cybedefend_providers::keyring_store::is_available().await
    {
        extra_warnings.push(format!(
                "the PAT in {} is stored in plaintext although this machine has a keyring; `cybedefend auth migrate --to keyring` moves it",
                w.found.detail
            ));
    }
    let winner = res.winner.as_ref();
    if as_json {
        let value = json!({
            "authenticated": authenticated,
            "source": winner.map(|w| w.provider.clone()),
            "credential_type": winner.map(|w| w.found.credential.type_name()),
            "fingerprint": winner.map(|w| w.found.credential.fingerprint()),
            "region": endpoints.region.as_str(),
            "api_url": endpoints.api_url,
            "auth_endpoint": endpoints.auth_endpoint,
            "storage": winner.and_then(|w| w.found.storage.clone()),
            "expires_at": expires_at.and_then(|t| t.format(&Rfc3339).ok()),
            "checked_with_server": checked,
            "error": failure.as_ref().map(|e| e.message.clone()),
            "chain": res.trace,
            "warnings": res.warnings.iter().chain(extra_warnings.iter()).chain(app.config.warnings.iter()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::failure(format!("cannot render JSON: {e}")))?;
        app.out.data(&text);
    } else {
        let mut s = String::new();
        match (winner, authenticated) {
            (Some(w), true) => s.push_str(&format!(
                "Authenticated with {} {} from `{}` ({}){}\n",
                w.found.credential.type_name().to_uppercase(),
                w.found.credential.fingerprint(),
                w.provider,
                w.found.detail,
                if checked {
                    ", accepted by the server"
                } else if offline {
                    ", not checked with the server (--offline)"
                } else {
                    ""
                }
            )),
            (Some(w), false) => s.push_str(&format!(
                "Not authenticated: {} {} from `{}` ({}) was not accepted\n",
                w.found.credential.type_name().to_uppercase(),
                w.found.credential.fingerprint(),
                w.provider,
                w.found.detail
            )),
            (None, _) => s.push_str("Not authenticated\n"),
        }
        s.push_str(&format!(
            "  region:        {} ({})\n",
            endpoints.region, endpoints.region_origin
        ));
        s.push_str(&format!(
            "  api_url:       {} ({})\n",
            endpoints.api_url, endpoints.api_url_origin
        ));
        s.push_str(&format!(
            "  auth_endpoint: {} ({})\n",
            endpoints.auth_endpoint, endpoints.auth_endpoint_origin
        ));
        if let Some(storage) = winner.and_then(|w| w.found.storage.clone()) {
            s.push_str(&format!("  storage:       {storage}\n"));
        }
        if let Some(t) = expires_at.and_then(|t| t.format(&Rfc3339).ok()) {
            s.push_str(&format!("  expires:       {t}\n"));
        }
        s.push_str("Credential chain (first match wins):\n");
        let width = res
            .trace
            .iter()
            .map(|t| t.provider.len())
            .max()
            .unwrap_or(6);
        for t in &res.trace {
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
        app.out.data(s.trim_end());
        for w in res.warnings.iter().chain(extra_warnings.iter()) {
            app.out.warn(w);
        }
    }
    match failure {
        None => Ok(0),
        Some(e) => {
            if !as_json {
                app.out.error(&e);
            }
            Ok(u8::try_from(e.category.exit_code()).unwrap_or(1))
        }
    }
}

async fn token(app: &App) -> Result<u8> {
    let (endpoints, w) = app.credential().await?;
    let token = access_token(app, &endpoints, &w.found.credential).await?;
    app.out.data(token.expose());
    Ok(0)
}

fn providers(out: Printer, as_json: bool) -> Result<u8> {
    let all = cybedefend_core::provider::factories();
    let default = cybedefend_core::provider::default_chain();
    if as_json {
        let value = json!({
            "types": all.iter().map(|f| json!({"type": f.kind, "summary": f.summary, "in_default_chain": f.default_position.is_some()})).collect::<Vec<_>>(),
            "default_chain": default,
        });
        out.data(&value.to_string());
    } else {
        let width = all.iter().map(|f| f.kind.len()).max().unwrap_or(0);
        let mut s = String::from("Credential provider types:\n");
        for f in &all {
            s.push_str(&format!("  {:width$}  {}\n", f.kind, f.summary));
        }
        s.push_str(&format!("Default chain: {}", default.join(", ")));
        out.data(&s);
    }
    Ok(0)
}

async fn migrate(app: &App) -> Result<u8> {
    let path = cybedefend_core::paths::display(&app.home.credentials_file());
    let login = cybedefend_core::store::load(&app.home)?.ok_or_else(|| {
        Error::usage(format!("nothing to migrate: {path} does not exist"))
            .with_hint("log in with `cybedefend login --pat PAT --store keyring`")
    })?;
    if login.storage == "keyring" {
        app.out.info("The PAT is already in the OS keyring");
        return Ok(0);
    }
    let Some(Credential::Pat(pat)) = login.credential else {
        return Err(Error::usage(
            "only a PAT login can move to the keyring (a browser session refreshes itself in credentials.json)",
        ));
    };
    let ctx = app.resolve_context();
    // Written, read back and compared before credentials.json loses its copy.
    cybedefend_providers::keyring_store::store_login(&ctx, &pat, login.region).await?;
    app.out.success(&format!(
        "Moved PAT {} into the OS keyring; {path} now keeps only the region",
        pat.fingerprint()
    ));
    Ok(0)
}
