//! Layered configuration with an origin for every value.
//!
//! Layers, lowest first: the system file (`/etc/cybedefend/config.yaml`; a test may add a
//! second one with `$CYBEDEFEND_SYSTEM_CONFIG`); the user file (`~/.cybedefend/config.yaml`);
//! the working directory's `./config.yaml` (official CLI compatibility, **untrusted**, see
//! [`trust`]); `CYBEDEFEND_*` environment variables; command-line flags. `--config FILE`
//! replaces the user and working-directory files with that one file, which is then trusted
//! (the system file, and so the machine policy, stays).
//!
//! Which keys exist, which variable and flag set each one, and which the working directory may
//! set, is one table: [`KEYS`].

mod keys;
mod layers;
pub mod net;
mod policy;
mod profiles;
mod trust;
mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::value::{Dict, Value};
use figment::{Figment, Metadata, Source};
use serde::{Deserialize, Serialize};

use crate::Secret;
use crate::duration::Span;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::region::Region;
use crate::secret::normalize_pat;

pub use keys::{CREDENTIAL_KEYS, KEYS, Key, KeyType, PLUGIN_KEYS, SCAN_KEYS, find as key};
pub use layers::describe_figment_error;
pub use policy::Policy;
pub use profiles::{
    ActiveProfile, Requested as RequestedProfile, valid_name as valid_profile_name,
};

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

/// Where exchanged access tokens are cached between commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenCacheMode {
    /// `token-cache.json` (0600) in the cybedefend home: the default.
    File,
    /// The OS keyring: no bearer token in a plaintext file (the default under
    /// `require_secure_storage`).
    Keyring,
    /// No cache: every command exchanges its PAT again.
    Off,
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
    /// Per-provider time limit (`10s`, `500ms`, or seconds).
    #[serde(default)]
    pub timeout: Option<Span>,
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
    /// Policy: refuse plaintext sources.
    #[serde(default)]
    pub require_secure_storage: Option<bool>,
    /// Policy: provider types allowed (empty = all).
    #[serde(default)]
    pub allowed_providers: Option<Vec<String>>,
    /// Where exchanged access tokens are cached.
    #[serde(default)]
    pub token_cache: Option<TokenCacheMode>,
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

/// `plugins:` settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginsSettings {
    /// Folders searched for plugins besides `~/.cybedefend/plugins`.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// The allow-list: honoured from the system file only (see [`Policy::plugin_allow`]).
    #[serde(default)]
    pub allow: Option<Vec<String>>,
}

/// What `scan` does with files that look like secrets (`.env`, private keys, keystores),
/// from the loosest to the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretFiles {
    /// Name each one on stderr before the upload, and upload it (default).
    #[default]
    Warn,
    /// Leave them out of the archive, naming each one.
    Exclude,
    /// Refuse to upload while there is one (exit 2), naming each one.
    Fail,
}

impl SecretFiles {
    /// Its name in config files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Exclude => "exclude",
            Self::Fail => "fail",
        }
    }
}

/// `scan:` settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanSettings {
    /// Patterns (.gitignore syntax) left out of every scan; added to `--exclude`. The lists of
    /// every layer add up (a repository's own list cannot drop the user's).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// What to do with files that look like secrets.
    #[serde(default)]
    pub secret_files: Option<SecretFiles>,
}

/// Most requests in flight at once that `http_concurrency` may ask for.
pub const MAX_HTTP_CONCURRENCY: usize = 32;

fn deserialize_concurrency<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<usize>, D::Error> {
    let n = Option::<u64>::deserialize(d)?;
    match n {
        Some(n) if !(1..=MAX_HTTP_CONCURRENCY as u64).contains(&n) => {
            Err(serde::de::Error::custom(format!(
                "must be between 1 and {MAX_HTTP_CONCURRENCY} (not {n})"
            )))
        }
        n => Ok(n.map(|n| n as usize)),
    }
}

