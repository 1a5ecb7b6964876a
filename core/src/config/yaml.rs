//! The one place that knows the YAML parser (figment's `yaml` feature, serde_yaml 0.9), so that
//! swapping it for a maintained one is a one-file change.

use std::path::Path;

use figment::providers::{Data, Format, Yaml};

/// A YAML file as a figment provider.
pub(super) type YamlFile = Data<Yaml>;

/// The provider for `path` (read when the figment is extracted).
pub(super) fn file(path: &Path) -> YamlFile {
    Yaml::file_exact(path)
}
