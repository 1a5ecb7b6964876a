//! The table of configuration keys: one entry per key says its name, the environment variable
//! and global flag that set it, whether the untrusted working-directory file may set it, and
//! its type. Loading, trust filtering, unknown-key warnings, `config show` and the CLI's global
//! flags are all driven from [`KEYS`]; adding a key is one entry here plus its field in
//! [`super::Settings`]. The fields are read from `Settings`' own deserializer
//! ([`fields_of`]), and a test fails when a key has no field or a field no key (a key without
//! its field would be accepted and silently dropped).

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
    /// A whole number.
    Count,
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

/// Whether the working directory's `./config.yaml` (a repository's file) may set a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromProject {
    /// Yes, trusted or not: it describes the project (`region`, `project_id`, `branch`).
    Always,
    /// Only when the folder is trusted (`trusted_directories`).
    WhenTrusted,
    /// Never, even in a trusted folder: it decides where the credential travels or what code
    /// runs (`proxy`, `ca_cert`, `plugins`), and a repository must not choose that.
    Never,
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
    /// Whether the working directory's `./config.yaml` may set it.
    pub project: FromProject,
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
        project: FromProject::WhenTrusted,
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
        self.project = FromProject::Always;
        self
    }
    const fn never_from_project(mut self) -> Self {
        self.project = FromProject::Never;
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
        "http_concurrency",
        KeyType::Count,
        "Most requests in flight at once when a command fetches many pages, `results` (1 to 32, default 8)",
    )
    .env(),
    key(
        "proxy",
        KeyType::Proxy,
        "HTTPS proxy for every request (http://[user:password@]host:port), or `none`; overrides HTTPS_PROXY/ALL_PROXY",
    )
    .flag("proxy")
    .env()
    .never_from_project(),
    key(
        "ca_cert",
        KeyType::Path,
        "PEM file of extra certificate authorities (a company proxy's or private CA), added to the system's trust store",
    )
    .env()
    .never_from_project(),
    key(
        "ca_cert_only",
        KeyType::Bool,
        "Trust only the CA files given (`ca_cert`, SSL_CERT_FILE, SSL_CERT_DIR), not the system's store",
    )
    .env()
    .never_from_project(),
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
    )
    .never_from_project(),
    key(
        "profiles",
        KeyType::Section,
        "Named sets of settings (region, api_url, project_id, credentials, ...) chosen by --profile, CYBEDEFEND_PROFILE or `match`",
    )
    .never_from_project(),
    key(
        "trusted_directories",
        KeyType::PathList,
        "Folders whose ./config.yaml is trusted (system and user files only)",
    ),
    key(
        "project_config",
        KeyType::Bool,
        "Read the working directory's ./config.yaml for project settings (default true; false when an application's own config.yaml lives there)",
    )
    .env()
    .never_from_project(),
    key(
        "scan",
        KeyType::Section,
        "What `scan` uploads: `exclude` (.gitignore-syntax patterns left out) and `secret_files` (warn, exclude or fail)",
    )
    .project(),
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

/// Keys under `scan:`.
pub const SCAN_KEYS: &[&str] = &["exclude", "secret_files"];

/// The keys of a section (`credentials`, `plugins`, `scan`); `None` for other keys (profiles
/// have their own checks).
pub(super) fn sub_keys(section: &str) -> Option<&'static [&'static str]> {
    match section {
        "credentials" => Some(CREDENTIAL_KEYS),
        "plugins" => Some(PLUGIN_KEYS),
        "scan" => Some(SCAN_KEYS),
        _ => None,
    }
}

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Names of every top-level key.
pub(super) fn names() -> Vec<&'static str> {
    KEYS.iter().map(|k| k.name).collect()
}

#[cfg(test)]
/// The field names `T`'s derived deserializer reads (its `#[serde(rename)]`s applied): asked
/// of the type itself, so a field added, renamed or removed is seen here.
pub(super) fn fields_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names taken")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut f = Fields(None);
    let _ = T::deserialize(&mut f);
    f.0.unwrap_or(&[])
}

#[cfg(test)]
/// What differs between the keys of a table and the fields of its struct: "key `x` has no
/// field" and "field `y` has no key", one line each.
pub(super) fn mismatch(keys: &[&str], fields: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = keys
        .iter()
        .filter(|k| !fields.contains(k))
        .map(|k| format!("key `{k}` has no field: a value given for it would be dropped"))
        .collect();
    out.extend(
        fields
            .iter()
            .filter(|f| !keys.contains(f))
            .map(|f| format!("field `{f}` has no key: it could never be set")),
    );
    out
}
