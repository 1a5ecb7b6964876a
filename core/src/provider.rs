//! The `CredentialProvider` trait and the registry of provider types.
//!
//! A provider type registers a [`ProviderFactory`] with `inventory::submit!`; the chain
//! builds providers by type name from configuration. Built-ins and plugins are the same
//! `Box<dyn CredentialProvider>` to the chain.

use async_trait::async_trait;

use crate::config::ProviderSpec;
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::paths::Home;
use crate::region::Region;

/// What a provider gets to look at.
#[derive(Debug, Clone)]
pub struct ResolveContext {
    /// `--pat` as typed (normalised by the `flag` provider).
    pub flag_pat: Option<String>,
    /// `pat:` from the merged config files, with its origin.
    pub config_pat: Option<(crate::Secret, String)>,
    /// The cybedefend home (credentials.json, caches).
    pub home: Home,
    /// Whether a person can answer a prompt (false under `--ci`, with `CI` set and no
    /// terminal, or without a terminal). Providers must not wait for a person when false.
    pub interactive: bool,
    /// A silent look after the winner (for shadow warnings): no prompts, no commands, no
    /// network; references such as `op://` are not followed.
    pub peek: bool,
}

/// A credential a provider found, with what the trace should say about it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The credential.
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

/// The answer of one provider.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A credential: the chain stops here.
    Found(Found),
    /// Nothing here, and why: the chain moves on.
    NotFound(String),
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

/// A source of credentials.
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    /// The name in the chain (`env`, or a configured name such as `ci-vault`).
    fn id(&self) -> &str;

    /// The registered type (`env`, `vault`, ...).
    fn kind(&self) -> &'static str;

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
        Err(unsupported(self.id(), "store"))
    }

    /// Removes a stored credential (logout). Unsupported by default.
    async fn erase(&self, _ctx: &ResolveContext) -> Result<Erased> {
        Err(unsupported(self.id(), "erase"))
    }
}

/// The error for an operation a provider does not offer.
pub fn unsupported(id: &str, operation: &str) -> Error {
    Error::usage(format!("provider `{id}` cannot {operation} credentials"))
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
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            Error::usage(format!(
                "provider `{}` (type `{}`, from {}): {e}",
                self.id, spec.kind, self.origin
            ))
        })
    }
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
    pub default_timeout: Option<std::time::Duration>,
    /// Builds a provider.
    pub create: fn(&ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>>,
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
