//! Profiles: named sets of settings under `profiles:` in the system or user configuration
//! (never the working directory's), for people with several accounts, regions or tenants.
//!
//! ```yaml
//! profiles:
//!   acme:
//!     region: us
//!     match: {directories: ["~/clients/acme/**"], git_remotes: ["github.com/acme/*"]}
//! ```
//!
//! The active profile is `--profile`, else `CYBEDEFEND_PROFILE`, else the first profile (user
//! file first, each file in its order) whose `match` fits the working directory (or a folder
//! above it) or a remote URL of the repository it is in, else none: the settings outside
//! `profiles:` alone, as without profiles. A profile's keys are laid over the system and user
//! files, under the working directory's file, the environment and flags. Its login is its own
//! ([`crate::home::Home::with_profile`]).

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile as FigmentProfile, Provider};

use super::keys;
use super::origin_of_metadata;
use crate::error::{Error, Result};
use crate::text::one_line;

/// Keys a profile may not set: they are about the machine or the user, not an account.
const NOT_IN_PROFILE: &[&str] = &["profiles", "plugins", "trusted_directories"];
/// The name that means "no profile": the settings outside `profiles:`.
pub(super) const DEFAULT: &str = "default";
/// Most remotes of one repository looked at.
const MAX_REMOTES: usize = 64;
/// Largest user or system config re-read for the order of its profiles.
const CONFIG_CAP: u64 = 4 << 20;
/// Largest git config read.
const GIT_CONFIG_CAP: u64 = 1 << 20;

/// The active profile and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveProfile {
    /// Its name.
    pub name: String,
    /// Why it is active: `--profile`, `CYBEDEFEND_PROFILE`, or the match that chose it.
    pub reason: String,
    /// Where it is defined.
    pub defined_in: String,
}

/// A profile asked for by name, and by what (`--profile`, `CYBEDEFEND_PROFILE`).
#[derive(Debug, Clone)]
pub struct Requested {
    /// As written under `profiles:`.
    pub name: String,
    /// `--profile` or `CYBEDEFEND_PROFILE`.
    pub origin: String,
}

/// Whether `name` can name a profile: 1 to 64 letters, digits, `-` and `_` (it becomes a
/// folder name and a keyring account).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A profile's settings as a figment layer, named after the profile.
pub(super) struct ProfileLayer {
    origin: String,
    dict: Dict,
}

impl Provider for ProfileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> figment::Result<Map<FigmentProfile, Dict>> {
        Ok(FigmentProfile::Default.collect(self.dict.clone()))
    }
}

/// What [`choose`] decided.
pub(super) struct Chosen {
    pub(super) active: ActiveProfile,
    pub(super) layer: ProfileLayer,
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(_, s)) => Ok(vec![s.clone()]),
        Some(Value::Array(_, items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::usage(format!("{what}: every entry must be a text")))
            })
            .collect(),
        Some(_) => Err(Error::usage(format!("{what} must be a list of texts"))),
    }
}

/// One profile's `match:`.
struct Matcher {
    directories: Vec<(String, globset::GlobMatcher)>,
    git_remotes: Vec<(String, globset::GlobMatcher)>,
}

fn glob(pattern: &str, what: &str, ignore_case: bool) -> Result<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .case_insensitive(ignore_case)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            Error::usage(format!(
                "{what}: `{}` is not a valid pattern: {}",
                one_line(pattern, 120),
                one_line(&e.to_string(), 120)
            ))
        })
}

