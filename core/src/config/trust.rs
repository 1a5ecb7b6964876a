//! The working directory's `./config.yaml` is read from repositories nobody vetted, often in
//! CI, and `config.yaml` is also a common name for an application's own settings. From it, only
//! keys marked `project` in [`super::KEYS`] apply (`project_id`, `branch`, `region`, `ci`,
//! `debug`, `scan`); keys that decide where a token is sent or what runs are ignored unless the
//! folder is listed in `trusted_directories` of the system or user file, or the file is passed
//! with `--config`. Even a trusted working-directory file never adds, points to or pins a
//! plugin: `plugins` and providers of type `plugin` are dropped from it, with a warning.
//!
//! Nothing in this file is ever an error: a file with no key of ours is not read at all, and
//! unknown keys, invalid values and keys it may not set are left out with one note that names
//! them and says how to stop reading the file (`project_config: false`).

use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{keys, layers, yaml};

/// The working-directory file with its restricted, unknown and invalid keys removed.
pub(super) struct ProjectLayer {
    inner: yaml::YamlFile,
    drop_keys: Vec<String>,
    drop_providers: Vec<String>,
    drop_scan: Vec<String>,
    /// `scan.exclude` of the layers below, kept before the file's own patterns.
    lower_exclude: Vec<String>,
}

impl Provider for ProjectLayer {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in &self.drop_keys {
                dict.remove(key);
            }
            if let Some(Value::Dict(_, creds)) = dict.get_mut("credentials")
                && let Some(Value::Dict(_, providers)) = creds.get_mut("providers")
            {
                for name in &self.drop_providers {
                    providers.remove(name);
                }
            }
            if let Some(Value::Dict(_, scan)) = dict.get_mut("scan") {
                for key in &self.drop_scan {
                    scan.remove(key);
                }
                if let Some(Value::Array(_, patterns)) = scan.get_mut("exclude") {
                    let own = std::mem::take(patterns);
                    patterns.extend(self.lower_exclude.iter().map(|p| Value::from(p.clone())));
                    patterns.extend(own.into_iter().filter(allowed_pattern));
                }
            }
        }
        Ok(data)
    }
}

/// What the file had that was left out, and what of it applies, for the one note.
#[derive(Default)]
struct LeftOut {
    /// Keys that are not ours (with a suggestion when one is near).
    not_ours: Vec<String>,
    /// Keys of ours with a value that does not fit, and why.
    invalid: Vec<String>,
    /// Keys of ours a working directory's file may not set, and why.
    not_here: Vec<String>,
    /// Keys of ours that apply.
    used: Vec<String>,
}

impl LeftOut {
    fn note(&self, shown: &str) -> Option<String> {
        let list = |v: &[String]| v.join(", ");
        let mut parts = Vec::new();
        if !self.not_ours.is_empty() {
            parts.push(format!("not cybedefend settings: {}", list(&self.not_ours)));
        }
        if !self.invalid.is_empty() {
            parts.push(list(&self.invalid));
        }
        if !self.not_here.is_empty() {
            parts.push(list(&self.not_here));
        }
        if parts.is_empty() {
            return None;
        }
        let used = if self.used.is_empty() {
            "nothing of it is used".to_owned()
        } else {
            format!("using {}", list(&self.used))
        };
        Some(format!(
            "{shown}: {used}; ignoring {}; to stop reading this file, set `project_config: false` in ~/.cybedefend/config.yaml or CYBEDEFEND_PROJECT_CONFIG=false",
            parts.join("; ")
        ))
    }
}

