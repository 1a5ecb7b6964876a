//! What goes into the archive: the walk, the ignore rules, what was left out.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cybedefend_core::{Error, Result};

/// The file the platform reads its ignore rules from; always kept at the archive root.
pub const PLATFORM_IGNORE_FILE: &str = ".cybedefend";

/// One file to archive.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// Path inside the archive, `/`-separated.
    pub name: String,
    /// Where to read it.
    pub source: PathBuf,
    /// Size when planned.
    pub size: u64,
    pub(super) mode: u32,
    pub(super) modified: Option<SystemTime>,
    /// Named by the ignore rules, and kept only because they are off (`--no-ignore`): build
    /// output and dependencies, packed at a faster level than the source.
    pub(super) ignored: bool,
}

/// Something left out, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// Path relative to the folder.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// Files removed by ignore rules, grouped by the outermost ignored folder.
#[derive(Debug, Clone)]
pub struct IgnoredGroup {
    /// `node_modules/`, `build/`, or a single file.
    pub path: String,
    /// Files in it.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What would be archived.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The folder.
    pub root: PathBuf,
    /// Files, in walk order.
    pub files: Vec<PlannedFile>,
    /// Sum of file sizes.
    pub total_bytes: u64,
    /// Symbolic links and special files left out.
    pub skipped: Vec<Skipped>,
    /// Files the `exclude` patterns left out.
    pub excluded: Vec<String>,
    /// Files left out because they look like secrets ([`Plan::leave_out_secrets`]).
    pub secrets_left_out: Vec<String>,
}

fn walk_error(root: &Path, err: &ignore::Error) -> Error {
    let path = match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } => match err.as_ref() {
            ignore::Error::WithPath { path, .. } => Some(path.clone()),
            _ => None,
        },
        _ => None,
    };
    let what = path
        .map(|p| cybedefend_core::home::tilde(&p))
        .unwrap_or_else(|| cybedefend_core::home::tilde(root));
    let reason = err
        .io_error()
        .map(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => e.to_string(),
        })
        .unwrap_or_else(|| err.to_string());
    Error::failure(format!("cannot read {what}: {reason}"))
        .with_hint("fix its permissions, or exclude it with a .gitignore or .ignore rule")
}

fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_meta: &fs::Metadata) -> u32 {
    0o644
}

/// Largest ignore file read (`.gitignore`, `.ignore`, `.git/info/exclude`).
const IGNORE_FILE_CAP: u64 = 4 << 20;

/// Ignore files the walk reads in a folder.
fn ignore_files(dir: &Path) -> [PathBuf; 3] {
    [
        dir.join(".gitignore"),
        dir.join(".ignore"),
        dir.join(".git/info/exclude"),
    ]
}

/// Why an ignore file cannot be read safely (a FIFO would block the walk forever, a device or
/// a huge file would fill memory), if it cannot.
fn unsafe_ignore_file(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() {
        return Some(format!(
            "{} is not a regular file",
            cybedefend_core::home::tilde(path)
        ));
    }
    (meta.len() > IGNORE_FILE_CAP).then(|| {
        format!(
            "{} is larger than {} MiB",
            cybedefend_core::home::tilde(path),
            IGNORE_FILE_CAP >> 20
        )
    })
}

/// Walks `root` with the ignore rules. Folders whose ignore files are not regular files (or
/// are huge) are not entered; they are listed in `problems`, since the walker would otherwise
/// block on a FIFO or read a device.
fn walker(root: &Path, respect_ignore: bool, problems: Arc<Mutex<Vec<String>>>) -> ignore::Walk {
    let mut b = ignore::WalkBuilder::new(root);
    b.hidden(false)
        .follow_links(false)
        .git_ignore(respect_ignore)
        .git_exclude(respect_ignore)
        .ignore(respect_ignore)
        .git_global(false)
        .parents(respect_ignore)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.depth() > 0 && e.file_name() == ".git" {
                return false;
            }
            if respect_ignore && e.file_type().is_some_and(|t| t.is_dir()) {
                let found: Vec<String> = ignore_files(e.path())
                    .iter()
                    .filter_map(|p| unsafe_ignore_file(p))
                    .collect();
                if !found.is_empty() {
                    if let Ok(mut p) = problems.lock() {
                        p.extend(found);
                    }
                    return false;
                }
            }
            true
        });
    b.build()
}

/// Checks the ignore files of `root` and of every folder above it (the walk reads those too).
fn check_parent_ignore_files(root: &Path) -> Result<()> {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    for dir in canonical.ancestors() {
        for path in ignore_files(dir) {
            if let Some(why) = unsafe_ignore_file(&path) {
                return Err(ignore_file_error(&[why]));
            }
        }
    }
    Ok(())
}

fn ignore_file_error(problems: &[String]) -> Error {
    Error::usage(format!(
        "cannot apply the ignore rules: {}",
        problems.join("; ")
    ))
    .with_hint("replace it with a regular file or remove it; or pass --no-ignore to read no ignore file at all")
}

