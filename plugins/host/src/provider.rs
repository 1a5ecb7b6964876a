//! The `plugin` provider type:
//!
//! ```yaml
//! corp:
//!   type: plugin
//!   plugin: corp-secrets          # found in the plugin folders or on PATH
//!   # path: /opt/corp/libcybedefend_credential_corp.so   (a file instead of a name)
//!   # sha256: "9f86d08..."        # pin of the file's hash
//!   config: {vault_role: ci}      # handed to the plugin as is
//!   timeout: 5s
//! ```
//!
//! Nothing is looked up, checked or loaded until the chain reaches the provider.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::credentials::{
    Credential, CredentialProvider, Erased, Found, Lookup, ProviderFactory, ProviderInit,
    ResolveContext,
};
use cybedefend_core::region::Region;
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result};
use cybedefend_plugin_sdk::{Action, Request, Response};
use serde::Deserialize;

use crate::discover;
use crate::exec::error_of;
use crate::trust::{self, Trusted};

/// Time limit of one plugin call when the configuration sets none.
pub(crate) const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    plugin: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    config: serde_json::Value,
    /// What to tell the user when the plugin is not found (how to install it).
    #[serde(default)]
    install_hint: Option<String>,
}

enum Which {
    Name(String),
    Path(PathBuf),
}

struct PluginProvider {
    id: String,
    which: Which,
    sha256: Option<String>,
    config: serde_json::Value,
    /// The provider's `timeout`, for each call (`login`'s store and `logout`'s erase too).
    limit: Duration,
    /// The provider's `install_hint`: shown when the plugin is not found.
    install_hint: Option<String>,
}

impl PluginProvider {
    /// `e` (the plugin was not found), with the provider's `install_hint` when it has one.
    fn missing(&self, e: Error) -> Error {
        match &self.install_hint {
            Some(h) => e.with_hint(format!(
                "{} (the provider's install_hint)",
                cybedefend_core::text::one_line(h, 400)
            )),
            None => e,
        }
    }

    /// Finds the plugin and opens it through the trust checks: what runs is what was checked.
    fn locate(&self, ctx: &ResolveContext) -> Result<Arc<Trusted>> {
        // (a name is checked when the provider is made: `find` fails only when it finds
        // nothing)
        let located = match &self.which {
            Which::Name(n) => discover::find(n, &ctx.plugins.dirs).map_err(|e| self.missing(e))?,
            Which::Path(p) => discover::at(p),
        };
        if let Which::Path(p) = &self.which
            && p.symlink_metadata().is_err()
        {
            return Err(self.missing(Error::usage(format!(
                "plugin file {} does not exist",
                cybedefend_core::home::tilde(p)
            ))));
        }
        let allow = ctx
            .plugins
            .allow
            .as_deref()
            .map(|a| (a, ctx.plugins.allow_origin.as_str()));
        let trusted = trust::open(
            &located,
            &trust::Rules {
                pin: self.sha256.as_deref(),
                allow,
                hash: false,
            },
        )?;
        Ok(Arc::new(trusted))
    }

    fn request(&self, ctx: &ResolveContext, action: Action) -> Request {
        Request::new(action, &self.id, self.config.clone()).with_context(
            ctx.region.as_str(),
            &ctx.api_url,
            ctx.interactive,
        )
    }

    async fn ask(&self, ctx: &ResolveContext, request: Request) -> Result<Response> {
        let plugin = self.locate(ctx)?;
        let (response, stderr) = crate::call(&plugin, &request, self.limit).await?;
        for line in stderr {
            ctx.notices.push(format!("plugin says: {line}"));
        }
        Ok(response)
    }
}

