//! Files the CLI reads and writes safely.
//!
//! - Private files: 0600 in a 0700 folder, written atomically (temp file + rename, so a link at
//!   the final name is replaced, never written through), under an exclusive lock.
//! - The private folder itself is refused when it is shared: owned by another user, writable
//!   by others, or sticky (`/tmp`). It is made 0700 only when it is a real folder of ours, never
//!   through a symbolic link.
//! - Reads of files that a user, a repository or a mounted secret provides take regular files
//!   only, opened so that the open itself cannot block (a FIFO), and are capped in size (a link
//!   to `/dev/zero`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Largest credentials.json, secret file or token read from a file.
pub const SECRET_FILE_CAP: u64 = 64 * 1024;

/// Why [`read_capped`] refused a file.
#[derive(Debug)]
pub enum ReadError {
    /// The file does not exist.
    NotFound,
    /// It is a FIFO, a socket, a device or a folder.
    NotRegular(&'static str),
    /// It is larger than the cap.
    TooLarge(u64),
    /// It is a symbolic link, and links are not followed here.
    Symlink,
    /// A link on the way may not be followed (another user's link in `/tmp`), or the path
    /// changed while it was read: why, naming the entry.
    Refused(String),
    /// Any other I/O error.
    Io(io::Error),
}

impl ReadError {
    /// The error for a message that names `path`.
    pub fn into_error(self, what: &str, path: &Path) -> Error {
        match self {
            ReadError::NotFound => {
                Error::not_found(format!("{} does not exist", crate::home::tilde(path)))
            }
            ReadError::NotRegular(kind) => Error::failure(format!(
                "{what} {} is a {kind}, not a regular file",
                crate::home::tilde(path)
            ))
            .with_hint("replace it with a regular file"),
            ReadError::TooLarge(cap) => Error::failure(format!(
                "{what} {} is larger than {} KiB, which no such file is",
                crate::home::tilde(path),
                cap / 1024
            )),
            ReadError::Symlink => Error::failure(format!(
                "{what} {} is a symbolic link, which is not followed here",
                crate::home::tilde(path)
            ))
            .with_hint("replace the link with the file itself"),
            ReadError::Refused(why) => Error::failure(format!(
                "cannot read {what} {}: {why}",
                crate::home::tilde(path)
            ))
            .with_hint("give the file's own path, not a link another user made"),
            ReadError::Io(e) => io_error(&format!("cannot read {what}"), path, &e),
        }
    }
}

#[cfg(unix)]
fn file_kind(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else if ft.is_dir() {
        "folder"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn file_kind(ft: &fs::FileType) -> &'static str {
    if ft.is_dir() {
        "folder"
    } else {
        "special file"
    }
}

/// Opens a file for reading without blocking on a FIFO and checks that it is a regular file.
/// `follow` says whether a symbolic link at `path` is followed; links on the way are followed
/// by [`crate::pathwalk`] (another user's link in a shared sticky folder is refused).
pub fn open_regular(path: &Path, follow: bool) -> std::result::Result<File, ReadError> {
    #[cfg(unix)]
    if follow {
        return open_walked(path, true).map(|(f, _)| f);
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = rustix::fs::OFlags::NONBLOCK;
        if !follow {
            flags |= rustix::fs::OFlags::NOFOLLOW;
        }
        options.custom_flags(flags.bits() as i32);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) if !follow && is_symlink_error(&e, path) => return Err(ReadError::Symlink),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(file_kind(&meta.file_type())));
    }
    Ok(file)
}

/// [`open_regular`] following links, with what the walk saw: the folders on the way and the
/// file's own owner and mode (all from descriptors, so they describe the file that is read).
/// With `link_at_name` false, a link as the last entry is refused, not followed.
#[cfg(unix)]
pub fn open_walked(
    path: &Path,
    link_at_name: bool,
) -> std::result::Result<(File, crate::pathwalk::Walked), ReadError> {
    use crate::pathwalk::{self, WalkError};
    let open = if link_at_name {
        pathwalk::Open::Read
    } else {
        pathwalk::Open::ReadNoLink
    };
    let walked = pathwalk::walk(path, open).map_err(|e| match e {
        WalkError::NotFound(_) => ReadError::NotFound,
        WalkError::Link(_) => ReadError::Symlink,
        WalkError::Io(_, e) => ReadError::Io(e),
        other => ReadError::Refused(other.to_string()),
    })?;
    let file = File::from(walked.file.try_clone().map_err(ReadError::Io)?);
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(file_kind(&meta.file_type())));
    }
    Ok((file, walked))
}

