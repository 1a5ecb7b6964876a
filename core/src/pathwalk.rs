//! Resolving a path one entry at a time through descriptors, as the kernel does, so that the
//! folders and the file that are checked are the ones that are used.
//!
//! Each folder is held open while its entry is read; a link is read from the folder that holds
//! it and followed by hand (at most 40), and the last entry is opened without following a link.
//! A link swapped in after it was looked at is an error, never followed. In a sticky folder
//! that everyone can write (`/tmp`), a link is followed only when it belongs to the current
//! user or to the folder's owner: the kernel's `protected_symlinks` rule, applied whatever the
//! machine's setting, since another user can plant a link there but cannot replace one of
//! yours. Links under `/proc` (`/dev/stdin`, `/proc/self/fd/N`) are the kernel's own and are
//! opened by it.

#![allow(
    clippy::unnecessary_cast,
    reason = "the types of `stat` fields differ between systems"
)]

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, Stat};

/// Most links followed on one path (the kernel's limit).
const MAX_LINKS: usize = 40;

/// The file system type number of `/proc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// A folder whose entries were read on the way, and what it was when it was read.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Its path, without links.
    pub path: PathBuf,
    /// Owner and mode, from its open descriptor.
    pub stat: Stat,
}

/// A resolved path: the file, held open, and every folder read on the way.
#[derive(Debug)]
pub struct Walked {
    /// The path without links (as far as it was read).
    pub real: PathBuf,
    /// Every folder whose entry was read, in order, each once: on the way to the name, to
    /// each link of a chain, and to the real file.
    pub folders: Vec<Folder>,
    /// The file (opened without following a link at its own name).
    pub file: OwnedFd,
    /// The file's owner, mode and type, from [`Walked::file`].
    pub stat: Stat,
}

/// Why a path could not be resolved.
#[derive(Debug)]
pub enum WalkError {
    /// An entry does not exist (the path up to it).
    NotFound(PathBuf),
    /// A link in a sticky folder that others can write belongs to another user.
    ForeignLink {
        /// The link itself (not where it points).
        link: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// More than 40 links.
    TooManyLinks,
    /// The last entry is a link, and [`Open::ReadNoLink`] was asked.
    Link(PathBuf),
    /// Something on the way is not a folder, or changed while it was read.
    Changed(PathBuf),
    /// Another error at this path.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkError::NotFound(p) => write!(f, "{} does not exist", crate::home::tilde(p)),
            WalkError::ForeignLink { link, owner } => write!(
                f,
                "{} is a symbolic link in a folder everyone can write, and it belongs to another user (uid {owner}): it is not followed",
                crate::home::tilde(link)
            ),
            WalkError::TooManyLinks => f.write_str("it goes through more than 40 symbolic links"),
            WalkError::Link(p) => write!(
                f,
                "{} is a symbolic link, which is not followed here",
                crate::home::tilde(p)
            ),
            WalkError::Changed(p) => write!(
                f,
                "{} is not a folder, or changed while it was read",
                crate::home::tilde(p)
            ),
            WalkError::Io(p, e) => write!(f, "{}: {e}", crate::home::tilde(p)),
        }
    }
}

/// How the last entry is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// For reading, without blocking (a FIFO does not hang the open).
    Read,
    /// For reading, and a link as the last entry is an error ([`WalkError::Link`]), not
    /// followed.
    ReadNoLink,
    /// As a folder (a path-only descriptor where the system has one).
    Folder,
}

enum Step {
    Root,
    Up,
    Name(OsString),
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

fn folder_flags() -> OFlags {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let base = OFlags::PATH;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let base = OFlags::RDONLY;
    base | OFlags::DIRECTORY | OFlags::CLOEXEC
}

fn on_proc(dir: &OwnedFd) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::fs::fstatfs(dir).is_ok_and(|s| s.f_type as i64 == PROC_SUPER_MAGIC)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = dir;
        false
    }
}

/// Whether a folder is sticky and everyone can write to it (`/tmp`).
pub fn sticky_shared(stat: &Stat) -> bool {
    let mode = stat.st_mode as u32;
    mode & 0o1000 != 0 && mode & 0o002 != 0
}

