//! Where plugins are: `cybedefend-credential-NAME` executables and
//! `libcybedefend_credential_NAME.so` libraries in the plugin folders (`~/.cybedefend/plugins`,
//! then `plugins.dirs`), and `cybedefend-credential-NAME` executables on `PATH`.

use std::path::{Path, PathBuf};

use cybedefend_core::{Error, Result, env};

/// How a plugin is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An executable speaking the JSON protocol over stdin/stdout.
    Exec,
    /// A shared library exporting the C table.
    Native,
}

impl Kind {
    /// `exec` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Native => "native",
        }
    }
}

/// A plugin file and how to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The plugin's name (`corp-secrets`).
    pub name: String,
    /// Exec or native.
    pub kind: Kind,
    /// The file.
    pub path: PathBuf,
}

const EXEC_PREFIX: &str = "cybedefend-credential-";

fn native_file_name(name: &str) -> String {
    format!(
        "{}cybedefend_credential_{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Whether `name` is a valid plugin name: lower-case letters, digits and dashes, 1 to 64.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// The kind of a plugin file by its name: a shared library's suffix means native.
pub fn kind_of(path: &Path) -> Kind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.ends_with(std::env::consts::DLL_SUFFIX) {
        Kind::Native
    } else {
        Kind::Exec
    }
}

/// A plugin given by its file (`path:` in the provider's config, or `plugin verify PATH`).
pub fn at(path: &Path) -> Located {
    let kind = kind_of(path);
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match kind {
        Kind::Exec => file.strip_prefix(EXEC_PREFIX).unwrap_or(&file).to_owned(),
        Kind::Native => file
            .trim_start_matches(std::env::consts::DLL_PREFIX)
            .trim_end_matches(std::env::consts::DLL_SUFFIX)
            .trim_start_matches("cybedefend_credential_")
            .replace('_', "-"),
    };
    Located {
        name,
        kind,
        path: path.to_owned(),
    }
}

/// The plugin a file name in a plugin folder stands for, exactly: `cybedefend-credential-NAME`
/// (a program or script, no library suffix) or `libcybedefend_credential_NAME.so` (a library);
/// NAME valid. Anything else is not a plugin (`cybedefend-credential-x.so` cannot be loaded by
/// any name).
pub fn plugin_of(file: &str) -> Option<(String, Kind)> {
    let native_prefix = format!("{}cybedefend_credential_", std::env::consts::DLL_PREFIX);
    if let Some(rest) = file
        .strip_prefix(&native_prefix)
        .and_then(|r| r.strip_suffix(std::env::consts::DLL_SUFFIX))
    {
        let name = rest.replace('_', "-");
        return (valid_name(&name) && !rest.contains('-')).then_some((name, Kind::Native));
    }
    let rest = file.strip_prefix(EXEC_PREFIX)?;
    (valid_name(rest) && !file.ends_with(std::env::consts::DLL_SUFFIX))
        .then(|| (rest.to_owned(), Kind::Exec))
}

/// What a file that looks meant as a plugin should be named, when that can be told.
pub fn right_name(file: &str) -> Option<String> {
    let suffix = std::env::consts::DLL_SUFFIX;
    if let Some(rest) = file
        .strip_prefix(EXEC_PREFIX)
        .and_then(|r| r.strip_suffix(suffix))
    {
        let name = rest.to_ascii_lowercase().replace('_', "-");
        if valid_name(&name) {
            return Some(native_file_name(&name));
        }
    }
    None
}

/// The absolute folders of `PATH` (a relative entry, such as `.`, would depend on the
/// directory a command runs in).
fn path_dirs() -> Vec<PathBuf> {
    env::path_var("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default()
}

/// Files in the plugin folders that look meant as plugins but are not named as one (for
/// everything, or for plugin `name`): `corp.py`, `cybedefend-credential-Corp`, a folder...
pub fn misnamed(dirs: &[PathBuf], name: Option<&str>) -> Vec<PathBuf> {
    let native_prefix = format!("{}cybedefend_credential_", std::env::consts::DLL_PREFIX);
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()).take(1000) {
            let p = e.path();
            let file = e.file_name().to_string_lossy().into_owned();
            let prefixed = file.starts_with(EXEC_PREFIX) || file.starts_with(&native_prefix);
            let proper = plugin_of(&file).is_some();
            let related = match name {
                Some(n) => file.contains(n) || file.contains(&n.replace('-', "_")),
                None => prefixed,
            };
            if related && (!proper || !e.file_type().is_ok_and(|t| !t.is_dir())) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Finds the plugin `name`: a native library or an executable in the plugin folders (in
/// order), else an executable on `PATH`.
pub fn find(name: &str, dirs: &[PathBuf]) -> Result<Located> {
    if !valid_name(name) {
        return Err(Error::usage(format!(
            "`{}` is not a plugin name: use lower-case letters, digits and dashes",
            cybedefend_core::text::one_line(name, 80)
        )));
    }
    let exec = format!("{EXEC_PREFIX}{name}");
    let native = native_file_name(name);
    for dir in dirs {
        for (file, kind) in [(&native, Kind::Native), (&exec, Kind::Exec)] {
            let p = dir.join(file);
            // anything at the name counts (a folder is refused by the trust checks, with why)
            if p.symlink_metadata().is_ok() {
                return Ok(Located {
                    name: name.to_owned(),
                    kind,
                    path: p,
                });
            }
        }
    }
    for dir in path_dirs() {
        let p = dir.join(&exec);
        if p.is_file() {
            return Ok(Located {
                name: name.to_owned(),
                kind: Kind::Exec,
                path: p,
            });
        }
    }
    let looked: Vec<String> = dirs
        .iter()
        .map(|d| cybedefend_core::home::tilde(d))
        .collect();
    let near: Vec<String> = misnamed(dirs, Some(name))
        .iter()
        .take(3)
        .map(|p| cybedefend_core::home::tilde(p))
        .collect();
    let hint = if near.is_empty() {
        "install the plugin there, or give its file with `path:` in the provider's config; `cybedefend plugin list` shows what is found".to_owned()
    } else {
        format!(
            "found {}, but a plugin file is named exactly {exec} (a program or script) or {native} (a library); rename or copy the file itself",
            near.join(", ")
        )
    };
    Err(Error::usage(format!(
        "plugin `{name}` was not found: no {native} or {exec} in {}, and no {exec} on PATH",
        if looked.is_empty() {
            "any plugin folder".to_owned()
        } else {
            looked.join(", ")
        }
    ))
    .with_hint(hint))
}

/// Every plugin in the plugin folders and on `PATH` (first of a name wins, as in [`find`]).
pub fn all(dirs: &[PathBuf]) -> Vec<Located> {
    let mut out: Vec<Located> = Vec::new();
    let mut push = |l: Located| {
        if valid_name(&l.name) && !out.iter().any(|o| o.name == l.name) {
            out.push(l);
        }
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let file = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some((name, kind)) = plugin_of(&file) {
                push(Located {
                    name,
                    kind,
                    path: p.clone(),
                });
            }
        }
    }
    for dir in path_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let file = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some((name, Kind::Exec)) = plugin_of(&file) {
                push(Located {
                    name,
                    kind: Kind::Exec,
                    path: p.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert!(valid_name("corp-secrets"));
        assert!(!valid_name("Corp"));
        assert!(!valid_name("../x"));
        assert!(!valid_name(""));
        let l = at(Path::new("/opt/p/libcybedefend_credential_corp_secrets.so"));
        assert_eq!((l.name.as_str(), l.kind), ("corp-secrets", Kind::Native));
        let l = at(Path::new("/opt/p/cybedefend-credential-corp"));
        assert_eq!((l.name.as_str(), l.kind), ("corp", Kind::Exec));
        // a library named like a program is no plugin, and says what it should be called
        assert_eq!(plugin_of("cybedefend-credential-x.so"), None);
        assert_eq!(
            right_name("cybedefend-credential-x.so").as_deref(),
            Some("libcybedefend_credential_x.so")
        );
        assert_eq!(
            plugin_of("libcybedefend_credential_corp_secrets.so"),
            Some(("corp-secrets".to_owned(), Kind::Native))
        );
        assert_eq!(plugin_of("libcybedefend_credential_corp-secrets.so"), None);
    }

    #[test]
    fn found_in_folders_before_path() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(native_file_name("corp")), b"x").unwrap();
        let l = find("corp", &[t.path().to_owned()]).unwrap();
        assert_eq!(l.kind, Kind::Native);
        let e = find("nothing-here-xyz", &[t.path().to_owned()]).unwrap_err();
        assert!(e.message().contains("was not found"), "{e}");
    }
}
