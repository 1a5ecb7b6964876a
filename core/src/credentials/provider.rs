//! The `CredentialProvider` trait and the registry of provider types.
//!
//! A provider type registers a [`ProviderFactory`] with `inventory::submit!`; the chain builds
//! providers by type name from configuration and keeps each one's name and type itself, so a
//! provider implements only what it does: [`CredentialProvider::resolve`], and `store`/`erase`
//! when it can keep a login. Built-ins and plugins are the same `Box<dyn CredentialProvider>`.
//!
//! What a provider answers, and what the chain does with it:
//! - `Ok(Lookup::Found(..))`: the chain stops here.
//! - `Ok(Lookup::NotFound(why))`, or an error whose kind is not-found or unsupported: the chain
//!   moves on, and the trace says why.
//! - any other error: the chain stops with it (naming the provider), unless the provider is
//!   configured `on_error: continue`.

use std::time::Duration;

use async_trait::async_trait;

use crate::Secret;
use crate::config::ProviderSpec;
use crate::credentials::Credential;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::region::Region;

/// What a provider gets to look at.
#[derive(Debug, Clone)]
pub struct ResolveContext {
    /// `--pat` as typed (normalised by the `flag` provider).
    pub flag_pat: Option<Secret>,
    /// `pat:` from the merged config files, with its origin.
    pub config_pat: Option<(Secret, String)>,
    /// The cybedefend home (credentials.json, caches).
    pub home: Home,
    /// Whether a person can answer a prompt (false under `--ci`, with `CI` set and no
    /// terminal, or without a terminal). Providers must not wait for a person when false.
    pub interactive: bool,
    /// A silent look after the winner (for shadow warnings): no prompts, no commands, no
    /// network; references such as `op://` are not followed.
    pub peek: bool,
    /// The platform region in effect (plugins receive it).
    pub region: Region,
    /// The platform API URL in effect (plugins receive it).
    pub api_url: String,
    /// Where plugins are looked for and which may load.
    pub plugins: PluginSettings,
    /// Messages a provider has for the user (a plugin's stderr); the chain shows them as
    /// warnings naming the provider.
    pub notices: Notices,
}

/// Where plugins are looked for, and the machine's allow-list.
#[derive(Debug, Clone, Default)]
pub struct PluginSettings {
    /// Folders searched for plugins, in order (`~/.cybedefend/plugins` first, then
    /// `plugins.dirs`); exec plugins are also looked for on `PATH`.
    pub dirs: Vec<std::path::PathBuf>,
    /// `plugins.allow` of the system configuration: when set, no other plugin may load.
    pub allow: Option<Vec<String>>,
    /// Where the allow-list came from.
    pub allow_origin: String,
}

/// Messages for the user collected while providers run (cheap to clone, shared).
#[derive(Clone, Default)]
pub struct Notices(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Notices {
    /// Adds a message.
    pub fn push(&self, message: impl Into<String>) {
        if let Ok(mut m) = self.0.lock() {
            m.push(message.into());
        }
    }

    /// Takes every message so far.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notices")
    }
}

/// A credential a provider found, with what the trace should say about it.
#[derive(Debug, Clone)]
pub struct Found {
    /// What was found.
    pub credential: Credential,
    /// Where exactly it came from (`CYBEDEFEND_PAT`, a file path, ...), no secret.
    pub detail: String,
    /// The region stored with it, if any.
    pub region: Option<Region>,
    /// Where the secret is kept when it is a stored login (`file`, `keyring`).
    pub storage: Option<String>,
    /// The secret sits in a plaintext file (credentials.json, a config file).
    pub plaintext: bool,
    /// Something the user should know about this source (e.g. a secret file others can read).
    pub warning: Option<String>,
}

impl Found {
    /// A credential found at `detail`, with nothing else to say about it.
    pub fn new(credential: Credential, detail: impl Into<String>) -> Self {
        Self {
            credential,
            detail: detail.into(),
            region: None,
            storage: None,
            plaintext: false,
            warning: None,
        }
    }

