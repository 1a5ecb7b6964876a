//! `login` and `logout`.

use std::io::{IsTerminal, Read};

use cybedefend_core::chain::parse_duration;
use cybedefend_core::credential::Credential;
use cybedefend_core::env;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::exchange::{self, Exchanger};
use cybedefend_core::oauth;
use cybedefend_core::paths::display;
use cybedefend_core::provider::{ProviderInit, factory};
use cybedefend_core::secret::{Secret, normalize_pat};

use crate::app::App;
use crate::args::{GlobalArgs, LoginArgs};
use crate::output::Printer;

/// The built-in `stored` provider (credentials.json), which login and logout write to
/// whatever the chain looks like.
fn stored_provider() -> Result<Box<dyn cybedefend_core::provider::CredentialProvider>> {
    let f = factory("stored")
        .ok_or_else(|| Error::failure("the `stored` provider is not registered"))?;
    (f.create)(&ProviderInit {
        id: "stored",
        spec: None,
        origin: "built-in",
    })
}

fn read_token_from_stdin() -> Result<Secret> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage("--with-token reads the PAT from standard input, which is a terminal")
            .with_hint("pipe it in: `cybedefend login --with-token < pat.txt` or `printf '%s' \"$PAT\" | cybedefend login --with-token`"));
    }
    let mut text = String::new();
    stdin
        .by_ref()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Error::usage(format!("cannot read the PAT from standard input: {e}")))?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match normalize_pat(first) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Error::usage("standard input held no PAT").with_hint(
            "pipe the token in: `printf '%s' \"$PAT\" | cybedefend login --with-token`",
        )),
        Err(e) => Err(Error::usage(format!(
            "the PAT read from standard input {e}"
        ))),
    }
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: LoginArgs) -> Result<u8> {
    let app = App::load(global, out)?;
    let pat = if args.with_token {
        Some(read_token_from_stdin()?)
    } else {
        match app.global.pat.as_deref().map(normalize_pat) {
            None => None,
            Some(Ok(Some(p))) => Some(p),
            Some(Ok(None)) => {
                return Err(Error::usage("--pat is empty")
                    .with_hint("pass the token: `cybedefend login --pat PAT`, or pipe it to `cybedefend login --with-token`"));
            }
            Some(Err(e)) => return Err(Error::usage(format!("the PAT given with --pat {e}"))),
        }
    };
    let endpoints = app.endpoints()?;
    let Some(pat) = pat else {
        let mut hint = format!(
            "create a PAT at {} and run `cybedefend login --pat PAT --region {}`",
            endpoints.region.pat_page(),
            endpoints.region
        );
        if env::non_empty(env::CYBEDEFEND_PAT).is_some() {
            hint.push_str("; CYBEDEFEND_PAT is set, and commands already use it without a login");
        }
        let ci_env = std::env::var_os(env::CI).is_some_and(|v| !v.is_empty());
        if app.config.ci() || (ci_env && !std::io::stdin().is_terminal()) {
            return Err(Error::usage(
                "browser login needs a person, and this is CI (--ci, or CI set without a terminal)",
            )
            .with_hint(format!(
                "use a PAT: `cybedefend login --pat PAT` or set CYBEDEFEND_PAT; {hint}"
            )));
        }
        return browser_login(&app, &args, &endpoints).await;
    };

    let store_in = match (
        args.store.as_deref(),
        app.config.policy.require_secure_storage,
    ) {
        (Some("file"), true) => {
            return Err(Error::usage(format!(
                "--store file is refused: the system policy ({}) requires secure storage",
                app.config.policy.origin
            ))
            .with_hint("use `--store keyring`, or a secrets manager provider"));
        }
        (Some(s), _) => s.to_owned(),
        (None, true) => "keyring".to_owned(),
        (None, false) => "file".to_owned(),
    };
    app.out.info(&format!(
        "Validating PAT {} with {} ...",
        pat.fingerprint(),
        endpoints.auth_endpoint
    ));
    let exchanger = Exchanger::new(&app.http, &endpoints, &app.home);
    exchanger.access_token(&pat, true).await.map_err(|mut e| {
        e.message = format!("login failed, nothing was stored: {}", e.message);
        e
    })?;

    let ctx = app.resolve_context();
    let fingerprint = pat.fingerprint();
    if store_in == "keyring" {
        cybedefend_providers::keyring_store::store_login(&ctx, &pat, endpoints.region).await?;
        app.out.success(&format!(
            "Logged in to region {} with PAT {fingerprint}; the PAT is in the OS keyring, the region in {}",
            endpoints.region,
            display(&app.home.credentials_file())
        ));
    } else {
        let stored = stored_provider()?;
        stored
            .store(&ctx, &Credential::Pat(pat), endpoints.region)
            .await?;
        // A previous keyring login would otherwise linger.
        let _ = cybedefend_providers::keyring_store::erase().await;
        app.out.success(&format!(
            "Logged in to region {} with PAT {fingerprint}; saved to {}",
            endpoints.region,
            display(&app.home.credentials_file())
        ));
        if cybedefend_providers::keyring_store::is_available().await {
            app.out.warn("the PAT is stored in plaintext although this machine has a keyring; `cybedefend auth migrate --to keyring` moves it");
        }
    }
    if let Some(env_pat) = env::non_empty(env::CYBEDEFEND_PAT)
        && normalize_pat(&env_pat)
            .ok()
            .flatten()
            .map(|p| p.fingerprint())
            != Some(fingerprint)
    {
        app.out.warn("CYBEDEFEND_PAT is set in this environment and takes priority over the stored login; unset it to use the login");
    }
    Ok(0)
}

