//! The scan archive: a zip of the source tree.
//!
//! What goes in: every file under the folder, except `.git/` (always) and what `.gitignore`,
//! `.ignore` and `.git/info/exclude` exclude (unless `respect_ignore` is off). Hidden files are
//! kept (the platform scans `.env` files and CI configs), and so is `.cybedefend` at the root,
//! which the platform reads, even when an ignore rule names it. Symbolic links are never
//! followed out of the folder: a link to a file inside it is stored as that file, anything else
//! is skipped and reported.
//!
//! How: the file list is split into batches; both cores deflate batches into small partial
//! archives, which are appended in order to the output with raw copies (no second
//! compression). Batches are processed in bounded windows and large files are spilled to a
//! temp file, so memory stays flat however large the tree is.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use time::OffsetDateTime;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::error::{Error, Result};
use crate::paths::display;

/// The file the platform reads its ignore rules from; always kept at the archive root.
pub const PLATFORM_IGNORE_FILE: &str = ".cybedefend";

/// Batches hold at most this many bytes of input...
const BATCH_BYTES: u64 = 4 << 20;
/// ...or this many files.
const BATCH_FILES: usize = 256;
/// Files at least this large are compressed to a temp file instead of memory.
const LARGE_FILE: u64 = 16 << 20;

/// One file to archive.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// Path inside the archive, `/`-separated.
    pub name: String,
    /// Where to read it.
    pub source: PathBuf,
    /// Size when planned.
    pub size: u64,
    mode: u32,
    modified: Option<SystemTime>,
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
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    /// Files in the archive.
    pub files: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Archive size.
    pub bytes_out: u64,
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
    let what = path.map(|p| display(&p)).unwrap_or_else(|| display(root));
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

fn walker(root: &Path, respect_ignore: bool) -> ignore::Walk {
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
        .filter_entry(|e| !(e.depth() > 0 && e.file_name() == ".git"));
    b.build()
}

/// Lists what goes into the archive. Errors name the unreadable path.
pub fn plan(root: &Path, respect_ignore: bool) -> Result<Plan> {
    let meta =
        fs::metadata(root).map_err(|e| crate::fsutil::io_error("cannot read folder", root, &e))?;
    if !meta.is_dir() {
        return Err(Error::usage(format!("{} is not a folder", display(root))));
    }
    let canonical_root = root
        .canonicalize()
        .map_err(|e| crate::fsutil::io_error("cannot resolve", root, &e))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0u64;
    for entry in walker(root, respect_ignore) {
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
        });
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
        });
    }
    Ok(Plan {
        root: root.to_owned(),
        files,
        total_bytes: total,
        skipped,
    })
}

/// What the ignore rules removed from `plan`, grouped by the outermost folder that lost all
/// its files (a second walk without rules; for `--dry-run` only).
pub fn ignored(plan: &Plan) -> Result<Vec<IgnoredGroup>> {
    let kept: HashSet<&str> = plan.files.iter().map(|f| f.name.as_str()).collect();
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
    for entry in walker(&plan.root, false) {
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

enum Partial {
    Memory(Vec<u8>),
    Disk(tempfile::NamedTempFile),
}

fn zip_time(t: Option<SystemTime>) -> zip::DateTime {
    t.map(OffsetDateTime::from)
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
            .ok()
        })
        .unwrap_or_default()
}