    /// A PAT found at `detail`.
    pub fn pat(pat: Secret, detail: impl Into<String>) -> Self {
        Self::new(Credential::Pat(pat), detail)
    }

    /// Marks the secret as kept in a plaintext file.
    #[must_use]
    pub fn plaintext(mut self, plaintext: bool) -> Self {
        self.plaintext = plaintext;
        self
    }

    /// Adds a warning for the user.
    #[must_use]
    pub fn with_warning(mut self, warning: Option<String>) -> Self {
        self.warning = warning;
        self
    }

    /// Records the region stored with the credential and where the secret is kept.
    #[must_use]
    pub fn stored(mut self, region: Region, storage: impl Into<String>) -> Self {
        self.region = Some(region);
        self.storage = Some(storage.into());
        self
    }

    /// As a lookup result.
    pub fn into_lookup(self) -> Result<Lookup> {
        Ok(Lookup::Found(self))
    }
}

/// The answer of one provider.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A credential: the chain stops here.
    Found(Found),
    /// Nothing here, and why: the chain moves on.
    NotFound(String),
}

impl Lookup {
    /// Nothing here, and why.
    pub fn not_found(why: impl Into<String>) -> Result<Lookup> {
        Ok(Lookup::NotFound(why.into()))
    }
}

/// What `erase` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// Whether something was removed.
    pub removed: bool,
    /// What was (or would have been) removed, for the message.
    pub detail: String,
    /// Fingerprint of a PAT that was removed, so its cached access tokens can go too.
    pub pat_fingerprint: Option<String>,
}

/// A source of credentials. See the module documentation for what each answer makes the
/// chain do.
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    /// True for providers that are local, fast and free of side effects (no network, no
    /// process, no prompt). After the chain's winner, these are still consulted, silently, to
    /// warn about credentials the winner hides.
    fn peekable(&self) -> bool {
        false
    }

    /// Looks for a credential.
    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup>;

    /// Stores a credential (login). Unsupported by default.
    async fn store(
        &self,
        _ctx: &ResolveContext,
        _credential: &Credential,
        _region: Region,
    ) -> Result<()> {
        Err(Error::unsupported("it cannot store credentials"))
    }

    /// Removes a stored credential (logout). Unsupported by default.
    async fn erase(&self, _ctx: &ResolveContext) -> Result<Erased> {
        Err(Error::unsupported("it cannot erase credentials"))
    }

    /// Whether `store` would work here now (a keyring that answers, a plugin that stores).
    async fn can_store(&self, _ctx: &ResolveContext) -> bool {
        false
    }

    /// Checks, before `login` validates a PAT with the server, what can be checked locally
    /// about storing here (a plugin: found and trusted); the reason when not.
    async fn check_store(&self, ctx: &ResolveContext) -> Result<()> {
        if self.can_store(ctx).await {
            Ok(())
        } else {
            Err(Error::unsupported("it cannot store credentials"))
        }
    }
}

/// What a factory gets to build a provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInit<'a> {
    /// The provider's name in the chain.
    pub id: &'a str,
    /// Its configuration, when it is a configured provider (`credentials.providers.<id>`).
    pub spec: Option<&'a ProviderSpec>,
    /// Where that configuration came from, for messages.
    pub origin: &'a str,
}

