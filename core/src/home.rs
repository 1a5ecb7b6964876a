//! Where the CLI keeps its files: `~/.cybedefend`, or `$CYBEDEFEND_HOME`.

use std::path::{Path, PathBuf};

use crate::env;
use crate::error::{Error, Result};

/// The `~/.cybedefend` folder (or `$CYBEDEFEND_HOME`) and the files in it.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
    /// The active profile: its login lives in `profiles/<name>/`.
    profile: Option<String>,
}

impl Home {
    /// `$CYBEDEFEND_HOME` if set and non-empty, else `$HOME/.cybedefend`. A `CYBEDEFEND_HOME`
    /// that is not UTF-8 is an error, not a silent fall-back to `~/.cybedefend`.
    pub fn from_env() -> Result<Self> {
        if let Some(dir) = env::non_empty(env::CYBEDEFEND_HOME)? {
            return Ok(Self::at(dir));
        }
        match env::path_var(env::HOME) {
            Some(home) => Ok(Self::at(PathBuf::from(home).join(".cybedefend"))),
            None => Err(Error::usage("cannot find the home folder: HOME is not set")
                .with_hint("set HOME, or CYBEDEFEND_HOME to the folder for cybedefend's files")),
        }
    }

    /// A home at an explicit folder.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            profile: None,
        }
    }

    /// The same home for a profile: its login (credentials.json, keyring entry) is its own,
    /// in `profiles/<name>/`; configuration, caches and plugins are shared. `name` must be a
    /// valid profile name (checked when the configuration is loaded).
    pub fn with_profile(mut self, name: Option<&str>) -> Self {
        self.profile = name.map(str::to_owned);
        self
    }

    /// The active profile, if any.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The folder of the stored login: the home, or `profiles/<name>` in it.
    fn login_dir(&self) -> PathBuf {
        match &self.profile {
            Some(name) => self.dir.join("profiles").join(name),
            None => self.dir.clone(),
        }
    }

    /// The folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `credentials.json`: the stored login (official CLI format).
    pub fn credentials_file(&self) -> PathBuf {
        self.login_dir().join("credentials.json")
    }

    /// Lock taken around every read-modify-write of `credentials.json`.
    pub fn credentials_lock(&self) -> PathBuf {
        self.login_dir().join(".credentials.lock")
    }

    /// Cache of exchanged access tokens, shared by all processes.
    pub fn token_cache_file(&self) -> PathBuf {
        self.dir.join("token-cache.json")
    }

    /// Lock taken around token exchanges (single flight across processes).
    pub fn token_cache_lock(&self) -> PathBuf {
        self.dir.join(".token-cache.lock")
    }

    /// The user config files, in the order they are tried.
    pub fn user_config_candidates(&self) -> [PathBuf; 2] {
        [self.dir.join("config.yaml"), self.dir.join("config.yml")]
    }

    /// Where plugins are looked for besides the configured folders.
    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.join("plugins")
    }
}

/// A path as messages show it: under the user's home folder, `~/…`.
pub fn tilde(path: &Path) -> String {
    if let Some(home) = env::path_var(env::HOME)
        && let Ok(rest) = path.strip_prefix(PathBuf::from(home))
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}