/// The merged settings: one field per key of [`KEYS`] (`keys::fields_of` reads the field
/// names from this type's deserializer; a test compares them with the table).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Settings {
    /// API base URL override.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Auth server override (self-hosted).
    #[serde(default)]
    pub auth_endpoint: Option<String>,
    /// Web-app base for links.
    #[serde(default)]
    pub app_url: Option<String>,
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
    pub region: Option<Region>,
    /// CI mode: plain output, nothing waits for a person.
    #[serde(default)]
    pub ci: Option<bool>,
    /// Debug logging to stderr (secrets redacted).
    #[serde(default)]
    pub debug: Option<bool>,
    /// Time limit for each HTTP request (default 30 s).
    #[serde(default)]
    pub http_timeout: Option<Span>,
    /// Most requests in flight at once (`results`' pages), 1 to 32.
    #[serde(default, deserialize_with = "deserialize_concurrency")]
    pub http_concurrency: Option<usize>,
    /// HTTPS proxy URL, or `none`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// PEM file of extra certificate authorities.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Trust only the CA files given.
    #[serde(default)]
    pub ca_cert_only: Option<bool>,
    /// Credential chain and providers.
    #[serde(default)]
    pub credentials: CredentialsSettings,
    /// Plugin folders and allow-list.
    #[serde(default)]
    pub plugins: PluginsSettings,
    /// Folders whose `./config.yaml` is trusted (system and user files only).
    #[serde(default)]
    pub trusted_directories: Vec<PathBuf>,
    /// Whether the working directory's `./config.yaml` is read (default true).
    #[serde(default)]
    pub project_config: Option<bool>,
    /// What `scan` uploads.
    #[serde(default)]
    pub scan: ScanSettings,
    /// Profiles, by name (the active one is already laid over the other settings).
    #[serde(default)]
    pub profiles: BTreeMap<String, serde_json::Value>,
}

/// Values given on the command line for keys that have a global flag, with the flag's name.
#[derive(Debug, Clone, Default)]
pub struct FlagValues {
    values: Vec<(&'static Key, String)>,
    /// `--api-key` was given (deprecated; always an error).
    pub api_key_given: bool,
}

impl FlagValues {
    /// Records a flag's value for its key (booleans as `true`).
    pub fn set(&mut self, key: &'static Key, value: impl Into<String>) {
        self.values.retain(|(k, _)| k.name != key.name);
        self.values.push((key, value.into()));
    }

    /// The value given for a key.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where to look for configuration.
#[derive(Debug, Clone)]
pub struct ConfigSources {
    /// The system file candidates (`/etc/cybedefend/config.yaml|yml`); the first that exists.
    pub system: Vec<PathBuf>,
    /// A second system file (`$CYBEDEFEND_SYSTEM_CONFIG`, for tests and images): it can tighten
    /// the policy of the first, never loosen it.
    pub system_extra: Option<PathBuf>,
    /// The cybedefend home (user file).
    pub home: Home,
    /// The working directory (`./config.yaml|yml`).
    pub cwd: PathBuf,
    /// `--config FILE`: replaces the user and working-directory files.
    pub explicit: Option<PathBuf>,
    /// Whether `CYBEDEFEND_*` variables apply (not for `config validate FILE`).
    pub use_env: bool,
    /// The profile asked for (`--profile`, `CYBEDEFEND_PROFILE`).
    pub profile: Option<profiles::Requested>,
}

impl ConfigSources {
    /// The standard locations for this process.
    pub fn standard(home: Home, explicit: Option<PathBuf>) -> Result<Self> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::failure(format!("cannot read the working directory: {e}")))?;
        Ok(Self {
            system: vec![
                PathBuf::from("/etc/cybedefend/config.yaml"),
                PathBuf::from("/etc/cybedefend/config.yml"),
            ],
            system_extra: crate::env::non_empty(crate::env::CYBEDEFEND_SYSTEM_CONFIG)?
                .map(PathBuf::from),
            home,
            cwd,
            explicit,
            use_env: true,
            profile: crate::env::non_empty(crate::env::CYBEDEFEND_PROFILE)?.map(|name| {
                profiles::Requested {
                    name,
                    origin: crate::env::CYBEDEFEND_PROFILE.to_owned(),
                }
            }),
        })
    }

