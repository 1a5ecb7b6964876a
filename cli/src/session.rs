//! What logging in and out share, for the commands that do it (`login`, `logout`,
//! `pat create --store`, `auth migrate`, `auth status`): where a PAT may be kept and keeping
//! it there, the built-in providers by type, and forgetting the access tokens of a PAT that is
//! gone. Commands call this module, never each other.

use cybedefend_core::Secret;
use cybedefend_core::credentials::{Credential, CredentialProvider, ResolveContext, factory};
use cybedefend_core::platform::{Bearer, Endpoints, FileTokenStore};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result, env};

use crate::app::App;
use crate::exit::Exit;

/// Where `login` keeps a PAT: `file`, `keyring`, or a configured provider that can store (a
/// plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreIn {
    /// credentials.json (0600), readable by the official CLI too
    File,
    /// The OS keyring; credentials.json then keeps only the region
    Keyring,
    /// A provider of `credentials.providers` (a plugin that stores); credentials.json then
    /// keeps only the region and its name
    Provider(String),
}

impl StoreIn {
    pub(crate) fn parse(value: &str, app: &App) -> Result<Self> {
        match value {
            "file" => Ok(StoreIn::File),
            "keyring" => Ok(StoreIn::Keyring),
            name if app.config.settings.credentials.providers.contains_key(name) => {
                Ok(StoreIn::Provider(name.to_owned()))
            }
            other => {
                let mut valid = vec!["file", "keyring"];
                valid.extend(
                    app.config
                        .settings
                        .credentials
                        .providers
                        .keys()
                        .map(String::as_str),
                );
                let guess = cybedefend_core::text::suggest(other, &valid)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                Err(Error::usage(format!(
                    "--store `{}`: expected `file`, `keyring` or the name of a provider of `credentials.providers` that can store (one of: {}){guess}",
                    cybedefend_core::text::one_line(other, 64),
                    valid.join(", ")
                ))
                .with_hint("`cybedefend auth status` lists the providers of your configuration"))
            }
        }
    }
}

/// A built-in provider by type (the stored login, the keyring), whatever the chain says.
pub(crate) fn builtin_provider(kind: &str) -> Result<Box<dyn CredentialProvider>> {
    factory(kind)
        .ok_or_else(|| Error::failure(format!("the `{kind}` provider is not registered")))?
        .build(kind)
}

/// Checks, before anything is asked of the server, that a PAT could be kept where `store`
/// says: the name, the machine's policy, and a provider's readiness (`pat create --store`
/// runs it before it creates a PAT).
pub(crate) async fn check_store(app: &App, store: &str, endpoints: &Endpoints) -> Result<()> {
    let policy = &app.config.policy;
    let store_in = StoreIn::parse(store, app)?;
    match &store_in {
        StoreIn::File if policy.require_secure_storage => {
            return Err(Error::usage(format!(
                "--store file is refused: the system policy ({}) requires secure storage",
                policy.origin
            ))
            .with_hint("use `--store keyring`, or a secrets manager provider"));
        }
        StoreIn::File => policy.check_allowed("stored", "stored")?,
        StoreIn::Keyring => {
            policy.check_allowed("keyring", "keyring")?;
            let ctx = app.resolve_context(endpoints);
            if !builtin_provider("keyring")?.can_store(&ctx).await {
                return Err(Error::usage("--store keyring: no usable keyring here (no Secret Service on a session bus)")
                    .with_hint("use `--store file`, a provider that can store, or no --store to print the PAT once"));
            }
        }
        StoreIn::Provider(name) => {
            let chain = cybedefend_core::credentials::Chain::from_config(&app.config)?;
            let (kind, provider) = chain.provider(name).ok_or_else(|| {
                Error::usage(format!("provider `{name}` is not in the credential chain")).with_hint(
                    "add it to `credentials.chain`, so that commands find the PAT it keeps",
                )
            })?;
            policy.check_allowed(name, kind)?;
            let ctx = app.resolve_context(endpoints);
            provider
                .check_store(&ctx)
                .await
                .map_err(|e| e.context(format!("provider `{name}` cannot keep the PAT")))?;
        }
    }
    Ok(())
}

