//! The credential chain: providers consulted in order, first `Found` wins, with a trace.
//!
//! `NotFound` moves on. An error stops the chain with a message naming the provider, unless
//! that provider is configured `on_error: continue`. Providers after the winner are not
//! consulted, except [`CredentialProvider::peekable`] ones, which are read silently to warn
//! about credentials the winner hides (their trace entry stays `not_reached`).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{LoadedConfig, OnError};
use crate::error::{Error, Result};
use crate::provider::{
    CredentialProvider, Found, Lookup, ProviderInit, ResolveContext, default_chain, factories,
    factory,
};

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

/// One line of the trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    /// Provider name in the chain.
    pub provider: String,
    /// Provider type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why (not found), where (found) or what failed (error); never a secret.
    pub detail: String,
    /// Time spent in the provider.
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
    provider: Box<dyn CredentialProvider>,
    on_error: OnError,
    timeout: Option<Duration>,
}

/// An ordered list of providers.
pub struct Chain {
    entries: Vec<Entry>,
    policy: crate::config::Policy,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| e.provider.id()))
            .finish()
    }
}

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num.trim().parse().ok()?;
    if !(n.is_finite() && n > 0.0) {
        return None;
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
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
            if entries.iter().any(|e| e.provider.id() == name) {
                return Err(Error::usage(format!(
                    "provider `{name}` appears twice in `credentials.chain` (from {chain_origin})"
                )));
            }
            let entry = if let Some(spec) = creds.providers.get(name) {
                let key = format!("credentials.providers.{name}.type");
                let origin = config.origin(&key).unwrap_or_default();
                let f = factory(&spec.kind).ok_or_else(|| {
                    Error::usage(format!(
                        "provider `{name}` has unknown type `{}` (from {origin})",
                        spec.kind
                    ))
                    .with_hint(format!("valid types: {}", valid_types.join(", ")))
                })?;
                let timeout = match &spec.timeout {
                    None => f.default_timeout,
                    Some(t) => Some(parse_duration(t).ok_or_else(|| {
                        Error::usage(format!(
                            "provider `{name}`: timeout `{t}` (from {origin}) is not a duration such as `10s` or `500ms`"
                        ))
                    })?),
                };
                Entry {
                    provider: (f.create)(&ProviderInit {
                        id: name,
                        spec: Some(spec),
                        origin: &origin,
                    })?,
                    on_error: spec.on_error,
                    timeout,
                }
            } else if let Some(f) = factory(name).filter(|f| f.default_position.is_some()) {
                Entry {
                    provider: (f.create)(&ProviderInit {
                        id: name,
                        spec: None,
                        origin: "built-in",
                    })?,
                    on_error: OnError::Fail,
                    timeout: f.default_timeout,
                }
            } else {
                let mut valid: Vec<String> =
                    default_chain().into_iter().map(str::to_owned).collect();
                valid.extend(creds.providers.keys().cloned());
                let mut err = Error::usage(format!(
                    "unknown provider `{name}` in `credentials.chain` (from {chain_origin})"
                ))
                .with_hint(format!(
                    "valid names: {} (built-in, or defined under `credentials.providers`)",
                    valid.join(", ")
                ));
                if let Some(s) = crate::config::suggest(
                    name,
                    &valid.iter().map(String::as_str).collect::<Vec<_>>(),
                ) {
                    err.message.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(err);
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
        self.entries.iter().map(|e| e.provider.id()).collect()
    }

    /// The first provider of a type, for login/logout.
    pub fn provider_of_kind(&self, kind: &str) -> Option<&dyn CredentialProvider> {
        self.entries
            .iter()
            .find(|e| e.provider.kind() == kind)
            .map(|e| e.provider.as_ref())
    }

    /// Consults the providers in order.
    pub async fn resolve(&self, ctx: &ResolveContext) -> Resolution {
        let mut trace = Vec::with_capacity(self.entries.len());
        let mut warnings = Vec::new();
        let mut winner: Option<Winner> = None;
        let mut error: Option<Error> = None;
        for entry in &self.entries {
            let p = entry.provider.as_ref();
            if winner.is_some() || error.is_some() {
                trace.push(TraceEntry {
                    provider: p.id().to_owned(),
                    kind: p.kind().to_owned(),
                    outcome: Outcome::NotReached,
                    detail: String::new(),
                    elapsed_ms: 0.0,
                });
                continue;
            }
            if !self.policy.allowed_providers.is_empty()
                && !self.policy.allowed_providers.iter().any(|t| t == p.kind())
            {
                trace.push(TraceEntry {
                    provider: p.id().to_owned(),
                    kind: p.kind().to_owned(),
                    outcome: Outcome::NotFound,
                    detail: format!(
                        "skipped: type `{}` is not in allowed_providers (policy of {})",
                        p.kind(),
                        self.policy.origin
                    ),
                    elapsed_ms: 0.0,
                });
                continue;
            }
            let start = Instant::now();
            let result = match entry.timeout {
                Some(limit) => match tokio::time::timeout(limit, p.resolve(ctx)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::failure(format!(
                        "timed out after {:.1} s",
                        limit.as_secs_f64()
                    ))),
                },
                None => p.resolve(ctx).await,
            };
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
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
                        warnings.push(format!("`{}`: {w}", p.id()));
                    }
                    winner = Some(Winner {
                        provider: p.id().to_owned(),
                        kind: p.kind().to_owned(),
                        found,
                    });
                    (Outcome::Found, detail)
                }
                Ok(Lookup::NotFound(why)) => (Outcome::NotFound, why),
                Err(e) => {
                    let detail = e.message.clone();
                    if entry.on_error == OnError::Continue {
                        warnings.push(format!(
                            "provider `{}` failed and was skipped (on_error: continue): {}",
                            p.id(),
                            e.message
                        ));
                    } else {
                        let mut stopped = e.clone();
                        stopped.message =
                            format!("credential provider `{}`: {}", p.id(), e.message);
                        error = Some(stopped);
                    }
                    (Outcome::Error, detail)
                }
            };
            trace.push(TraceEntry {
                provider: p.id().to_owned(),
                kind: p.kind().to_owned(),
                outcome,
                detail,
                elapsed_ms,
            });
        }
        if let Some(w) = &winner {
            let fp = w.found.credential.fingerprint();
            let after = self
                .entries
                .iter()
                .skip_while(|e| e.provider.id() != w.provider)
                .skip(1);
            let mut peek_ctx = ctx.clone();
            peek_ctx.peek = true;
            for entry in after.filter(|e| e.provider.peekable()) {
                if let Ok(Lookup::Found(other)) = entry.provider.resolve(&peek_ctx).await {
                    let ofp = other.credential.fingerprint();
                    if ofp != fp {
                        warnings.push(format!(
                            "`{}` ({}) hides another credential in `{}` ({}, {} {}); commands use `{}`",
                            w.provider,
                            w.found.detail,
                            entry.provider.id(),
                            other.detail,
                            other.credential.type_name(),
                            ofp,
                            w.provider,
                        ));
                    }
                }
            }
        }
        Resolution {
            winner,
            error,
            trace,
            warnings,
        }
    }
}