#[async_trait]
impl CredentialProvider for PluginProvider {
    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        if ctx.peek {
            return Lookup::not_found("not consulted");
        }
        let name = self.id.clone();
        match self.ask(ctx, self.request(ctx, Action::Get)).await? {
            Response::Err(e) => match error_of(&name, &e) {
                e if e.is_not_found() => Lookup::not_found(e.message().to_owned()),
                e => Err(e),
            },
            Response::Ok(a) => {
                if a.kind.as_deref() != Some("pat") {
                    return Err(Error::failure(format!(
                        "plugin `{name}` answered a credential of kind `{}`; this cybedefend takes `pat`",
                        cybedefend_core::text::one_line(
                            &cybedefend_core::secret::redact::redact(
                                a.kind.as_deref().unwrap_or("none")
                            ),
                            40
                        )
                    )));
                }
                let secret = a.secret.map(|s| s.expose().to_owned()).unwrap_or_default();
                match normalize_pat(&secret) {
                    Ok(Some(pat)) => {
                        let detail = a
                            .detail
                            .map(|d| {
                                // masked before it is cut: a cut secret is not recognised
                                cybedefend_core::text::one_line(
                                    &cybedefend_core::secret::redact::redact(&d),
                                    200,
                                )
                            })
                            .unwrap_or_else(|| format!("plugin `{name}`"));
                        Found::pat(pat, detail).into_lookup()
                    }
                    Ok(None) => Lookup::not_found(format!("plugin `{name}` answered an empty PAT")),
                    Err(e) => Err(Error::failure(format!("the PAT from plugin `{name}` {e}"))),
                }
            }
        }
    }

    async fn store(
        &self,
        ctx: &ResolveContext,
        credential: &Credential,
        _region: Region,
    ) -> Result<()> {
        let Credential::Pat(pat) = credential else {
            return Err(Error::usage("only a PAT can be kept by a plugin"));
        };
        let request = self
            .request(ctx, Action::Store)
            .with_credential(cybedefend_plugin_sdk::Credential::pat(pat.expose()));
        match self.ask(ctx, request).await? {
            Response::Ok(_) => Ok(()),
            Response::Err(e) => Err(error_of(&self.id, &e)),
        }
    }

    async fn erase(&self, ctx: &ResolveContext) -> Result<Erased> {
        // The PAT it keeps, first: logout then forgets that PAT's cached access tokens too.
        let pat_fingerprint = match self.ask(ctx, self.request(ctx, Action::Get)).await {
            Ok(Response::Ok(a)) => a
                .secret
                .and_then(|s| normalize_pat(s.expose()).ok().flatten())
                .map(|p| p.fingerprint()),
            _ => None,
        };
        match self.ask(ctx, self.request(ctx, Action::Erase)).await? {
            Response::Ok(a) => Ok(Erased {
                removed: a.removed.unwrap_or(false),
                detail: format!("the login kept by plugin `{}`", self.id),
                pat_fingerprint,
            }),
            Response::Err(e) => Err(error_of(&self.id, &e)),
        }
    }

    async fn check_store(&self, ctx: &ResolveContext) -> Result<()> {
        self.locate(ctx).map(|_| ())
    }
}

/// Values of the plugin's `config` under keys named like a secret (`token`, `password`, ...)
/// are masked wherever the plugin's messages are shown.
fn register_secrets(v: &serde_json::Value, secret: bool) {
    match v {
        serde_json::Value::String(s) if secret => cybedefend_core::secret::redact::register(s),
        serde_json::Value::Number(n) if secret => {
            cybedefend_core::secret::redact::register(&n.to_string());
        }
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                let named = cybedefend_core::secret::redact::is_secret_name(k);
                register_secrets(child, secret || named);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| register_secrets(c, secret)),
        _ => {}
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let which = match (o.plugin, o.path) {
        (Some(n), None) => {
            if !discover::valid_name(&n) {
                return Err(init.error(format!(
                    "`plugin: {}` is not a plugin name (lower-case letters, digits, dashes)",
                    cybedefend_core::text::one_line(&n, 64)
                )));
            }
            Which::Name(n)
        }
        (None, Some(p)) => {
            let text = p.to_string_lossy().into_owned();
            match cybedefend_core::env::expand_home(&p) {
                Some(p) if p.is_absolute() => Which::Path(p),
                _ => {
                    return Err(init.error(format!(
                        "`path: {}` is not an absolute path (only a leading `~/` is expanded, not `~user` or `$VARIABLES`): it would be searched in whatever directory a command runs in; give an absolute path, or one under `~/`",
                        cybedefend_core::text::one_line(&text, 120)
                    )));
                }
            }
        }
        _ => return Err(init.error("needs exactly one of `plugin: NAME` or `path: FILE`")),
    };
    if let Some(pin) = &o.sha256 {
        let hex = pin.trim().trim_start_matches("sha256:");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(init.error("`sha256` must be 64 hexadecimal digits"));
        }
    }
    register_secrets(&o.config, false);
    Ok(Box::new(PluginProvider {
        id: init.id.to_owned(),
        which,
        sha256: o.sha256,
        config: o.config,
        limit: init
            .spec
            .and_then(|s| s.timeout)
            .map_or(DEFAULT_LIMIT, |t| t.get()),
        install_hint: o.install_hint.filter(|h| !h.trim().is_empty()),
    }))
}

inventory::submit! {
    ProviderFactory::new(
        "plugin",
        "a credential plugin: an executable speaking the JSON protocol, or a native library",
        create,
    )
    .timeout_secs(30)
}
