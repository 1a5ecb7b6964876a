//! `logout`: revokes a browser session at the auth server (when it offers revocation), removes
//! the stored login from the keyring and from credentials.json, and removes the cached access
//! tokens of every PAT it removed.
//!
//! When the login is in the keyring and the keyring cannot be reached, nothing is removed and
//! the command fails: credentials.json still says where the PAT is, so `logout` can be retried.

use cybedefend_core::credentials::store::Storage;
use cybedefend_core::credentials::{Credential, store};
use cybedefend_core::platform::{Endpoints, oauth};
use cybedefend_core::region::Region;
use cybedefend_core::{Result, env};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;
use crate::session::builtin_provider;

pub(crate) async fn run(global: GlobalArgs, out: Printer) -> Result<Exit> {
    let app = App::load(global, out)?;
    // Logging out must work even when the configuration names no valid endpoint.
    let endpoints = app.endpoints();
    let ctx = app.resolve_context(
        endpoints
            .as_ref()
            .unwrap_or(&Endpoints::of_region(Region::default())),
    );
    let login = store::load(&app.home).ok().flatten();

    // Revoke a browser session's refresh token first, when the server offers revocation.
    if let Some(store::StoredLogin {
        credential: Some(Credential::OAuth(session)),
        ..
    }) = &login
        && let Some(refresh) = &session.refresh_token
    {
        match &endpoints {
            Ok(endpoints) => match oauth::revoke(&app.http, endpoints, refresh).await {
                Ok(true) => app
                    .out
                    .info("Revoked the session's refresh token at the auth server"),
                Ok(false) => app.out.info(
                    "The auth server offers no revocation; the session is removed locally only",
                ),
                Err(e) => app.out.warn(&format!(
                    "could not revoke the session at the auth server ({}); removing it locally",
                    e.message()
                )),
            },
            Err(e) => app.out.warn(&format!(
                "could not revoke the session ({}); removing it locally",
                e.message()
            )),
        }
    }

    let mut fingerprints = Vec::new();
    // A login kept by a provider of the configuration (a plugin): that provider erases it, and
    // when it cannot, nothing else is removed.
    if let Some(Storage::Provider(storage)) = login.as_ref().map(|l| l.storage.clone()) {
        let chain = cybedefend_core::credentials::Chain::from_config(&app.config)?;
        let (kind, provider) = chain.provider(&storage).ok_or_else(|| {
            cybedefend_core::Error::usage(format!(
                "the login is kept by provider `{storage}`, which the configuration no longer defines"
            ))
            .with_hint("restore its definition to log out, or remove credentials.json by hand")
        })?;
        app.config.policy.check_allowed(&storage, kind)?;
        let erased = provider
            .erase(&ctx)
            .await
            .map_err(|e| e.context(format!("provider `{storage}` could not erase the login")))?;
        for note in ctx.notices.take() {
            app.out.warn(&format!("`{storage}`: {note}"));
        }
        if erased.removed {
            app.out.success(&format!("Removed {}", erased.detail));
        }
        fingerprints.extend(erased.pat_fingerprint);
    }
    let keyring = builtin_provider("keyring")?;
    let in_keyring = login
        .as_ref()
        .is_some_and(|l| l.storage == Storage::Keyring);
    match keyring.erase(&ctx).await {
        Ok(erased) => {
            if erased.removed {
                app.out.success("Removed the PAT from the OS keyring");
            }
            fingerprints.extend(erased.pat_fingerprint);
        }
        // The login is there: keep credentials.json, which says so, for the retry.
        Err(e) if in_keyring => return Err(e),
        Err(e) => tracing::debug!("keyring: {}", e.message()),
    }

    let erased = builtin_provider("stored")?.erase(&ctx).await?;
    fingerprints.extend(erased.pat_fingerprint.clone());
    crate::session::forget_tokens(&app, &fingerprints).await;
    if erased.removed {
        app.out.success(&format!(
            "Logged out{}: removed {}",
            app.profile_note(),
            erased.detail
        ));
    } else if !in_keyring {
        app.out.info(&format!(
            "Not logged in: nothing to remove ({} does not exist)",
            erased.detail
        ));
    }
    if env::non_empty(env::CYBEDEFEND_PAT)?.is_some() {
        app.out
            .warn("CYBEDEFEND_PAT is still set in this environment; commands keep using it");
    }
    Ok(Exit::Success)
}
