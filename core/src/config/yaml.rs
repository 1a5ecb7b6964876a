//! The one place that knows the YAML parser (figment's `yaml` feature, serde_yaml 0.9), so that
//! swapping it for a maintained one is a one-file change.

use std::path::Path;

use figment::providers::{Data, Format, Yaml};

use crate::credentials::display;
use crate::error::{Error, Result};

/// A YAML file as a figment provider.
pub(super) type YamlFile = Data<Yaml>;

/// Largest config file read (a real one is a few KiB).
const CONFIG_CAP: u64 = 1 << 20;

/// The provider for `path` (read when the figment is extracted).
pub(super) fn file(path: &Path) -> YamlFile {
    Yaml::file_exact(path)
}

/// Refuses a config file that is not a regular file of at most 1 MiB, checked by a capped,
/// non-blocking read (a `/proc` file or a FIFO committed as `config.yaml` must not exhaust
/// memory or hang), before the parser reads it.
pub(super) fn check(path: &Path) -> Result<()> {
    match crate::fsutil::read_capped(path, CONFIG_CAP, true) {
        Ok(bytes) => check_nesting(path, &bytes),
        Err(crate::fsutil::ReadError::TooLarge(_)) => Err(Error::usage(format!(
            "config file {} is larger than {} KiB, far more than a configuration",
            display(path),
            CONFIG_CAP >> 10
        ))),
        Err(e) => Err(e
            .into_error("config file", path)
            .with_kind(crate::error::ErrorKind::Usage)),
    }
}

/// Deepest `[`/`{` nesting accepted: the parser's time grows with the square of it before its
/// own recursion limit applies, and a configuration nests a few levels.
const MAX_NESTING: usize = 64;

fn check_nesting(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut depth = 0usize;
    for b in bytes {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Error::usage(format!(
                        "config file {} nests `[` or `{{` deeper than {MAX_NESTING} levels, which no configuration does",
                        display(path)
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