/// Resolves `path` (made absolute against the working directory) and opens its last entry.
pub fn walk(path: &Path, open: Open) -> Result<Walked, WalkError> {
    let absolute = std::path::absolute(path).map_err(|e| WalkError::Io(path.to_owned(), e))?;
    let euid = rustix::process::geteuid().as_raw();
    let root = rustix::fs::openat(CWD, "/", folder_flags(), Mode::empty())
        .map_err(|e| WalkError::Io(PathBuf::from("/"), e.into()))?;
    // The folders held open, from `/` down to the current one.
    let mut stack: Vec<(PathBuf, OwnedFd)> = vec![(PathBuf::from("/"), root)];
    let mut folders: Vec<Folder> = Vec::new();
    let mut pending: VecDeque<Step> = steps(&absolute).into();
    let mut links = 0usize;
    let final_flags = match open {
        Open::Read | Open::ReadNoLink => {
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW
        }
        Open::Folder => folder_flags() | OFlags::NOFOLLOW,
    };
    // `pending` empty after a name: that name is the last entry.
    let mut last: Option<(OwnedFd, PathBuf)> = None;
    while let Some(step) = pending.pop_front() {
        match step {
            Step::Root => stack.truncate(1),
            Step::Up => {
                if stack.len() > 1 {
                    stack.pop();
                }
            }
            Step::Name(name) => {
                let (dir_path, dir) = stack.last().expect("the root stays");
                let dir_stat = rustix::fs::fstat(dir)
                    .map_err(|e| WalkError::Io(dir_path.clone(), e.into()))?;
                if !folders.iter().any(|f| &f.path == dir_path) {
                    folders.push(Folder {
                        path: dir_path.clone(),
                        stat: dir_stat,
                    });
                }
                let here = dir_path.join(&name);
                let is_last = pending.is_empty();
                let st = match rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                {
                    Ok(st) => st,
                    Err(rustix::io::Errno::NOENT) => return Err(WalkError::NotFound(here)),
                    Err(e) => return Err(WalkError::Io(here, e.into())),
                };
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    if is_last && open == Open::ReadNoLink {
                        return Err(WalkError::Link(here));
                    }
                    if on_proc(dir) {
                        // the kernel's own links (`/proc/self/fd/N`): opened by the kernel
                        let flags = if is_last {
                            final_flags - OFlags::NOFOLLOW
                        } else {
                            folder_flags()
                        };
                        let fd = rustix::fs::openat(dir, name.as_os_str(), flags, Mode::empty())
                            .map_err(|e| WalkError::Io(here.clone(), e.into()))?;
                        if is_last {
                            last = Some((fd, here));
                        } else {
                            stack.push((here, fd));
                        }
                        continue;
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(WalkError::TooManyLinks);
                    }
                    let owner = st.st_uid as u32;
                    if sticky_shared(&dir_stat) && owner != euid && owner != dir_stat.st_uid as u32
                    {
                        return Err(WalkError::ForeignLink { link: here, owner });
                    }
                    let target = rustix::fs::readlinkat(dir, name.as_os_str(), Vec::new())
                        .map_err(|e| WalkError::Io(here.clone(), e.into()))?;
                    let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                    for s in steps(&target).into_iter().rev() {
                        pending.push_front(s);
                    }
                    continue;
                }
                let flags = if is_last {
                    final_flags
                } else {
                    folder_flags() | OFlags::NOFOLLOW
                };
                let fd = match rustix::fs::openat(dir, name.as_os_str(), flags, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(rustix::io::Errno::NOENT) => return Err(WalkError::NotFound(here)),
                    Err(rustix::io::Errno::LOOP) if is_last && open == Open::ReadNoLink => {
                        return Err(WalkError::Link(here));
                    }
                    Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                        return Err(WalkError::Changed(here));
                    }
                    Err(e) => return Err(WalkError::Io(here, e.into())),
                };
                if is_last {
                    last = Some((fd, here));
                } else {
                    stack.push((here, fd));
                }
            }
        }
    }
    let (file, real) = match last {
        Some(l) => l,
        // the path ends in `/` itself (or `..` back to it): the folder it names
        None => {
            let (p, dir) = stack.pop().expect("the root stays");
            let fd = rustix::fs::openat(&dir, ".", final_flags - OFlags::NOFOLLOW, Mode::empty())
                .map_err(|e| WalkError::Io(p.clone(), e.into()))?;
            (fd, p)
        }
    };
    let stat = rustix::fs::fstat(&file).map_err(|e| WalkError::Io(real.clone(), e.into()))?;
    Ok(Walked {
        real,
        folders,
        file,
        stat,
    })
}

/// The owner of a descriptor's file.
pub fn owner(stat: &Stat) -> u32 {
    stat.st_uid as u32
}

/// The permission bits of a descriptor's file.
pub fn mode(stat: &Stat) -> u32 {
    stat.st_mode as u32 & 0o7777
}

/// Whether a descriptor's file is a regular file.
pub fn is_file(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

/// Whether a descriptor's file is a folder.
pub fn is_dir(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::Directory
}

/// Reads up to `buf.len()` bytes at `offset` of `fd` (short only at the end of the file).
pub fn read_at(fd: impl AsFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(&fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn links_are_followed_by_hand_and_every_folder_is_recorded() {
        let t = tempfile::tempdir().expect("tempdir");
        let real = t.path().join("a/b/file");
        fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
        fs::write(&real, b"x").expect("write");
        symlink("a/b", t.path().join("link")).expect("link");
        symlink(t.path().join("link/file"), t.path().join("file-link")).expect("link");
        let w = walk(&t.path().join("file-link"), Open::Read).expect("walk");
        let canon = fs::canonicalize(&real).expect("canon");
        assert_eq!(w.real, canon);
        assert!(is_file(&w.stat));
        let names: Vec<_> = w.folders.iter().map(|f| f.path.clone()).collect();
        let base = fs::canonicalize(t.path()).expect("canon");
        assert!(names.contains(&base.join("a/b")), "{names:?}");
        assert!(names.contains(&base), "{names:?}");
        // a link at the last entry swapped for a loop: refused, not followed forever
        symlink("loop", t.path().join("loop")).expect("link");
        assert!(matches!(
            walk(&t.path().join("loop"), Open::Read),
            Err(WalkError::TooManyLinks)
        ));
        assert!(matches!(
            walk(&t.path().join("missing/x"), Open::Read),
            Err(WalkError::NotFound(_))
        ));
    }

    #[test]
    fn the_kernels_own_links_are_opened_by_the_kernel() {
        let w = walk(Path::new("/proc/self/exe"), Open::Read).expect("walk");
        assert!(is_file(&w.stat));
    }

    #[test]
    fn a_link_in_a_shared_sticky_folder_must_be_yours_or_the_folders_owner() {
        let t = tempfile::tempdir().expect("tempdir");
        let shared = t.path().join("shared");
        fs::create_dir(&shared).expect("mkdir");
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).expect("chmod");
        fs::write(t.path().join("target"), b"x").expect("write");
        symlink(t.path().join("target"), shared.join("mine")).expect("link");
        // the folder's owner and the link's owner are this user: followed
        assert!(walk(&shared.join("mine"), Open::Read).is_ok());
    }
}