    /// One file on its own, trusted, without environment or other files (`config validate
    /// FILE`): the machine policy of this host does not apply either.
    pub fn only(file: PathBuf) -> Self {
        let nowhere =
            std::env::temp_dir().join(format!("cybedefend-no-such-folder-{}", std::process::id()));
        Self {
            system: Vec::new(),
            system_extra: None,
            home: Home::at(nowhere.join("home")),
            cwd: nowhere,
            explicit: Some(file),
            use_env: false,
            profile: None,
        }
    }

    /// One file alone, in the role of the system configuration (`config validate --system`).
    pub fn only_system(file: PathBuf) -> Self {
        let mut s = Self::only(file);
        s.system = s.explicit.take().into_iter().collect();
        s
    }
}

/// The merged configuration with its origins.
#[derive(Debug)]
pub struct LoadedConfig {
    /// Machine policy (system files, tightened by other layers).
    pub policy: Policy,
    figment: Figment,
    /// Typed settings.
    pub settings: Settings,
    /// Things the user should know (ignored keys, shadowed files, loosening refused).
    pub warnings: Vec<String>,
    /// Things worth a line but no warning: what of the working directory's `config.yaml` (often
    /// an application's own file) was not read, at most one line per file.
    pub notes: Vec<String>,
    /// Keys that no layer may set, with where they were and a suggestion: warnings for
    /// commands, errors for `config validate`.
    pub unknown: Vec<String>,
    /// Files that were read, lowest layer first.
    pub files: Vec<PathBuf>,
    /// The active profile and why, if any.
    pub profile: Option<ActiveProfile>,
    /// Credentials defined outside the active profile, set aside (see
    /// [`LoadedConfig::confine_to_profile`]): what, and where it was defined.
    pub outside_profile: Vec<String>,
}

impl LoadedConfig {
    /// Loads every layer. Errors name the file, variable or flag at fault.
    pub fn load(sources: &ConfigSources, flags: &FlagValues) -> Result<Self> {
        let built = layers::build(sources, flags)?;
        let settings: Settings = built
            .figment
            .extract()
            .map_err(|e| Error::usage(describe_figment_error(&e)))?;
        let mut loaded = Self {
            policy: built.policy,
            figment: built.figment,
            settings,
            warnings: built.warnings,
            notes: built.notes,
            unknown: built.unknown,
            files: built.files,
            profile: built.profile,
            outside_profile: Vec::new(),
        };
        loaded.apply_user_policy();
        loaded.find_unknown_keys();
        loaded.resolve_plugin_dirs()?;
        loaded.resolve_ca_cert()?;
        loaded.confine_to_profile();
        // A proxy URL is checked here, so that `config validate` refuses it too.
        if let Some(p) = &loaded.settings.proxy
            && !p.trim().eq_ignore_ascii_case("none")
        {
            crate::config::net::ProxyUrl::parse(p, &loaded.origin("proxy").unwrap_or_default())?;
        }
        Ok(loaded)
    }

    /// A profile is a separate account: inside one, only its own credentials are consulted
    /// (its `pat:`, its providers and chain, its stored login and keyring entry, which live
    /// under its name), besides `--pat` and `CYBEDEFEND_PAT`, which the user gives for this
    /// command. A `pat:` or a provider defined outside the profile (the user's, the system's
    /// or a working directory's file) is set aside, so that a personal PAT never goes to
    /// another account's endpoints; [`LoadedConfig::outside_profile`] says what was.
    fn confine_to_profile(&mut self) {
        let Some(profile) = &self.profile else {
            return;
        };
        let mark = format!("profile `{}`", profile.name);
        let inside =
            |origin: &Option<String>| origin.as_deref().is_some_and(|o| o.starts_with(&mark));
        let mut aside = Vec::new();
        let origin = self.origin("pat");
        if self.settings.pat.is_some() && !inside(&origin) {
            aside.push(format!("`pat` from {}", origin.unwrap_or_default()));
            self.settings.pat = None;
        }
        let mut removed = Vec::new();
        let names: Vec<String> = self
            .settings
            .credentials
            .providers
            .keys()
            .cloned()
            .collect();
        for name in names {
            let origin = self.origin(&format!("credentials.providers.{name}.type"));
            if !inside(&origin) {
                aside.push(format!(
                    "provider `{name}` from {}",
                    origin.unwrap_or_default()
                ));
                self.settings.credentials.providers.remove(&name);
                removed.push(name);
            }
        }
        let origin = self.origin("credentials.chain");
        if self.settings.credentials.chain.is_some() && !inside(&origin) {
            aside.push(format!(
                "`credentials.chain` from {}",
                origin.unwrap_or_default()
            ));
            self.settings.credentials.chain = None;
        }
        if let Some(chain) = &mut self.settings.credentials.chain {
            chain.retain(|n| !removed.contains(n));
        }
        self.outside_profile = aside;
    }

