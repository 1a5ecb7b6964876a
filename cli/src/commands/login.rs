//! `login`: a PAT (validated with one token exchange, then stored in credentials.json or the
//! OS keyring) or a browser login (OAuth 2.0 + PKCE).

use clap::Args;
use cybedefend_core::Secret;
use cybedefend_core::credentials::Credential;
use cybedefend_core::duration::Span;
use cybedefend_core::platform::{Endpoints, oauth};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result, env};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;
use crate::session::{builtin_provider, keep_pat, warn_if_env_pat_differs};

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
  cybedefend login --pat \"$PAT\" --store corp  # a provider that stores
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

fn read_token_from_stdin() -> Result<Secret> {
    crate::app::pat_from_stdin("--with-token")
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: LoginArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let pat = if args.with_token {
        Some(read_token_from_stdin()?)
    } else {
        match app.global.pat.as_ref().map(|p| normalize_pat(p.expose())) {
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
        Some(pat) => keep_pat(&app, args.store.as_deref(), &endpoints, pat, true).await,
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

async fn browser_login(app: &App, args: &LoginArgs, endpoints: &Endpoints) -> Result<Exit> {
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
    builtin_provider("stored")?
        .store(
            &app.resolve_context(endpoints),
            &credential,
            endpoints.region,
        )
        .await?;
    let named = credential.clone();
    app.out.success(&format!(
        "Logged in{} to region {} in the browser (session {fingerprint}); saved to {}",
        app.profile_note(),
        endpoints.region,
        cybedefend_core::home::tilde(&app.home.credentials_file())
    ));
    let bearer = cybedefend_core::platform::Bearer::new(
        &app.http,
        endpoints,
        &app.home,
        app.token_store(),
        named,
    );
    crate::session::name_account(app, endpoints, bearer).await;
    if !has_refresh {
        app.out.warn("the auth server gave no refresh token, so you will have to log in again when the session expires (the client needs `offline_access`)");
    }
    warn_if_env_pat_differs(app, None)?;
    Ok(Exit::Success)
}