/// Reads `path` as the working-directory layer: `None` when nothing of it applies (it is not
/// ours, or cannot be read). What was left out, and what applies, goes to `notes` (one line);
/// attempts to add code that runs go to `warnings`. A file that cannot be read or parsed and
/// names no key of ours (an application's binary, huge, linked or templated file) is not
/// mentioned but in the debug log.
pub(super) fn project_layer(
    path: &Path,
    trusted: bool,
    lower: &Figment,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Option<ProjectLayer> {
    // `./config.yaml` when it is the process's own working directory's (it is, but in tests)
    let shown = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if std::env::current_dir().is_ok_and(|cwd| cwd == dir) => {
            format!("./{}", name.to_string_lossy())
        }
        _ => crate::home::tilde(path),
    };
    let file = match yaml::load_no_link(path) {
        Ok(file) => file,
        Err(e) => {
            tracing::debug!("config: not reading {shown}: {}", e.message());
            return None;
        }
    };
    let dict = match Figment::from(file.provider()).extract::<Dict>() {
        Ok(dict) => dict,
        Err(e) => {
            // an application's template (`{{ .Values }}`) is not ours: a note only when the
            // text names a key of ours
            if file.mentions_any(&keys::names()) {
                notes.push(format!(
                    "ignoring {shown}: it is not a YAML mapping ({}); to stop reading this file, set `project_config: false` in ~/.cybedefend/config.yaml",
                    layers::error_kind(&e)
                ));
            } else {
                tracing::debug!("config: not reading {shown}: not a YAML mapping");
            }
            return None;
        }
    };
    if !dict.keys().any(|k| keys::find(k).is_some()) {
        tracing::debug!("config: not reading {shown}: no cybedefend key in it");
        return None;
    }
    let plugin_providers = code_providers(&dict, lower);
    let mut drop_providers = Vec::new();
    if trusted {
        for name in &plugin_providers {
            warnings.push(format!(
                "ignoring provider `{name}` in {shown}: a working-directory config never adds, points to or pins a plugin, even when trusted, and never defines or changes a provider that runs code (an exec command, or such a provider's `config`, `timeout` or `on_error`); define it in your user or system config"
            ));
            drop_providers.push(name.clone());
        }
    }
    let known = keys::names();
    let mut left = LeftOut::default();
    let mut drop_keys = Vec::new();
    for (name, value) in &dict {
        let Some(k) = keys::find(name) else {
            left.not_ours
                .push(match crate::text::suggest(name, &known) {
                    Some(s) => format!("`{name}` (did you mean `{s}`?)"),
                    None => format!("`{name}`"),
                });
            drop_keys.push(name.clone());
            continue;
        };
        let refused = match k {
            k if k.ty == keys::KeyType::Deprecated => Some(
                "(API keys are no longer accepted; a Personal Access Token goes in `pat:` of ~/.cybedefend/config.yaml)",
            ),
            k if k.name == "plugins" => {
                warnings.push(format!(
                    "ignoring `plugins` in {shown}: a working-directory config never points to a plugin, even when trusted; set `plugins` in ~/.cybedefend/config.yaml"
                ));
                drop_keys.push(name.clone());
                continue;
            }
            k if k.name == "project_config" => Some(
                "(it decides whether this very file is read: set it in ~/.cybedefend/config.yaml)",
            ),
            k if k.project == keys::FromProject::Never => Some(
                "(never read from a working directory's file: it decides where your credential goes)",
            ),
            k if k.name == "credentials" && !trusted && !plugin_providers.is_empty() => {
                warnings.push(format!(
                    "ignoring `credentials` in {shown}: the working directory's config may not set it, and never a plugin or exec provider ({}), even in a trusted folder; define such providers in ~/.cybedefend/config.yaml",
                    plugin_providers
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                drop_keys.push(name.clone());
                continue;
            }
            k if k.project != keys::FromProject::Always && !trusted => Some(
                "(read from a working directory's file only in a folder listed in `trusted_directories`)",
            ),
            _ => None,
        };
        if let Some(why) = refused {
            left.not_here.push(format!("`{name}` {why}"));
            drop_keys.push(name.clone());
            continue;
        }
        match fits(name, value) {
            Ok(()) => left.used.push(format!("`{name}`")),
            Err(why) => {
                left.invalid.push(format!("`{name}` ({why})"));
                drop_keys.push(name.clone());
            }
        }
    }
    let mut drop_scan = Vec::new();
    if let Some(Value::Dict(_, scan)) = dict.get("scan")
        && !drop_keys.iter().any(|k| k == "scan")
    {
        drop_scan = tighter_scan(scan, lower, &mut left);
    }
    if let Some(note) = left.note(&shown) {
        notes.push(note);
    }
    Some(ProjectLayer {
        inner: file.provider(),
        drop_keys,
        drop_providers,
        drop_scan,
        lower_exclude: lower
            .extract_inner::<Vec<String>>("scan.exclude")
            .unwrap_or_default(),
    })
}

/// Whether `value` is a valid value of key `name`, and if not, why (without the value): of
/// the key's type (a section a mapping), not empty (an empty value would erase the user's),
/// and a project id one that can be sent.
fn fits(name: &str, value: &Value) -> Result<(), String> {
    let empty = match value {
        Value::Empty(..) => true,
        Value::String(_, s) => s.trim().is_empty(),
        _ => false,
    };
    if empty {
        return Err("no value".into());
    }
    if keys::find(name).is_some_and(|k| k.ty == keys::KeyType::Section)
        && !matches!(value, Value::Dict(..))
    {
        return Err("expected a mapping of its settings".into());
    }
    if name == "project_id"
        && let Some(why) = value.as_str().and_then(crate::text::id_problem)
    {
        return Err(format!("the project id {why}"));
    }
    let mut one = Dict::new();
    one.insert(name.to_owned(), value.clone());
    Figment::from(figment::providers::Serialized::defaults(one))
        .extract::<super::Settings>()
        .map(drop)
        .map_err(|e| layers::error_kind(&e))
}

/// `scan:` of the working directory may add patterns and tighten `secret_files`, never loosen
/// what the layers below chose, re-include what they leave out (`!pattern`) or bring a pattern
/// that would fail the scan; and never keep a key that is not ours: the sub-keys to drop
/// (patterns it may not add are dropped from its list by [`ProjectLayer`]).
fn tighter_scan(scan: &Dict, lower: &Figment, left: &mut LeftOut) -> Vec<String> {
    let mut drop = Vec::new();
    for key in scan.keys() {
        if !keys::SCAN_KEYS.contains(&key.as_str()) {
            left.not_ours.push(format!("`scan.{key}`"));
            drop.push(key.clone());
        }
    }
    let below = lower
        .extract_inner::<super::SecretFiles>("scan.secret_files")
        .ok();
    match scan.get("secret_files") {
        None => {}
        Some(v) => match v.deserialize::<super::SecretFiles>() {
            Err(_) => {
                left.invalid
                    .push("`scan.secret_files` (expected warn, exclude or fail)".to_owned());
                drop.push("secret_files".to_owned());
            }
            Ok(here) if below.is_some_and(|b| here < b) => {
                left.not_here.push(format!(
                    "`scan.secret_files: {}` (looser than `{}` of your own configuration; a working directory's file may only tighten it)",
                    here.as_str(),
                    below.map(super::SecretFiles::as_str).unwrap_or_default()
                ));
                drop.push("secret_files".to_owned());
            }
            Ok(_) => {}
        },
    }
    match scan.get("exclude") {
        None => {}
        Some(Value::Array(_, items)) => {
            for item in items {
                match item.as_str() {
                    Some(p) if p.trim_start().starts_with('!') => left.not_here.push(format!(
                        "`scan.exclude` pattern `{}` (a working directory's file may add patterns, not take any back)",
                        crate::text::one_line(p, 80)
                    )),
                    Some(p) if !pattern_fits(p) => left.invalid.push(format!(
                        "`scan.exclude` pattern `{}` (not a valid .gitignore pattern)",
                        crate::text::one_line(p, 80)
                    )),
                    Some(_) => {}
                    None => left
                        .invalid
                        .push("`scan.exclude` entry (expected a text)".to_owned()),
                }
            }
        }
        Some(_) => {
            left.invalid
                .push("`scan.exclude` (expected a list of patterns)".to_owned());
            drop.push("exclude".to_owned());
        }
    }
    drop
}

/// Whether a working directory's exclude pattern is one it may add: a text, not a `!`
/// re-inclusion, and a glob that compiles (the scan would fail on it otherwise).
fn allowed_pattern(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|p| !p.trim_start().starts_with('!') && pattern_fits(p))
}

/// Whether a .gitignore pattern compiles (as the scan's matcher would read it: without its
/// anchoring `/` and folder `/`).
fn pattern_fits(pattern: &str) -> bool {
    let p = pattern.trim();
    let p = p.strip_prefix('/').unwrap_or(p);
    let p = p.strip_suffix('/').unwrap_or(p);
    p.is_empty()
        || globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .is_ok()
}

/// Providers of `dict` that run code: a plugin or an exec command defined here, an entry
/// without `type` that sets what runs (`plugin`, `path`, `sha256`, `command`, ...), or any
/// entry that changes a provider that runs code in the layers below (the system's and the
/// user's): a working-directory file may not change them, not even their `config` or
/// `timeout`.
fn code_providers(dict: &Dict, lower: &Figment) -> Vec<String> {
    let lower_code: Vec<String> = lower
        .extract_inner::<Dict>("credentials.providers")
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, spec)| {
            matches!(spec, Value::Dict(_, d) if d.get("type").and_then(Value::as_str)
                .is_some_and(|t| layers::CODE_TYPES.contains(&t)))
        })
        .map(|(name, _)| name)
        .collect();
    let mut out = Vec::new();
    if let Some(Value::Dict(_, creds)) = dict.get("credentials")
        && let Some(Value::Dict(_, providers)) = creds.get("providers")
    {
        for (name, spec) in providers {
            let Value::Dict(_, d) = spec else { continue };
            let kind = d.get("type").and_then(Value::as_str);
            let points = ["plugin", "path", "sha256", "command", "shell", "pass_env"]
                .iter()
                .any(|k| d.contains_key(*k));
            if kind.is_some_and(|k| layers::CODE_TYPES.contains(&k))
                || (kind.is_none() && points)
                || lower_code.contains(name)
            {
                out.push(name.clone());
            }
        }
    }
    out
}