    /// `ca_cert`: `~/` means the home folder. A relative path is refused wherever it comes
    /// from (the variable included): it would be looked up in whatever directory a command
    /// runs in, so a repository could supply the CA.
    fn resolve_ca_cert(&mut self) -> Result<()> {
        if let Some(path) = &self.settings.ca_cert {
            let origin = self.origin("ca_cert").unwrap_or_default();
            let expanded = crate::env::expand_home(path).ok_or_else(|| {
                Error::usage(format!(
                    "`ca_cert` (from {origin}) starts with `~`, but HOME is not set"
                ))
            })?;
            if expanded.is_relative() {
                return Err(Error::usage(format!(
                    "`ca_cert` `{}` (from {origin}) is not an absolute path: it would be read from whatever directory a command runs in (a repository's PEM would become a trusted CA)",
                    crate::text::one_line(&path.to_string_lossy(), 120)
                ))
                .with_hint(if origin == crate::env::var_for_key("ca_cert") {
                    "give an absolute path: export CYBEDEFEND_CA_CERT=\"$PWD/ca.pem\""
                } else {
                    "give an absolute path, or one under `~/`"
                }));
            }
            self.settings.ca_cert = Some(expanded);
        }
        Ok(())
    }

    /// The network settings, with their origins.
    pub fn net_settings(&self) -> net::NetSettings {
        use net::Setting;
        let with = |key: &str| self.origin(key).unwrap_or_else(|| "config".to_owned());
        net::NetSettings {
            proxy: self.settings.proxy.clone().map(|value| Setting {
                value,
                origin: with("proxy"),
            }),
            ca_cert: self.settings.ca_cert.clone().map(|value| Setting {
                value,
                origin: with("ca_cert"),
            }),
            ca_cert_only: self.settings.ca_cert_only.map(|value| Setting {
                value,
                origin: with("ca_cert_only"),
            }),
        }
    }

    /// `plugins.dirs`: `~/` means the home folder; a relative folder is refused, since it
    /// would be looked up in whatever directory a command runs in (a repository could then
    /// supply a plugin).
    fn resolve_plugin_dirs(&mut self) -> Result<()> {
        let origin = self.origin("plugins.dirs").unwrap_or_default();
        for dir in &mut self.settings.plugins.dirs {
            let text = dir.to_string_lossy().into_owned();
            let Some(expanded) = crate::env::expand_home(dir) else {
                return Err(Error::usage(format!(
                    "`plugins.dirs` entry `{}` starts with `~`, but HOME is not set",
                    crate::text::one_line(&text, 120)
                )));
            };
            *dir = expanded;
            if dir.is_relative() {
                return Err(Error::usage(format!(
                    "`plugins.dirs` entry `{}` in {} is not an absolute folder (only a leading `~/` is expanded, not `~user` or `$VARIABLES`): it would be searched in whatever directory a command runs in",
                    crate::text::one_line(&text, 120),
                    origin
                ))
                .with_hint("give an absolute folder, or one under `~/`"));
            }
        }
        Ok(())
    }