/// Validates a PAT with one token exchange and keeps it where `store` says (`login --pat`,
/// `pat create --store`).
pub(crate) async fn keep_pat(
    app: &App,
    store: Option<&str>,
    endpoints: &Endpoints,
    pat: Secret,
    validate: bool,
) -> Result<Exit> {
    let policy = &app.config.policy;
    let wanted = store.map(|s| StoreIn::parse(s, app)).transpose()?;
    let store_in = match (wanted, policy.require_secure_storage) {
        (Some(StoreIn::File), true) => {
            return Err(Error::usage(format!(
                "--store file is refused: the system policy ({}) requires secure storage",
                policy.origin
            ))
            .with_hint("use `--store keyring`, or a secrets manager provider"));
        }
        (Some(s), _) => s,
        (None, true) => StoreIn::Keyring,
        // a machine that allows the keyring but not the stored file gets the keyring
        (None, false) if !policy.allows("stored") && policy.allows("keyring") => StoreIn::Keyring,
        (None, false) => StoreIn::File,
    };
    // the machine's policy decides where a PAT may be kept, as it decides where one is read
    match &store_in {
        StoreIn::File => policy.check_allowed("stored", "stored")?,
        StoreIn::Keyring => policy.check_allowed("keyring", "keyring")?,
        StoreIn::Provider(_) => {}
    }
    // What can be checked here is checked before the server is asked.
    let ctx = app.resolve_context(endpoints);
    // The chain is built only when a provider of it keeps the PAT.
    let chain = match &store_in {
        StoreIn::Provider(_) => Some(cybedefend_core::credentials::Chain::from_config(
            &app.config,
        )?),
        _ => None,
    };
    let provider = match (&store_in, &chain) {
        (StoreIn::Provider(name), Some(chain)) => {
            let (kind, provider) = chain.provider(name).ok_or_else(|| {
                Error::usage(format!("provider `{name}` is not in the credential chain")).with_hint(
                    "add it to `credentials.chain`, so that commands find the PAT it keeps",
                )
            })?;
            policy.check_allowed(name, kind)?;
            provider.check_store(&ctx).await.map_err(|e| {
                e.context(format!(
                    "provider `{name}` cannot keep the PAT; nothing was stored"
                ))
            })?;
            Some((name, provider))
        }
        _ => None,
    };
    let fp = pat.fingerprint();
    let credential = Credential::Pat(pat);
    // A PAT the platform has just created (`pat create --store`) needs no check: it is kept at
    // once, so an interruption cannot fall between its creation and its storage.
    let checked = Bearer::new(
        &app.http,
        endpoints,
        &app.home,
        app.token_store(),
        credential.clone(),
    );
    if validate {
        app.out.info(&format!(
            "Validating PAT {fp} with {} ...",
            endpoints.auth_endpoint
        ));
        checked
            .check()
            .await
            .map_err(|e| e.context("login failed, nothing was stored"))?;
    }

    let fingerprint = credential.fingerprint();
    let stored = store_pat(app, &ctx, &store_in, provider, &credential, endpoints).await;
    for note in ctx.notices.take() {
        let by = match &store_in {
            StoreIn::Provider(name) => name.as_str(),
            _ => "store",
        };
        app.out.warn(&format!("`{by}`: {note}"));
    }
    if let Err(e) = stored {
        // The check above cached an access token for a PAT that is kept nowhere now.
        forget_tokens(app, std::slice::from_ref(&fingerprint)).await;
        return Err(e);
    }
    if validate {
        // with the token the check obtained: no second exchange
        name_account(app, endpoints, checked).await;
    }
    warn_if_env_pat_differs(app, Some(&fingerprint))?;
    Ok(Exit::Success)
}

