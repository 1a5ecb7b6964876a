//! The credential chain: providers consulted in order, first `Found` wins, with a trace.
//!
//! `NotFound` moves on. An error stops the chain with a message naming the provider, unless
//! that provider is configured `on_error: continue`. Providers after the winner are not
//! consulted, except [`CredentialProvider::peekable`] ones, which are read silently to warn
//! about credentials the winner hides (their trace entry stays `not_reached`).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{LoadedConfig, OnError, Policy};
use crate::credentials::{
    CredentialProvider, Found, Lookup, ResolveContext, default_chain, factories, factory,
};
use crate::error::{Error, Result};

/// How long past a provider's time limit the chain waits before it stops the provider itself.
const LIMIT_GRACE: Duration = Duration::from_millis(500);

/// How one provider fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It had the credential.
    Found,
    /// It had none.
    NotFound,
    /// It failed.
    Error,
    /// An earlier provider answered or failed.
    NotReached,
}

impl Outcome {
    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Found => "found",
            Outcome::NotFound => "not found",
            Outcome::Error => "error",
            Outcome::NotReached => "not reached",
        }
    }
}

fn millis<S: serde::Serializer>(ms: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((ms * 1000.0).round() / 1000.0)
}

/// One line of the trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    /// Provider name in the chain.
    pub provider: String,
    /// Provider type.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the provider answered: found, nothing, skipped by policy, or an error.
    pub outcome: Outcome,
    /// Why (not found), where (found) or what failed (error); never a secret.
    pub detail: String,
    /// Time spent in the provider, in milliseconds (three decimals).
    #[serde(serialize_with = "millis")]
    pub elapsed_ms: f64,
}

/// The chain's winner.
#[derive(Debug, Clone)]
pub struct Winner {
    /// Provider name.
    pub provider: String,
    /// Provider type.
    pub kind: String,
    /// What it found.
    pub found: Found,
}

/// The result of a resolution: winner (if any), the error that stopped the chain (if any),
/// the trace and warnings.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The provider that answered.
    pub winner: Option<Winner>,
    /// The error that stopped the chain.
    pub error: Option<Error>,
    /// Every provider with its outcome.
    pub trace: Vec<TraceEntry>,
    /// Shadowed credentials and skipped errors.
    pub warnings: Vec<String>,
}

struct Entry {
    id: String,
    kind: &'static str,
    provider: Box<dyn CredentialProvider>,
    on_error: OnError,
    timeout: Option<Duration>,
}

/// An ordered list of providers.
pub struct Chain {
    entries: Vec<Entry>,
    policy: Policy,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.id))
            .finish()
    }
}

impl Chain {
    /// Builds the chain from `credentials.chain` and `credentials.providers`, or the default
    /// chain (built-ins, then configured providers by name). Unknown names or types are
    /// configuration errors that list the valid ones and name the origin.
    pub fn from_config(config: &LoadedConfig) -> Result<Self> {
        let creds = &config.settings.credentials;
        let names: Vec<String> = match &creds.chain {
            Some(list) => list.clone(),
            None => default_chain()
                .into_iter()
                .map(str::to_owned)
                .chain(creds.providers.keys().cloned())
                .collect(),
        };
        let chain_origin = config
            .origin("credentials.chain")
            .unwrap_or_else(|| "the default chain".to_owned());
        let valid_types = factories().iter().map(|f| f.kind).collect::<Vec<_>>();
        let mut entries: Vec<Entry> = Vec::new();
        for name in &names {
            if entries.iter().any(|e| e.id == *name) {
                return Err(Error::usage(format!(
                    "provider `{name}` appears twice in `credentials.chain` (from {chain_origin})"
                )));
            }
            let entry = if let Some(spec) = creds.providers.get(name) {
                let key = format!("credentials.providers.{name}.type");
                let origin = config.origin(&key).unwrap_or_default();
                let f = factory(&spec.kind).ok_or_else(|| {
                    let suggestion = crate::text::suggest(&spec.kind, &valid_types)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    Error::usage(format!(
                        "provider `{name}` has unknown type `{}` (from {origin}){suggestion}",
                        spec.kind
                    ))
                    .with_hint(format!("valid types: {}", valid_types.join(", ")))
                })?;
                Entry {
                    id: name.clone(),
                    kind: f.kind,
                    provider: (f.create)(&crate::credentials::ProviderInit {
                        id: name,
                        spec: Some(spec),
                        origin: &origin,
                    })?,
                    on_error: spec.on_error,
                    timeout: spec.timeout.map(|t| t.get()).or(f.default_timeout),
                }
            } else if let Some(f) = factory(name).filter(|f| f.default_position.is_some()) {
                Entry {
                    id: name.clone(),
                    kind: f.kind,
                    provider: f.build(name)?,
                    on_error: OnError::Fail,
                    timeout: f.default_timeout,
                }
            } else {
                let mut valid: Vec<String> =
                    default_chain().into_iter().map(str::to_owned).collect();
                valid.extend(creds.providers.keys().cloned());
                let suggestion = crate::text::suggest(
                    name,
                    &valid.iter().map(String::as_str).collect::<Vec<_>>(),
                )
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
                return Err(Error::usage(format!(
                    "unknown provider `{name}` in `credentials.chain` (from {chain_origin}){suggestion}"
                ))
                .with_hint(format!(
                    "valid names: {} (built-in, or defined under `credentials.providers`)",
                    valid.join(", ")
                )));
            };
            entries.push(entry);
        }
        Ok(Self {
            entries,
            policy: config.policy.clone(),
        })
    }