    /// Lower layers may tighten the system policy, never loosen it.
    fn apply_user_policy(&mut self) {
        let creds = &self.settings.credentials;
        if creds.require_secure_storage == Some(true) && !self.policy.require_secure_storage {
            self.policy.require_secure_storage = true;
            self.policy.origin = self
                .origin("credentials.require_secure_storage")
                .unwrap_or_default();
        }
        if self.policy.require_secure_storage && creds.require_secure_storage == Some(false) {
            self.warnings.push(format!(
                "`credentials.require_secure_storage: false` is ignored: the system policy ({}) requires secure storage",
                self.policy.origin
            ));
        }
        if let Some(list) = creds.allowed_providers.clone().filter(|l| !l.is_empty()) {
            let refused = self.policy.narrow(&list);
            if !refused.is_empty() {
                self.warnings.push(format!(
                    "`credentials.allowed_providers` cannot add types the system policy ({}) does not allow ({}); using {:?}",
                    self.policy.origin,
                    refused.join(", "),
                    self.policy.allowed_providers
                ));
            }
        }
        if self.settings.plugins.allow.is_some()
            && self.policy.plugin_allow != self.settings.plugins.allow
        {
            self.warnings.push(format!(
                "`plugins.allow` in {} is ignored: only the system configuration decides which plugins may load",
                self.origin("plugins.allow").unwrap_or_default()
            ));
        }
        if self.policy.require_secure_storage
            && self.settings.credentials.token_cache == Some(TokenCacheMode::File)
        {
            self.warnings.push(format!(
                "`credentials.token_cache: file` is ignored: the system policy ({}) keeps access tokens out of plaintext files",
                self.policy.origin
            ));
            self.settings.credentials.token_cache = Some(TokenCacheMode::Keyring);
        }
    }

    /// Where exchanged access tokens are cached: the setting, else `keyring` under
    /// `require_secure_storage`, else `file`.
    pub fn token_cache(&self) -> TokenCacheMode {
        self.settings
            .credentials
            .token_cache
            .unwrap_or(if self.policy.require_secure_storage {
                TokenCacheMode::Keyring
            } else {
                TokenCacheMode::File
            })
    }

    /// Where a key's value came from: a file path, an environment variable, a flag, or `None`
    /// when the key is not set.
    pub fn origin(&self, key: &str) -> Option<String> {
        self.figment.find_value(key).ok()?;
        self.figment.find_metadata(key).map(origin_of_metadata)
    }

    /// Every set value of a known key, as dotted key, JSON value and origin. `pat` is shown as
    /// its fingerprint, and provider options that look like secrets are masked.
    pub fn entries(&self) -> Vec<(String, serde_json::Value, String)> {
        let mut out = Vec::new();
        let Ok(dict) = self.figment.extract::<Dict>() else {
            return out;
        };
        for key in KEYS {
            let Some(value) = dict.get(key.name) else {
                continue;
            };
            // Profiles are listed by name only (their settings may hold secrets); the active
            // one's values show under their own keys.
            if key.name == "profiles" {
                if let Value::Dict(_, sub) = value {
                    let names: Vec<&str> = sub.keys().map(String::as_str).collect();
                    let (k, _, origin) = self.entry("profiles", value);
                    out.push((k, serde_json::json!(names), origin));
                }
                continue;
            }
            if key.ty == KeyType::Section {
                if let Value::Dict(_, sub) = value {
                    for (k, v) in sub {
                        if keys::sub_keys(key.name)
                            .is_some_and(|known| !known.contains(&k.as_str()))
                        {
                            continue;
                        }
                        out.push(self.entry(&format!("{}.{k}", key.name), v));
                    }
                }
                continue;
            }
            out.push(self.entry(key.name, value));
        }
        out
    }

    fn entry(&self, key: &str, value: &Value) -> (String, serde_json::Value, String) {
        let origin = self
            .figment
            .get_metadata(value.tag())
            .map(origin_of_metadata)
            .unwrap_or_else(|| "default".into());
        let json = if key == "proxy" {
            match value.as_str() {
                Some(s) => serde_json::Value::from(net::mask_userinfo(s)),
                None => serde_json::Value::Null,
            }
        } else if key == "pat" {
            match &self.settings.pat {
                Some(p) => serde_json::Value::from(format!("<redacted {}>", p.fingerprint())),
                None => serde_json::Value::Null,
            }
        } else {
            let mut v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
            mask_secrets(&mut v, false);
            v
        };
        (key.to_owned(), json, origin)
    }

    fn find_unknown_keys(&mut self) {
        let Ok(dict) = self.figment.extract::<Dict>() else {
            return;
        };
        let known = keys::names();
        for (key, value) in &dict {
            if keys::find(key).is_none() {
                let msg = self.unknown_message(key, value, &known, "");
                self.unknown.push(msg);
            }
            let known_sub = keys::sub_keys(key);
            if let (Some(known_sub), Value::Dict(_, sub)) = (known_sub, value) {
                let prefix = format!("{key}.");
                for (k, v) in sub {
                    if !known_sub.contains(&k.as_str()) {
                        let msg = self.unknown_message(k, v, known_sub, &prefix);
                        self.unknown.push(msg);
                    }
                }
            }
        }
    }

