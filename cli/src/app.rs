//! What every command needs: paths, configuration, output, the chain, and for API commands
//! the credential and a client ([`App::connect`], [`App::api`]).

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use cybedefend_core::config::{ConfigSources, LoadedConfig, RequestedProfile, TokenCacheMode};
use cybedefend_core::credentials::{
    Chain, Notices, PluginSettings, Resolution, ResolveContext, Winner, store,
};
use cybedefend_core::home::Home;
use cybedefend_core::platform::exchange::token_store_backend;
use cybedefend_core::platform::{
    Api, Bearer, DEFAULT_TIMEOUT, Endpoints, FileTokenStore, Http, NoTokenStore, TokenStore,
};
use cybedefend_core::region::Region;
use cybedefend_core::{Error, Result, env};

use crate::args::GlobalArgs;
use crate::output::Printer;

pub(crate) struct App {
    pub(crate) global: GlobalArgs,
    pub(crate) home: Home,
    pub(crate) config: LoadedConfig,
    pub(crate) out: Printer,
    pub(crate) http: Http,
    token_store: OnceLock<Box<dyn TokenStore>>,
    notice: Box<dyn Fn(&str) + Send + Sync>,
}

/// A credential for API calls, with the endpoints it is for.
pub(crate) struct Connected {
    pub(crate) endpoints: Endpoints,
    pub(crate) winner: Winner,
}

impl App {
    /// Loads configuration and prints its warnings. Errors are configuration errors.
    pub(crate) fn load(mut global: GlobalArgs, out: Printer) -> Result<Self> {
        match global.pat.as_ref().map(cybedefend_core::Secret::expose) {
            Some("-") => {
                global.pat = Some(pat_from_stdin("--pat -")?);
            }
            Some(_) if others_can_read_arguments() => out.warn(
                "--pat puts the PAT in this command's arguments, which other users of this machine can read in the process list; use `--pat -` (reads it from standard input), CYBEDEFEND_PAT or `cybedefend login`",
            ),
            _ => {}
        }
        let home = Home::from_env()?;
        let mut sources = ConfigSources::standard(home.clone(), global.config.clone())?;
        if let Some(name) = &global.profile {
            sources.profile = Some(RequestedProfile {
                name: name.clone(),
                origin: "--profile".to_owned(),
            });
        }
        let mut config = LoadedConfig::load(&sources, &global.keys)?;
        // Network warnings (a malformed NO_PROXY entry) join the configuration's, so that
        // `--json` outputs list them too.
        let net_warnings = cybedefend_core::platform::net::configure(config.net_settings())?;
        config.warnings.extend(net_warnings);
        // A profile's login is its own.
        let home = home.with_profile(config.profile.as_ref().map(|p| p.name.as_str()));
        let out = if config.ci() { Printer::new(true) } else { out };
        for w in config.warnings.iter().chain(&config.unknown) {
            out.warn(w);
        }
        for n in &config.notes {
            out.note(n);
        }
        for f in &config.files {
            tracing::debug!("config: read {}", f.display());
        }
        let timeout = config
            .settings
            .http_timeout
            .map_or(DEFAULT_TIMEOUT, Duration::from);
        Ok(Self {
            global,
            home,
            config,
            out,
            http: Http::new(timeout),
            token_store: OnceLock::new(),
            notice: Box::new(move |m: &str| out.info(m)),
        })
    }

    /// Most requests in flight at once (`http_concurrency`).
    pub(crate) fn http_concurrency(&self) -> usize {
        self.config
            .settings
            .http_concurrency
            .unwrap_or(cybedefend_core::platform::results::DEFAULT_CONCURRENCY)
    }

    /// ` of profile `acme`` when a profile is active, for messages about the stored login.
    pub(crate) fn profile_note(&self) -> String {
        self.config
            .profile
            .as_ref()
            .map(|p| format!(" (profile `{}`)", p.name))
            .unwrap_or_default()
    }