    /// Provider names in order.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.id.as_str()).collect()
    }

    /// Providers defined under `credentials.providers` that this chain leaves out.
    pub fn unused(&self, config: &LoadedConfig) -> Vec<String> {
        config
            .settings
            .credentials
            .providers
            .keys()
            .filter(|k| !self.entries.iter().any(|e| e.id == **k))
            .cloned()
            .collect()
    }

    /// The provider named `id` in this chain, with its type.
    pub fn provider(&self, id: &str) -> Option<(&'static str, &dyn CredentialProvider)> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| (e.kind, e.provider.as_ref()))
    }

    /// The policy this chain enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Consults the providers in order.
    pub async fn resolve(&self, ctx: &ResolveContext) -> Resolution {
        let mut trace = Vec::with_capacity(self.entries.len());
        let mut warnings = Vec::new();
        let mut winner: Option<Winner> = None;
        let mut error: Option<Error> = None;
        for entry in &self.entries {
            let row = |outcome, detail: String, elapsed_ms| TraceEntry {
                provider: entry.id.clone(),
                kind: entry.kind.to_owned(),
                outcome,
                detail,
                elapsed_ms,
            };
            if winner.is_some() || error.is_some() {
                trace.push(row(Outcome::NotReached, String::new(), 0.0));
                continue;
            }
            if !self.policy.allows(entry.kind) {
                trace.push(row(
                    Outcome::NotFound,
                    format!(
                        "skipped: type `{}` is not in allowed_providers (policy of {})",
                        entry.kind, self.policy.origin
                    ),
                    0.0,
                ));
                continue;
            }
            let start = Instant::now();
            let result = match entry.timeout {
                // a little later than the limit: a provider that holds itself to it (a plugin,
                // which then quotes what it wrote on stderr) says more than this
                Some(limit) => {
                    match tokio::time::timeout(limit + LIMIT_GRACE, entry.provider.resolve(ctx))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(Error::failure(format!(
                            "timed out after {} (its time limit)",
                            crate::duration::format(limit)
                        ))
                        .with_hint("raise the provider's `timeout`, or check what it waits for")),
                    }
                }
                None => entry.provider.resolve(ctx).await,
            };
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            for note in ctx.notices.take() {
                warnings.push(format!("`{}`: {note}", entry.id));
            }
            let (outcome, detail) = match result {
                Ok(Lookup::Found(found))
                    if self.policy.require_secure_storage && found.plaintext =>
                {
                    let why = format!(
                        "refused: {} keeps the PAT in plaintext, and require_secure_storage is set (policy of {})",
                        found.detail, self.policy.origin
                    );
                    warnings.push(format!(
                        "{why}; move it to the keyring with `cybedefend auth migrate --to keyring`, or use a secrets manager provider"
                    ));
                    (Outcome::NotFound, why)
                }
                Ok(Lookup::Found(found)) => {
                    let detail = found.detail.clone();
                    if let Some(w) = &found.warning {
                        warnings.push(format!("`{}`: {w}", entry.id));
                    }
                    winner = Some(Winner {
                        provider: entry.id.clone(),
                        kind: entry.kind.to_owned(),
                        found,
                    });
                    (Outcome::Found, detail)
                }
                Ok(Lookup::NotFound(why)) => (Outcome::NotFound, why),
                Err(e) if e.chain_moves_on() => (Outcome::NotFound, e.message().to_owned()),
                Err(e) => {
                    let detail = e.message().to_owned();
                    if entry.on_error == OnError::Continue {
                        warnings.push(format!(
                            "provider `{}` failed and was skipped (on_error: continue): {}",
                            entry.id,
                            e.message()
                        ));
                    } else {
                        error = Some(e.context(format!("credential provider `{}`", entry.id)));
                    }
                    (Outcome::Error, detail)
                }
            };
            trace.push(row(outcome, detail, elapsed_ms));
        }
        if let Some(w) = &winner {
            self.shadow_warnings(w, ctx, &mut warnings).await;
        }
        Resolution {
            winner,
            error,
            trace,
            warnings,
        }
    }

    async fn shadow_warnings(&self, w: &Winner, ctx: &ResolveContext, warnings: &mut Vec<String>) {
        let fp = w.found.credential.fingerprint();
        let mut peek_ctx = ctx.clone();
        peek_ctx.peek = true;
        let after = self
            .entries
            .iter()
            .skip_while(|e| e.id != w.provider)
            .skip(1)
            .filter(|e| e.provider.peekable() && self.policy.allows(e.kind));
        for entry in after {
            if let Ok(Lookup::Found(other)) = entry.provider.resolve(&peek_ctx).await {
                let ofp = other.credential.fingerprint();
                if ofp != fp {
                    warnings.push(format!(
                        "`{}` ({}) hides another credential in `{}` ({}, {} {}); commands use `{}`",
                        w.provider,
                        w.found.detail,
                        entry.id,
                        other.detail,
                        other.credential.type_name(),
                        ofp,
                        w.provider,
                    ));
                }
            }
        }
    }
}