/// Why a file name looks like it holds secrets (`.env`, keys, keystores, credential files),
/// if it does: the first question a security tool's user asks is what secrets would leave.
pub fn looks_like_secret(name: &str) -> Option<&'static str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    let example = [".example", ".sample", ".template", ".dist", ".defaults"]
        .iter()
        .any(|s| lower.ends_with(s));
    if (lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env")) && !example {
        return Some("environment file");
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains(&lower.as_str()) {
        return Some("SSH private key");
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if [
        "pem", "key", "p12", "pfx", "jks", "keystore", "kdbx", "ppk", "asc",
    ]
    .contains(&ext)
        && !example
    {
        return Some("key or keystore");
    }
    if [
        "credentials",
        "credentials.json",
        "credentials.yml",
        "credentials.yaml",
        ".npmrc",
        ".pypirc",
        ".netrc",
        ".git-credentials",
        ".dockercfg",
        "secrets.yml",
        "secrets.yaml",
        "secrets.json",
        "service-account.json",
        ".htpasswd",
        "terraform.tfvars",
    ]
    .contains(&lower.as_str())
    {
        return Some("credentials file");
    }
    None
}

/// Lists what goes into the archive. Errors name the unreadable path; a missing folder is a
/// usage error.
pub fn plan(root: &Path, respect_ignore: bool) -> Result<Plan> {
    plan_excluding(root, respect_ignore, &[])
}

/// [`plan`], leaving out the files `exclude` matches: patterns in `.gitignore` syntax, relative
/// to `root` (`*.pem`, `secrets/`, `/config/local.env`), applied even with `respect_ignore`
/// off. A pattern that does not parse is a usage error naming it.
pub fn plan_excluding(root: &Path, respect_ignore: bool, exclude: &[String]) -> Result<Plan> {
    let mut rules = ignore::gitignore::GitignoreBuilder::new(root);
    for pattern in exclude {
        rules.add_line(None, pattern).map_err(|e| {
            Error::usage(format!(
                "exclude pattern `{}` (--exclude or scan.exclude) is not valid: {e}",
                cybedefend_core::text::one_line(pattern, 120)
            ))
            .with_hint("patterns use .gitignore syntax: `*.pem`, `secrets/`, `/config/local.env`")
        })?;
    }
    let rules = rules
        .build()
        .map_err(|e| Error::usage(format!("exclude patterns (--exclude, scan.exclude): {e}")))?;
    let mut plan = plan_all(root, respect_ignore)?;
    if !exclude.is_empty() {
        plan.excluded = plan
            .leave_out(|f| {
                rules
                    .matched_path_or_any_parents(Path::new(&f.name), false)
                    .is_ignore()
            })
            .into_iter()
            .map(|f| f.name)
            .collect();
    }
    Ok(plan)
}

/// The .gitignore pattern that matches the file `name` (relative, `/`-separated) and nothing
/// else: anchored with `/`, and `\\`, `*`, `?`, `[`, `!`, `#` and trailing spaces escaped.
pub fn literal_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('/');
    let trailing = name.len() - name.trim_end_matches(' ').len();
    let body = &name[..name.len() - trailing];
    for c in body.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    for _ in 0..trailing {
        out.push_str("\\ ");
    }
    out
}

impl Plan {
    /// Removes the files `out` picks from the plan (the total follows) and returns them.
    pub fn leave_out(&mut self, out: impl Fn(&PlannedFile) -> bool) -> Vec<PlannedFile> {
        let (left, kept): (Vec<PlannedFile>, Vec<PlannedFile>) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| out(f));
        self.total_bytes = kept.iter().map(|f| f.size).sum();
        self.files = kept;
        left
    }

    /// Removes every file that [`looks_like_secret`], recorded in `secrets_left_out`.
    pub fn leave_out_secrets(&mut self) {
        let left = self.leave_out(|f| looks_like_secret(&f.name).is_some());
        self.secrets_left_out
            .extend(left.into_iter().map(|f| f.name));
    }
}

