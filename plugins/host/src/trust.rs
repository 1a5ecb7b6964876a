//! Whether a plugin file may run. Refused:
//!
//! - a file that is not a regular file, that group or others can write, or that a user other
//!   than root or the current one owns;
//! - a file in a folder (any folder up to `/`) that group or others can write, unless it is a
//!   sticky folder owned by root (such as `/tmp`), or that another user owns;
//! - an exec plugin the current user cannot execute;
//! - a file whose SHA-256 is not the pinned one (`sha256:` in the provider's config);
//! - a plugin that the system's `plugins.allow` does not list.
//!
//! Links are resolved first: the checks apply to the real file and its real folders.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use cybedefend_core::credentials::display;
use sha2::{Digest, Sha256};

use crate::discover::{Kind, Located};

/// The outcome of the checks.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The file after resolving links.
    pub real_path: PathBuf,
    /// `sha256:<hex>` of the file (empty when it could not be read).
    pub sha256: String,
    /// Why it may not run; empty when it may.
    pub refusals: Vec<String>,
}

impl Verdict {
    /// Whether it may run.
    pub fn trusted(&self) -> bool {
        self.refusals.is_empty()
    }

    /// The refusals as one error (usage: the configuration or the installation must change).
    pub fn into_result(self, name: &str) -> cybedefend_core::Result<Self> {
        if self.trusted() {
            return Ok(self);
        }
        Err(cybedefend_core::Error::usage(format!(
            "plugin `{name}` ({}) is refused: {}",
            display(&self.real_path),
            self.refusals.join("; ")
        ))
        .with_hint("fix the file's owner and permissions (chmod go-w), or the pin or allow-list in your configuration"))
    }
}

/// What the checks need besides the file.
#[derive(Debug, Clone, Default)]
pub struct Rules<'a> {
    /// `sha256:` pin of the provider's config.
    pub pin: Option<&'a str>,
    /// The system's `plugins.allow`, and where it came from.
    pub allow: Option<(&'a [String], &'a str)>,
    /// Compute the file's SHA-256 even without a pin (to show it).
    pub hash: bool,
}

/// Hex SHA-256 of a file.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Runs every check on `plugin`.
pub fn check(plugin: &Located, rules: &Rules<'_>) -> Verdict {
    let mut refusals = Vec::new();
    let real_path = match fs::canonicalize(&plugin.path) {
        Ok(p) => p,
        Err(e) => {
            return Verdict {
                real_path: plugin.path.clone(),
                sha256: String::new(),
                refusals: vec![format!("cannot be read ({e})")],
            };
        }
    };
    if let Some((allow, origin)) = rules.allow
        && !allow.contains(&plugin.name)
    {
        refusals.push(format!(
            "`{}` is not in plugins.allow of the system configuration ({origin})",
            plugin.name
        ));
    }
    permissions(&real_path, plugin.kind, &mut refusals);
    // Hashing a large file costs time on every command: only when asked for.
    let sha256 = if rules.pin.is_some() || rules.hash {
        sha256_of(&real_path).unwrap_or_default()
    } else {
        String::new()
    };
    if let Some(pin) = rules.pin {
        let want = pin
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if want != sha256 {
            refusals.push(format!(
                "its SHA-256 is {sha256}, but the configuration pins {want}"
            ));
        }
    }
    Verdict {
        real_path,
        sha256: if sha256.is_empty() {
            String::new()
        } else {
            format!("sha256:{sha256}")
        },
        refusals,
    }
}

#[cfg(unix)]
fn permissions(path: &Path, kind: Kind, refusals: &mut Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let owner_ok = |uid: u32| uid == 0 || uid == me;
    match fs::metadata(path) {
        Ok(m) if !m.is_file() => refusals.push("it is not a regular file".into()),
        Ok(m) => {
            let mode = m.mode() & 0o7777;
            if mode & 0o022 != 0 {
                refusals.push(format!("group or others can write to it (mode {mode:o})"));
            }
            if !owner_ok(m.uid()) {
                refusals.push(format!("it belongs to another user (uid {})", m.uid()));
            }
            if kind == Kind::Exec && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_err()
            {
                refusals.push("it is not executable".into());
            }
        }
        Err(e) => refusals.push(format!("cannot be read ({e})")),
    }
    for dir in path.ancestors().skip(1) {
        let Ok(m) = fs::metadata(dir) else { continue };
        let mode = m.mode() & 0o7777;
        let sticky_root = mode & 0o1000 != 0 && m.uid() == 0;
        if mode & 0o022 != 0 && !sticky_root {
            refusals.push(format!(
                "its folder {} can be written by group or others (mode {mode:o})",
                display(dir)
            ));
        }
        if !owner_ok(m.uid()) {
            refusals.push(format!(
                "its folder {} belongs to another user (uid {})",
                display(dir),
                m.uid()
            ));
        }
    }
}

#[cfg(not(unix))]
fn permissions(_path: &Path, _kind: Kind, _refusals: &mut Vec<String>) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn plugin(dir: &Path) -> Located {
        let p = dir.join("cybedefend-credential-t");
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        crate::discover::at(&p)
    }

    #[test]
    fn a_private_plugin_is_trusted_and_weak_modes_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let p = plugin(t.path());
        assert!(
            check(&p, &Rules::default()).trusted(),
            "{:?}",
            check(&p, &Rules::default())
        );
        fs::set_permissions(&p.path, fs::Permissions::from_mode(0o777)).unwrap();
        let v = check(&p, &Rules::default());
        assert!(
            v.refusals.iter().any(|r| r.contains("can write to it")),
            "{v:?}"
        );
        fs::set_permissions(&p.path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let v = check(&p, &Rules::default());
        assert!(v.refusals.iter().any(|r| r.contains("its folder")), "{v:?}");
    }

    #[test]
    fn pins_and_allow_lists() {
        let t = tempfile::tempdir().unwrap();
        let p = plugin(t.path());
        let sum = sha256_of(&p.path).unwrap();
        let ok = Rules {
            pin: Some(&sum),
            ..Rules::default()
        };
        assert!(check(&p, &ok).trusted());
        let bad = Rules {
            pin: Some("sha256:0000"),
            ..Rules::default()
        };
        let v = check(&p, &bad);
        assert!(
            v.refusals[0].contains(&sum) && v.refusals[0].contains("0000"),
            "{v:?}"
        );
        let allow = vec!["other".to_owned()];
        let v = check(
            &p,
            &Rules {
                allow: Some((&allow, "/etc/cybedefend/config.yaml")),
                ..Rules::default()
            },
        );
        assert!(v.refusals[0].contains("plugins.allow"), "{v:?}");
    }
}