    fn unknown_message(&self, key: &str, value: &Value, known: &[&str], prefix: &str) -> String {
        let origin = self
            .figment
            .get_metadata(value.tag())
            .map(origin_of_metadata)
            .unwrap_or_else(|| "configuration".into());
        unknown_key_message(&format!("{prefix}{key}"), &origin, known, prefix)
    }

    /// Whether the effective config turns CI mode on.
    pub fn ci(&self) -> bool {
        self.settings.ci.unwrap_or(false)
    }
}

/// A config file's text through everything that reads it (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_text(text: &str) -> Option<LoadedConfig> {
    use figment::providers::{Format, Yaml};
    let figment = Figment::from(Yaml::string(text));
    if let Ok(settings) = figment.extract::<Settings>() {
        let mut loaded = LoadedConfig {
            policy: Policy::default(),
            figment,
            settings,
            warnings: Vec::new(),
            notes: Vec::new(),
            unknown: Vec::new(),
            files: Vec::new(),
            profile: None,
            outside_profile: Vec::new(),
        };
        loaded.apply_user_policy();
        loaded.find_unknown_keys();
        let _ = loaded.entries();
        return Some(loaded);
    }
    None
}

/// "unknown key `regoin` in FILE is ignored; did you mean `region`?"
pub(crate) fn unknown_key_message(key: &str, origin: &str, known: &[&str], prefix: &str) -> String {
    let short = key.strip_prefix(prefix).unwrap_or(key);
    let mut msg = format!("unknown key `{key}` in {origin} is ignored");
    if let Some(s) = crate::text::suggest(short, known) {
        msg.push_str(&format!("; did you mean `{prefix}{s}`?"));
    }
    msg
}

/// Masks values that look like secrets in provider options: everything under `env:` and
/// string values of keys named like a token, secret, password or key.
fn mask_secrets(v: &mut serde_json::Value, under_env: bool) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let lower = k.to_ascii_lowercase();
                let secret_name = crate::secret::redact::is_secret_name(k);
                if under_env || (secret_name && (child.is_string() || child.is_number())) {
                    if child.is_string() || child.is_number() {
                        *child = serde_json::Value::from("<masked>");
                    } else {
                        mask_secrets(child, true);
                    }
                } else if lower == "command" {
                    mask_arguments(child);
                } else {
                    mask_secrets(child, lower == "env");
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|c| mask_secrets(c, under_env)),
        _ => {}
    }
}

/// A command's arguments with secret-looking values masked: `--token=VALUE`, `-token VALUE`.
fn mask_arguments(v: &mut serde_json::Value) {
    let serde_json::Value::Array(args) = v else {
        return;
    };
    let secret_flag = |s: &str| {
        s.starts_with('-') && crate::secret::redact::is_secret_name(s.trim_start_matches('-'))
    };
    let mut mask_next = false;
    for arg in args.iter_mut() {
        let Some(s) = arg.as_str().map(str::to_owned) else {
            mask_next = false;
            continue;
        };
        if mask_next {
            *arg = serde_json::Value::from("<masked>");
            mask_next = false;
        } else if let Some((name, _)) = s.split_once('=')
            && (secret_flag(name) || crate::secret::redact::is_secret_name(name))
        {
            *arg = serde_json::Value::from(format!("{name}=<masked>"));
        } else {
            mask_next = secret_flag(&s);
        }
    }
}