fn plan_all(root: &Path, respect_ignore: bool) -> Result<Plan> {
    let meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::usage(format!(
                "{} does not exist",
                cybedefend_core::home::tilde(root)
            ))
            .with_hint("give the folder to scan with --dir"));
        }
        Err(e) => {
            return Err(cybedefend_core::fsutil::io_error(
                "cannot read folder",
                root,
                &e,
            ));
        }
    };
    if !meta.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a folder",
            cybedefend_core::home::tilde(root)
        )));
    }
    if respect_ignore {
        check_parent_ignore_files(root)?;
    }
    let canonical_root = root
        .canonicalize()
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot resolve", root, &e))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0u64;
    let problems = Arc::new(Mutex::new(Vec::new()));
    for entry in walker(root, respect_ignore, problems.clone()) {
        let entry = entry.map_err(|e| walk_error(root, &e))?;
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() {
            continue;
        }
        let Some(name) = relative_name(root, entry.path()) else {
            continue;
        };
        if ft.is_symlink() {
            match fs::canonicalize(entry.path()) {
                Ok(target) if target.starts_with(&canonical_root) => match fs::metadata(&target) {
                    Ok(m) if m.is_file() => {
                        total += m.len();
                        files.push(PlannedFile {
                            name,
                            source: target,
                            size: m.len(),
                            mode: mode_of(&m),
                            modified: m.modified().ok(),
                            ignored: false,
                        });
                    }
                    _ => skipped.push(Skipped {
                        name,
                        reason: "symbolic link to a folder (not followed)".into(),
                    }),
                },
                Ok(_) => skipped.push(Skipped {
                    name,
                    reason: "symbolic link to outside the folder (not followed)".into(),
                }),
                Err(_) => skipped.push(Skipped {
                    name,
                    reason: "broken symbolic link".into(),
                }),
            }
            continue;
        }
        if !ft.is_file() {
            skipped.push(Skipped {
                name,
                reason: "not a regular file".into(),
            });
            continue;
        }
        let m = entry.metadata().map_err(|e| walk_error(root, &e))?;
        total += m.len();
        files.push(PlannedFile {
            name,
            source: entry.path().to_owned(),
            size: m.len(),
            mode: mode_of(&m),
            modified: m.modified().ok(),
            ignored: false,
        });
    }
    let problems = problems.lock().map(|p| p.clone()).unwrap_or_default();
    if !problems.is_empty() {
        return Err(ignore_file_error(&problems));
    }
    // The platform reads .cybedefend from the archive root, whatever the ignore rules say.
    let marker = root.join(PLATFORM_IGNORE_FILE);
    if !files.iter().any(|f| f.name == PLATFORM_IGNORE_FILE)
        && let Ok(m) = fs::symlink_metadata(&marker)
        && m.is_file()
    {
        total += m.len();
        files.push(PlannedFile {
            name: PLATFORM_IGNORE_FILE.into(),
            source: marker,
            size: m.len(),
            mode: mode_of(&m),
            modified: m.modified().ok(),
            ignored: false,
        });
    }
    if !respect_ignore {
        mark_ignored(root, &mut files);
    }
    Ok(Plan {
        root: root.to_owned(),
        files,
        total_bytes: total,
        skipped,
        excluded: Vec::new(),
        secrets_left_out: Vec::new(),
    })
}

/// Marks the files of a walk without ignore rules that the rules would have left out (a
/// second walk, with them). Best effort: when the rules cannot be read safely (an ignore file
/// that is not a regular file, a folder that cannot be read), nothing is marked.
fn mark_ignored(root: &Path, files: &mut [PlannedFile]) {
    if check_parent_ignore_files(root).is_err() {
        return;
    }
    let problems = Arc::new(Mutex::new(Vec::new()));
    let mut kept = HashSet::new();
    for entry in walker(root, true, problems.clone()) {
        let Ok(entry) = entry else { return };
        if entry.file_type().is_some_and(|t| !t.is_dir())
            && let Some(name) = relative_name(root, entry.path())
        {
            kept.insert(name);
        }
    }
    if problems.lock().map_or(true, |p| !p.is_empty()) {
        return;
    }
    for f in files {
        f.ignored = f.name != PLATFORM_IGNORE_FILE && !kept.contains(&f.name);
    }
}

/// What the ignore rules removed from `plan`, grouped by the outermost folder that lost all
/// its files (a second walk without rules; for `--dry-run` only).
pub fn ignored(plan: &Plan) -> Result<Vec<IgnoredGroup>> {
    // what --exclude left out is its own group, not the ignore rules'
    let kept: HashSet<&str> = plan
        .files
        .iter()
        .map(|f| f.name.as_str())
        .chain(plan.excluded.iter().map(String::as_str))
        .chain(plan.secrets_left_out.iter().map(String::as_str))
        .collect();
    let mut dirs_with_kept: HashSet<String> = HashSet::new();
    for f in &plan.files {
        let mut acc = String::new();
        for part in f
            .name
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            dirs_with_kept.insert(acc.clone());
        }
    }
    let mut groups: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for entry in walker(&plan.root, false, Arc::default()) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(name) = relative_name(&plan.root, entry.path()) else {
            continue;
        };
        if kept.contains(name.as_str()) {
            continue;
        }
        let parts: Vec<&str> = name.split('/').collect();
        let mut key = name.clone();
        let mut acc = String::new();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if !dirs_with_kept.contains(&acc) {
                key = format!("{acc}/");
                break;
            }
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += size;
    }
    let mut out: Vec<IgnoredGroup> = groups
        .into_iter()
        .map(|(path, (files, bytes))| IgnoredGroup { path, files, bytes })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    Ok(out)
}
