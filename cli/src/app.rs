//! What every command needs: paths, configuration, output, the chain.

use std::io::IsTerminal;
use std::time::Duration;

use cybedefend_core::chain::{Chain, Resolution, Winner};
use cybedefend_core::config::{ConfigSources, Endpoints, FlagValues, LoadedConfig};
use cybedefend_core::error::Result;
use cybedefend_core::http::{DEFAULT_TIMEOUT, Http};
use cybedefend_core::paths::Home;
use cybedefend_core::provider::ResolveContext;
use cybedefend_core::region::Region;
use cybedefend_core::{env, store};

use crate::args::GlobalArgs;
use crate::output::Printer;

pub(crate) struct App {
    pub(crate) global: GlobalArgs,
    pub(crate) home: Home,
    pub(crate) config: LoadedConfig,
    pub(crate) out: Printer,
    pub(crate) http: Http,
}

impl App {
    /// Loads configuration and prints its warnings. Errors are configuration errors.
    pub(crate) fn load(global: GlobalArgs, out: Printer) -> Result<Self> {
        let home = Home::from_env()?;
        let sources = ConfigSources::standard(home.clone(), global.config.clone())?;
        let flags = FlagValues {
            api_url: global.api_url.clone(),
            auth_endpoint: global.auth_endpoint.clone(),
            region: global.region.clone(),
            ci: global.ci.then_some(true),
            debug: global.debug.then_some(true),
            project_id: None,
            api_key_given: global.api_key.is_some(),
        };
        let config = LoadedConfig::load(&sources, &flags)?;
        let out = if config.ci() { Printer::new(true) } else { out };
        for w in &config.warnings {
            out.warn(w);
        }
        for f in &config.files {
            tracing::debug!("config: read {}", f.display());
        }
        let timeout = config
            .settings
            .http_timeout
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_TIMEOUT);
        Ok(Self {
            global,
            home,
            config,
            out,
            http: Http::new(timeout),
        })
    }

    /// Whether a person can answer a prompt.
    pub(crate) fn interactive(&self) -> bool {
        let ci_env = std::env::var_os(env::CI).is_some_and(|v| !v.is_empty());
        let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        !self.config.ci() && tty && !ci_env
    }

    pub(crate) fn resolve_context(&self) -> ResolveContext {
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
        }
    }

    pub(crate) fn chain(&self) -> Result<Chain> {
        Chain::from_config(&self.config)
    }

    /// The region remembered at login, if credentials.json can be read.
    pub(crate) fn stored_region(&self) -> Option<Region> {
        store::load(&self.home).ok().flatten().map(|l| l.region)
    }

    pub(crate) fn endpoints(&self) -> Result<Endpoints> {
        Endpoints::resolve(&self.config, self.stored_region())
    }

    /// The project: `--project-id`, else `project_id` from the environment or config.
    pub(crate) fn project_id(&self, flag: Option<&str>) -> Result<String> {
        flag.map(str::to_owned)
            .or_else(|| self.config.settings.project_id.clone())
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                cybedefend_core::Error::usage("--project-id is required").with_hint(
                    "pass --project-id ID, or set CYBEDEFEND_PROJECT_ID or `project_id:` in config",
                )
            })
    }

    /// Endpoints and the chain's winner for commands that need a credential: warnings are
    /// printed; a chain error or no credential at all is the error.
    pub(crate) async fn credential(&self) -> Result<(Endpoints, Winner)> {
        let endpoints = self.endpoints()?;
        let chain = self.chain()?;
        let res = self.resolve(&chain, &self.resolve_context()).await;
        for w in &res.warnings {
            self.out.warn(w);
        }
        if let Some(e) = res.error {
            return Err(e);
        }
        let winner = res
            .winner
            .ok_or_else(|| crate::commands::auth::no_credential(&endpoints))?;
        Ok((endpoints, winner))
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
}