fn add_files<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    files: &[&PlannedFile],
    level: i64,
    progress: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    for f in files {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::failure("archive cancelled"));
        }
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(level))
            .unix_permissions(f.mode)
            .last_modified_time(zip_time(f.modified))
            .large_file(f.size >= u64::from(u32::MAX) - (1 << 20));
        zip.start_file(f.name.as_str(), options)
            .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
        let mut input = File::open(&f.source)
            .map_err(|e| crate::fsutil::io_error("cannot read", &f.source, &e))?;
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| crate::fsutil::io_error("cannot read", &f.source, &e))?;
            if n == 0 {
                break;
            }
            zip.write_all(&buf[..n])
                .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
            progress.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn compress_batch(
    files: &[&PlannedFile],
    level: i64,
    spill_dir: &Path,
    progress: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<Partial> {
    let large = files.iter().map(|f| f.size).sum::<u64>() >= LARGE_FILE;
    let finish_err =
        |e: zip::result::ZipError| Error::failure(format!("cannot write the archive: {e}"));
    if large {
        let tmp = tempfile::NamedTempFile::new_in(spill_dir)
            .map_err(|e| crate::fsutil::io_error("cannot create a temp file in", spill_dir, &e))?;
        let handle = tmp
            .reopen()
            .map_err(|e| crate::fsutil::io_error("cannot open", tmp.path(), &e))?;
        let mut zip = ZipWriter::new(BufWriter::new(handle));
        add_files(&mut zip, files, level, progress, cancel)?;
        let mut w = zip.finish().map_err(finish_err)?;
        w.flush()
            .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
        Ok(Partial::Disk(tmp))
    } else {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        add_files(&mut zip, files, level, progress, cancel)?;
        Ok(Partial::Memory(
            zip.finish().map_err(finish_err)?.into_inner(),
        ))
    }
}

fn batches(plan: &Plan) -> Vec<Vec<&PlannedFile>> {
    let mut out: Vec<Vec<&PlannedFile>> = Vec::new();
    let mut cur: Vec<&PlannedFile> = Vec::new();
    let mut bytes = 0;
    for f in &plan.files {
        if f.size >= LARGE_FILE {
            out.push(vec![f]);
            continue;
        }
        if !cur.is_empty() && (bytes + f.size > BATCH_BYTES || cur.len() >= BATCH_FILES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += f.size;
        cur.push(f);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Writes the archive to `out` with `threads` compressing threads. `progress` counts bytes
/// read; setting `cancel` stops the work (the caller removes `out`).
pub fn write(
    plan: &Plan,
    out: &Path,
    level: i64,
    threads: usize,
    progress: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<Written> {
    if plan.files.is_empty() {
        return Err(Error::usage(format!(
            "nothing to upload: {} has no files (after ignore rules)",
            display(&plan.root)
        ))
        .with_hint("check the folder, or pass --no-ignore to keep ignored files"));
    }
    let threads = threads.max(1);
    let spill_dir = out.parent().unwrap_or(Path::new(".")).to_owned();
    let file = File::create(out).map_err(|e| crate::fsutil::io_error("cannot create", out, &e))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let all = batches(plan);
    for window in all.chunks(threads * 2) {
        let results: Vec<Mutex<Option<Result<Partial>>>> =
            window.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads.min(window.len()) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= window.len() {
                            break;
                        }
                        let r = compress_batch(&window[i], level, &spill_dir, progress, cancel);
                        if r.is_err() {
                            cancel.store(true, Ordering::Relaxed);
                        }
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(r);
                        }
                    }
                });
            }
        });
        // First real error wins over the "cancelled" of the other threads.
        let mut collected = Vec::with_capacity(window.len());
        for slot in results {
            let r = slot
                .into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(Error::failure("archive cancelled")));
            collected.push(r);
        }
        if let Some(pos) = collected
            .iter()
            .position(|r| matches!(r, Err(e) if e.message != "archive cancelled"))
        {
            return Err(match collected.swap_remove(pos) {
                Err(e) => e,
                Ok(_) => Error::failure("archive cancelled"),
            });
        }
        for r in collected {
            let merge_err =
                |e: zip::result::ZipError| Error::failure(format!("cannot write the archive: {e}"));
            match r? {
                Partial::Memory(bytes) => {
                    let archive = ZipArchive::new(Cursor::new(bytes)).map_err(merge_err)?;
                    zip.merge_archive(archive).map_err(merge_err)?;
                }
                Partial::Disk(tmp) => {
                    let f = File::open(tmp.path())
                        .map_err(|e| crate::fsutil::io_error("cannot read", tmp.path(), &e))?;
                    let archive = ZipArchive::new(io::BufReader::new(f)).map_err(merge_err)?;
                    zip.merge_archive(archive).map_err(merge_err)?;
                }
            }
        }
    }
    let mut w = zip
        .finish()
        .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
    w.flush()
        .map_err(|e| crate::fsutil::io_error("cannot write", out, &e))?;
    let bytes_out = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Written {
        files: plan.files.len() as u64,
        bytes_in: progress.load(Ordering::Relaxed),
        bytes_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join(".git/objects")).unwrap();
        fs::write(r.join(".git/config"), "x").unwrap();
        fs::create_dir_all(r.join("src/gen")).unwrap();
        fs::create_dir_all(r.join("node_modules/pkg")).unwrap();
        fs::write(r.join("src/main.rs"), "fn main() {}\n".repeat(1000)).unwrap();
        fs::write(r.join("src/gen/out.js"), "x").unwrap();
        fs::write(r.join("node_modules/pkg/index.js"), "y".repeat(5000)).unwrap();
        fs::write(
            r.join(".gitignore"),
            "node_modules/\nsrc/gen/\n.cybedefend\n",
        )
        .unwrap();
        fs::write(r.join(".env"), "A=1").unwrap();
        fs::write(r.join(".cybedefend"), "tests/\n").unwrap();
        t
    }

    fn names(p: &Plan) -> Vec<&str> {
        let mut v: Vec<&str> = p.files.iter().map(|f| f.name.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn plan_skips_git_respects_ignores_keeps_dotfiles_and_marker() {
        let t = tree();
        let p = plan(t.path(), true).unwrap();
        assert_eq!(
            names(&p),
            vec![".cybedefend", ".env", ".gitignore", "src/main.rs"]
        );
        let ig = ignored(&p).unwrap();
        let paths: Vec<&str> = ig.iter().map(|g| g.path.as_str()).collect();
        assert_eq!(paths, vec!["node_modules/", "src/gen/"]);
        let all = plan(t.path(), false).unwrap();
        assert!(names(&all).contains(&"node_modules/pkg/index.js"));
        assert!(!names(&all).iter().any(|n| n.starts_with(".git/")));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed_out_of_the_tree() {
        let t = tree();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), t.path().join("leak.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("leakdir")).unwrap();
        std::os::unix::fs::symlink(t.path().join("src/main.rs"), t.path().join("alias.rs"))
            .unwrap();
        let p = plan(t.path(), true).unwrap();
        assert!(names(&p).contains(&"alias.rs"));
        assert!(!names(&p).contains(&"leak.txt"));
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.name.as_str()).collect();
        assert!(
            skipped.contains(&"leak.txt") && skipped.contains(&"leakdir"),
            "{skipped:?}"
        );
    }

    #[test]
    fn written_archive_round_trips() {
        let t = tree();
        fs::write(
            t.path().join("big.bin"),
            vec![7u8; (LARGE_FILE + 10) as usize],
        )
        .unwrap();
        let p = plan(t.path(), true).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("a.zip");
        let progress = AtomicU64::new(0);
        let w = write(&p, &path, 6, 2, &progress, &AtomicBool::new(false)).unwrap();
        assert_eq!(w.files, 5);
        assert_eq!(w.bytes_in, p.total_bytes);
        let mut z = ZipArchive::new(File::open(&path).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name("src/main.rs")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "fn main() {}\n".repeat(1000));
        assert_eq!(z.by_name("big.bin").unwrap().size(), LARGE_FILE + 10);
        // only the output remains in the folder: spilled partials are gone
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    }

    #[test]
    fn empty_folder_is_an_error_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let p = plan(t.path(), true).unwrap();
        let out = t.path().join("x.zip");
        let err = write(&p, &out, 6, 2, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap_err();
        assert!(err.message.contains("nothing to upload"), "{err}");
    }
}
