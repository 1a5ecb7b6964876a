//! The working directory's `./config.yaml` is read from repositories nobody vetted, often in
//! CI. From it, only keys marked `project` in [`super::KEYS`] apply (`project_id`, `branch`,
//! `region`, `ci`, `debug`); keys that decide where a token is sent or what runs are ignored
//! with a warning unless the folder is listed in `trusted_directories` of the system or user
//! file, or the file is passed with `--config`. Unknown keys are reported as such (with a
//! suggestion) and dropped, trusted or not.

use std::path::Path;

use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};

use super::keys;
use super::{describe_figment_error, unknown_key_message, yaml};
use crate::credentials::display;
use crate::error::{Error, Result};

/// The working-directory file with its restricted and unknown keys removed.
pub(super) struct ProjectLayer {
    inner: yaml::YamlFile,
    drop_keys: Vec<String>,
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
        }
        Ok(data)
    }
}

/// Reads `path` as the working-directory layer, recording what it may not set.
pub(super) fn project_layer(
    path: &Path,
    trusted: bool,
    warnings: &mut Vec<String>,
    unknown: &mut Vec<String>,
) -> Result<ProjectLayer> {
    let present: Vec<String> = Figment::from(yaml::file(path))
        .extract::<Dict>()
        .map_err(|e| Error::usage(describe_figment_error(&e)))?
        .keys()
        .cloned()
        .collect();
    let known = keys::names();
    let allowed = keys::project_keys();
    let mut drop_keys = Vec::new();
    for key in present {
        match keys::find(&key) {
            None => {
                unknown.push(unknown_key_message(&key, &display(path), &known, ""));
                drop_keys.push(key);
            }
            // The deprecated key is refused wherever it is, with migration steps.
            Some(k) if k.ty == keys::KeyType::Deprecated => {}
            Some(k) if !k.project && !trusted => {
                warnings.push(format!(
                    "ignoring `{key}` in {}: the working directory's config may only set {}; \
                     to use it, pass `--config {}` or add this folder to `trusted_directories` \
                     in your user config",
                    display(path),
                    allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    display(path),
                ));
                drop_keys.push(key);
            }
            Some(_) => {}
        }
    }
    Ok(ProjectLayer {
        inner: yaml::file(path),
        drop_keys,
    })
}
