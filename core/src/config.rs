//! Layered configuration with an origin for every value.
//!
//! Layers, lowest first: built-in defaults; the system file (`/etc/cybedefend/config.yaml`
//! or `$CYBEDEFEND_SYSTEM_CONFIG`); the user file (`~/.cybedefend/config.yaml`); the working
//! directory's `./config.yaml` (official CLI compatibility, **untrusted**, see below);
//! `CYBEDEFEND_*` environment variables; command-line flags. `--config FILE` replaces the three
//! file layers with that one file, which is then trusted.
//!
//! The working-directory file is read from repositories nobody vetted, often in CI. From it,
//! only harmless keys apply ([`UNTRUSTED_ALLOWED`]); keys that decide where a token is sent or
//! what runs are ignored with a warning unless the folder is listed in `trusted_directories`
//! of the system or user file, or the file is passed with `--config`.
//!
//! The YAML parser is figment's (serde_yaml) and is used through [`yaml_file`] only, so that
//! swapping it is a one-function change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Yaml};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Deserialize;

use crate::env;
use crate::error::{Error, Result};
use crate::paths::{Home, display};
use crate::region::Region;
use crate::secret::{Secret, normalize_pat};

/// Keys a working-directory `config.yaml` may set without being trusted.
pub const UNTRUSTED_ALLOWED: &[&str] = &["project_id", "branch", "region", "ci", "debug"];

/// Every top-level key the CLI understands, for unknown-key warnings.
pub const KNOWN_KEYS: &[&str] = &[
    "api_url",
    "auth_endpoint",
    "pat",
    "project_id",
    "branch",
    "region",
    "app_url",
    "ci",
    "debug",
    "http_timeout",
    "credentials",
    "plugins",
    "trusted_directories",
    "api_key",
    "logto_client_id",
];

/// Keys under `credentials:`.
pub const KNOWN_CREDENTIAL_KEYS: &[&str] = &[
    "chain",
    "providers",
    "require_secure_storage",
    "allowed_providers",
];

/// What to do when a provider fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop the chain with the provider's error (default).
    #[default]
    Fail,
    /// Record the error in the trace and try the next provider.
    Continue,
}

/// One entry of `credentials.providers`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSpec {
    /// Registered provider type (`env`, `vault`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// `fail` (default) or `continue`.
    #[serde(default)]
    pub on_error: OnError,
    /// Per-provider time limit, e.g. `10s` or `500ms`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Type-specific options.
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// `credentials:` settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CredentialsSettings {
    /// Provider names in the order they are consulted; absent = the default chain.
    #[serde(default)]
    pub chain: Option<Vec<String>>,
    /// Named providers.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSpec>,
    /// System policy: refuse plaintext sources.
    #[serde(default)]
    pub require_secure_storage: Option<bool>,
    /// System policy: provider types allowed (empty = all).
    #[serde(default)]
    pub allowed_providers: Option<Vec<String>>,
}

fn deserialize_pat<'de, D>(d: D) -> std::result::Result<Option<Secret>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(s) => normalize_pat(&s).map_err(|e| serde::de::Error::custom(format!("the PAT {e}"))),
    }
}

/// The merged settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Settings {
    /// API base URL override.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Auth server override (self-hosted).
    #[serde(default)]
    pub auth_endpoint: Option<String>,
    /// `pat:` from a config file (documented priority 3).
    #[serde(default, deserialize_with = "deserialize_pat")]
    pub pat: Option<Secret>,
    /// Default project for every `--project-id`.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Default branch for `scan`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `us` or `eu`.
    #[serde(default)]
    pub region: Option<String>,
    /// Web-app base for links.
    #[serde(default)]
    pub app_url: Option<String>,
    /// CI mode: plain output, nothing waits for a person.
    #[serde(default)]
    pub ci: Option<bool>,
    /// Debug logging to stderr (secrets redacted).
    #[serde(default)]
    pub debug: Option<bool>,
    /// Time limit in seconds for each HTTP request (default 30).
    #[serde(default)]
    pub http_timeout: Option<f64>,
    /// Credential chain and providers.
    #[serde(default)]
    pub credentials: CredentialsSettings,
    /// Folders whose `./config.yaml` is trusted (system and user files only).
    #[serde(default)]
    pub trusted_directories: Vec<PathBuf>,
}