/// Opens something that is not a regular file for writing (a FIFO, a terminal, `/dev/stdout`),
/// without blocking: a FIFO nobody reads is an error, not a hang. The file is put back in
/// blocking mode for the writes.
pub fn open_for_output(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
            return Error::failure(format!(
                "nothing is reading {} (a FIFO with no reader)",
                crate::home::tilde(path)
            ))
            .with_hint("start the reader first, or write to a file");
        }
        io_error("cannot write", path, &e)
    })?;
    #[cfg(unix)]
    {
        let flags = rustix::fs::fcntl_getfl(&file)
            .map_err(|e| io_error("cannot write", path, &io::Error::from(e)))?;
        rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| io_error("cannot write", path, &io::Error::from(e)))?;
    }
    Ok(file)
}

fn is_symlink_error(e: &io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            return fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        }
    }
    let _ = (e, path);
    false
}

/// The user this process runs as (its effective uid), where there are uids.
pub fn current_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(rustix::process::geteuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Reads a whole regular file of at most `cap` bytes (see [`open_regular`]).
pub fn read_capped(path: &Path, cap: u64, follow: bool) -> std::result::Result<Vec<u8>, ReadError> {
    let file = open_regular(path, follow)?;
    let mut out = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(ReadError::Io)?;
    if out.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(out)
}

/// [`read_capped`] off the async runtime, so that a slow file system cannot stall it and a
/// caller's time limit still applies.
pub async fn read_capped_async(
    path: PathBuf,
    cap: u64,
    follow: bool,
) -> std::result::Result<Vec<u8>, ReadError> {
    match tokio::task::spawn_blocking(move || read_capped(&path, cap, follow)).await {
        Ok(r) => r,
        Err(e) => Err(ReadError::Io(io::Error::other(e.to_string()))),
    }
}

/// Mode bits a file's group or others may use (0 on systems without them).
pub fn shared_mode(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// Creates `dir` (and parents) if needed and makes sure it is private (0700 on Unix).
///
/// An existing folder is refused when another user owns it, when others can write to it, or
/// when it is sticky (a shared folder such as `/tmp`): secrets would be exposed there or could
/// be swapped. A real folder of ours is tightened to 0700; a symbolic link is followed but its
/// target is never changed.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    let link = match fs::symlink_metadata(dir) {
        Ok(m) => m.file_type().is_symlink(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir(dir)?;
            false
        }
        Err(e) => return Err(io_error("cannot read folder", dir, &e)),
    };
    let meta = fs::metadata(dir).map_err(|e| io_error("cannot read folder", dir, &e))?;
    if !meta.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a folder",
            crate::home::tilde(dir)
        ))
        .with_hint("cybedefend keeps its files in a folder; remove or rename what is there, or set CYBEDEFEND_HOME"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let refuse = |why: String| {
            Error::usage(format!(
                "refusing to keep credentials in {}: {why}",
                crate::home::tilde(dir)
            ))
            .with_hint("use a folder of your own (mode 0700), e.g. unset CYBEDEFEND_HOME to use ~/.cybedefend")
        };
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(refuse(format!(
                "it belongs to another user (uid {})",
                meta.uid()
            )));
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o1000 != 0 {
            return Err(refuse(format!(
                "it is a sticky shared folder (mode {mode:o})"
            )));
        }
        if mode & 0o022 != 0 {
            return Err(refuse(format!(
                "other users can write to it (mode {mode:o})"
            )));
        }
        if mode & 0o077 != 0 && !link {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_error("cannot make folder private (0700)", dir, &e))?;
        }
    }
    let _ = link;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("cannot create folder", dir, &e))
}

/// Writes `bytes` to `path` atomically: a 0600 temp file in the same folder, fsync, rename.
/// Readers see the old content or the new, never a half-written file; a symbolic link at
/// `path` is replaced, not written through; on error the old file is untouched and the temp
/// file removed.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_of(path);
    ensure_private_dir(dir)?;
    // A temporary file of an earlier write that was killed (SIGKILL, power loss) holds a
    // secret: the caller holds this file's lock, so any of its temporaries is left over.
    remove_stale_temporaries(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error("cannot write in", dir, &e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io_error("cannot write", path, &e))?;
    tmp.persist(path)
        .map_err(|e| io_error("cannot write", path, &e.error))?;
    Ok(())
}