impl ProviderInit<'_> {
    /// The type-specific options as a typed struct; unknown or mistyped options are
    /// configuration errors naming the provider and the origin.
    pub fn options<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T> {
        let Some(spec) = self.spec else {
            return Ok(T::default());
        };
        let map: serde_json::Map<String, serde_json::Value> = spec
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| self.error(explain_option_error(&e.to_string())))
    }

    /// A configuration error about this provider: `provider `x` (type `t`, from FILE): ...`.
    pub fn error(&self, what: impl std::fmt::Display) -> Error {
        let kind = self.spec.map_or("built-in", |s| s.kind.as_str());
        Error::usage(format!(
            "provider `{}` (type `{kind}`, from {}): {what}",
            self.id, self.origin
        ))
    }

    /// A path option (`key`) of this provider: `~/` means the home folder; a relative path is
    /// refused, since it would be read from whatever directory a command runs in (a
    /// repository could then supply the file).
    pub fn absolute_path(&self, key: &str, path: &std::path::Path) -> Result<std::path::PathBuf> {
        let shown = crate::text::one_line(&path.to_string_lossy(), 120);
        let expanded = crate::env::expand_home(path).ok_or_else(|| {
            self.error(format!(
                "`{key}` `{shown}` starts with `~`, but HOME is not set"
            ))
        })?;
        if expanded.is_relative() {
            return Err(self
                .error(format!(
                    "`{key}` `{shown}` is not an absolute path: it would be read from whatever directory a command runs in"
                ))
                .with_hint("give an absolute path, or one under `~/`"));
        }
        Ok(expanded)
    }
}

/// serde's "unknown field `on_eror`, expected one of `a`, `b`" in the words of a config file:
/// every option of the provider (its common ones too) and the likely one.
fn explain_option_error(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field ") else {
        return message.to_owned();
    };
    let words: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((unknown, known)) = words.split_first() else {
        return message.to_owned();
    };
    let mut all: Vec<&str> = vec!["type", "timeout", "on_error"];
    all.extend(known.iter().copied());
    let guess = crate::text::suggest(unknown, &all)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    format!(
        "unknown option `{unknown}`{guess} (the options are: {})",
        all.join(", ")
    )
}

/// A registered provider type.
#[derive(Debug)]
pub struct ProviderFactory {
    /// Type name used in `credentials.providers.<name>.type`.
    pub kind: &'static str,
    /// One line for `--help` and error messages.
    pub summary: &'static str,
    /// Position in the default chain, for built-ins that take part in it (lower first).
    pub default_position: Option<u32>,
    /// Time limit when the configuration sets none (providers that run commands or call
    /// servers must never hang the CLI).
    pub default_timeout: Option<Duration>,
    /// Builds a provider.
    pub create: fn(&ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>>,
}

impl ProviderFactory {
    /// A provider type outside the default chain and without a default time limit.
    pub const fn new(
        kind: &'static str,
        summary: &'static str,
        create: fn(&ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>>,
    ) -> Self {
        Self {
            kind,
            summary,
            default_position: None,
            default_timeout: None,
            create,
        }
    }

    /// Takes part in the default chain at this position (lower first).
    #[must_use]
    pub const fn in_default_chain(mut self, position: u32) -> Self {
        self.default_position = Some(position);
        self
    }

    /// Gives up after this many seconds unless the configuration says otherwise.
    #[must_use]
    pub const fn timeout_secs(mut self, secs: u64) -> Self {
        self.default_timeout = Some(Duration::from_secs(secs));
        self
    }

    /// Builds the provider of this type named `id`, with no configuration (a built-in, or the
    /// keyring for `login --store keyring`).
    pub fn build(&self, id: &str) -> Result<Box<dyn CredentialProvider>> {
        (self.create)(&ProviderInit {
            id,
            spec: None,
            origin: "built-in",
        })
    }
}

inventory::collect!(ProviderFactory);

/// Every registered provider type, sorted by name.
pub fn factories() -> Vec<&'static ProviderFactory> {
    let mut all: Vec<&'static ProviderFactory> =
        inventory::iter::<ProviderFactory>.into_iter().collect();
    all.sort_by_key(|f| f.kind);
    all
}

/// The factory for a type name.
pub fn factory(kind: &str) -> Option<&'static ProviderFactory> {
    inventory::iter::<ProviderFactory>
        .into_iter()
        .find(|f| f.kind == kind)
}

/// The default chain: built-ins with a default position, in order.
pub fn default_chain() -> Vec<&'static str> {
    let mut builtins: Vec<&'static ProviderFactory> = inventory::iter::<ProviderFactory>
        .into_iter()
        .filter(|f| f.default_position.is_some())
        .collect();
    builtins.sort_by_key(|f| f.default_position);
    builtins.iter().map(|f| f.kind).collect()
}
