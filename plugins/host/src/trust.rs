//! Whether a plugin file may run. Refused:
//!
//! - a path that is not absolute (it would be searched on `PATH` or the library path);
//! - a file that is not a regular file, that group or others can write, or that a user other
//!   than root or the current one owns;
//! - a file in a folder that group or others can write (unless it is a sticky folder owned by
//!   root, such as `/tmp`), or that another user owns: every folder up to `/`, both on the way
//!   to the name (where a link may sit) and on the way to the real file;
//! - an exec plugin the current user cannot execute, that is neither a program nor a `#!`
//!   script, or whose interpreter (`#!/usr/bin/env python3`: `python3` on `PATH`) fails the
//!   same file checks;
//! - a file whose SHA-256 is not the pinned one (`sha256:` in the provider's config);
//! - under the system's `plugins.allow`: a plugin it does not list, or a listed name whose
//!   file a user other than root could have put there (an allowed plugin is one the
//!   administrator installed), unless the list names the file's `sha256:` itself.
//!
//! What runs is the real file that was checked ([`Verdict::real_path`]): every folder to it
//! can be changed only by its owner (you or root), so nobody else can swap it afterwards.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use cybedefend_core::credentials::display;
use cybedefend_core::fsutil;
use sha2::{Digest, Sha256};

use crate::discover::{Kind, Located};

/// Largest plugin file hashed (a plugin is a program, not a disk image).
const HASH_CAP: u64 = 1024 * 1024 * 1024;

/// The outcome of the checks.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The file after resolving links: the one to run or load.
    pub real_path: PathBuf,
    /// `sha256:<hex>` of the file (empty when it was not hashed or could not be read).
    pub sha256: String,
    /// Why it may not run; empty when it may.
    pub refusals: Vec<Refusal>,
}

