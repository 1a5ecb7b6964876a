//! Every environment variable the CLI reads, in one place.

/// Personal Access Token used by the `env` provider (documented priority 2).
pub const CYBEDEFEND_PAT: &str = "CYBEDEFEND_PAT";
/// Moves the `~/.cybedefend` folder (credentials, user config, token cache).
pub const CYBEDEFEND_HOME: &str = "CYBEDEFEND_HOME";
/// Replaces the system configuration file (`/etc/cybedefend/config.yaml`).
pub const CYBEDEFEND_SYSTEM_CONFIG: &str = "CYBEDEFEND_SYSTEM_CONFIG";
/// Deprecated API key of the official CLI: its presence is an error with migration steps.
pub const CYBEDEFEND_API_KEY: &str = "CYBEDEFEND_API_KEY";
/// Disables colour in human output (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Set by most CI systems; with no terminal it means nobody can answer a prompt.
pub const CI: &str = "CI";

/// Config keys that the environment may set, as `CYBEDEFEND_<KEY>`.
pub const CONFIG_ENV_KEYS: &[&str] = &[
    "api_url",
    "auth_endpoint",
    "region",
    "project_id",
    "branch",
    "app_url",
    "ci",
    "debug",
    "http_timeout",
];

/// The environment variable that sets a config key.
pub fn var_for_key(key: &str) -> String {
    format!("CYBEDEFEND_{}", key.to_ascii_uppercase())
}

/// Reads a variable, treating an empty value as unset (as the official CLI does).
pub fn non_empty(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => None,
    }
}