/// Values given on the command line, lowest-level form.
#[derive(Debug, Clone, Default)]
pub struct FlagValues {
    /// `--api-url`.
    pub api_url: Option<String>,
    /// `--auth-endpoint`.
    pub auth_endpoint: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--ci` (only `Some(true)` when given).
    pub ci: Option<bool>,
    /// `--debug`.
    pub debug: Option<bool>,
    /// `--project-id`, where the command has it.
    pub project_id: Option<String>,
    /// `--api-key` was given (deprecated; always an error).
    pub api_key_given: bool,
}

/// Where to look for configuration.
#[derive(Debug, Clone)]
pub struct ConfigSources {
    /// The system file (`/etc/cybedefend/config.yaml|yml` or `$CYBEDEFEND_SYSTEM_CONFIG`).
    pub system: Vec<PathBuf>,
    /// The cybedefend home (user file).
    pub home: Home,
    /// The working directory (`./config.yaml|yml`).
    pub cwd: PathBuf,
    /// `--config FILE`: replaces the three file layers.
    pub explicit: Option<PathBuf>,
}

impl ConfigSources {
    /// The standard locations for this process.
    pub fn standard(home: Home, explicit: Option<PathBuf>) -> Result<Self> {
        let system = match env::non_empty(env::CYBEDEFEND_SYSTEM_CONFIG) {
            Some(p) => vec![PathBuf::from(p)],
            None => vec![
                PathBuf::from("/etc/cybedefend/config.yaml"),
                PathBuf::from("/etc/cybedefend/config.yml"),
            ],
        };
        let cwd = std::env::current_dir()
            .map_err(|e| Error::failure(format!("cannot read the working directory: {e}")))?;
        Ok(Self {
            system,
            home,
            cwd,
            explicit,
        })
    }
}

/// Machine policy from the system configuration file. Lower layers may tighten it (require
/// secure storage, narrow the allowed types) but never loosen it.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Plaintext sources (credentials.json, `pat:` in a config file) are refused.
    pub require_secure_storage: bool,
    /// Provider types that may be used; empty means all.
    pub allowed_providers: Vec<String>,
    /// Where the policy came from, for messages.
    pub origin: String,
}

/// The merged configuration with its origins.
#[derive(Debug)]
pub struct LoadedConfig {
    /// Machine policy (system file, tightened by other layers).
    pub policy: Policy,
    figment: Figment,
    /// Typed settings.
    pub settings: Settings,
    /// Things the user should know (ignored keys, unknown keys, shadowed files).
    pub warnings: Vec<String>,
    /// Files that were read, lowest layer first.
    pub files: Vec<PathBuf>,
}

/// A provider of one value with its own origin name (an env variable or a flag), so that
/// messages and `config show --origin` name `CYBEDEFEND_REGION` or `--region` exactly.
struct Single {
    origin: String,
    key: &'static str,
    value: Value,
}

impl Provider for Single {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut dict = Dict::new();
        dict.insert(self.key.to_owned(), self.value.clone());
        Ok(Profile::Default.collect(dict))
    }
}

/// The working-directory file with its restricted keys removed.
struct Filtered {
    inner: figment::providers::Data<Yaml>,
    drop_keys: Vec<String>,
}

impl Provider for Filtered {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in &self.drop_keys {
                dict.remove(key);
            }
        }
        Ok(data)
    }
}

/// The one place that knows the YAML parser.
fn yaml_file(path: &Path) -> figment::providers::Data<Yaml> {
    Yaml::file_exact(path)
}

fn first_existing(candidates: &[PathBuf], warnings: &mut Vec<String>) -> Option<PathBuf> {
    let existing: Vec<&PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
    if existing.len() > 1 {
        warnings.push(format!(
            "both {} and {} exist; only the first is read",
            display(existing[0]),
            display(existing[1])
        ));
    }
    existing.first().map(|p| (*p).clone())
}

/// Renders a figment error as one line naming the file (or variable, or flag) and the key.
pub fn describe_figment_error(err: &figment::Error) -> String {
    let origin = err
        .metadata
        .as_ref()
        .map(origin_of_metadata)
        .unwrap_or_else(|| "configuration".to_owned());
    let key = err
        .path
        .iter()
        .filter(|p| p.as_str() != "default")
        .cloned()
        .collect::<Vec<_>>()
        .join(".");
    let kind = err.kind.to_string();
    if key.is_empty() {
        format!("invalid configuration in {origin}: {kind}")
    } else {
        format!("invalid configuration in {origin}: `{key}`: {kind}")
    }
}

fn origin_of_metadata(md: &Metadata) -> String {
    match &md.source {
        Some(Source::File(p)) => display(p),
        Some(Source::Custom(s)) => s.clone(),
        _ => md.name.to_string(),
    }
}

fn env_value(key: &str, var: &str, raw: &str) -> Result<Value> {
    match key {
        "ci" | "debug" => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Value::from(true)),
            "0" | "false" | "no" | "off" => Ok(Value::from(false)),
            _ => Err(Error::usage(format!(
                "{var} must be true or false, not `{}`",
                raw.trim()
            ))),
        },
        "http_timeout" => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(Value::from)
            .ok_or_else(|| {
                Error::usage(format!(
                    "{var} must be a positive number of seconds, not `{}`",
                    raw.trim()
                ))
            }),
        _ => Ok(Value::from(raw.trim().to_owned())),
    }
}

fn deprecated_api_key(origin: &str, region: Option<Region>) -> Error {
    let page = region.unwrap_or_default().pat_page();
    Error::usage(format!(
        "API keys are no longer accepted by the platform (HTTP 410), and one is set by {origin}"
    ))
    .with_hint(format!(
        "switch to a Personal Access Token: `--api-key` becomes `--pat`, CYBEDEFEND_API_KEY \
         becomes CYBEDEFEND_PAT, `api_key:` becomes `pat:` (or run `cybedefend login --pat`); \
         create one at {page}"
    ))
}

fn is_under(dir: &Path, root: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    canon(dir).starts_with(canon(root))
}

fn has_key(figment: &Figment, key: &str) -> bool {
    figment.find_value(key).is_ok()
}

impl LoadedConfig {
    /// Loads every layer. Errors name the file, variable or flag at fault.
    pub fn load(sources: &ConfigSources, flags: &FlagValues) -> Result<Self> {
        Self::load_with(sources, flags, true)
    }

    /// Loads the file layers and flags only, ignoring the environment (`config validate FILE`).
    pub fn load_isolated(sources: &ConfigSources, flags: &FlagValues) -> Result<Self> {
        Self::load_with(sources, flags, false)
    }

    fn load_with(sources: &ConfigSources, flags: &FlagValues, use_env: bool) -> Result<Self> {
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        let mut figment = Figment::new();

        // File layers.
        let mut cwd_layer: Option<(PathBuf, bool)> = None;
        if let Some(path) = &sources.explicit {
            if !path.is_file() {
                return Err(Error::usage(format!(
                    "config file {} (from --config) does not exist",
                    display(path)
                )));
            }
            figment = figment.merge(yaml_file(path));
            files.push(path.clone());
        } else {
            if let Some(p) = first_existing(&sources.system, &mut warnings) {
                figment = figment.merge(yaml_file(&p));
                files.push(p);
            }
            if let Some(p) = first_existing(&sources.home.user_config_candidates(), &mut warnings) {
                figment = figment.merge(yaml_file(&p));
                files.push(p);
            }
            let cwd_candidates = [
                sources.cwd.join("config.yaml"),
                sources.cwd.join("config.yml"),
            ];
            if let Some(p) = first_existing(&cwd_candidates, &mut warnings) {
                // The same file may already be the user's (cwd = ~/.cybedefend).
                if !files.iter().any(|f| same_file(f, &p)) {
                    let trusted_dirs: Vec<PathBuf> = figment
                        .extract_inner::<Vec<PathBuf>>("trusted_directories")
                        .unwrap_or_default();
                    let trusted = trusted_dirs.iter().any(|d| is_under(&sources.cwd, d));
                    cwd_layer = Some((p, trusted));
                }
            }
        }

        if let Some((path, trusted)) = &cwd_layer {
            let probe = Figment::from(yaml_file(path));
            // Surface syntax errors naming the file.
            probe
                .extract::<Dict>()
                .map_err(|e| Error::usage(describe_figment_error(&e)))?;
            let mut drop_keys = Vec::new();
            if !*trusted {
                let present: Vec<String> = probe
                    .extract::<Dict>()
                    .map(|d| d.keys().cloned().collect())
                    .unwrap_or_default();
                for key in present {
                    if !UNTRUSTED_ALLOWED.contains(&key.as_str()) && key != "api_key" {
                        warnings.push(format!(
                            "ignoring `{key}` in {}: the working directory's config may only set {}; \
                             to use it, pass `--config {}` or add this folder to `trusted_directories` \
                             in your user config",
                            display(path),
                            UNTRUSTED_ALLOWED
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            display(path),
                        ));
                        drop_keys.push(key);
                    }
                }
            }
            figment = figment.merge(Filtered {
                inner: yaml_file(path),
                drop_keys,
            });
            files.push(path.clone());
        }

        // Make sure every file parses before layering env and flags over it.
        figment
            .extract::<Dict>()
            .map_err(|e| Error::usage(describe_figment_error(&e)))?;

        // Deprecated API key anywhere.
        let early_region = flags
            .region
            .as_deref()
            .and_then(|r| r.parse().ok())
            .or_else(|| env::non_empty("CYBEDEFEND_REGION").and_then(|r| r.parse().ok()));
        if flags.api_key_given {
            return Err(deprecated_api_key("the --api-key flag", early_region));
        }
        if use_env && std::env::var_os(env::CYBEDEFEND_API_KEY).is_some() {
            return Err(deprecated_api_key(
                "the CYBEDEFEND_API_KEY environment variable",
                early_region,
            ));
        }
        if has_key(&figment, "api_key") {
            let origin = figment
                .find_metadata("api_key")
                .map(origin_of_metadata)
                .unwrap_or_else(|| "a config file".into());
            return Err(deprecated_api_key(
                &format!("`api_key:` in {origin}"),
                early_region,
            ));
        }

        // Environment.
        for key in env::CONFIG_ENV_KEYS.iter().filter(|_| use_env) {
            let var = env::var_for_key(key);
            if let Some(raw) = env::non_empty(&var) {
                let value = env_value(key, &var, &raw)?;
                figment = figment.merge(Single {
                    origin: var,
                    key,
                    value,
                });
            }
        }

        // Flags.
        let flag_values: [(&'static str, &str, Option<Value>); 6] = [
            (
                "api_url",
                "--api-url",
                flags.api_url.clone().map(Value::from),
            ),
            (
                "auth_endpoint",
                "--auth-endpoint",
                flags.auth_endpoint.clone().map(Value::from),
            ),
            ("region", "--region", flags.region.clone().map(Value::from)),
            ("ci", "--ci", flags.ci.map(Value::from)),
            ("debug", "--debug", flags.debug.map(Value::from)),
            (
                "project_id",
                "--project-id",
                flags.project_id.clone().map(Value::from),
            ),
        ];
        for (key, flag, value) in flag_values {
            if let Some(value) = value {
                figment = figment.merge(Single {
                    origin: flag.to_owned(),
                    key,
                    value,
                });
            }
        }

        let settings: Settings = figment
            .extract()
            .map_err(|e| Error::usage(describe_figment_error(&e)))?;

        // Policy: the system file's, tightened (never loosened) by the rest.
        let mut policy = Policy::default();
        if let Some(p) = first_existing(&sources.system, &mut Vec::new()) {
            let sys = Figment::from(yaml_file(&p));
            policy.require_secure_storage = sys
                .extract_inner::<bool>("credentials.require_secure_storage")
                .unwrap_or(false);
            policy.allowed_providers = sys
                .extract_inner::<Vec<String>>("credentials.allowed_providers")
                .unwrap_or_default();
            policy.origin = display(&p);
        }
        if settings.credentials.require_secure_storage == Some(true)
            && !policy.require_secure_storage
        {
            policy.require_secure_storage = true;
            policy.origin = figment
                .find_metadata("credentials.require_secure_storage")
                .map(origin_of_metadata)
                .unwrap_or_default();
        }
        if let Some(user) = settings
            .credentials
            .allowed_providers
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            if policy.allowed_providers.is_empty() {
                policy.allowed_providers = user.clone();
            } else {
                let narrowed: Vec<String> = policy
                    .allowed_providers
                    .iter()
                    .filter(|t| user.contains(t))
                    .cloned()
                    .collect();
                if narrowed.len() < user.len() {
                    warnings.push(format!(
                        "`credentials.allowed_providers` cannot add types the system policy ({}) does not allow; using {:?}",
                        policy.origin, narrowed
                    ));
                }
                policy.allowed_providers = narrowed;
            }
        }
        if policy.require_secure_storage
            && settings.credentials.require_secure_storage == Some(false)
        {
            warnings.push(format!(
                "`credentials.require_secure_storage: false` is ignored: the system policy ({}) requires secure storage",
                policy.origin
            ));
        }

        let loaded = Self {
            policy,
            figment,
            settings,
            warnings,
            files,
        };
        let mut unknown = loaded.unknown_key_warnings();
        let mut loaded = loaded;
        loaded.warnings.append(&mut unknown);
        if loaded
            .settings
            .http_timeout
            .is_some_and(|t| !(t.is_finite() && t > 0.0))
        {
            return Err(Error::usage(format!(
                "`http_timeout` (from {}) must be a positive number of seconds",
                loaded.origin("http_timeout").unwrap_or_default()
            )));
        }
        Ok(loaded)
    }

    /// Where a key's value came from: a file path, an environment variable, a flag, or `None`
    /// when the key is not set.
    pub fn origin(&self, key: &str) -> Option<String> {
        if !has_key(&self.figment, key) {
            return None;
        }
        self.figment.find_metadata(key).map(origin_of_metadata)
    }

    /// Every set leaf value, as dotted key, JSON value and origin. `pat` is shown as its
    /// fingerprint.
    pub fn entries(&self) -> Vec<(String, serde_json::Value, String)> {
        let mut out = Vec::new();
        if let Ok(dict) = self.figment.extract::<Dict>() {
            for (key, value) in dict {
                self.collect(&key, &value, &mut out);
            }
        }
        out
    }

    fn collect(
        &self,
        key: &str,
        value: &Value,
        out: &mut Vec<(String, serde_json::Value, String)>,
    ) {
        if let Value::Dict(_, dict) = value
            && !dict.is_empty()
            && key != "credentials.providers"
        {
            for (k, v) in dict {
                self.collect(&format!("{key}.{k}"), v, out);
            }
            return;
        }
        let origin = self
            .figment
            .get_metadata(value.tag())
            .map(origin_of_metadata)
            .unwrap_or_else(|| "default".into());
        let json = if key == "pat" {
            match &self.settings.pat {
                Some(p) => serde_json::Value::from(format!("<redacted {}>", p.fingerprint())),
                None => serde_json::Value::Null,
            }
        } else {
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
        };
        out.push((key.to_owned(), json, origin));
    }

    fn unknown_key_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(dict) = self.figment.extract::<Dict>() else {
            return out;
        };
        for (key, value) in &dict {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                out.push(self.unknown(key, value.tag(), KNOWN_KEYS, ""));
            }
            if key == "credentials"
                && let Value::Dict(_, sub) = value
            {
                for (k, v) in sub {
                    if !KNOWN_CREDENTIAL_KEYS.contains(&k.as_str()) {
                        out.push(self.unknown(k, v.tag(), KNOWN_CREDENTIAL_KEYS, "credentials."));
                    }
                }
            }
        }
        out
    }

    fn unknown(&self, key: &str, tag: Tag, known: &[&str], prefix: &str) -> String {
        let origin = self
            .figment
            .get_metadata(tag)
            .map(origin_of_metadata)
            .unwrap_or_else(|| "configuration".into());
        let mut msg = format!("unknown key `{prefix}{key}` in {origin} is ignored");
        if let Some(s) = suggest(key, known) {
            msg.push_str(&format!("; did you mean `{prefix}{s}`?"));
        }
        msg
    }

    /// Whether the effective config turns CI mode on.
    pub fn ci(&self) -> bool {
        self.settings.ci.unwrap_or(false)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Endpoints resolved from region and overrides, each with its origin.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Effective region.
    pub region: Region,
    /// Where the region came from (`--region`, a file, `credentials.json`, `default`).
    pub region_origin: String,
    /// API base URL (no trailing slash).
    pub api_url: String,
    /// Origin of `api_url`.
    pub api_url_origin: String,
    /// Auth server base URL (no trailing slash).
    pub auth_endpoint: String,
    /// Origin of `auth_endpoint`.
    pub auth_endpoint_origin: String,
    /// Token audience (`resource`): the API URL.
    pub resource: String,
    /// Web application base.
    pub app_url: String,
}

impl Endpoints {
    /// Region: `--region`, then `CYBEDEFEND_REGION`, then config `region`, then the region
    /// stored at login, then `us`. Explicit `api_url` / `auth_endpoint` override the region's URLs. Plain `http://`
    /// > is accepted only for loopback hosts.
    pub fn resolve(config: &LoadedConfig, stored_region: Option<Region>) -> Result<Self> {
        let (region, region_origin) = match &config.settings.region {
            Some(r) => {
                let origin = config.origin("region").unwrap_or_default();
                let region = r
                    .parse::<Region>()
                    .map_err(|e| Error::usage(format!("{e} (from {origin})")))?;
                (region, origin)
            }
            None => match stored_region {
                Some(r) => (r, "credentials.json (region stored at login)".to_owned()),
                None => (Region::Us, "default".to_owned()),
            },
        };
        let pick =
            |key: &str, value: &Option<String>, fallback: &str| -> Result<(String, String)> {
                match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    Some(v) => {
                        let origin = config.origin(key).unwrap_or_default();
                        check_url(key, v, &origin)?;
                        Ok((v.trim_end_matches('/').to_owned(), origin))
                    }
                    None => Ok((fallback.to_owned(), format!("region `{region}`"))),
                }
            };
        let (api_url, api_url_origin) =
            pick("api_url", &config.settings.api_url, region.api_url())?;
        let (auth_endpoint, auth_endpoint_origin) = pick(
            "auth_endpoint",
            &config.settings.auth_endpoint,
            region.auth_endpoint(),
        )?;
        let (app_url, _) = pick("app_url", &config.settings.app_url, region.app_url())?;
        Ok(Self {
            region,
            region_origin,
            resource: api_url.clone(),
            api_url,
            api_url_origin,
            auth_endpoint,
            auth_endpoint_origin,
            app_url,
        })
    }
}