async fn browser_login(
    app: &App,
    args: &LoginArgs,
    endpoints: &cybedefend_core::config::Endpoints,
) -> Result<u8> {
    let timeout = parse_duration(&args.login_timeout).ok_or_else(|| {
        Error::usage(format!(
            "--login-timeout `{}` is not a duration such as `5m` or `90s`",
            args.login_timeout
        ))
    })?;
    let pending = oauth::prepare_login(&app.http, endpoints, &app.home, args.callback_port).await?;
    let url = pending.authorize_url.clone();
    if args.no_browser {
        app.out.info(&format!(
            "Open this URL in a browser to log in:\n\n  {url}\n"
        ));
    } else {
        app.out.info(&format!(
            "Opening the browser to log in. If it does not open, visit:\n\n  {url}\n"
        ));
        let out = app.out;
        // A detached thread: some browsers block until closed, and the login must not wait.
        std::thread::spawn(move || {
            if let Err(e) = webbrowser::open(&url) {
                out.warn(&format!(
                    "could not open a browser ({e}); open the URL above yourself"
                ));
            }
        });
    }
    app.out.info(&format!(
        "Waiting for the sign-in (up to {}) ...",
        args.login_timeout
    ));
    let (code, verifier) = pending.wait_for_code(timeout).await?;
    let session = oauth::exchange_code(&app.http, endpoints, &code, &verifier).await?;
    let has_refresh = session.refresh_token.is_some();
    let stored = stored_provider()?;
    let credential = Credential::OAuth(session);
    let fingerprint = credential.fingerprint();
    stored
        .store(&app.resolve_context(), &credential, endpoints.region)
        .await?;
    app.out.success(&format!(
        "Logged in to region {} in the browser (session {fingerprint}); saved to {}",
        endpoints.region,
        display(&app.home.credentials_file())
    ));
    if !has_refresh {
        app.out.warn("the auth server gave no refresh token, so you will have to log in again when the session expires (the client needs `offline_access`)");
    }
    if env::non_empty(env::CYBEDEFEND_PAT).is_some() {
        app.out.warn("CYBEDEFEND_PAT is set in this environment and takes priority over the stored login; unset it to use the login");
    }
    Ok(0)
}

pub(crate) async fn logout(global: GlobalArgs, out: Printer) -> Result<u8> {
    let app = App::load(global, out)?;
    let stored = stored_provider()?;
    let ctx = app.resolve_context();
    // Revoke a browser session's refresh token first, when the server offers revocation.
    if let Ok(Some(cybedefend_core::store::StoredLogin {
        credential: Some(Credential::OAuth(session)),
        ..
    })) = cybedefend_core::store::load(&app.home)
        && let Some(refresh) = &session.refresh_token
    {
        match app.endpoints() {
            Ok(endpoints) => match oauth::revoke(&app.http, &endpoints, &app.home, refresh).await {
                Ok(true) => app
                    .out
                    .info("Revoked the session's refresh token at the auth server"),
                Ok(false) => app.out.info(
                    "The auth server offers no revocation; the session is removed locally only",
                ),
                Err(e) => app.out.warn(&format!(
                    "could not revoke the session at the auth server ({}); removing it locally",
                    e.message
                )),
            },
            Err(e) => app.out.warn(&format!(
                "could not revoke the session ({}); removing it locally",
                e.message
            )),
        }
    }
    let erased = stored.erase(&ctx).await?;
    if cybedefend_providers::keyring_store::erase().await? {
        app.out.success("Removed the PAT from the OS keyring");
    }
    if let Some(fp) = &erased.pat_fingerprint {
        match exchange::forget(&app.home, fp) {
            Ok(n) if n > 0 => tracing::debug!("token cache: removed {n} access token(s)"),
            Ok(_) => {}
            Err(e) => app.out.warn(&format!(
                "cached access tokens were not removed: {}",
                e.message
            )),
        }
    }
    if erased.removed {
        app.out
            .success(&format!("Logged out: removed {}", erased.detail));
    } else {
        app.out.info(&format!(
            "Not logged in: nothing to remove ({} does not exist)",
            erased.detail
        ));
    }
    if env::non_empty(env::CYBEDEFEND_PAT).is_some() {
        app.out
            .warn("CYBEDEFEND_PAT is still set in this environment; commands keep using it");
    }
    Ok(0)
}