    /// Whether a person can answer a prompt.
    pub(crate) fn interactive(&self) -> bool {
        let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        !self.config.ci() && tty && !env::is_set(env::CI)
    }

    /// Whether this is CI: `--ci`/`ci:`, or `CI` set without a terminal.
    pub(crate) fn in_ci(&self) -> bool {
        self.config.ci() || (env::is_set(env::CI) && !std::io::stdin().is_terminal())
    }

    pub(crate) fn resolve_context(&self, endpoints: &Endpoints) -> ResolveContext {
        let config_pat = self.config.settings.pat.clone().map(|p| {
            let origin = self.config.origin("pat").unwrap_or_else(|| "config".into());
            (p, origin)
        });
        ResolveContext {
            flag_pat: self.global.pat.clone(),
            config_pat,
            home: self.home.clone(),
            interactive: self.interactive(),
            peek: false,
            region: endpoints.region,
            api_url: endpoints.api_url.clone(),
            plugins: self.plugin_settings(),
            notices: Notices::default(),
        }
    }

    /// Plugin folders (`~/.cybedefend/plugins`, then `plugins.dirs`) and the system's
    /// allow-list.
    pub(crate) fn plugin_settings(&self) -> PluginSettings {
        let mut dirs = vec![self.home.plugins_dir()];
        dirs.extend(self.config.settings.plugins.dirs.iter().cloned());
        PluginSettings {
            dirs,
            allow: self.config.policy.plugin_allow.clone(),
            allow_origin: self.config.policy.plugin_allow_origin.clone(),
        }
    }

    pub(crate) fn chain(&self) -> Result<Chain> {
        let chain = Chain::from_config(&self.config)?;
        for name in chain.unused(&self.config) {
            self.out.warn(&format!(
                "provider `{name}` is defined under `credentials.providers` but not in `credentials.chain`, so it is never consulted"
            ));
        }
        Ok(chain)
    }

    /// The region remembered at login, if credentials.json can be read.
    pub(crate) fn stored_region(&self) -> Option<Region> {
        store::load(&self.home).ok().flatten().map(|l| l.region)
    }

    pub(crate) fn endpoints(&self) -> Result<Endpoints> {
        Endpoints::resolve(&self.config, self.stored_region())
    }

    /// Where exchanged access tokens are cached (`credentials.token_cache`): the file, the
    /// keyring (falling back to no cache, with a note, when there is none here), or nothing.
    pub(crate) fn token_store(&self) -> &dyn TokenStore {
        self.token_store
            .get_or_init(|| match self.config.token_cache() {
                TokenCacheMode::File => Box::new(FileTokenStore::new(&self.home)),
                TokenCacheMode::Off => Box::new(NoTokenStore),
                TokenCacheMode::Keyring => {
                    match token_store_backend("keyring").map(|b| (b.open)(&self.home)) {
                        Some(Ok(store)) => store,
                        Some(Err(why)) => {
                            tracing::debug!("token cache: keyring not usable ({why}); not caching");
                            Box::new(NoTokenStore)
                        }
                        None => Box::new(NoTokenStore),
                    }
                }
            })
            .as_ref()
    }

    /// Runs the chain and logs its trace at debug level.
    pub(crate) async fn resolve(&self, chain: &Chain, ctx: &ResolveContext) -> Resolution {
        let res = chain.resolve(ctx).await;
        for t in &res.trace {
            tracing::debug!(
                "chain: {} ({}) {} {:.3} ms {}",
                t.provider,
                t.kind,
                t.outcome.label(),
                t.elapsed_ms,
                t.detail
            );
        }
        res
    }

    /// Endpoints and the chain's winner for commands that need a credential: warnings are
    /// printed; a chain error or no credential at all is the error.
    pub(crate) async fn connect(&self) -> Result<Connected> {
        let endpoints = self.endpoints()?;
        let chain = self.chain()?;
        let res = self
            .resolve(&chain, &self.resolve_context(&endpoints))
            .await;
        for w in &res.warnings {
            self.out.warn(w);
        }
        if let Some(e) = res.error {
            return Err(e);
        }
        let winner = res.winner.ok_or_else(|| no_credential(&endpoints))?;
        Ok(Connected { endpoints, winner })
    }

