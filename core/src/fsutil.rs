//! Private files: 0600 in a 0700 folder, written atomically, under an exclusive lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::paths::display;

/// Creates `dir` (and parents) if needed and makes it private (0700 on Unix).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_error("cannot create folder", dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)
            .map_err(|e| io_error("cannot read folder", dir, &e))?
            .permissions()
            .mode()
            & 0o777;
        if mode != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_error("cannot make folder private (0700)", dir, &e))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a 0600 temp file in the same folder, fsync, rename.
/// Readers see the old content or the new, never a half-written file; on error the old file
/// is untouched and the temp file removed.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::failure(format!("{} has no parent folder", display(path))))?;
    ensure_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut file = open_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error("cannot write", path, &e));
    }
    Ok(())
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // The temp name may have existed with other bits; make sure.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// An exclusive advisory lock on a lock file; released on drop (and by the OS if the process
/// dies, so a crashed process never leaves a stale lock).
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Waits up to `wait` for the lock.
    pub fn acquire(path: &Path, wait: Duration) -> Result<Self> {
        if let Some(dir) = path.parent() {
            ensure_private_dir(dir)?;
        }
        let file = open_lock_file(path).map_err(|e| io_error("cannot open lock file", path, &e))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(Self {
                        file,
                        path: path.to_owned(),
                    });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= wait {
                        return Err(Error::failure(format!(
                            "another cybedefend process has held {} for {} s",
                            display(path),
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

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// An I/O error naming the file, as a failure (exit 1).
pub fn io_error(what: &str, path: &Path, err: &io::Error) -> Error {
    let mut e = Error::failure(format!("{what} {}: {}", display(path), err_text(err)));
    if err.kind() == io::ErrorKind::PermissionDenied {
        e = e.with_hint(format!(
            "check the owner and permissions of {}",
            display(path)
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
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn lock_is_exclusive_and_times_out_with_a_message() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".x.lock");
        let held = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let err = FileLock::acquire(&path, Duration::from_millis(50)).unwrap_err();
        assert!(err.message.contains("another cybedefend process"), "{err}");
        drop(held);
        FileLock::acquire(&path, Duration::from_millis(50)).unwrap();
    }
}