/// Accepts `https://` anywhere and `http://` on loopback hosts only.
pub fn check_url(key: &str, value: &str, origin: &str) -> Result<url::Url> {
    let url = url::Url::parse(value).map_err(|e| {
        Error::usage(format!(
            "`{key}` {value} (from {origin}) is not a valid URL: {e}"
        ))
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if crate::http::is_loopback(&url) => Ok(url),
        "http" => Err(Error::usage(format!(
            "`{key}` {value} (from {origin}) uses plain http: tokens would travel unencrypted"
        ))
        .with_hint("use an https:// URL; plain http is accepted only for loopback addresses (localhost, 127.0.0.1, ::1)")),
        other => Err(Error::usage(format!(
            "`{key}` {value} (from {origin}) has scheme `{other}`; expected https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sources(dir: &Path) -> ConfigSources {
        ConfigSources {
            system: vec![dir.join("etc/config.yaml")],
            home: Home::at(dir.join("home")),
            cwd: dir.join("work"),
            explicit: None,
        }
    }

    #[test]
    fn layers_merge_with_origins_and_cwd_is_untrusted() {
        let t = tempfile::tempdir().unwrap();
        let s = sources(t.path());
        fs::create_dir_all(t.path().join("etc")).unwrap();
        fs::create_dir_all(t.path().join("home")).unwrap();
        fs::create_dir_all(t.path().join("work")).unwrap();
        fs::write(
            t.path().join("etc/config.yaml"),
            "region: eu\nbranch: sys\n",
        )
        .unwrap();
        fs::write(t.path().join("home/config.yaml"), "branch: user\n").unwrap();
        fs::write(
            t.path().join("work/config.yaml"),
            "project_id: p1\napi_url: https://evil.example\npat: cdp_evil_token\n",
        )
        .unwrap();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.settings.region.as_deref(), Some("eu"));
        assert_eq!(c.settings.branch.as_deref(), Some("user"));
        assert_eq!(c.settings.project_id.as_deref(), Some("p1"));
        assert!(c.settings.api_url.is_none());
        assert!(c.settings.pat.is_none());
        assert!(c.origin("branch").unwrap().ends_with("home/config.yaml"));
        assert_eq!(
            c.warnings.iter().filter(|w| w.contains("ignoring")).count(),
            2
        );

        // trusted once the user lists the folder
        fs::write(
            t.path().join("home/config.yaml"),
            format!(
                "trusted_directories: [{}]\n",
                t.path().join("work").display()
            ),
        )
        .unwrap();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.settings.api_url.as_deref(), Some("https://evil.example"));
    }

    #[test]
    fn flags_beat_files_and_name_themselves() {
        let t = tempfile::tempdir().unwrap();
        let s = sources(t.path());
        let flags = FlagValues {
            region: Some("eu".into()),
            ..FlagValues::default()
        };
        let c = LoadedConfig::load(&s, &flags).unwrap();
        assert_eq!(c.origin("region").as_deref(), Some("--region"));
        assert_eq!(c.origin("api_url"), None);
    }

    #[test]
    fn suggestions_catch_typos() {
        assert_eq!(suggest("regoin", KNOWN_KEYS), Some("region"));
        assert_eq!(suggest("zzzzzz", KNOWN_KEYS), None);
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(check_url("api_url", "http://127.0.0.1:8080", "x").is_ok());
        assert!(check_url("api_url", "http://localhost:1", "x").is_ok());
        assert!(check_url("api_url", "http://[::1]:1", "x").is_ok());
        assert!(check_url("api_url", "http://api.example.com", "x").is_err());
        assert!(check_url("api_url", "ftp://x", "x").is_err());
    }
}