pub(crate) fn origin_of_metadata(md: &Metadata) -> String {
    match &md.source {
        Some(Source::File(p)) => crate::home::tilde(p),
        Some(Source::Custom(s)) => s.clone(),
        _ => md.name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn sources(dir: &Path) -> ConfigSources {
        ConfigSources {
            system: vec![dir.join("etc/config.yaml")],
            system_extra: None,
            home: Home::at(dir.join("home")),
            cwd: dir.join("work"),
            explicit: None,
            use_env: false,
            profile: None,
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
            "project_id: p1\napi_url: https://evil.example\npat: cdp_evil_token\nregoin: us\n",
        )
        .unwrap();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.settings.region, Some(Region::Eu));
        assert_eq!(c.settings.branch.as_deref(), Some("user"));
        assert_eq!(c.settings.project_id.as_deref(), Some("p1"));
        assert!(c.settings.api_url.is_none());
        assert!(c.settings.pat.is_none());
        assert!(c.origin("branch").unwrap().ends_with("home/config.yaml"));
        // one note names what was left out: the keys it may not set, and the typo with a
        // suggestion; no warning
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c.unknown.is_empty(), "{:?}", c.unknown);
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        for part in [
            "`api_url` (",
            "`pat` (",
            "`regoin` (did you mean `region`?)",
        ] {
            assert!(c.notes[0].contains(part), "{part}: {:?}", c.notes);
        }
        assert!(!c.entries().iter().any(|(k, _, _)| k == "regoin"));

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
    fn the_first_matching_profile_in_file_order_wins_and_its_values_lie_under_the_cwd_file() {
        let t = tempfile::tempdir().unwrap();
        let mut s = sources(t.path());
        let work = t.path().join("work");
        fs::create_dir_all(work.join("sub")).unwrap();
        fs::create_dir_all(t.path().join("home")).unwrap();
        // `zeta` comes first in the file, though not in alphabetical order
        fs::write(
            t.path().join("home/config.yaml"),
            format!(
                "branch: user\nprofiles:\n  zeta: {{branch: zeta, region: eu, match: {{directories: ['{w}']}}}}\n  alpha: {{branch: alpha, match: {{directories: ['{w}/**']}}}}\n",
                w = work.display()
            ),
        )
        .unwrap();
        fs::write(work.join("config.yaml"), "branch: repo\n").unwrap();
        s.cwd = work.join("sub");
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        let p = c.profile.clone().unwrap();
        assert_eq!(p.name, "zeta");
        assert!(p.reason.contains("working directory is under"), "{p:?}");
        assert_eq!(c.settings.region, Some(Region::Eu));
        assert!(c.origin("region").unwrap().starts_with("profile `zeta` ("));
        // the working directory's own file is not read from `sub`: the profile's branch holds
        assert_eq!(c.settings.branch.as_deref(), Some("zeta"));
        s.cwd = work.clone();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(
            c.settings.branch.as_deref(),
            Some("repo"),
            "./config.yaml lies over the profile"
        );
        // a folder match beats an earlier profile's git-remote match
        fs::write(
            t.path().join("home/config.yaml"),
            format!(
                "profiles:\n  remote: {{branch: r, match: {{git_remotes: ['github.com/acme/*']}}}}\n  folder: {{branch: f, match: {{directories: ['{w}']}}}}\n",
                w = work.display()
            ),
        )
        .unwrap();
        fs::create_dir_all(work.join(".git")).unwrap();
        fs::write(work.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            work.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/acme/x.git\n",
        )
        .unwrap();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.profile.as_ref().map(|p| p.name.as_str()), Some("folder"));
        fs::remove_file(work.join("config.yaml")).unwrap();
        s.cwd = t.path().join("elsewhere");
        fs::create_dir_all(s.cwd.join(".git")).unwrap();
        fs::write(s.cwd.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            s.cwd.join(".git/config"),
            "[remote \"origin\"]\n\turl = git@GitHub.com:Acme/x\n",
        )
        .unwrap();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.profile.as_ref().map(|p| p.name.as_str()), Some("remote"));
        // elsewhere: no profile, the plain settings
        fs::write(
            t.path().join("home/config.yaml"),
            "branch: user\nprofiles: {x: {match: {directories: ['/nowhere']}}}\n",
        )
        .unwrap();
        s.cwd = t.path().to_owned();
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert!(c.profile.is_none());
        assert_eq!(c.settings.branch.as_deref(), Some("user"));
    }

    #[test]
    fn flags_beat_files_and_name_themselves() {
        let t = tempfile::tempdir().unwrap();
        let s = sources(t.path());
        let mut flags = FlagValues::default();
        flags.set(keys::find("region").unwrap(), "eu");
        let c = LoadedConfig::load(&s, &flags).unwrap();
        assert_eq!(c.origin("region").as_deref(), Some("--region"));
        assert_eq!(c.origin("api_url"), None);
    }

    #[test]
    fn suggestions_catch_typos() {
        assert_eq!(
            crate::text::suggest("regoin", &keys::names()),
            Some("region")
        );
        assert_eq!(crate::text::suggest("zzzzzz", &keys::names()), None);
    }

    #[test]
    fn every_settings_field_is_a_key_and_every_key_a_field() {
        let top: Vec<&str> = KEYS
            .iter()
            .filter(|k| k.ty != KeyType::Deprecated)
            .map(|k| k.name)
            .collect();
        for (table, fields) in [
            (&top[..], keys::fields_of::<Settings>()),
            (
                keys::CREDENTIAL_KEYS,
                keys::fields_of::<CredentialsSettings>(),
            ),
            (keys::PLUGIN_KEYS, keys::fields_of::<PluginsSettings>()),
            (keys::SCAN_KEYS, keys::fields_of::<ScanSettings>()),
        ] {
            assert!(!fields.is_empty());
            let wrong = keys::mismatch(table, fields);
            assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        }
    }

    #[test]
    fn a_key_without_its_field_fails_the_guard() {
        // `Settings` as it would be with `branch` forgotten
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Forgotten {
            region: Option<String>,
            project_id: Option<String>,
            #[serde(rename = "ci")]
            ci_mode: Option<bool>,
        }
        let fields = keys::fields_of::<Forgotten>();
        assert_eq!(fields, ["region", "project_id", "ci"]);
        let wrong = keys::mismatch(&["region", "project_id", "branch", "ci"], fields);
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(wrong[0].contains("`branch` has no field"), "{wrong:?}");
        let wrong = keys::mismatch(&["region", "ci"], fields);
        assert!(wrong[0].contains("`project_id` has no key"), "{wrong:?}");
    }

    #[test]
    fn no_extra_system_file_can_loosen_the_machine_policy() {
        let t = tempfile::tempdir().unwrap();
        let mut s = sources(t.path());
        fs::create_dir_all(t.path().join("etc")).unwrap();
        fs::write(
            t.path().join("etc/config.yaml"),
            "credentials:\n  require_secure_storage: true\n  allowed_providers: [env, vault]\n",
        )
        .unwrap();
        let loosen = t.path().join("loosen.yaml");
        fs::write(
            &loosen,
            "credentials:\n  require_secure_storage: false\n  allowed_providers: [env, vault, exec]\n",
        )
        .unwrap();
        for extra in [
            PathBuf::from("/dev/null"),
            loosen,
            t.path().join("missing.yaml"),
        ] {
            s.system_extra = Some(extra.clone());
            let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
            assert!(c.policy.require_secure_storage, "{extra:?}");
            assert_eq!(
                c.policy.allowed_providers,
                vec!["env", "vault"],
                "{extra:?}"
            );
        }
        // it can tighten
        let tighten = t.path().join("tighten.yaml");
        fs::write(&tighten, "credentials:\n  allowed_providers: [vault]\n").unwrap();
        s.system_extra = Some(tighten);
        let c = LoadedConfig::load(&s, &FlagValues::default()).unwrap();
        assert_eq!(c.policy.allowed_providers, vec!["vault"]);
    }

    #[test]
    fn provider_secrets_are_masked_in_entries() {
        let mut v = serde_json::json!({"op": {"type": "exec", "command": ["vault", "-token=hvs.CMD1", "--password", "pw12345", "read"], "env": {"OP_SERVICE_ACCOUNT_TOKEN": "ops_abc"},
            "auth": {"role_id_env": "X", "secret_id": "s3cr3t", "token_file": "/t"}}});
        mask_secrets(&mut v, false);
        let text = v.to_string();
        assert!(
            !text.contains("ops_abc")
                && !text.contains("s3cr3t")
                && !text.contains("hvs.CMD1")
                && !text.contains("pw12345"),
            "{text}"
        );
        assert!(text.contains("\"read\""), "{text}");
        assert!(
            text.contains("\"role_id_env\":\"X\"") && text.contains("/t"),
            "{text}"
        );
    }
}