impl Matcher {
    fn parse(name: &str, value: &Value, origin: &str, unknown: &mut Vec<String>) -> Result<Self> {
        let what = format!("`profiles.{name}.match` in {origin}");
        let Value::Dict(_, d) = value else {
            return Err(Error::usage(format!(
                "{what} must be a mapping with `directories` and/or `git_remotes`"
            )));
        };
        for k in d
            .keys()
            .filter(|k| !matches!(k.as_str(), "directories" | "git_remotes"))
        {
            let near = crate::text::suggest(k, &["directories", "git_remotes"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            unknown.push(format!(
                "unknown key `profiles.{name}.match.{}` in {origin}{near}; a match has `directories` and `git_remotes`, and this one is ignored",
                one_line(k, 60)
            ));
        }
        let mut directories = Vec::new();
        for p in strings(d.get("directories"), &format!("{what}: `directories`"))? {
            // `~/` becomes the home folder, taken literally (a `[` in it is no pattern).
            let text = match p
                .strip_prefix("~/")
                .or(if p == "~" { Some("") } else { None })
            {
                Some(rest) => {
                    let Some(home) = crate::env::expand_home(Path::new("~")) else {
                        return Err(Error::usage(format!(
                            "{what}: `{}` starts with `~`, but HOME is not set",
                            one_line(&p, 120)
                        )));
                    };
                    format!(
                        "{}/{rest}",
                        globset::escape(home.to_string_lossy().trim_end_matches('/'))
                    )
                }
                None => p.clone(),
            };
            if !Path::new(&text).is_absolute() {
                return Err(Error::usage(format!(
                    "{what}: `{}` is not an absolute folder (start it with `/` or `~/`)",
                    one_line(&p, 120)
                )));
            }
            // `dir/**` and `dir` both mean the folder and everything in it: folders above the
            // working directory are tried too.
            let trimmed = text.trim_end_matches("/**").trim_end_matches('/');
            let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
            directories.push((p.clone(), glob(trimmed, &what, false)?));
        }
        let mut git_remotes = Vec::new();
        for p in strings(d.get("git_remotes"), &format!("{what}: `git_remotes`"))? {
            let normal = normalize_remote(&p).unwrap_or_else(|| p.to_ascii_lowercase());
            // Hosts and the owners on GitHub or GitLab ignore case: so does the match.
            git_remotes.push((p.clone(), glob(&normal, &what, true)?));
        }
        Ok(Self {
            directories,
            git_remotes,
        })
    }

    /// Why its folders match, if they do.
    fn folder_reason(&self, cwd: &Path) -> Option<String> {
        let canon = cwd.canonicalize().ok();
        for (pattern, g) in &self.directories {
            for dir in std::iter::once(cwd).chain(canon.as_deref()) {
                if dir.ancestors().any(|a| g.is_match(a)) {
                    return Some(format!(
                        "the working directory is under `{}`",
                        one_line(pattern, 120)
                    ));
                }
            }
        }
        None
    }

    /// Why its git remotes match, if they do.
    fn remote_reason(&self, remotes: &dyn Fn() -> Vec<String>) -> Option<String> {
        if !self.git_remotes.is_empty() {
            for remote in remotes() {
                for (pattern, g) in &self.git_remotes {
                    if g.is_match(&remote) {
                        return Some(format!(
                            "the git remote {} matches `{}`",
                            one_line(&remote, 120),
                            one_line(pattern, 120)
                        ));
                    }
                }
            }
        }
        None
    }
}

/// `host/path` of a git remote URL, lower-case host, without scheme, user, port or `.git`:
/// `https://github.com/acme/api.git`, `git@github.com:acme/api` and
/// `ssh://git@github.com:22/acme/api` are all `github.com/acme/api`.
pub(super) fn normalize_remote(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = if url.contains("://") {
        let parsed = url::Url::parse(url).ok()?;
        (parsed.host_str()?.to_owned(), parsed.path().to_owned())
    } else {
        // scp-like: [user@]host:path
        let (authority, path) = url.split_once(':')?;
        if authority.contains('/') || path.split('/').any(|seg| seg == "..") {
            return None;
        }
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.to_owned(), path.to_owned())
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(format!("{}/{}", host.to_ascii_lowercase(), path))
}

/// Whether a file or folder of a repository belongs to this user (git's own rule for
/// trusting a repository: another user's `.git` above the working directory, in `/tmp` say,
/// must not choose the profile).
fn owned(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.uid() == rustix::process::geteuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// The git config file of the repository `cwd` is in (a worktree's `.git` file and a shared
/// `commondir` are followed), if there is one and it belongs to this user.
fn git_config(cwd: &Path) -> Option<PathBuf> {
    let dir = cwd
        .ancestors()
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())?;
    let dotgit = dir.join(".git");
    let meta = std::fs::metadata(&dotgit).ok()?;
    // The folder holding `.git`, the `.git` entry itself (a link, maybe) and what it points
    // to must all be this user's: another user's folder with a link to a real repository
    // must not choose either.
    let entry_owned = std::fs::symlink_metadata(&dotgit).is_ok_and(|m| owned(&m));
    let dir_owned = std::fs::metadata(dir).is_ok_and(|m| owned(&m));
    if !owned(&meta) || !entry_owned || !dir_owned {
        let shown = crate::home::tilde(&dotgit);
        tracing::debug!("profiles: {shown} belongs to another user; its remotes are not used");
        return None;
    }
    let gitdir = if meta.is_dir() {
        dotgit
    } else {
        let text = read_capped(&dotgit, GIT_CONFIG_CAP)?;
        let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
        dir.join(target)
    };
    let common = match read_capped(&gitdir.join("commondir"), 4096) {
        Some(c) => gitdir.join(c.trim()),
        None => gitdir,
    };
    // A repository has a HEAD; a lone `.git/config` is not one.
    if !common.join("HEAD").is_file() {
        return None;
    }
    let config = common.join("config");
    owned(&std::fs::metadata(&config).ok()?).then_some(config)
}

/// A text file of at most `cap` bytes (capped while reading, opened without blocking).
fn read_capped(path: &Path, cap: u64) -> Option<String> {
    let bytes = crate::fsutil::read_capped(path, cap, true).ok()?;
    String::from_utf8(bytes).ok()
}

/// The remote URLs of the repository `cwd` is in, normalised ([`normalize_remote`]).
pub(super) fn git_remotes(cwd: &Path) -> Vec<String> {
    let Some(text) = git_config(cwd).and_then(|p| read_capped(&p, GIT_CONFIG_CAP)) else {
        return Vec::new();
    };
    let mut in_remote = false;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_remote = line.to_ascii_lowercase().starts_with("[remote ");
            continue;
        }
        if !in_remote {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("url")
        {
            let v = v.trim().trim_matches('"');
            if let Some(n) = normalize_remote(v)
                && seen.insert(n.clone())
            {
                out.push(n);
                if out.len() >= MAX_REMOTES {
                    break;
                }
            }
        }
    }
    out
}

/// Profile names in the order they are tried: each file's `profiles:` in its own order, the
/// user (or `--config`) file first, then the system files.
fn ordered_names(files: &[PathBuf], defined: &Dict) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for file in files.iter().rev() {
        let Some(text) = read_capped(file, CONFIG_CAP) else {
            continue;
        };
        let Ok(serde_yaml::Value::Mapping(top)) = serde_yaml::from_str::<serde_yaml::Value>(&text)
        else {
            continue;
        };
        if let Some(serde_yaml::Value::Mapping(p)) = top.get("profiles") {
            for k in p.keys().filter_map(serde_yaml::Value::as_str) {
                if defined.contains_key(k) && !out.iter().any(|n| n == k) {
                    out.push(k.to_owned());
                }
            }
        }
    }
    // Anything the files did not show (it cannot happen, but never drop a profile).
    for k in defined.keys() {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out
}

/// Checks one profile's settings and returns them as a layer's values: unknown keys and keys
/// a profile may not set are reported and left out; a malformed `match` is an error.
fn check(
    name: &str,
    body: &Value,
    defined_in: &str,
    unknown: &mut Vec<String>,
) -> Result<(Dict, Option<Matcher>)> {
    let Value::Dict(_, body) = body else {
        return Err(Error::usage(format!(
            "`profiles.{name}` in {defined_in} must be a mapping of settings"
        )));
    };
    let mut dict = Dict::new();
    let mut matcher = None;
    for (k, v) in body {
        if k == "match" {
            matcher = Some(Matcher::parse(name, v, defined_in, unknown)?);
            continue;
        }
        match keys::find(k) {
            Some(key) if NOT_IN_PROFILE.contains(&key.name) => unknown.push(format!(
                "`{k}` in profile `{name}` ({defined_in}) is ignored: a profile sets account settings, not `{k}`; set it outside `profiles:`"
            )),
            Some(_) => {
                // A fresh, untagged copy: figment then tags it with the profile layer, so that
                // `config show --origin` says `profile `acme` (...)`.
                let fresh = Value::serialize(v).map_err(|e| {
                    Error::usage(format!(
                        "`profiles.{name}.{k}` in {defined_in}: {}",
                        one_line(&e.to_string(), 200)
                    ))
                })?;
                dict.insert(k.clone(), fresh);
            }
            None => {
                let known: Vec<&str> = keys::names()
                    .into_iter()
                    .filter(|n| !NOT_IN_PROFILE.contains(n))
                    .chain(["match"])
                    .collect();
                let near = crate::text::suggest(k, &known)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                unknown.push(format!(
                    "unknown key `profiles.{name}.{}` in {defined_in}{near}; it is ignored",
                    one_line(k, 80)
                ));
            }
        }
    }
    // Every value is checked for its type now, not on the day the profile applies.
    let layer = ProfileLayer {
        origin: format!("profile `{name}` ({defined_in})"),
        dict: dict.clone(),
    };
    Figment::new()
        .merge(layer)
        .extract::<super::Settings>()
        .map_err(|e| Error::usage(super::describe_figment_error(&e)))?;
    let origin = format!("profile `{name}` ({defined_in})");
    for key in ["api_url", "auth_endpoint", "app_url"] {
        if let Some(url) = dict.get(key).and_then(Value::as_str) {
            super::net::check_url(key, url, &origin)?;
        }
    }
    if let Some(ca) = dict.get("ca_cert").and_then(Value::as_str) {
        let expanded = crate::env::expand_home(Path::new(ca));
        if !expanded.is_some_and(|p| p.is_absolute()) {
            return Err(Error::usage(format!(
                "`ca_cert` `{}` (from {origin}) is not an absolute path: it would be read from whatever directory a command runs in",
                one_line(ca, 120)
            ))
            .with_hint("give an absolute path, or one under `~/`"));
        }
    }
    if let Some(proxy) = dict.get("proxy").and_then(Value::as_str)
        && !proxy.trim().eq_ignore_ascii_case("none")
    {
        super::net::ProxyUrl::parse(
            proxy,
            &format!("`proxy` of profile `{name}` ({defined_in})"),
        )?;
    }
    Ok((dict, matcher))
}

/// Picks the active profile from the system and user layers (`files` are theirs) and returns
/// its layer. Errors: a profile asked for that does not exist (the known ones are listed), an
/// invalid name, a malformed `match`.
pub(super) fn choose(
    figment: &Figment,
    files: &[PathBuf],
    requested: Option<&Requested>,
    cwd: &Path,
    unknown: &mut Vec<String>,
) -> Result<Option<Chosen>> {
    let defined: Dict = if figment.find_value("profiles").is_ok() {
        figment
            .extract_inner::<Dict>("profiles")
            .map_err(|e| Error::usage(super::describe_figment_error(&e)))?
    } else {
        Dict::new()
    };
    let origin_of = |name: &str| {
        figment
            .find_metadata(&format!("profiles.{name}"))
            .map(origin_of_metadata)
            .unwrap_or_else(|| "the configuration".to_owned())
    };
    let mut lower = std::collections::HashSet::new();
    for name in defined.keys() {
        if !lower.insert(name.to_ascii_lowercase()) {
            return Err(Error::usage(format!(
                "`profiles` in {} has two profiles whose names differ only in case (`{}`): their logins would share a folder on some systems",
                origin_of(name),
                one_line(name, 80)
            ))
            .with_hint("rename one of them"));
        }
        if name == DEFAULT {
            return Err(Error::usage(format!(
                "`profiles` in {} defines a profile named `{DEFAULT}`: that name is reserved for the settings outside `profiles:` (`--profile {DEFAULT}` chooses them)",
                origin_of(name)
            ))
            .with_hint("rename the profile"));
        }
        if !valid_name(name) {
            return Err(Error::usage(format!(
                "`profiles` in {} has a profile named `{}`: a profile name is 1 to 64 letters, digits, `-` or `_`",
                origin_of(name),
                one_line(name, 80)
            )));
        }
    }
    // Every profile is checked, not only the active one: a typo shows before the day it
    // matters (and `config validate` refuses it).
    let mut settings: std::collections::BTreeMap<String, (Dict, Option<Matcher>)> =
        std::collections::BTreeMap::new();
    for (name, body) in &defined {
        let origin = origin_of(name);
        settings.insert(name.clone(), check(name, body, &origin, unknown)?);
    }
    let (name, reason) = match requested {
        // `--profile default`: the settings outside `profiles:`, whatever matches.
        Some(r) if r.name == DEFAULT => return Ok(None),
        Some(r) => {
            if !valid_name(&r.name) {
                return Err(Error::usage(format!(
                    "`{}` (from {}) is not a profile name: 1 to 64 letters, digits, `-` or `_`",
                    one_line(&r.name, 80),
                    r.origin
                )));
            }
            if !defined.contains_key(&r.name) {
                let known: Vec<&str> = defined.keys().map(String::as_str).collect();
                let e = Error::usage(format!(
                    "there is no profile `{}` (from {})",
                    r.name, r.origin
                ));
                return Err(if known.is_empty() {
                    e.with_hint("no profiles are defined; add a `profiles:` section to ~/.cybedefend/config.yaml (see config-examples/profiles.yaml)")
                } else {
                    let near = known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(&r.name))
                        .copied()
                        .or_else(|| crate::text::suggest(&r.name, &known))
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    e.with_hint(format!(
                        "{near}the profiles defined are: {}",
                        known.join(", ")
                    ))
                });
            }
            (r.name.clone(), r.origin.clone())
        }
        None => {
            if defined.is_empty() {
                return Ok(None);
            }
            // Folders first (the user's own layout), then git remotes (which whoever set up
            // the repository wrote); in each, the first profile in file order.
            let order = ordered_names(files, &defined);
            let matchers: Vec<(&String, &Matcher)> = order
                .iter()
                .filter_map(|n| {
                    settings
                        .get(n)
                        .and_then(|(_, m)| m.as_ref())
                        .map(|m| (n, m))
                })
                .collect();
            let remotes = std::cell::OnceCell::new();
            let remotes_of_cwd = || remotes.get_or_init(|| git_remotes(cwd)).clone();
            let found = matchers
                .iter()
                .find_map(|(n, m)| m.folder_reason(cwd).map(|why| ((*n).clone(), why)))
                .or_else(|| {
                    matchers.iter().find_map(|(n, m)| {
                        m.remote_reason(&remotes_of_cwd)
                            .map(|why| ((*n).clone(), why))
                    })
                });
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        }
    };
    let defined_in = origin_of(&name);
    let dict = settings.remove(&name).map(|(d, _)| d).unwrap_or_default();
    Ok(Some(Chosen {
        layer: ProfileLayer {
            origin: format!("profile `{name}` ({defined_in})"),
            dict,
        },
        active: ActiveProfile {
            name,
            reason,
            defined_in: crate::home::tilde(Path::new(&defined_in)),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_normalise_to_host_and_path() {
        for url in [
            "https://github.com/acme/api.git",
            "https://user:tok@GitHub.com/acme/api/",
            "git@github.com:acme/api.git",
            "ssh://git@github.com:22/acme/api",
            "git://github.com/acme/api",
        ] {
            assert_eq!(
                normalize_remote(url).as_deref(),
                Some("github.com/acme/api"),
                "{url}"
            );
        }
        assert_eq!(normalize_remote("/srv/repo.git"), None);
    }

    #[test]
    fn names_are_safe_as_folder_names() {
        assert!(valid_name("acme-prod_2"));
        for bad in ["", "../x", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
