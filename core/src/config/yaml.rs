//! The one place that knows the YAML parser (figment's `yaml` feature, serde_yaml 0.9), so that
//! swapping it for a maintained one is a one-file change.

use std::path::{Path, PathBuf};

use figment::providers::{Data, Format, Yaml};
use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};

use crate::error::{Error, Result};

/// Largest config file read (a real one is a few KiB).
const CONFIG_CAP: u64 = 1 << 20;

/// A config file read once: what was parsed is what was checked.
pub(super) struct ConfigFile {
    /// Where it is.
    pub(super) path: PathBuf,
    text: String,
    /// Why it may not define anything that runs code (its owner or folder lets another user
    /// change it); `None` when it may.
    pub(super) untrusted: Option<String>,
}

/// A YAML file as a figment provider: the text read by [`load`], named after its file.
pub(super) struct YamlFile {
    data: Data<Yaml>,
    path: PathBuf,
}

impl Provider for YamlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("YAML file", self.path.as_path())
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        self.data.data()
    }
}

impl ConfigFile {
    /// Whether a line of the text starts with one of `keys` followed by `:` (a top-level key,
    /// as far as text that does not parse can say).
    pub(super) fn mentions_any(&self, keys: &[&str]) -> bool {
        self.text.lines().any(|line| {
            keys.iter().any(|k| {
                line.strip_prefix(k)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
        })
    }

    /// The file as a figment provider.
    pub(super) fn provider(&self) -> YamlFile {
        YamlFile {
            data: Yaml::string(&self.text),
            path: self.path.clone(),
        }
    }
}

/// Reads `path` once: a regular file of at most 1 MiB, read capped and without blocking (a
/// `/proc` file or a FIFO committed as `config.yaml` must not exhaust memory or hang), with
/// its nesting checked before the parser sees it; and, from the same descriptor, whether its
/// owner and folder let it define what runs code. `system`: the machine's file, which must be
/// root's for that.
pub(super) fn load(path: &Path, system: bool) -> Result<ConfigFile> {
    load_file(path, system, true)
}

/// The working directory's `config.yaml`, which may not be a link (a repository could point it
/// at a token file): opened from the process's working directory itself, not by its path
/// (whose folders could be swapped), without following a link at its name. `path` is how it
/// is shown, and is opened by path only when it is not in the process's working directory
/// (tests).
pub(super) fn load_no_link(path: &Path) -> Result<ConfigFile> {
    #[cfg(unix)]
    {
        let in_cwd = path
            .parent()
            .is_some_and(|dir| std::env::current_dir().is_ok_and(|cwd| cwd == dir));
        if let (true, Some(name)) = (in_cwd, path.file_name()) {
            return load_from_cwd(path, name);
        }
    }
    load_file(path, false, false)
}

#[cfg(unix)]
fn load_from_cwd(path: &Path, name: &std::ffi::OsStr) -> Result<ConfigFile> {
    use rustix::fs::{CWD, Mode, OFlags};
    use std::io::Read;
    let refused = |e: crate::fsutil::ReadError| {
        e.into_error("config file", path)
            .with_kind(crate::error::ErrorKind::Usage)
    };
    let fd = rustix::fs::openat(
        CWD,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => refused(crate::fsutil::ReadError::Symlink),
        rustix::io::Errno::NOENT => refused(crate::fsutil::ReadError::NotFound),
        e => refused(crate::fsutil::ReadError::Io(e.into())),
    })?;
    let file = std::fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| refused(crate::fsutil::ReadError::Io(e)))?;
    if !meta.is_file() {
        return Err(refused(crate::fsutil::ReadError::NotRegular(
            "special file",
        )));
    }
    let mut bytes = Vec::new();
    file.take(CONFIG_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refused(crate::fsutil::ReadError::Io(e)))?;
    if bytes.len() as u64 > CONFIG_CAP {
        return Err(too_large(path));
    }
    config_file(path, bytes, None)
}

fn too_large(path: &Path) -> Error {
    Error::usage(format!(
        "config file {} is larger than {} KiB, far more than a configuration",
        crate::home::tilde(path),
        CONFIG_CAP >> 10
    ))
}

/// The bytes read, checked for nesting and UTF-8, as a [`ConfigFile`].
fn config_file(path: &Path, bytes: Vec<u8>, untrusted: Option<String>) -> Result<ConfigFile> {
    check_nesting(path, &bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!(
            "config file {} is not UTF-8 text",
            crate::home::tilde(path)
        ))
    })?;
    Ok(ConfigFile {
        path: path.to_owned(),
        text,
        untrusted,
    })
}

fn load_file(path: &Path, system: bool, link_at_name: bool) -> Result<ConfigFile> {
    let (bytes, untrusted) = read(path, system, link_at_name).map_err(|e| match e {
        crate::fsutil::ReadError::TooLarge(_) => too_large(path),
        e => e
            .into_error("config file", path)
            .with_kind(crate::error::ErrorKind::Usage),
    })?;
    config_file(path, bytes, untrusted)
}

#[cfg(unix)]
fn read(
    path: &Path,
    system: bool,
    link_at_name: bool,
) -> std::result::Result<(Vec<u8>, Option<String>), crate::fsutil::ReadError> {
    use std::io::Read;
    let (file, walked) = crate::fsutil::open_walked(path, link_at_name)?;
    let mut bytes = Vec::new();
    file.take(CONFIG_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(crate::fsutil::ReadError::Io)?;
    if bytes.len() as u64 > CONFIG_CAP {
        return Err(crate::fsutil::ReadError::TooLarge(CONFIG_CAP));
    }
    Ok((bytes, owner_verdict(&walked, system)))
}

#[cfg(not(unix))]
fn read(
    path: &Path,
    _system: bool,
    link_at_name: bool,
) -> std::result::Result<(Vec<u8>, Option<String>), crate::fsutil::ReadError> {
    crate::fsutil::read_capped(path, CONFIG_CAP, link_at_name).map(|b| (b, None))
}

/// Why the file (as opened) could be changed by someone else than root and the current user
/// (root alone for the system file): its owner, its mode, the folder that holds it.
#[cfg(unix)]
fn owner_verdict(w: &crate::pathwalk::Walked, system: bool) -> Option<String> {
    use crate::pathwalk::{mode, owner};
    let euid = rustix::process::geteuid().as_raw();
    let uid = owner(&w.stat);
    if system && uid != 0 {
        return Some(format!(
            "it belongs to uid {uid}, and the system configuration must be root's"
        ));
    }
    if uid != 0 && uid != euid {
        return Some(format!(
            "it belongs to another user (uid {uid}; you are uid {euid})"
        ));
    }
    let m = mode(&w.stat);
    if m & 0o022 != 0 {
        return Some(format!("group or others can write to it (mode {m:o})"));
    }
    // every folder read on the way, links' folders included: whoever can write one of them can
    // change which file this path leads to
    for folder in &w.folders {
        let (fuid, fm) = (owner(&folder.stat), mode(&folder.stat));
        let sticky_root = fm & 0o1000 != 0 && fuid == 0;
        if fuid != 0 && (system || fuid != euid) {
            return Some(format!(
                "its folder {} belongs to another user (uid {fuid})",
                crate::home::tilde(&folder.path)
            ));
        }
        if fm & 0o022 != 0 && !sticky_root {
            return Some(format!(
                "its folder {} can be written by group or others (mode {fm:o})",
                crate::home::tilde(&folder.path)
            ));
        }
    }
    None
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
                        crate::home::tilde(path)
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
