//! Every environment variable the CLI reads, and the only place that reads them (`clippy.toml`
//! forbids `std::env::var*` elsewhere). Config keys set by `CYBEDEFEND_<KEY>` are listed in the
//! key table (`config::KEYS`; their names come from [`var_for_key`]); every other variable's
//! name is a constant here.
//!
//! A variable that is set but not valid UTF-8 is an error naming it, never silently "unset":
//! falling back to the production URL or another home folder would surprise.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is the one place that reads the environment"
)]

use std::ffi::OsString;

use crate::error::{Error, Result};

/// Personal Access Token used by the `env` provider (documented priority 2).
pub const CYBEDEFEND_PAT: &str = "CYBEDEFEND_PAT";
/// Moves the `~/.cybedefend` folder (credentials, user config, token cache).
pub const CYBEDEFEND_HOME: &str = "CYBEDEFEND_HOME";
/// A test system configuration file, read *in addition to* `/etc/cybedefend/config.yaml` (it
/// can tighten the machine policy, never loosen it).
pub const CYBEDEFEND_SYSTEM_CONFIG: &str = "CYBEDEFEND_SYSTEM_CONFIG";
/// Deprecated API key of the official CLI: its presence is an error with migration steps.
pub const CYBEDEFEND_API_KEY: &str = "CYBEDEFEND_API_KEY";
/// Disables colour in human output (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Set by most CI systems; with no terminal it means nobody can answer a prompt.
pub const CI: &str = "CI";
/// The user's home folder.
pub const HOME: &str = "HOME";
/// GitHub Actions' job summary file (`scan` appends its summary there in CI).
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// The profile to use (`--profile` wins over it).
pub const CYBEDEFEND_PROFILE: &str = "CYBEDEFEND_PROFILE";

/// The proxy for https requests, each spelling in the order it is looked for (the first of
/// `HTTPS_PROXY`, then `ALL_PROXY`), upper case before lower.
pub const HTTPS_PROXY_VARS: [(&str, &str); 2] =
    [("HTTPS_PROXY", "https_proxy"), ("ALL_PROXY", "all_proxy")];
/// Hosts reached without a proxy.
pub const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];
/// The proxy for plain http requests: never used (tokens would cross it in clear), only named.
pub const HTTP_PROXY_VARS: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
/// A PEM file of certificate authorities, added to the system's.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Folders of PEM files of certificate authorities, added to the system's.
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";

/// 1Password's service account token.
pub const OP_SERVICE_ACCOUNT_TOKEN: &str = "OP_SERVICE_ACCOUNT_TOKEN";
/// 1Password Connect's token.
pub const OP_CONNECT_TOKEN: &str = "OP_CONNECT_TOKEN";
/// The prefix of 1Password CLI session variables (`OP_SESSION_<account>`).
pub const OP_SESSION_PREFIX: &str = "OP_SESSION_";

/// Variables that commonly hold secrets: their values are masked in a helper's quoted stderr.
pub const KNOWN_SECRET_VARS: &[&str] = &[
    CYBEDEFEND_PAT,
    CYBEDEFEND_API_KEY,
    OP_SERVICE_ACCOUNT_TOKEN,
    OP_CONNECT_TOKEN,
    "VAULT_TOKEN",
    "VAULT_SECRET_ID",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
];

/// The environment variable that sets a config key.
pub fn var_for_key(key: &str) -> String {
    format!("CYBEDEFEND_{}", key.to_ascii_uppercase())
}

/// A variable's value; `Ok(None)` when unset, an error naming it when it is not UTF-8.
pub fn var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::usage(format!(
            "the environment variable {name} is not valid UTF-8"
        ))
        .with_hint(format!("set {name} to a UTF-8 value, or unset it"))),
    }
}

/// A variable's value, trimmed, with an empty value treated as unset (as the official CLI
/// does); an error when it is not UTF-8.
pub fn non_empty(name: &str) -> Result<Option<String>> {
    Ok(var(name)?
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty()))
}

/// Whether a variable is set to anything non-empty (a flag such as `CI` or `NO_COLOR`).
pub fn is_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Whether a variable is present at all, even empty (the deprecated API key).
pub fn is_present(name: &str) -> bool {
    std::env::var_os(name).is_some()
}

/// A variable as an OS string (paths such as `HOME`); `None` when unset or empty.
pub fn path_var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// A configured path with a leading `~/` (or `~` alone) made the home folder's; other paths
/// as they are (`~user` and `$VARIABLES` are not expanded). `None` for a `~` path when `HOME`
/// is not set.
pub fn expand_home(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let text = path.to_string_lossy();
    let rest = match text.strip_prefix("~/") {
        Some(rest) => rest,
        None if text == "~" => "",
        None => return Some(path.to_owned()),
    };
    path_var(HOME).map(|home| std::path::PathBuf::from(home).join(rest))
}

/// A boolean variable: `1/true/yes/on` or `0/false/no/off` (any case); unset or empty is
/// `None`; anything else an error naming the variable.
pub fn bool_var(name: &str) -> Result<Option<bool>> {
    match non_empty(name)? {
        None => Ok(None),
        Some(v) => parse_bool(&v)
            .map(Some)
            .ok_or_else(|| Error::usage(format!("{name} must be true or false, not `{v}`"))),
    }
}

/// `1/true/yes/on` or `0/false/no/off`, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Every variable of this process, names and values as they are (the environment `exec`
/// passes on, less what it must not).
pub fn vars_os() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

/// Names of every variable of this process, as they are (to remove some from a helper's
/// environment).
pub fn names_os() -> Vec<OsString> {
    std::env::vars_os().map(|(k, _)| k).collect()
}

/// Names of every variable set in this process (for the 1Password session check and for
/// keeping `CYBEDEFEND_*` secrets out of helpers' environments).
pub fn names() -> Vec<String> {
    std::env::vars_os()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect()
}
