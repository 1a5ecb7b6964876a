//! `login`: a PAT (validated with one token exchange, then stored in credentials.json or the
//! OS keyring) or a browser login (OAuth 2.0 + PKCE).

use clap::Args;
use cybedefend_core::Secret;
use cybedefend_core::credentials::{Credential, CredentialProvider, ResolveContext, factory};
use cybedefend_core::duration::Span;
use cybedefend_core::platform::{Bearer, Endpoints, oauth};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::text;
use cybedefend_core::{Error, Result, env};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::output::Printer;

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
    fn parse(value: &str, app: &App) -> Result<Self> {
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

/// `login`.
#[derive(Debug, Args)]
#[command(after_help = "\
With --pat or --with-token, the PAT is checked with one token exchange and then saved to
~/.cybedefend/credentials.json together with the region, which later commands remember
(with --store keyring or --store PROVIDER, the PAT goes there and the file keeps the region).
Under a profile (--profile NAME, CYBEDEFEND_PROFILE, or one whose `match` fits this folder)
the login is that profile's own: ~/.cybedefend/profiles/NAME/credentials.json, keyring entry
pat@NAME; `--profile default` keeps to the login outside profiles.
Without them, the browser opens at the region's sign-in page ($BROWSER is honoured; if no
browser opens, open the printed URL yourself). The session is refreshed transparently.
In CI (--ci, or CI set without a terminal) browser login is refused: use a PAT.

Examples:
  cybedefend login --pat \"$PAT\" --region eu
  cybedefend login --with-token < pat.txt
  cybedefend login --pat \"$PAT\" --store keyring
  cybedefend login --pat \"$PAT\" --store corp  # a plugin provider `corp` that stores
  cybedefend login --region eu                 # browser
  cybedefend login --profile acme --pat \"$PAT\" # the login of profile `acme`
  cybedefend login --no-browser                # print the URL, e.g. over SSH")]
pub(crate) struct LoginArgs {
    /// Read the PAT from standard input (keeps it out of argv and shell history)
    #[arg(long, conflicts_with = "pat")]
    pub(crate) with_token: bool,
    /// Where to keep the PAT: file, keyring, or the name of a configured provider that can
    /// store (a plugin) [default: file, or keyring when the system policy requires secure
    /// storage]
    #[arg(long, value_name = "WHERE")]
    pub(crate) store: Option<String>,
    /// Browser login: local port for the callback (0 picks a free one, for auth servers that
    /// accept any loopback port)
    #[arg(long, default_value_t = oauth::DEFAULT_CALLBACK_PORT, value_name = "PORT")]
    pub(crate) callback_port: u16,
    /// Browser login: print the URL instead of opening a browser
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Browser login: how long to wait for the sign-in
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub(crate) login_timeout: Span,
}

/// A built-in provider by type (the stored login, the keyring), whatever the chain says.
pub(crate) fn builtin(kind: &str) -> Result<Box<dyn CredentialProvider>> {
    factory(kind)
        .ok_or_else(|| Error::failure(format!("the `{kind}` provider is not registered")))?
        .build(kind)
}

fn read_token_from_stdin() -> Result<Secret> {
    crate::app::pat_from_stdin("--with-token")
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
    match pat {
        Some(pat) => pat_login(&app, args.store.as_deref(), &endpoints, pat, true).await,
        None => {
            let mut hint = format!(
                "create a PAT at {} and run `cybedefend login --pat PAT --region {}`",
                endpoints.region.pat_page(),
                endpoints.region
            );
            if env::non_empty(env::CYBEDEFEND_PAT)?.is_some() {
                hint.push_str(
                    "; CYBEDEFEND_PAT is set, and commands already use it without a login",
                );
            }
            if app.in_ci() {
                return Err(Error::usage(
                    "browser login needs a person, and this is CI (--ci, or CI set without a terminal)",
                )
                .with_hint(format!(
                    "use a PAT: `cybedefend login --pat PAT` or set CYBEDEFEND_PAT; {hint}"
                )));
            }
            browser_login(&app, &args, &endpoints).await
        }
    }
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
            if !builtin("keyring")?.can_store(&ctx).await {
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
pub(crate) async fn pat_login(
    app: &App,
    store: Option<&str>,
    endpoints: &Endpoints,
    pat: Secret,
    validate: bool,
) -> Result<u8> {
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
    if validate {
        app.out.info(&format!(
            "Validating PAT {fp} with {} ...",
            endpoints.auth_endpoint
        ));
        Bearer::new(
            &app.http,
            endpoints,
            &app.home,
            app.token_store(),
            credential.clone(),
        )
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
        crate::commands::logout::forget_tokens(app, std::slice::from_ref(&fingerprint)).await;
        return Err(e);
    }
    warn_if_env_pat_differs(app, Some(&fingerprint))?;
    Ok(0)
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
    let keyring = builtin("keyring")?;
    let saved = text::path(&app.home.credentials_file());
    if let Some((name, provider)) = provider {
        provider
            .store(ctx, credential, endpoints.region)
            .await
            .map_err(|e| e.context(format!("provider `{name}` could not keep the PAT")))?;
        cybedefend_core::credentials::store::save_with_storage(
            &app.home,
            endpoints.region,
            credential,
            name,
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
        builtin("stored")?
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

async fn browser_login(app: &App, args: &LoginArgs, endpoints: &Endpoints) -> Result<u8> {
    let pending = oauth::prepare_login(&app.http, endpoints, args.callback_port).await?;
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
        let opened = std::thread::Builder::new().spawn(move || {
            if let Err(e) = webbrowser::open(&url) {
                out.warn(&format!(
                    "could not open a browser ({e}); open the URL above yourself"
                ));
            }
        });
        if let Err(e) = opened {
            app.out.warn(&format!(
                "could not open a browser ({e}); open the URL above yourself"
            ));
        }
    }
    app.out.info(&format!(
        "Waiting for the sign-in (up to {}) ...",
        args.login_timeout
    ));
    let (code, verifier) = pending.wait_for_code(args.login_timeout.get()).await?;
    let session = oauth::exchange_code(&app.http, endpoints, &code, &verifier).await?;
    let has_refresh = session.refresh_token.is_some();
    let credential = Credential::OAuth(session);
    let fingerprint = credential.fingerprint();
    builtin("stored")?
        .store(
            &app.resolve_context(endpoints),
            &credential,
            endpoints.region,
        )
        .await?;
    app.out.success(&format!(
        "Logged in{} to region {} in the browser (session {fingerprint}); saved to {}",
        app.profile_note(),
        endpoints.region,
        text::path(&app.home.credentials_file())
    ));
    if !has_refresh {
        app.out.warn("the auth server gave no refresh token, so you will have to log in again when the session expires (the client needs `offline_access`)");
    }
    warn_if_env_pat_differs(app, None)?;
    Ok(0)
}