/// Says whose account a login is for and its organisations with their ids (what
/// `--organization-id` takes), as `gh` names the account: a wrong PAT shows at once. The
/// login is done either way; a profile the server does not give is only logged.
pub(crate) async fn name_account(app: &App, endpoints: &Endpoints, bearer: Bearer<'_>) {
    let api =
        cybedefend_core::platform::Api::new(&app.http, endpoints, bearer).without_fresh_token();
    match cybedefend_core::platform::user::profile(&api).await {
        Ok(p) => {
            let p = p.view;
            let name = p.name();
            let who = match (p.email.as_deref(), name.is_empty()) {
                (Some(email), false) => format!("{email} ({name})"),
                (Some(email), true) => email.to_owned(),
                (None, false) => name,
                (None, true) => return,
            };
            let orgs: Vec<String> = p
                .organizations
                .iter()
                .take(10)
                .map(cybedefend_core::platform::user::Organization::described)
                .collect();
            let more = p.organizations.len().saturating_sub(10);
            app.out.info(&format!(
                "Account: {who}{}{}",
                if orgs.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; organisation{}: {}",
                        if orgs.len() == 1 { "" } else { "s" },
                        orgs.join(", ")
                    )
                },
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        Err(e) => tracing::debug!("login: the account could not be named: {}", e.message()),
    }
}

/// Keeps a validated PAT where `login` was asked to, and says where.
async fn store_pat(
    app: &App,
    ctx: &ResolveContext,
    store_in: &StoreIn,
    provider: Option<(&String, &dyn CredentialProvider)>,
    credential: &Credential,
    endpoints: &Endpoints,
) -> Result<()> {
    let fingerprint = credential.fingerprint();
    let keyring = builtin_provider("keyring")?;
    let saved = cybedefend_core::home::tilde(&app.home.credentials_file());
    if let Some((name, provider)) = provider {
        provider
            .store(ctx, credential, endpoints.region)
            .await
            .map_err(|e| e.context(format!("provider `{name}` could not keep the PAT")))?;
        cybedefend_core::credentials::store::save_with_storage(
            &app.home,
            endpoints.region,
            credential,
            &cybedefend_core::credentials::store::Storage::Provider(name.clone()),
        )?;
        app.out.success(&format!(
            "Logged in{} to region {} with PAT {fingerprint}; the PAT is kept by `{name}`, the region in {saved}",
            app.profile_note(),
            endpoints.region
        ));
    } else if *store_in == StoreIn::Keyring {
        keyring.store(ctx, credential, endpoints.region).await?;
        app.out.success(&format!(
            "Logged in{} to region {} with PAT {fingerprint}; the PAT is in the OS keyring, the region in {saved}",
            app.profile_note(),
            endpoints.region
        ));
    } else {
        builtin_provider("stored")?
            .store(ctx, credential, endpoints.region)
            .await?;
        // A previous keyring login would otherwise linger.
        if let Err(e) = keyring.erase(ctx).await {
            tracing::debug!("keyring: previous login not removed: {}", e.message());
        }
        app.out.success(&format!(
            "Logged in{} to region {} with PAT {fingerprint}; saved to {saved}",
            app.profile_note(),
            endpoints.region
        ));
        if keyring.can_store(ctx).await {
            app.out.warn("the PAT is stored in plaintext although this machine has a keyring; `cybedefend auth migrate --to keyring` moves it");
        }
    }
    Ok(())
}

/// `CYBEDEFEND_PAT` takes priority over any login: say so when it holds another credential.
pub(crate) fn warn_if_env_pat_differs(app: &App, stored: Option<&str>) -> Result<()> {
    if let Some(env_pat) = env::non_empty(env::CYBEDEFEND_PAT)? {
        let same = normalize_pat(&env_pat)
            .ok()
            .flatten()
            .map(|p| p.fingerprint())
            .as_deref()
            == stored;
        if !same {
            app.out.warn("CYBEDEFEND_PAT is set in this environment and takes priority over the stored login; unset it to use the login");
        }
    }
    Ok(())
}

/// Removes the cached access tokens of the removed PATs, from the configured cache and from
/// the file cache (a cache setting may have changed since the login).
pub(crate) async fn forget_tokens(app: &App, fingerprints: &[String]) {
    let file = FileTokenStore::new(&app.home);
    for fp in fingerprints {
        for store in [
            app.token_store(),
            &file as &dyn cybedefend_core::platform::TokenStore,
        ] {
            match store.forget(fp).await {
                Ok(n) if n > 0 => tracing::debug!("token cache: removed {n} access token(s)"),
                Ok(_) => {}
                Err(e) => app.out.warn(&format!(
                    "cached access tokens were not removed: {}",
                    e.message()
                )),
            }
        }
    }
}