/// The name prefix of [`write_private_atomic`]'s temporary files for `path`
/// (`.credentials.json.cybedefend-`): one per file, so that removing a file's left-over
/// temporaries under its lock never touches another file's write in progress.
fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.cybedefend-")
}

/// Older versions named every temporary `.cybedefend-XXXXXX.tmp`: those are removed once old
/// enough that no write of theirs can still be running.
const LEGACY_TEMPORARY_AGE: Duration = Duration::from_secs(600);

/// Removes the temporary files a killed [`write_private_atomic`] of `path` left in its folder
/// (regular files of this user only, never through a link). Call it holding `path`'s lock.
/// Returns how many were removed.
pub fn remove_stale_temporaries(path: &Path) -> usize {
    let dir = parent_of(path);
    let prefix = temporary_prefix(path);
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.filter_map(|e| e.ok()).take(10_000) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".tmp") {
            continue;
        }
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let legacy = name.starts_with(".cybedefend-")
            && meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > LEGACY_TEMPORARY_AGE);
        if !(name.starts_with(&prefix) || legacy) || !meta.is_file() {
            continue;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if Some(meta.uid()) != current_uid() {
                continue;
            }
        }
        if fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The folder of `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A file being written under a temporary name next to its final one; it appears under the
/// final name only when [`AtomicFile::commit`] succeeds (a link there is replaced, never
/// followed), and is removed if it is dropped before (an error, Ctrl-C).
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    /// Never replace a file at the final name (a name learnt from a server).
    no_clobber: bool,
}

impl AtomicFile {
    /// Starts a file that will become `path`, creating its folder if needed. A read-only file
    /// there is refused (as `>` would); a writable one keeps its permissions.
    pub fn create(path: &Path) -> Result<Self> {
        if let Ok(m) = fs::symlink_metadata(path)
            && m.is_file()
            && m.permissions().readonly()
        {
            return Err(Error::failure(format!(
                "{} is read-only; not replaced",
                crate::home::tilde(path)
            ))
            .with_hint("make it writable, or write to another file"));
        }
        let dir = parent_of(path);
        fs::create_dir_all(dir).map_err(|e| io_error("cannot create folder", dir, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".part");
        // Created 0666 less the umask, as any file the user makes (reports and archives are
        // ordinary files); a stricter umask makes it more private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| io_error("cannot write in", dir, &e))?;
        Ok(Self {
            tmp,
            path: path.to_owned(),
            no_clobber: false,
        })
    }

    /// Where the data goes until the commit.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the final name to another file in the same folder (a name learnt while
    /// writing), which must not exist when the file is committed; a name with a folder part is
    /// refused.
    pub fn rename_to(&mut self, name: &str) -> Result<()> {
        if Path::new(name).components().count() != 1 || name == ".." || name == "." {
            return Err(Error::failure(format!(
                "refusing the file name `{}`",
                crate::text::one_line(name, 100)
            )));
        }
        self.path = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
            _ => PathBuf::from(name),
        };
        self.no_clobber = true;
        Ok(())
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Flushes and moves the file to its final name (permissions: 0666 less the umask).
    pub fn commit(self) -> Result<()> {
        let AtomicFile {
            tmp,
            path,
            no_clobber,
        } = self;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_error("cannot write", &path, &e))?;
        // A file being replaced keeps its permissions (a private report stays private).
        if let Ok(m) = fs::symlink_metadata(&path)
            && m.is_file()
        {
            let _ = tmp.as_file().set_permissions(m.permissions());
        }
        if no_clobber {
            tmp.persist_noclobber(&path)
                .map_err(|e| io_error("cannot write", &path, &e.error))?;
            return Ok(());
        }
        tmp.persist(&path)
            .map_err(|e| io_error("cannot write", &path, &e.error))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// An exclusive advisory lock on a lock file; released on drop (and by the OS if the process
/// dies, so a crashed process never leaves a stale lock). The lock file is opened without
/// following a symbolic link, so a link planted there cannot make the CLI create its target.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits up to `wait` for the lock.
    /// [`FileLock::acquire`], or `None` when the lock file cannot be made at all (a read-only
    /// file system, a folder the user may not write): the caller can go on without what the
    /// lock guards. Waiting too long for another process is still an error.
    pub fn acquire_if_possible(path: &Path, wait: Duration) -> Result<Option<Self>> {
        let unwritable = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            )
        };
        if let Err(e) = fs::create_dir_all(parent_of(path))
            && unwritable(&e)
        {
            return Ok(None);
        }
        match open_lock_file(path) {
            Err(ReadError::Io(e)) if unwritable(&e) => Ok(None),
            _ => Self::acquire(path, wait).map(Some),
        }
    }

    pub fn acquire(path: &Path, wait: Duration) -> Result<Self> {
        ensure_private_dir(parent_of(path))?;
        let file = open_lock_file(path).map_err(|e| match e {
            ReadError::Io(e) => io_error("cannot open lock file", path, &e),
            other => other.into_error("lock file", path),
        })?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file }),
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= wait {
                        return Err(Error::failure(format!(
                            "another cybedefend process has held {} for {} s",
                            crate::home::tilde(path),
                            wait.as_secs()
                        ))
                        .with_hint("wait for it to finish, or stop it and retry"));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(io_error("cannot lock", path, &e));
                }
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn open_lock_file(path: &Path) -> std::result::Result<File, ReadError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        options.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if is_symlink_error(&e, path) => return Err(ReadError::Symlink),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(file_kind(&meta.file_type())));
    }
    Ok(file)
}

/// An I/O error naming the file, as a failure (exit 1).
pub fn io_error(what: &str, path: &Path, err: &io::Error) -> Error {
    let mut e = Error::failure(format!(
        "{what} {}: {}",
        crate::home::tilde(path),
        err_text(err)
    ))
    .with_source(err);
    if err.kind() == io::ErrorKind::PermissionDenied {
        e = e.with_hint(format!(
            "check the owner and permissions of {}",
            crate::home::tilde(path)
        ));
    }
    e
}

fn err_text(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "not found".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_makes_0600_file_in_0700_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("home");
        let file = dir.join("credentials.json");
        write_private_atomic(&file, b"{}").unwrap();
        let fmode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        let dmode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!((fmode, dmode), (0o600, 0o700));
        // an existing world-readable file is replaced by a private one
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_atomic(&file, b"{\"a\":1}").unwrap();
        let fmode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(fmode, 0o600);
        assert_eq!(fs::read_to_string(&file).unwrap(), "{\"a\":1}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn atomic_write_replaces_a_link_instead_of_writing_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("home");
        fs::create_dir(&dir).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("token-cache.json")).unwrap();
        write_private_atomic(&dir.join("token-cache.json"), b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            !fs::symlink_metadata(dir.join("token-cache.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn lock_is_exclusive_and_times_out_with_a_message() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".x.lock");
        let held = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let err = FileLock::acquire(&path, Duration::from_millis(50)).unwrap_err();
        assert!(
            err.message().contains("another cybedefend process"),
            "{err}"
        );
        drop(held);
        FileLock::acquire(&path, Duration::from_millis(50)).unwrap();
    }

    #[test]
    fn a_dangling_link_as_lock_file_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("created-by-attacker");
        let lock = tmp.path().join(".credentials.lock");
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        let err = FileLock::acquire(&lock, Duration::from_millis(50)).unwrap_err();
        assert!(err.message().contains("symbolic link"), "{err}");
        assert!(!target.exists());
    }

    #[test]
    fn reads_refuse_fifos_devices_and_oversized_files_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        assert!(matches!(
            read_capped(&fifo, 10, true),
            Err(ReadError::NotRegular("FIFO"))
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 10, true),
            Err(ReadError::NotRegular("device"))
        ));
        let big = tmp.path().join("big");
        fs::write(&big, vec![b'a'; 11]).unwrap();
        assert!(matches!(
            read_capped(&big, 10, true),
            Err(ReadError::TooLarge(10))
        ));
        assert_eq!(read_capped(&big, 11, true).unwrap().len(), 11);
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert!(matches!(
            read_capped(&link, 20, false),
            Err(ReadError::Symlink)
        ));
        assert!(read_capped(&link, 20, true).is_ok());
    }

    #[test]
    fn shared_or_foreign_folders_are_refused_and_links_not_chmodded() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        let err = ensure_private_dir(&shared).unwrap_err();
        assert!(err.message().contains("sticky"), "{err}");
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
            0o1777
        );

        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            ensure_private_dir(&open)
                .unwrap_err()
                .message()
                .contains("write")
        );

        let mine = tmp.path().join("mine");
        fs::create_dir(&mine).unwrap();
        fs::set_permissions(&mine, fs::Permissions::from_mode(0o755)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        ensure_private_dir(&link).unwrap();
        assert_eq!(
            fs::metadata(&mine).unwrap().permissions().mode() & 0o777,
            0o755
        );
        ensure_private_dir(&mine).unwrap();
        assert_eq!(
            fs::metadata(&mine).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
