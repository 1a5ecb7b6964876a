//! The table of configuration keys: one entry per key says its name, the environment variable
//! and global flag that set it, whether the untrusted working-directory file may set it, and
//! its type. Loading, trust filtering, unknown-key warnings, `config show` and the CLI's global
//! flags are all driven from [`KEYS`]; adding a key is one entry here plus its field in
//! [`super::Settings`] (a test checks that the two agree).

/// How a key's value is read from an environment variable or a flag, and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Free text.
    Text,
    /// A URL (checked when endpoints are resolved: https, or http on loopback only).
    Url,
    /// `true`/`false` (`1/0`, `yes/no`, `on/off`).
    Bool,
    /// A duration: `90s`, `5m`, `1h`, `2h30m`, or a number of seconds.
    Duration,
    /// `us` or `eu`.
    Region,
    /// A secret (shown as its fingerprint).
    Secret,
    /// A list of paths.
    PathList,
    /// A file path (`~/` expanded).
    Path,
    /// A proxy URL (shown without its user name and password), or `none`.
    Proxy,
    /// A nested section (`credentials`, `plugins`).
    Section,
    /// A key that is refused wherever it appears (the deprecated `api_key`).
    Deprecated,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Name in YAML and in `config show` (`api_url`).
    pub name: &'static str,
    /// Global command-line flag, without the dashes (`api-url`).
    pub flag: Option<&'static str>,
    /// Whether `CYBEDEFEND_<NAME>` sets it.
    pub env: bool,
    /// Whether the working directory's `./config.yaml` may set it without being trusted.
    pub project: bool,
    /// Its type.
    pub ty: KeyType,
    /// One line of help (the flag's `--help` text).
    pub about: &'static str,
}

impl Key {
    /// The environment variable that sets this key, if any.
    pub fn env_var(&self) -> Option<String> {
        self.env.then(|| crate::env::var_for_key(self.name))
    }
}

const fn key(name: &'static str, ty: KeyType, about: &'static str) -> Key {
    Key {
        name,
        flag: None,
        env: false,
        project: false,
        ty,
        about,
    }
}

impl Key {
    const fn flag(mut self, flag: &'static str) -> Self {
        self.flag = Some(flag);
        self
    }
    const fn env(mut self) -> Self {
        self.env = true;
        self
    }
    const fn project(mut self) -> Self {
        self.project = true;
        self
    }
}

/// Every top-level key, in the order `config show` lists them.
pub const KEYS: &[Key] = &[
    key(
        "region",
        KeyType::Region,
        "Platform region: us or eu [default: the region stored at login, else us]",
    )
    .flag("region")
    .env()
    .project(),
    key(
        "api_url",
        KeyType::Url,
        "API base URL, overriding the region's (self-hosted or test platforms)",
    )
    .flag("api-url")
    .env(),
    key(
        "auth_endpoint",
        KeyType::Url,
        "Auth server base URL, overriding the region's (self-hosted)",
    )
    .flag("auth-endpoint")
    .env(),
    key(
        "app_url",
        KeyType::Url,
        "Web application base URL, for links",
    )
    .env(),
    key(
        "project_id",
        KeyType::Text,
        "Default project for every --project-id",
    )
    .env()
    .project(),
    key("branch", KeyType::Text, "Default branch for `scan`")
        .env()
        .project(),
    key(
        "ci",
        KeyType::Bool,
        "CI mode: plain output, nothing waits for a person",
    )
    .flag("ci")
    .env()
    .project(),
    key(
        "debug",
        KeyType::Bool,
        "Log the credential chain and every HTTP call to stderr (secrets are never logged)",
    )
    .flag("debug")
    .env()
    .project(),
    key(
        "http_timeout",
        KeyType::Duration,
        "Time limit for each HTTP request (default 30s)",
    )
    .env(),
    key(
        "proxy",
        KeyType::Proxy,
        "HTTPS proxy for every request (http://[user:password@]host:port), or `none`; overrides HTTPS_PROXY/ALL_PROXY",
    )
    .flag("proxy")
    .env(),
    key(
        "ca_cert",
        KeyType::Path,
        "PEM file of extra certificate authorities (a company proxy's or private CA), added to the system's trust store",
    )
    .env(),
    key(
        "ca_cert_only",
        KeyType::Bool,
        "Trust only the CA files given (`ca_cert`, SSL_CERT_FILE, SSL_CERT_DIR), not the system's store",
    )
    .env(),
    key(
        "pat",
        KeyType::Secret,
        "Personal Access Token (the `config` provider)",
    ),
    key(
        "credentials",
        KeyType::Section,
        "Credential chain, providers and policy",
    ),
    key(
        "plugins",
        KeyType::Section,
        "Plugin folders (`dirs`) and the machine's allow-list (`allow`, system file only)",
    ),
    key(
        "profiles",
        KeyType::Section,
        "Named sets of settings (region, api_url, project_id, credentials, ...) chosen by --profile, CYBEDEFEND_PROFILE or `match`",
    ),
    key(
        "trusted_directories",
        KeyType::PathList,
        "Folders whose ./config.yaml is trusted (system and user files only)",
    ),
    key(
        "api_key",
        KeyType::Deprecated,
        "Deprecated API key: refused with migration steps",
    ),
];

/// Keys under `credentials:`.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "chain",
    "providers",
    "require_secure_storage",
    "allowed_providers",
    "token_cache",
];

/// Keys under `plugins:`.
pub const PLUGIN_KEYS: &[&str] = &["dirs", "allow"];

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Names of every top-level key.
pub(super) fn names() -> Vec<&'static str> {
    KEYS.iter().map(|k| k.name).collect()
}

/// Keys the working-directory file may never set, even in a trusted folder: they decide where
/// the credential travels (a repository must not route it through a host of its choosing).
pub(super) const NEVER_FROM_PROJECT: &[&str] =
    &["plugins", "proxy", "ca_cert", "ca_cert_only", "profiles"];

/// Keys the working-directory file may set without being trusted.
pub(super) fn project_keys() -> Vec<&'static str> {
    KEYS.iter().filter(|k| k.project).map(|k| k.name).collect()
}
