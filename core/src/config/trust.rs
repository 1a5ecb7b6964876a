//! The working directory's `./config.yaml` is read from repositories nobody vetted, often in
//! CI. From it, only keys marked `project` in [`super::KEYS`] apply (`project_id`, `branch`,
//! `region`, `ci`, `debug`); keys that decide where a token is sent or what runs are ignored
//! with a warning unless the folder is listed in `trusted_directories` of the system or user
//! file, or the file is passed with `--config`. Unknown keys are reported as such (with a
//! suggestion) and dropped, trusted or not. Even a trusted working-directory file never adds,
//! points to or pins a plugin: `plugins` and providers of type `plugin` are dropped from it.

use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::keys;
use super::{describe_figment_error, unknown_key_message, yaml};
use crate::error::{Error, Result};

/// The working-directory file with its restricted and unknown keys removed.
pub(super) struct ProjectLayer {
    inner: yaml::YamlFile,
    drop_keys: Vec<String>,
    drop_providers: Vec<String>,
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
        }
        Ok(data)
    }
}

/// Reads `path` as the working-directory layer, recording what it may not set.
pub(super) fn project_layer(
    path: &Path,
    trusted: bool,
    lower: &Figment,
    warnings: &mut Vec<String>,
    unknown: &mut Vec<String>,
) -> Result<ProjectLayer> {
    let file = yaml::load_no_link(path)?;
    let dict = Figment::from(file.provider())
        .extract::<Dict>()
        .map_err(|e| Error::usage(describe_figment_error(&e)))?;
    // Providers that run code in the layers below (the system's and the user's): a
    // working-directory file may not change them, not even their `config` or `timeout`.
    let lower_code: Vec<String> = lower
        .extract_inner::<Dict>("credentials.providers")
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, spec)| {
            matches!(spec, Value::Dict(_, d) if d.get("type").and_then(Value::as_str)
                .is_some_and(|t| super::layers::CODE_TYPES.contains(&t)))
        })
        .map(|(name, _)| name)
        .collect();
    let present: Vec<String> = dict.keys().cloned().collect();
    let mut drop_providers = Vec::new();
    // Providers that run code: a plugin or an exec command defined here, an entry without
    // `type` that sets what runs (`plugin`, `path`, `sha256`, `command`, ...), or any entry
    // that changes a provider that runs code in the layers below.
    let mut plugin_providers = Vec::new();
    if let Some(Value::Dict(_, creds)) = dict.get("credentials")
        && let Some(Value::Dict(_, providers)) = creds.get("providers")
    {
        for (name, spec) in providers {
            let Value::Dict(_, d) = spec else { continue };
            let kind = d.get("type").and_then(Value::as_str);
            let points = ["plugin", "path", "sha256", "command", "shell", "pass_env"]
                .iter()
                .any(|k| d.contains_key(*k));
            if kind.is_some_and(|k| super::layers::CODE_TYPES.contains(&k))
                || (kind.is_none() && points)
                || lower_code.contains(name)
            {
                plugin_providers.push(name.clone());
            }
        }
    }
    if trusted {
        for name in &plugin_providers {
            warnings.push(format!(
                "ignoring provider `{name}` in {}: a working-directory config never adds, points to or pins a plugin, even when trusted, and never defines or changes a provider that runs code (an exec command, or such a provider's `config`, `timeout` or `on_error`); define it in your user or system config",
                crate::home::tilde(path)
            ));
            drop_providers.push(name.clone());
        }
        if present.iter().any(|k| k == "plugins") {
            warnings.push(format!(
                "ignoring `plugins` in {}: a working-directory config never points to a plugin, even when trusted",
                crate::home::tilde(path)
            ));
        }
    }
    let known = keys::names();
    let allowed = keys::project_keys();
    let mut drop_keys = Vec::new();
    for key in present {
        match keys::find(&key) {
            None => {
                unknown.push(unknown_key_message(
                    &key,
                    &crate::home::tilde(path),
                    &known,
                    "",
                ));
                drop_keys.push(key);
            }
            // The deprecated key is refused wherever it is, with migration steps.
            Some(k) if k.ty == keys::KeyType::Deprecated => {}
            Some(k) if k.name == "plugins" && trusted => drop_keys.push(key),
            Some(k) if k.name == "plugins" => {
                warnings.push(format!(
                    "ignoring `plugins` in {}: a working-directory config never points to a plugin; set `plugins` in ~/.cybedefend/config.yaml",
                    crate::home::tilde(path)
                ));
                drop_keys.push(key);
            }
            Some(k) if k.project == keys::FromProject::Never => {
                warnings.push(format!(
                    "ignoring `{key}` in {}: a working-directory config never sets `{key}`, even in a trusted folder (a repository could otherwise route your credential through hosts or accounts of its choosing); set it in ~/.cybedefend/config.yaml",
                    crate::home::tilde(path),
                ));
                drop_keys.push(key);
            }
            Some(k) if k.name == "credentials" && !trusted && !plugin_providers.is_empty() => {
                warnings.push(format!(
                    "ignoring `credentials` in {}: the working directory's config may not set it, and never a plugin or exec provider ({}), even in a trusted folder; define such providers in ~/.cybedefend/config.yaml",
                    crate::home::tilde(path),
                    plugin_providers
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                drop_keys.push(key);
            }
            Some(k) if k.project != keys::FromProject::Always && !trusted => {
                warnings.push(format!(
                    "ignoring `{key}` in {}: the working directory's config may only set {}; \
                     to use it, pass `--config {}` or add this folder to `trusted_directories` \
                     in your user config",
                    crate::home::tilde(path),
                    allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    crate::home::tilde(path),
                ));
                drop_keys.push(key);
            }
            Some(_) => {}
        }
    }
    Ok(ProjectLayer {
        inner: file.provider(),
        drop_keys,
        drop_providers,
    })
}