    /// The bearer path for a connected credential.
    pub(crate) fn bearer<'a>(&'a self, c: &'a Connected) -> Bearer<'a> {
        Bearer::new(
            &self.http,
            &c.endpoints,
            &self.home,
            self.token_store(),
            c.winner.found.credential.clone(),
        )
    }

    /// An API client for a connected credential; waits (rate limits) are announced.
    pub(crate) fn api<'a>(&'a self, c: &'a Connected) -> Api<'a> {
        Api::new(&self.http, &c.endpoints, self.bearer(c)).with_notices(&*self.notice)
    }
}

/// The error when no provider had a credential.
pub(crate) fn no_credential(endpoints: &Endpoints) -> Error {
    Error::auth("no credential found: not logged in, and no PAT given").with_hint(format!(
        "run `cybedefend login --pat PAT --region {}`, or set CYBEDEFEND_PAT (create a PAT at {}); `cybedefend auth status` shows where cybedefend looked",
        endpoints.region,
        endpoints.region.pat_page()
    ))
}

/// Reads a PAT from standard input (`--pat -`, `login --with-token`): the first non-empty line
/// of at most 64 KiB of UTF-8, never from a terminal (nothing would be hidden while typed).
pub(crate) fn pat_from_stdin(flag: &str) -> Result<cybedefend_core::Secret> {
    use std::io::{IsTerminal, Read};
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(format!("{flag} reads the PAT from standard input, which is a terminal"))
            .with_hint(format!("pipe it in: `cybedefend ... {flag} < pat.txt` or `printf '%s' \"$PAT\" | cybedefend ... {flag}`")));
    }
    let mut bytes = Vec::new();
    stdin
        .by_ref()
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::usage(format!("cannot read the PAT from standard input: {e}")))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Error::usage("standard input is not UTF-8 text"))?;
    let (text, _) = cybedefend_core::secret::strip_bom(&text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match cybedefend_core::secret::normalize_pat(first) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(
            Error::usage("standard input held no PAT").with_hint(format!(
                "pipe the token in: `printf '%s' \"$PAT\" | cybedefend ... {flag}`"
            )),
        ),
        Err(e) => Err(Error::usage(format!(
            "the PAT read from standard input {e}"
        ))),
    }
}

/// Whether other users of this machine can read this process's arguments: `/proc` shows
/// every user's command lines (no `hidepid`) and another account can log in here.
fn others_can_read_arguments() -> bool {
    #[cfg(target_os = "linux")]
    {
        use cybedefend_core::fsutil::read_capped;
        let hidden = read_capped(std::path::Path::new("/proc/self/mountinfo"), 1 << 20, true)
            .ok()
            .is_some_and(|m| {
                String::from_utf8_lossy(&m).lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.get(4) == Some(&"/proc")
                        && l.split(" - ").nth(1).is_some_and(|rest| {
                            rest.split(|c: char| c == ',' || c.is_whitespace())
                                .any(|o| {
                                    o.starts_with("hidepid=")
                                        && !matches!(o, "hidepid=0" | "hidepid=off")
                                })
                        })
                })
            });
        if hidden {
            return false;
        }
        let me = cybedefend_core::fsutil::current_uid();
        read_capped(std::path::Path::new("/etc/passwd"), 4 << 20, true)
            .ok()
            .is_some_and(|p| {
                String::from_utf8_lossy(&p).lines().any(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    let uid = f.get(2).and_then(|u| u.parse::<u32>().ok());
                    let shell = f.get(6).copied().unwrap_or("");
                    uid.is_some_and(|u| u >= 1000 && u != 65534 && Some(u) != me)
                        && !shell.ends_with("nologin")
                        && !shell.ends_with("/false")
                        && !shell.is_empty()
                })
            })
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}