/// One reason a plugin may not run, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong.
    pub reason: String,
    /// The remedy.
    pub fix: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Verdict {
    /// Whether it may run.
    pub fn trusted(&self) -> bool {
        self.refusals.is_empty()
    }

    /// The reasons, joined.
    pub fn reasons(&self) -> String {
        self.refusals
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The refusals as one error (usage: the configuration or the installation must change),
    /// with the remedy of each.
    pub fn into_result(self, name: &str) -> cybedefend_core::Result<Self> {
        if self.trusted() {
            return Ok(self);
        }
        let mut fixes: Vec<&str> = Vec::new();
        for r in &self.refusals {
            if !fixes.contains(&r.fix.as_str()) {
                fixes.push(&r.fix);
            }
        }
        Err(cybedefend_core::Error::usage(format!(
            "plugin `{name}` ({}) is refused: {}",
            display(&self.real_path),
            self.reasons()
        ))
        .with_hint(fixes.join("; ")))
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

/// Hex SHA-256 of a regular file (opened without blocking, without following a link at
/// `path`, at most 1 GiB).
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let f = fsutil::open_regular(path, false).map_err(|e| {
        std::io::Error::other(match e {
            fsutil::ReadError::NotRegular(kind) => format!("it is a {kind}, not a regular file"),
            fsutil::ReadError::Symlink => "it is a symbolic link".to_owned(),
            fsutil::ReadError::NotFound => "it does not exist".to_owned(),
            fsutil::ReadError::TooLarge(_) => "it is too large".to_owned(),
            fsutil::ReadError::Io(e) => e.to_string(),
        })
    })?;
    let mut f = f.take(HASH_CAP + 1);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > HASH_CAP {
            return Err(std::io::Error::other("it is larger than 1 GiB"));
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn refuse(refusals: &mut Vec<Refusal>, reason: String, fix: String) {
    if !refusals.iter().any(|r| r.reason == reason) {
        refusals.push(Refusal { reason, fix });
    }
}

/// Runs every check on `plugin`.
pub fn check(plugin: &Located, rules: &Rules<'_>) -> Verdict {
    let mut refusals = Vec::new();
    let shown = display(&plugin.path);
    if !plugin.path.is_absolute() {
        refuse(
            &mut refusals,
            "its path is not absolute (it would be searched on PATH)".into(),
            format!("give the full path of {shown}"),
        );
        return Verdict {
            real_path: plugin.path.clone(),
            sha256: String::new(),
            refusals,
        };
    }
    // Every folder whose entries decide what the path means: on the way to the name, to each
    // link of a chain, and to the real file. Another user who can write one of them could
    // repoint the path at any time.
    let real_path = match resolve(&plugin.path) {
        Ok((real, dirs)) => {
            for dir in &dirs {
                folder(dir, &mut refusals);
            }
            real
        }
        Err(e) => {
            refuse(
                &mut refusals,
                format!("it cannot be read ({e})"),
                format!("check that {shown} exists and that you may read it"),
            );
            return Verdict {
                real_path: plugin.path.clone(),
                sha256: String::new(),
                refusals,
            };
        }
    };
    file(&real_path, plugin.kind, &mut refusals);
    let allow_hashes = rules
        .allow
        .is_some_and(|(a, _)| a.iter().any(|e| allowed_hash(e).is_some()));
    // Hashing a large file costs time on every command: only when needed or asked for.
    let regular = refusals.is_empty() || fs::metadata(&real_path).is_ok_and(|m| m.is_file());
    let sha256 = if regular && (rules.pin.is_some() || rules.hash || allow_hashes) {
        match sha256_of(&real_path) {
            Ok(h) => h,
            Err(e) => {
                refuse(
                    &mut refusals,
                    format!("it cannot be hashed: {e}"),
                    "replace it with the plugin's regular file".into(),
                );
                String::new()
            }
        }
    } else {
        String::new()
    };
    if let Some(pin) = rules.pin {
        let want = pin
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if want != sha256 && !sha256.is_empty() {
            refuse(
                &mut refusals,
                format!("its SHA-256 is {sha256}, but the configuration pins {want}"),
                "install the pinned version, or pin the new file's hash (`cybedefend plugin list` shows it) if you trust it".into(),
            );
        }
    }
    if let Some((allow, origin)) = rules.allow {
        allowed(plugin, &real_path, &sha256, allow, origin, &mut refusals);
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

fn allowed(
    plugin: &Located,
    real_path: &Path,
    sha256: &str,
    allow: &[String],
    origin: &str,
    refusals: &mut Vec<Refusal>,
) {
    if !sha256.is_empty()
        && allow
            .iter()
            .any(|e| allowed_hash(e).is_some_and(|h| h.eq_ignore_ascii_case(sha256)))
    {
        return;
    }
    // The file that runs must carry the allowed name too: a link named after an allowed
    // plugin to another file (even one root installed) is not that plugin.
    let real_name = crate::discover::at(real_path).name;
    let ask = format!(
        "ask the administrator of this machine to allow it in {origin} (`plugins.allow`: its name, or `sha256:<hash>` of this file)"
    );
    if !allow.contains(&plugin.name) {
        refuse(
            refusals,
            format!(
                "`{}` is not in plugins.allow of the system configuration ({origin})",
                plugin.name
            ),
            ask,
        );
    } else if real_name != plugin.name {
        refuse(
            refusals,
            format!(
                "`{}` is in plugins.allow, but the file it leads to is {}, which is not that plugin",
                plugin.name,
                display(real_path)
            ),
            format!("use the copy the administrator installed, or {ask}"),
        );
    } else if !installed_by_root(real_path) {
        refuse(
            refusals,
            format!(
                "`{}` is in plugins.allow, but this file is not one the administrator installed: it or a folder to it belongs to a user other than root",
                plugin.name
            ),
            format!("use the copy the administrator installed, or {ask}"),
        );
    }
}

/// The hash of an allow-list entry `sha256:<hex>` (any case, spaces allowed) or a bare
/// 64-digit hex hash; `None` for a plugin name.
fn allowed_hash(entry: &str) -> Option<&str> {
    let e = entry.trim();
    let hex = match e.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256:") => e[7..].trim(),
        _ => e,
    };
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Whether only root could have put the file there: root is running, or the file and every
/// folder to it belong to root (their modes are checked elsewhere).
#[cfg(unix)]
fn installed_by_root(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    rustix::process::geteuid().is_root()
        || path
            .ancestors()
            .all(|p| fs::metadata(p).is_ok_and(|m| m.uid() == 0))
}

#[cfg(not(unix))]
fn installed_by_root(_path: &Path) -> bool {
    true
}

#[cfg(unix)]
fn owner_ok(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

/// The checks of the file itself (not of its folders).
#[cfg(unix)]
fn file(path: &Path, kind: Kind, refusals: &mut Vec<Refusal>) {
    use std::os::unix::fs::MetadataExt;
    let shown = display(path);
    match fs::metadata(path) {
        Ok(m) if !m.is_file() => refuse(
            refusals,
            format!(
                "it is not a regular file{}",
                if m.is_dir() { " but a folder" } else { "" }
            ),
            if m.is_dir() {
                format!("install the plugin's file itself, not the folder {shown}")
            } else {
                "replace it with the plugin's regular file".into()
            },
        ),
        Ok(m) => {
            let mode = m.mode() & 0o7777;
            if mode & 0o022 != 0 {
                refuse(
                    refusals,
                    format!("group or others can write to it (mode {mode:o})"),
                    format!("chmod go-w {shown}"),
                );
            }
            if !owner_ok(m.uid()) {
                refuse(
                    refusals,
                    format!("it belongs to another user (uid {})", m.uid()),
                    format!("install your own copy, or have root own it (chown root {shown})"),
                );
            }
            if kind == Kind::Exec {
                if rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_err() {
                    refuse(
                        refusals,
                        "it is not executable".into(),
                        format!("chmod +x {shown}"),
                    );
                }
                program(path, refusals);
            }
        }
        Err(e) => refuse(
            refusals,
            format!("it cannot be read ({e})"),
            format!("check that you may read {shown}"),
        ),
    }
}

/// An exec plugin is a program or a `#!` script whose interpreter (and its interpreter, for
/// a script run by a script) passes the file checks.
#[cfg(unix)]
fn program(path: &Path, refusals: &mut Vec<Refusal>) {
    interpreted_by(path, 0, refusals);
}

#[cfg(unix)]
fn interpreted_by(path: &Path, depth: usize, refusals: &mut Vec<Refusal>) {
    let shown = display(path);
    let mut head = [0u8; 256];
    let n = match fsutil::open_regular(path, true) {
        Ok(mut f) => f.read(&mut head).unwrap_or(0),
        Err(_) => return, // reported by the other checks
    };
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") || head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) {
        return;
    }
    let Some(rest) = head.strip_prefix(b"#!") else {
        refuse(
            refusals,
            if depth == 0 {
                "it is neither a program nor a script with a `#!` first line".into()
            } else {
                format!("its interpreter {shown} is neither a program nor a `#!` script")
            },
            format!("start the script with an interpreter line such as `#!/bin/sh` ({shown})"),
        );
        return;
    };
    if depth >= 4 {
        refuse(
            refusals,
            "its interpreters run through more than 4 scripts".into(),
            "name a program as the interpreter".into(),
        );
        return;
    }
    let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.ends_with(b"\r") {
        refuse(
            refusals,
            "its first line ends with a carriage return (Windows line endings)".into(),
            format!("convert it to Unix line endings: sed -i 's/\\r$//' {shown}"),
        );
        return;
    }
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let Some(interpreter) = words.next() else {
        refuse(
            refusals,
            "its `#!` line names no interpreter".into(),
            format!("write the interpreter after `#!`, such as `#!/bin/sh` ({shown})"),
        );
        return;
    };
    let interpreter = PathBuf::from(interpreter);
    if !interpreter.is_absolute() {
        refuse(
            refusals,
            format!(
                "its interpreter `{}` is not an absolute path",
                cybedefend_core::text::one_line(&interpreter.to_string_lossy(), 64)
            ),
            format!("write the interpreter's full path after `#!` ({shown})"),
        );
        return;
    }
    if !check_interpreter(&interpreter, depth, refusals) {
        return;
    }
    if interpreter.file_name().is_some_and(|n| n == "env") {
        // `#!/usr/bin/env [options] [NAME=VALUE...] program`: the program env runs, found on
        // the PATH the plugin gets (its absolute folders only)
        let Some(program) = env_program(words) else {
            refuse(
                refusals,
                "its `#!` line runs `env` without a program".into(),
                format!("name the program after env, such as `#!/usr/bin/env python3` ({shown})"),
            );
            return;
        };
        let shown_program = cybedefend_core::text::one_line(&program, 64);
        match find_on_path(&program) {
            Some(p) => {
                check_interpreter(&p, depth, refusals);
            }
            None => refuse(
                refusals,
                format!("its interpreter `{shown_program}` (from its `#!` line) is not on PATH"),
                format!("install `{shown_program}`, or fix the first line of {shown}"),
            ),
        }
    }
}

/// The program of `env`'s arguments: options (and their values), `NAME=VALUE` and `-S`
/// skipped.
#[cfg(unix)]
fn env_program<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<String> {
    while let Some(w) = words.next() {
        match w {
            "-u" | "--unset" | "-C" | "--chdir" => {
                words.next();
            }
            "--" => return words.next().map(str::to_owned),
            w if w.starts_with('-') => {}
            w if w.contains('=') => {}
            w => return Some(w.to_owned()),
        }
    }
    None
}

/// The checks of an interpreter: it exists, and it, its links and its folders pass the same
/// checks as a plugin file; a script interpreter's own interpreter too. Whether it exists.
#[cfg(unix)]
fn check_interpreter(interpreter: &Path, depth: usize, refusals: &mut Vec<Refusal>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let shown = cybedefend_core::text::one_line(&display(interpreter), 120);
    let Ok((real, dirs)) = resolve(interpreter) else {
        refuse(
            refusals,
            format!("its interpreter {shown} (from its `#!` line) does not exist"),
            format!("install {shown}, or fix the plugin's first line"),
        );
        return false;
    };
    let mut own = Vec::new();
    match fs::metadata(&real) {
        Ok(m) if !m.is_file() => refuse(
            &mut own,
            format!("its interpreter {} is not a regular file", display(&real)),
            "name a program as the interpreter".into(),
        ),
        Ok(m) if m.mode() & 0o022 != 0 || !owner_ok(m.uid()) => refuse(
            &mut own,
            format!(
                "its interpreter {} can be changed by another user (mode {:o}, uid {})",
                display(&real),
                m.mode() & 0o7777,
                m.uid()
            ),
            "use an interpreter that only you or root can change".into(),
        ),
        Ok(_) => {}
        Err(_) => return false,
    }
    let before = own.len();
    for dir in &dirs {
        folder(dir, &mut own);
    }
    for r in &mut own[before..] {
        r.reason = format!("its interpreter's {}", r.reason.trim_start_matches("its "));
    }
    if own.is_empty() {
        interpreted_by(&real, depth + 1, &mut own);
    }
    for r in own {
        refuse(refusals, r.reason, r.fix);
    }
    true
}

/// Where a program is on `PATH` (its absolute folders: the plugin gets no other).
#[cfg(unix)]
fn find_on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = cybedefend_core::env::path_var("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(program))
        .find(|p| {
            p.is_file() && rustix::fs::access(p.as_path(), rustix::fs::Access::EXEC_OK).is_ok()
        })
}

/// Resolves an absolute `path` the way the system does, one entry at a time, following every
/// link (at most 40); the real path and every folder whose entry was read on the way.
pub(crate) fn resolve(path: &Path) -> std::io::Result<(PathBuf, Vec<PathBuf>)> {
    use std::collections::VecDeque;
    use std::path::Component;
    enum Step {
        Root,
        Up,
        Name(std::ffi::OsString),
    }
    fn steps(p: &Path) -> Vec<Step> {
        p.components()
            .filter_map(|c| match c {
                Component::RootDir | Component::Prefix(_) => Some(Step::Root),
                Component::CurDir => None,
                Component::ParentDir => Some(Step::Up),
                Component::Normal(n) => Some(Step::Name(n.to_owned())),
            })
            .collect()
    }
    let mut pending: VecDeque<Step> = steps(path).into();
    let mut current = PathBuf::from("/");
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut links = 0;
    while let Some(step) = pending.pop_front() {
        match step {
            Step::Root => current = PathBuf::from("/"),
            Step::Up => {
                current.pop();
            }
            Step::Name(name) => {
                if !dirs.contains(&current) {
                    dirs.push(current.clone());
                }
                let next = current.join(&name);
                if fs::symlink_metadata(&next)?.file_type().is_symlink() {
                    links += 1;
                    if links > 40 {
                        return Err(std::io::Error::other("too many levels of links"));
                    }
                    let target = fs::read_link(&next)?;
                    for s in steps(&target).into_iter().rev() {
                        pending.push_front(s);
                    }
                } else {
                    current = next;
                }
            }
        }
    }
    Ok((current, dirs))
}

/// The checks of one folder.
#[cfg(unix)]
fn folder(dir: &Path, refusals: &mut Vec<Refusal>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = fs::metadata(dir) else { return };
    let mode = m.mode() & 0o7777;
    let sticky_root = mode & 0o1000 != 0 && m.uid() == 0;
    let shown = display(dir);
    if mode & 0o022 != 0 && !sticky_root {
        refuse(
            refusals,
            format!("its folder {shown} can be written by group or others (mode {mode:o})"),
            format!("chmod go-w {shown}, or install the plugin in a private folder"),
        );
    }
    if !owner_ok(m.uid()) {
        refuse(
            refusals,
            format!(
                "its folder {shown} belongs to another user (uid {})",
                m.uid()
            ),
            "install the plugin in a folder of your own or of root".into(),
        );
    }
}

#[cfg(not(unix))]
fn file(_path: &Path, _kind: Kind, _refusals: &mut Vec<Refusal>) {}

#[cfg(not(unix))]
fn folder(_dir: &Path, _refusals: &mut Vec<Refusal>) {}

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
            v.refusals
                .iter()
                .any(|r| r.reason.contains("can write to it")),
            "{v:?}"
        );
        fs::set_permissions(&p.path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let v = check(&p, &Rules::default());
        assert!(
            v.refusals.iter().any(|r| r.reason.contains("its folder")),
            "{v:?}"
        );
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
            v.refusals[0].reason.contains(&sum) && v.refusals[0].reason.contains("0000"),
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
        assert!(v.refusals[0].reason.contains("plugins.allow"), "{v:?}");
    }
}
