//! Whether a plugin file may run, and the checked file held open so that what runs is what was
//! checked. Refused:
//!
//! - a path that is not absolute (it would be searched on `PATH` or the library path);
//! - a path through a symbolic link, in a sticky folder everyone can write (`/tmp`), that
//!   belongs neither to the current user nor to the folder's owner (the kernel's
//!   `protected_symlinks` rule, applied whatever the machine's setting);
//! - a file that is not a regular file, that group or others can write, or that a user other
//!   than root or the current one owns;
//! - a file in a folder that group or others can write (unless it is a sticky folder owned by
//!   root, such as `/tmp`), or that another user owns: every folder whose entry is read, on
//!   the way to the name, to each link of a chain, and to the real file;
//! - an exec plugin that is neither an ELF program nor a `#!` script, or whose interpreters
//!   (`#!/bin/sh`; a script run by a script; the program of `#!/usr/bin/env NAME`, found on
//!   the plugin's own `PATH`) fail the same checks; `env` with options or assignments;
//! - an ELF program or library whose loader (`PT_INTERP`) fails the file checks, or whose
//!   `RPATH`/`RUNPATH` names a folder that fails the folder checks (`$ORIGIN` expanded), is
//!   relative or empty (the working directory), or uses `$LIB`/`$PLATFORM`;
//! - a file whose SHA-256 is not the pinned one (`sha256:` in the provider's config);
//! - under the system's `plugins.allow`: a plugin it does not list, or a listed name whose
//!   file a user other than root could have put there (an allowed plugin is one the
//!   administrator installed), unless the list names the file's `sha256:` itself; and then
//!   every other file that runs (interpreters, the loader, libraries of `RPATH`/`RUNPATH`) and
//!   every folder of the plugin's `PATH` must be root's too.
//!
//! The plugin's `PATH` is the absolute folders of the user's `PATH` that pass the folder
//! checks (and, for a folder of `PATH`, cannot be written by group or others even if sticky):
//! the same `PATH` finds `env`'s program here and is the plugin's own.
//!
//! Open once: each file is resolved through descriptors ([`cybedefend_core::pathwalk`]), its
//! owner and mode are read from the open descriptor, its hash is computed from that
//! descriptor, and that descriptor is what runs (Linux: `/proc/self/fd/N`; a script's
//! interpreter reads `/dev/fd/N`). When a hash decides (a pin, or an allow-list entry by
//! hash), the bytes are copied while they are hashed into a sealed memory file, which is what
//! runs: not even the file's owner can change them in between.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cybedefend_core::pathwalk::{self, Folder, Open, WalkError, Walked};
use cybedefend_core::text::one_line;
use sha2::{Digest, Sha256};

use crate::discover::{Kind, Located};
use crate::elf;

/// Largest plugin file hashed (a plugin is a program, not a disk image).
const HASH_CAP: u64 = 1024 * 1024 * 1024;

/// Whether programs and libraries here are ELF files (their loader and library folders are
/// checked); elsewhere (macOS) only the file and folder rules apply to them.
const ELF_SYSTEM: bool = !cfg!(any(target_os = "macos", target_os = "ios", windows));

/// Whether the first bytes are a program this system runs directly (ELF, Mach-O).
fn is_program(head: &[u8]) -> bool {
    elf::is_elf(head) || head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
}

/// Most interpreters in a chain (a script run by a script...).
const MAX_INTERPRETERS: usize = 4;

/// Most levels of libraries found through `$ORIGIN`.
const MAX_LIBRARY_DEPTH: usize = 8;

/// The outcome of the checks.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The file after resolving links: the one that runs.
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
    pub fn to_error(&self, name: &str) -> cybedefend_core::Error {
        let mut fixes: Vec<&str> = Vec::new();
        for r in &self.refusals {
            if !fixes.contains(&r.fix.as_str()) {
                fixes.push(&r.fix);
            }
        }
        cybedefend_core::Error::usage(format!(
            "plugin `{name}` ({}) is refused: {}",
            cybedefend_core::home::tilde(&self.real_path),
            self.reasons()
        ))
        .with_hint(fixes.join("; "))
    }
}

/// A plugin that passed every check, held open: what runs is what was checked.
#[derive(Debug)]
pub struct Trusted {
    /// The plugin's name.
    pub name: String,
    /// Exec or native.
    pub kind: Kind,
    /// The path it was found at.
    pub path: PathBuf,
    /// The real file.
    pub real_path: PathBuf,
    /// `sha256:<hex>` when it was hashed.
    pub sha256: String,
    pub(crate) run: Run,
}

/// How the checked file runs.
#[derive(Debug)]
pub(crate) enum Run {
    Exec(ExecRun),
    Native(NativeRun),
}

/// An exec plugin, ready to start.
#[derive(Debug)]
pub(crate) struct ExecRun {
    /// The program the system runs: the plugin itself (a program), or the last interpreter of
    /// its chain.
    pub(crate) program: OwnedFd,
    /// Its real path (shown, and run on systems without `/proc/self/fd`).
    pub(crate) program_path: PathBuf,
    /// `argv[0]`: the interpreter as the `#!` line names it, or the plugin's path.
    pub(crate) arg0: String,
    /// Arguments before `--cybedefend-plugin`: each `#!` line's argument and the scripts, in
    /// the order the system would pass them. [`Arg::Plugin`] is the plugin script itself.
    pub(crate) args: Vec<Arg>,
    /// The plugin script, read by its interpreter through `/dev/fd/N` (inherited by the
    /// plugin); `None` for a program.
    pub(crate) script: Option<OwnedFd>,
    /// The plugin's `PATH`.
    pub(crate) path_var: OsString,
    /// Whether it runs from a sealed copy (admitted by its hash).
    pub(crate) from_copy: bool,
    /// Under `plugins.allow`: only what the administrator installed may run.
    pub(crate) root_only: bool,
}

/// An argument of an exec plugin's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// As is.
    Text(String),
    /// The plugin script (`/dev/fd/N`).
    Plugin,
}

/// A native plugin, ready to load.
#[derive(Debug)]
pub(crate) struct NativeRun {
    /// The checked library, held open: it is loaded from this descriptor.
    pub(crate) library: OwnedFd,
    /// Libraries it finds through `$ORIGIN`, each checked, to load first by their descriptors
    /// (the system's loader then finds them by name), dependencies first.
    pub(crate) preload: Vec<OwnedFd>,
    /// Which bytes these are (loaded once per process).
    pub(crate) key: String,
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

/// Hex SHA-256 of a regular file, resolved and opened as a plugin is.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let w = pathwalk::walk(path, Open::Read).map_err(|e| std::io::Error::other(e.to_string()))?;
    if !pathwalk::is_file(&w.stat) {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    read_all(&w.file, None).map(|(h, _)| h)
}

/// Reads all of `fd` (at most 1 GiB), hashing it; with `copy`, into a sealed memory file too
/// (executable unless `script`).
fn read_all(fd: impl AsFd, copy: Option<bool>) -> std::io::Result<(String, Option<OwnedFd>)> {
    let memfd = match copy {
        Some(script) => Some(memory_file(!script)?),
        None => None,
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    loop {
        let n = pathwalk::read_at(&fd, &mut buf, offset)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        if offset > HASH_CAP {
            return Err(std::io::Error::other("it is larger than 1 GiB"));
        }
        h.update(&buf[..n]);
        if let Some(m) = &memfd {
            write_all(m, &buf[..n])?;
        }
        if n < buf.len() {
            break;
        }
    }
    if let Some(m) = &memfd {
        seal(m)?;
    }
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, memfd))
}

/// Why a sealed copy cannot run here (`vm.memfd_noexec`); the refusal names it.
const NO_EXECUTABLE_MEMORY: &str =
    "this system does not allow executable memory files (vm.memfd_noexec)";

/// A sealable memory file; `executable` for a program or library (a script is only read).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn memory_file(executable: bool) -> std::io::Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let (wanted, old_kernel) = if executable {
        (base | MemfdFlags::EXEC, base)
    } else {
        (base | MemfdFlags::NOEXEC_SEAL, base)
    };
    // kernels before 6.3 know neither flag (their memory files are executable)
    match rustix::fs::memfd_create("cybedefend-plugin", wanted) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::INVAL) => {
            Ok(rustix::fs::memfd_create("cybedefend-plugin", old_kernel)?)
        }
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) if executable => Err(
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, NO_EXECUTABLE_MEMORY),
        ),
        Err(e) => Err(e.into()),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn seal(fd: &OwnedFd) -> std::io::Result<()> {
    use rustix::fs::SealFlags;
    rustix::fs::fcntl_add_seals(
        fd,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
    )?;
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn memory_file(_executable: bool) -> std::io::Result<OwnedFd> {
    Err(std::io::Error::other(
        "this system has no sealed memory files; a plugin admitted by its hash runs on Linux only",
    ))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn seal(_fd: &OwnedFd) -> std::io::Result<()> {
    Ok(())
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(std::io::Error::other("the memory file is full")),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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

/// The checks of one plugin, with what they found.
struct Checker {
    refusals: Vec<Refusal>,
    /// Libraries already checked (a library needed twice, or in a cycle).
    libraries_seen: Vec<PathBuf>,
    euid: u32,
    /// Under `plugins.allow`: everything else that runs must be root's.
    root_only: bool,
}

impl Checker {
    fn refuse(&mut self, reason: String, fix: String) {
        if !self.refusals.iter().any(|r| r.reason == reason) {
            self.refusals.push(Refusal { reason, fix });
        }
    }

    /// An owner whose files may run: root or the current user; root only under the
    /// allow-list.
    fn owner_ok(&self, uid: u32) -> bool {
        uid == 0 || (!self.root_only && uid == self.euid)
    }

    fn whose(&self) -> &'static str {
        if self.root_only {
            "root (the allow-list admits only what the administrator installed)"
        } else {
            "you or root"
        }
    }

    /// The folder rule: owned by an allowed owner, and not writable by group or others unless
    /// it is sticky and root's (`/tmp`: nobody can replace another user's entry there);
    /// `strict`: no sticky exception (a folder searched by name, where anyone could add one).
    fn folder(&mut self, f: &Folder, whose: &str, strict: bool) {
        let mode = pathwalk::mode(&f.stat);
        let uid = pathwalk::owner(&f.stat);
        let sticky_root = mode & 0o1000 != 0 && uid == 0;
        let shown = cybedefend_core::home::tilde(&f.path);
        if mode & 0o022 != 0 && (strict || !sticky_root) {
            self.refuse(
                format!("{whose}folder {shown} can be written by group or others (mode {mode:o})"),
                format!("chmod go-w {shown}, or install it in a private folder"),
            );
        }
        if !self.owner_ok(uid) {
            self.refuse(
                if self.root_only && uid == self.euid {
                    format!("{whose}folder {shown} is yours, not root's (under plugins.allow only what the administrator installed runs)")
                } else {
                    format!("{whose}folder {shown} belongs to another user (uid {uid})")
                },
                format!("use a folder that only {} can change", self.whose()),
            );
        }
    }

    /// The file rule on an open file: regular, not writable by group or others, owned by an
    /// allowed owner. `subject` names it in messages (`it`, `its interpreter /bin/sh`).
    fn file(&mut self, w: &Walked, subject: &str) -> bool {
        let before = self.refusals.len();
        let shown = cybedefend_core::home::tilde(&w.real);
        if !pathwalk::is_file(&w.stat) {
            let dir = pathwalk::is_dir(&w.stat);
            self.refuse(
                format!(
                    "{subject} is not a regular file{}",
                    if dir { " but a folder" } else { "" }
                ),
                if dir {
                    format!("install the plugin's file itself, not the folder {shown}")
                } else {
                    "replace it with a regular file".into()
                },
            );
            return false;
        }
        let mode = pathwalk::mode(&w.stat);
        if mode & 0o022 != 0 {
            self.refuse(
                if subject == "it" {
                    format!("group or others can write to it (mode {mode:o})")
                } else {
                    format!("{subject} can be written by group or others (mode {mode:o})")
                },
                format!("chmod go-w {shown}"),
            );
        }
        let uid = pathwalk::owner(&w.stat);
        if !self.owner_ok(uid) {
            self.refuse(
                if self.root_only && uid == self.euid {
                    format!("{subject} is yours, not root's (under plugins.allow only what the administrator installed runs)")
                } else {
                    format!("{subject} belongs to another user (uid {uid})")
                },
                if self.root_only {
                    format!("use the copy the administrator installed (root's), not {shown}")
                } else {
                    format!("install your own copy, or have root own it (chown root {shown})")
                },
            );
        }
        self.refusals.len() == before
    }

    /// Resolves and opens `path` as a file that runs, checking every folder on the way.
    /// `subject` names the file in messages, `whose` its folders (`its `, `its interpreter's `).
    fn open(&mut self, path: &Path, subject: &str, whose: &str) -> Option<Walked> {
        let shown = one_line(&cybedefend_core::home::tilde(path), 160);
        let w = match pathwalk::walk(path, Open::Read) {
            Ok(w) => w,
            Err(WalkError::NotFound(_)) => {
                self.refuse(
                    format!("{subject} does not exist"),
                    format!("install {shown}, or fix the path"),
                );
                return None;
            }
            Err(e @ WalkError::ForeignLink { .. }) => {
                self.refuse(
                    format!("{subject} cannot be followed: {e}"),
                    "point to the file itself, or use a link of your own".into(),
                );
                return None;
            }
            Err(e) => {
                self.refuse(
                    format!("{subject} cannot be read ({e})"),
                    format!("check that {shown} exists and that you may read it"),
                );
                return None;
            }
        };
        // The folder that holds the file has no sticky exception: whoever can add files next
        // to a script decides what its interpreter imports (Python's `sys.path[0]`, Node's
        // `node_modules`), and next to a program what `$ORIGIN` finds.
        let parent = w.real.parent().map(Path::to_path_buf);
        for f in &w.folders {
            self.folder(f, whose, parent.as_deref() == Some(f.path.as_path()));
        }
        Some(w)
    }

    /// The plugin's `PATH`: the absolute folders of the user's that pass the checks of a
    /// folder searched by name. The folders left out, with why.
    fn plugin_path(&self) -> &'static PluginPath {
        static MINE: OnceLock<PluginPath> = OnceLock::new();
        static ROOTS: OnceLock<PluginPath> = OnceLock::new();
        let cell = if self.root_only { &ROOTS } else { &MINE };
        cell.get_or_init(|| plugin_path(self.euid, self.root_only))
    }

    /// Checks `w` as an ELF file that the system will load: its loader (`exec`) and the
    /// folders its `RPATH`/`RUNPATH` names; for a library loaded by descriptor (not `exec`),
    /// the libraries it finds through `$ORIGIN`, opened and checked, to load first.
    /// `subject` names the file, `whose` is the possessive for what it names (`its `).
    /// Checks `w` as an ELF file that the system will load: its loader (`exec`), the folders
    /// its `RPATH`/`RUNPATH` names, and every library found there or named by path, with their
    /// own (recursively); for a library loaded by descriptor (`by_descriptor`), the libraries it
    /// finds through `$ORIGIN` are returned, opened and checked, to load first. `inherited`: the
    /// `RPATH` folders of the files that needed this one, which the loader searches too when
    /// this one has no `RUNPATH`. `subject` names the file, `whose` is the possessive for what
    /// it names (`its `).
    #[allow(clippy::too_many_arguments)]
    fn elf(
        &mut self,
        w: &Walked,
        subject: &str,
        whose: &str,
        exec: bool,
        by_descriptor: bool,
        copied: bool,
        inherited: &[(PathBuf, bool)],
        depth: usize,
    ) -> Vec<OwnedFd> {
        if !ELF_SYSTEM {
            return Vec::new();
        }
        let needs = match elf::needs(&w.file) {
            Ok(n) => n,
            Err(e) if exec => {
                self.refuse(
                    format!("{subject} cannot be run: {e}"),
                    "replace it with a working build".into(),
                );
                return Vec::new();
            }
            Err(e) => {
                self.refuse(
                    format!("{subject} is not a shared library this system can load ({e})"),
                    "replace it with a build of the plugin for this system".into(),
                );
                return Vec::new();
            }
        };
        if let Some(extra) = needs.extra.first() {
            self.refuse(
                format!(
                    "{subject} names an audit or filter library (`{}`: DT_AUDIT, DT_DEPAUDIT, DT_AUXILIARY or DT_FILTER), which the loader would open before anything is checked",
                    one_line(extra, 120)
                ),
                "link it without --audit, --depaudit, --auxiliary or --filter".into(),
            );
            return Vec::new();
        }
        if exec && let Some(interp) = &needs.interpreter {
            let p = PathBuf::from(interp);
            if !p.is_absolute() {
                self.refuse(
                    format!(
                        "{whose}loader `{}` is not an absolute path",
                        one_line(interp, 120)
                    ),
                    "link the program with the system's dynamic loader".into(),
                );
            } else {
                let label = format!("{whose}loader {}", cybedefend_core::home::tilde(&p));
                if let Some(l) = self.open(&p, &label, &format!("{whose}loader's ")) {
                    self.file(&l, &label);
                }
            }
        }
        let origin = w.real.parent().map(Path::to_path_buf).unwrap_or_default();
        let folders = |list: &[String], c: &mut Self| -> Vec<(PathBuf, bool)> {
            list.iter()
                .filter_map(|entry| c.search_folder(entry, &origin, whose, exec && copied))
                .collect()
        };
        let rpath = folders(&needs.rpath, self);
        let runpath = folders(&needs.runpath, self);
        // The loader's order for what this file needs: without a RUNPATH, its RPATH and the
        // RPATH of each file that needed it (up to the program); then its RUNPATH; then the
        // system's own folders (root's).
        let mut order: Vec<(PathBuf, bool)> = Vec::new();
        if needs.runpath.is_empty() {
            order.extend(rpath.iter().cloned());
            order.extend(inherited.iter().cloned());
        }
        order.extend(runpath.iter().cloned());
        let passed_on: Vec<(PathBuf, bool)> = if needs.runpath.is_empty() {
            rpath.iter().chain(inherited).cloned().collect()
        } else {
            inherited.to_vec()
        };
        let mut preload = Vec::new();
        for name in &needs.needed {
            // A library named by path is opened by that path; one named by name is looked for
            // in the folders above first (and in their subfolders the loader tries before
            // them: glibc-hwcaps/x86-64-v3, ...), then in the system's own folders.
            let found: Vec<(PathBuf, bool)> = if name.contains('/') {
                if name.contains('$') || !Path::new(name).is_absolute() {
                    self.refuse(
                        format!(
                            "{subject} needs a library by a relative or variable path (`{}`)",
                            one_line(name, 120)
                        ),
                        "link it against libraries by name".into(),
                    );
                    continue;
                }
                vec![(PathBuf::from(name), false)]
            } else {
                let Some((dir, o)) = order.iter().find(|(d, _)| !candidates(d, name).is_empty())
                else {
                    continue;
                };
                candidates(dir, name).into_iter().map(|p| (p, *o)).collect()
            };
            for (path, from_origin) in found {
                if self.libraries_seen.contains(&path) {
                    continue;
                }
                self.libraries_seen.push(path.clone());
                if depth >= MAX_LIBRARY_DEPTH {
                    self.refuse(
                        format!(
                            "{subject} needs libraries more than {MAX_LIBRARY_DEPTH} levels deep outside the system's folders"
                        ),
                        "install its libraries in a system folder".into(),
                    );
                    return preload;
                }
                let label = format!("{whose}library {}", cybedefend_core::home::tilde(&path));
                let Some(lib) = self.open(&path, &label, &format!("{whose}library ")) else {
                    continue;
                };
                if !self.file(&lib, &label) {
                    continue;
                }
                // A library a native plugin finds through `$ORIGIN` is loaded first, from its
                // checked descriptor, and then found by its name: it must carry that name.
                let first = !exec
                    && by_descriptor
                    && from_origin
                    && path.parent().is_some_and(|d| d.join(name) == path);
                if first {
                    let soname = elf::needs(&lib.file).ok().and_then(|n| n.soname);
                    if soname.as_deref() != Some(name.as_str()) {
                        self.refuse(
                            format!(
                                "{label} is found through `$ORIGIN` but does not carry the name `{name}` (DT_SONAME), which cybedefend needs to load it first from its checked file"
                            ),
                            format!("link that library with -Wl,-soname,{name}"),
                        );
                        continue;
                    }
                }
                let deeper = self.elf(
                    &lib,
                    &label,
                    &format!("{whose}library's "),
                    false,
                    first,
                    false,
                    &passed_on,
                    depth + 1,
                );
                if first {
                    preload.extend(deeper);
                    preload.push(lib.file);
                }
            }
        }
        preload
    }

    /// One entry of `RPATH`/`RUNPATH`: the folder it names and whether it came from
    /// `$ORIGIN`; refused when the system would search somewhere unchecked.
    fn search_folder(
        &mut self,
        entry: &str,
        origin: &Path,
        whose: &str,
        no_origin: bool,
    ) -> Option<(PathBuf, bool)> {
        let shown_entry = one_line(entry, 120);
        let fix = "link it with absolute or $ORIGIN-relative library folders (-Wl,-rpath,...)";
        if entry.is_empty() {
            self.refuse(
                format!("{whose}library search path has an empty entry, which means the working directory"),
                fix.into(),
            );
            return None;
        }
        let Some((expanded, from_origin)) = expand_origin(entry, &origin.to_string_lossy()) else {
            self.refuse(
                format!(
                    "{whose}library search path `{shown_entry}` uses `$` other than the $ORIGIN token (`$ORIGIN_x` is no token: the loader reads it as a folder name)"
                ),
                fix.into(),
            );
            return None;
        };
        let dir = PathBuf::from(&expanded);
        if !dir.is_absolute() {
            self.refuse(
                format!("{whose}library search path `{shown_entry}` is relative to the working directory"),
                fix.into(),
            );
            return None;
        }
        if from_origin && no_origin {
            self.refuse(
                format!("{whose}library search path `{shown_entry}` uses $ORIGIN, but a program admitted by its hash runs from a sealed copy, which has no folder"),
                "link it with absolute library folders, or install its libraries in a system folder".into(),
            );
            return None;
        }
        let whose_folder = format!("{whose}library ");
        // A folder that does not exist yet is searched too, once someone makes it: whoever
        // can write the nearest existing folder above it could.
        let mut probe = dir.clone();
        loop {
            match pathwalk::walk(&probe, Open::Folder) {
                Ok(w) => {
                    for f in &w.folders {
                        self.folder(f, &whose_folder, false);
                    }
                    self.folder(
                        &Folder {
                            path: w.real.clone(),
                            stat: w.stat,
                        },
                        &whose_folder,
                        true,
                    );
                    // the subfolders the loader tries first: nobody else may add a library
                    // there either
                    if probe == dir {
                        match subfolders(&w.real) {
                            Some(subs) => {
                                for sub in subs {
                                    if let Ok(sw) = pathwalk::walk(&sub, Open::Folder) {
                                        for f in &sw.folders {
                                            let below = f.path.starts_with(&w.real);
                                            self.folder(f, &whose_folder, below);
                                        }
                                        self.folder(
                                            &Folder {
                                                path: sw.real.clone(),
                                                stat: sw.stat,
                                            },
                                            &whose_folder,
                                            true,
                                        );
                                    }
                                }
                            }
                            None => self.refuse(
                                format!(
                                    "{whose_folder}folder {} has more than {MAX_SUBFOLDERS} subfolders, which the loader may search and cybedefend does not check one by one",
                                    cybedefend_core::home::tilde(&dir)
                                ),
                                "keep a plugin's libraries in a small folder of their own".into(),
                            ),
                        }
                    }
                    break;
                }
                Err(WalkError::NotFound(_)) => {
                    if !probe.pop() {
                        break;
                    }
                }
                Err(e) => {
                    self.refuse(
                        format!(
                            "{whose_folder}folder {} cannot be checked ({e})",
                            cybedefend_core::home::tilde(&dir)
                        ),
                        fix.into(),
                    );
                    break;
                }
            }
        }
        Some((dir, from_origin))
    }

    /// The interpreters of a `#!` script, down to the program that runs (an ELF file).
    /// `head` is the script's start; the command line is built in `run`.
    fn script(
        &mut self,
        script: &Path,
        head: &[u8],
    ) -> Option<(OwnedFd, PathBuf, String, Vec<Arg>)> {
        let mut args: Vec<Arg> = vec![Arg::Plugin];
        let mut current = script.to_path_buf();
        let mut head = head.to_vec();
        for depth in 0..=MAX_INTERPRETERS {
            if depth == MAX_INTERPRETERS {
                self.refuse(
                    format!("its interpreters run through more than {MAX_INTERPRETERS} scripts"),
                    "name a program as the interpreter".into(),
                );
                return None;
            }
            let line = self.shebang(&current, &head, depth)?;
            let (interpreter, arg0, arg) = match line {
                Shebang::Direct { interpreter, arg } => {
                    let arg0 = interpreter.to_string_lossy().into_owned();
                    (interpreter, arg0, arg)
                }
                Shebang::Env { env, program } => {
                    // `env` itself is not run: its program is, found on the plugin's PATH
                    let label = format!(
                        "its interpreter {} (from its `#!` line)",
                        cybedefend_core::home::tilde(&env)
                    );
                    if let Some(e) = self.open(&env, &label, "its interpreter's ") {
                        self.file(&e, &label);
                    }
                    let path = self.plugin_path();
                    let Some(found) = path.find(&program) else {
                        let left_out = if path.dropped.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; folders of PATH left out: {}",
                                path.dropped
                                    .iter()
                                    .take(4)
                                    .map(|(d, why)| format!(
                                        "{} ({why})",
                                        cybedefend_core::home::tilde(d)
                                    ))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        self.refuse(
                            format!(
                                "its interpreter `{}` (from its `#!` line) is not on PATH{left_out}",
                                one_line(&program, 64)
                            ),
                            format!(
                                "install `{}` in a folder of PATH that only {} can change, or write its full path after `#!`",
                                one_line(&program, 64),
                                self.whose()
                            ),
                        );
                        return None;
                    };
                    let arg0 = found.to_string_lossy().into_owned();
                    (found, arg0, None)
                }
            };
            let label = format!(
                "its interpreter {} (from its `#!` line)",
                one_line(&cybedefend_core::home::tilde(&interpreter), 120)
            );
            let w = self.open(&interpreter, &label, "its interpreter's ")?;
            // An interpreter reads files near the name it was started by (Python's
            // `pyvenv.cfg` beside it or one folder up): neither folder may take others' files.
            self.near_interpreter(&interpreter);
            if !self.file(&w, &label) {
                return None;
            }
            let mut next = [0u8; 256];
            let n = match pathwalk::read_at(&w.file, &mut next, 0) {
                Ok(n) => n,
                Err(e) => {
                    self.refuse(
                        format!("{label} cannot be read ({e})"),
                        format!(
                            "check that you may read {}",
                            cybedefend_core::home::tilde(&w.real)
                        ),
                    );
                    return None;
                }
            };
            let next = &next[..n];
            if let Some(a) = arg {
                args.insert(0, Arg::Text(a));
            }
            if is_program(next) {
                self.elf(&w, &label, "its interpreter's ", true, false, false, &[], 0);
                return Some((w.file, w.real, arg0, args));
            }
            if !next.starts_with(b"#!") {
                self.refuse(
                    format!("{label} is neither a program nor a `#!` script"),
                    "name a program as the interpreter".into(),
                );
                return None;
            }
            // A script run as an interpreter: read by its own interpreter by its path (every
            // folder to it was checked; `$0` stays its name).
            let Some(text) = w.real.to_str() else {
                self.refuse(
                    format!("{label} has a path that is not UTF-8"),
                    "install it under a UTF-8 path".into(),
                );
                return None;
            };
            args.insert(0, Arg::Text(text.to_owned()));
            current = w.real.clone();
            head = next.to_vec();
        }
        None
    }

    /// The folder an interpreter is started from, and the one above it, pass the strict folder
    /// checks (no sticky exception).
    fn near_interpreter(&mut self, started_as: &Path) {
        let Some(dir) = started_as.parent() else {
            return;
        };
        for d in [Some(dir), dir.parent()].into_iter().flatten() {
            if d.as_os_str().is_empty() {
                continue;
            }
            if let Ok(w) = pathwalk::walk(d, Open::Folder) {
                self.folder(
                    &Folder {
                        path: w.real.clone(),
                        stat: w.stat,
                    },
                    "its interpreter's nearby ",
                    true,
                );
            }
        }
    }

    /// No folder above a script may be one others can add files to, sticky or not: an
    /// interpreter may look for files in any folder above a script (Node's `node_modules`).
    fn above_script(&mut self, w: &Walked) {
        for f in &w.folders {
            if !w.real.starts_with(&f.path) {
                continue;
            }
            let mode = pathwalk::mode(&f.stat);
            if mode & 0o002 != 0 {
                let shown = cybedefend_core::home::tilde(&f.path);
                self.refuse(
                    format!(
                        "it is a script in {shown}, a folder everyone can add files to (mode {mode:o}): its interpreter may load files from any folder above it (Node's node_modules)"
                    ),
                    "install script plugins outside shared folders such as /tmp (~/.cybedefend/plugins, or a folder of plugins.dirs)".into(),
                );
            }
        }
    }

    /// A script plugin: where it sits ([`Checker::above_script`]) and its interpreters.
    fn script_chain(
        &mut self,
        w: &Walked,
        head: &[u8],
    ) -> Option<(OwnedFd, PathBuf, String, Vec<Arg>)> {
        self.above_script(w);
        self.script(&w.real, head)
    }

    /// Parses a `#!` line the way the system does: the interpreter, then the rest of the line
    /// as one argument.
    fn shebang(&mut self, script: &Path, head: &[u8], depth: usize) -> Option<Shebang> {
        let shown = cybedefend_core::home::tilde(script);
        let whose = if depth == 0 {
            "its".to_owned()
        } else {
            format!("its interpreter {shown}'s")
        };
        let rest = &head[2..];
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            self.refuse(
                format!("{whose} `#!` line is longer than 255 bytes, which the system cuts"),
                format!("shorten the first line of {shown}"),
            );
            return None;
        };
        let line = &rest[..end];
        if line.ends_with(b"\r") {
            self.refuse(
                format!("{whose} first line ends with a carriage return (Windows line endings)"),
                format!("convert it to Unix line endings: sed -i 's/\\r$//' {shown}"),
            );
            return None;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            self.refuse(
                format!("{whose} `#!` line is not UTF-8"),
                format!("fix the first line of {shown}"),
            );
            return None;
        };
        let line = line.trim_matches([' ', '\t']);
        let (interpreter, arg) = match line.find([' ', '\t']) {
            Some(i) => (&line[..i], Some(line[i..].trim_matches([' ', '\t']))),
            None => (line, None),
        };
        let arg = arg.filter(|a| !a.is_empty());
        if interpreter.is_empty() {
            self.refuse(
                format!("{whose} `#!` line names no interpreter"),
                format!("write the interpreter after `#!`, such as `#!/bin/sh` ({shown})"),
            );
            return None;
        }
        let path = PathBuf::from(interpreter);
        if !path.is_absolute() {
            self.refuse(
                format!(
                    "{whose} interpreter `{}` is not an absolute path",
                    one_line(interpreter, 64)
                ),
                format!("write the interpreter's full path after `#!` ({shown})"),
            );
            return None;
        }
        if path.file_name().is_none_or(|n| n != "env") {
            return Some(Shebang::Direct {
                interpreter: path,
                arg: arg.map(str::to_owned),
            });
        }
        // `#!/usr/bin/env NAME`: the only form taken. On Linux everything after `env` is one
        // argument; options (`-S`, `-i`, `-u`) and `NAME=VALUE` would change what runs and
        // with what PATH.
        let fix = format!(
            "write `#!/usr/bin/env NAME` with nothing else, or the interpreter's full path with its option (`#!/usr/bin/python3 -u`) ({shown})"
        );
        let Some(program) = arg else {
            self.refuse(
                format!("{whose} `#!` line runs `env` without a program"),
                fix,
            );
            return None;
        };
        let why = if program.starts_with('-') {
            Some("passes options to `env`")
        } else if program.contains('=') {
            Some("sets variables through `env`")
        } else if program.contains([' ', '\t']) {
            Some("gives `env` more than a program name")
        } else if program.contains('/') {
            Some("gives `env` a path instead of a program name")
        } else {
            None
        };
        if let Some(why) = why {
            self.refuse(
                format!(
                    "{whose} `#!` line {why} (`{}`), which cybedefend does not allow",
                    one_line(program, 64)
                ),
                fix,
            );
            return None;
        }
        Some(Shebang::Env {
            env: path,
            program: program.to_owned(),
        })
    }
}

/// Most subfolders of a library folder looked at (the loader may try `glibc-hwcaps/*` and
/// older per-CPU subfolders first).
const MAX_SUBFOLDERS: usize = 1024;

/// The subfolders of `dir`, two levels down, as the loader may try them before `dir`
/// (`glibc-hwcaps/x86-64-v3/`, older `tls/`, `x86_64/`, ...); `None` when there are more than
/// [`MAX_SUBFOLDERS`].
fn subfolders(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for d in &level {
            let Ok(entries) = std::fs::read_dir(d) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                // a link to a folder counts: the loader follows it
                if std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()) {
                    next.push(e.path());
                    if out.len() + next.len() > MAX_SUBFOLDERS {
                        return None;
                    }
                }
            }
        }
        out.extend(next.iter().cloned());
        level = next;
    }
    Some(out)
}

/// Where the loader may find library `name` in folder `dir`: in its subfolders (see
/// [`subfolders`]) and in `dir` itself; every one that exists.
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = subfolders(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(name))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    let direct = dir.join(name);
    if direct.symlink_metadata().is_ok() {
        out.push(direct);
    }
    out
}

/// `entry` with each `$ORIGIN` or `${ORIGIN}` token replaced by `origin`, and whether there was
/// one; `None` for any other `$` (the system's loader reads `$ORIGIN` as its token only when no
/// letter, digit or `_` follows: `$ORIGIN_lib` is a folder of that name, relative to the
/// working directory).
fn expand_origin(entry: &str, origin: &str) -> Option<(String, bool)> {
    let mut out = String::with_capacity(entry.len());
    let mut rest = entry;
    let mut used = false;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix("{ORIGIN}") {
            rest = r;
        } else if let Some(r) = after
            .strip_prefix("ORIGIN")
            .filter(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        {
            rest = r;
        } else {
            return None;
        }
        out.push_str(origin);
        used = true;
    }
    out.push_str(rest);
    Some((out, used))
}

enum Shebang {
    Direct {
        interpreter: PathBuf,
        arg: Option<String>,
    },
    Env {
        env: PathBuf,
        program: String,
    },
}

/// The plugin's `PATH`: folders kept, and those left out with why.
#[derive(Debug, Default)]
struct PluginPath {
    kept: Vec<PathBuf>,
    dropped: Vec<(PathBuf, String)>,
}

impl PluginPath {
    /// The first `name` in the kept folders that the system could run, as found (not
    /// resolved: a virtual environment's `python3` is a link whose folder matters).
    fn find(&self, name: &str) -> Option<PathBuf> {
        self.kept.iter().map(|d| d.join(name)).find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    }

    fn var(&self) -> OsString {
        std::env::join_paths(&self.kept).unwrap_or_default()
    }
}

fn plugin_path(euid: u32, root_only: bool) -> PluginPath {
    let mut out = PluginPath::default();
    let Some(path) = cybedefend_core::env::path_var("PATH") else {
        return out;
    };
    for dir in std::env::split_paths(&path) {
        if out.kept.contains(&dir) || out.dropped.iter().any(|(d, _)| d == &dir) {
            continue;
        }
        if !dir.is_absolute() {
            out.dropped.push((dir, "not absolute".into()));
            continue;
        }
        let mut c = Checker {
            refusals: Vec::new(),
            libraries_seen: Vec::new(),
            euid,
            root_only,
        };
        match pathwalk::walk(&dir, Open::Folder) {
            Ok(w) => {
                for f in &w.folders {
                    c.folder(f, "", false);
                }
                c.folder(
                    &Folder {
                        path: w.real.clone(),
                        stat: w.stat,
                    },
                    "",
                    true,
                );
            }
            Err(e) => c.refuse(e.to_string(), String::new()),
        }
        match c.refusals.first() {
            None => out.kept.push(dir),
            Some(r) => {
                let why = one_line(&r.reason, 120);
                out.dropped.push((dir, why));
            }
        }
    }
    out
}

/// Runs every check on `plugin`; when it may run, the plugin held open.
pub fn check(plugin: &Located, rules: &Rules<'_>) -> (Verdict, Option<Trusted>) {
    let mut c = Checker {
        refusals: Vec::new(),
        libraries_seen: Vec::new(),
        euid: rustix::process::geteuid().as_raw(),
        root_only: false,
    };
    let shown = cybedefend_core::home::tilde(&plugin.path);
    let failed = |c: Checker, real: PathBuf, sha256: String| {
        (
            Verdict {
                real_path: real,
                sha256,
                refusals: c.refusals,
            },
            None,
        )
    };
    if !plugin.path.is_absolute() {
        c.refuse(
            "its path is not absolute (it would be searched on PATH)".into(),
            format!("give the full path of {shown}"),
        );
        return failed(c, plugin.path.clone(), String::new());
    }
    let Some(w) = c.open(&plugin.path, "it", "its ") else {
        return failed(c, plugin.path.clone(), String::new());
    };
    c.file(&w, "it");
    let regular = pathwalk::is_file(&w.stat);
    if plugin.kind == Kind::Exec
        && regular
        && rustix::fs::access(w.real.as_path(), rustix::fs::Access::EXEC_OK).is_err()
    {
        c.refuse(
            "it is not executable".into(),
            format!("chmod +x {}", cybedefend_core::home::tilde(&w.real)),
        );
    }
    let allow_hashes = rules
        .allow
        .is_some_and(|(a, _)| a.iter().any(|e| allowed_hash(e).is_some()));
    // When a hash decides, the bytes hashed are the bytes that run: a sealed copy.
    let copy = rules.pin.is_some() || allow_hashes;
    let mut first = [0u8; 2];
    let script = plugin.kind == Kind::Exec
        && pathwalk::read_at(&w.file, &mut first, 0).is_ok_and(|n| n == 2)
        && &first == b"#!";
    let (sha256, copied) = if regular && (copy || rules.hash) {
        match read_all(&w.file, copy.then_some(script)) {
            Ok((h, m)) => (h, m),
            Err(e) if e.to_string() == NO_EXECUTABLE_MEMORY => {
                c.refuse(
                    format!("it is admitted by its hash, so it runs from a sealed copy of the bytes hashed, but {NO_EXECUTABLE_MEMORY}"),
                    "drop its `sha256` pin, or allow it by name in plugins.allow (a copy root installed) instead of by hash, or make it a script plugin, or set vm.memfd_noexec to 0 or 1".into(),
                );
                (String::new(), None)
            }
            Err(e) => {
                c.refuse(
                    format!("it cannot be hashed: {e}"),
                    "replace it with the plugin's regular file".into(),
                );
                (String::new(), None)
            }
        }
    } else {
        (String::new(), None)
    };
    let shown_hash = if sha256.is_empty() {
        String::new()
    } else {
        format!("sha256:{sha256}")
    };
    if let Some(pin) = rules.pin {
        let want = pin
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if want != sha256 && !sha256.is_empty() {
            c.refuse(
                format!("its SHA-256 is {sha256}, but the configuration pins {want}"),
                "install the pinned version, or pin the new file's hash (`cybedefend plugin list` shows it) if you trust it".into(),
            );
        }
    }
    if let Some((allow, origin)) = rules.allow {
        allowed(&mut c, plugin, &w, &sha256, allow, origin);
        c.root_only = true;
    }
    if !c.refusals.is_empty() {
        return failed(c, w.real, shown_hash);
    }
    let run_fd = match copied {
        Some(m) => m,
        None => match w.file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                c.refuse(format!("it cannot be opened again ({e})"), String::new());
                return failed(c, w.real, shown_hash);
            }
        },
    };
    let from_copy = copy;
    let mut head = [0u8; 256];
    let n = pathwalk::read_at(&run_fd, &mut head, 0).unwrap_or(0);
    let head = &head[..n];
    let run = match plugin.kind {
        Kind::Exec if is_program(head) => {
            c.elf(&w, "it", "its ", true, false, from_copy, &[], 0);
            let Some(text) = w.real.to_str() else {
                c.refuse(
                    "its path is not UTF-8".into(),
                    "install it under a UTF-8 path".into(),
                );
                return failed(c, w.real, shown_hash);
            };
            Run::Exec(ExecRun {
                program: run_fd,
                program_path: w.real.clone(),
                arg0: text.to_owned(),
                args: Vec::new(),
                script: None,
                path_var: c.plugin_path().var(),
                from_copy,
                root_only: c.root_only,
            })
        }
        Kind::Exec if head.starts_with(b"#!") => match c.script_chain(&w, head) {
            Some((program, program_path, arg0, args)) => Run::Exec(ExecRun {
                program,
                program_path,
                arg0,
                args,
                script: Some(run_fd),
                path_var: c.plugin_path().var(),
                from_copy,
                root_only: c.root_only,
            }),
            None => return failed(c, w.real, shown_hash),
        },
        Kind::Exec => {
            c.refuse(
                "it is neither a program nor a script with a `#!` first line".into(),
                format!(
                    "start the script with an interpreter line such as `#!/bin/sh` ({})",
                    cybedefend_core::home::tilde(&w.real)
                ),
            );
            return failed(c, w.real, shown_hash);
        }
        Kind::Native => {
            let preload = c.elf(&w, "it", "its ", false, true, from_copy, &[], 0);
            let key = if sha256.is_empty() {
                format!("{}:{}", w.stat.st_dev, w.stat.st_ino)
            } else {
                shown_hash.clone()
            };
            Run::Native(NativeRun {
                library: run_fd,
                preload,
                key,
            })
        }
    };
    if !c.refusals.is_empty() {
        return failed(c, w.real, shown_hash);
    }
    let verdict = Verdict {
        real_path: w.real.clone(),
        sha256: shown_hash.clone(),
        refusals: Vec::new(),
    };
    (
        verdict,
        Some(Trusted {
            name: plugin.name.clone(),
            kind: plugin.kind,
            path: plugin.path.clone(),
            real_path: w.real,
            sha256: shown_hash,
            run,
        }),
    )
}

/// [`check`] as a result: the plugin, or the refusals as one error.
pub fn open(plugin: &Located, rules: &Rules<'_>) -> cybedefend_core::Result<Trusted> {
    match check(plugin, rules) {
        (_, Some(t)) => Ok(t),
        (v, None) => Err(v.to_error(&plugin.name)),
    }
}

fn allowed(
    c: &mut Checker,
    plugin: &Located,
    w: &Walked,
    sha256: &str,
    allow: &[String],
    origin: &str,
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
    let real_name = crate::discover::at(&w.real).name;
    let ask = format!(
        "ask the administrator of this machine to allow it in {origin} (`plugins.allow`: its name, or `sha256:<hash>` of this file)"
    );
    if !allow.contains(&plugin.name) {
        c.refuse(
            format!(
                "`{}` is not in plugins.allow of the system configuration ({origin})",
                plugin.name
            ),
            ask,
        );
    } else if real_name != plugin.name {
        c.refuse(
            format!(
                "`{}` is in plugins.allow, but the file it leads to is {}, which is not that plugin",
                plugin.name,
                cybedefend_core::home::tilde(&w.real)
            ),
            format!("use the copy the administrator installed, or {ask}"),
        );
    } else if !(c.euid == 0
        || (pathwalk::owner(&w.stat) == 0
            && w.folders.iter().all(|f| pathwalk::owner(&f.stat) == 0)))
    {
        c.refuse(
            format!(
                "`{}` is in plugins.allow, but this file is not one the administrator installed: it or a folder to it belongs to a user other than root",
                plugin.name
            ),
            format!("use the copy the administrator installed, or {ask}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// A scratch folder beside the test binary (not under `/tmp`, where no script plugin may
    /// be, since everyone can write there).
    fn scratch() -> tempfile::TempDir {
        let exe = std::env::current_exe().unwrap();
        let target = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let shared_above = target
            .ancestors()
            .any(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o002 != 0));
        if shared_above && rustix::process::geteuid().is_root() {
            // a checkout under /tmp: a folder of root's instead
            let own = PathBuf::from("/var/lib/cybedefend-tests");
            fs::create_dir_all(&own).unwrap();
            fs::set_permissions(&own, fs::Permissions::from_mode(0o755)).unwrap();
            return tempfile::tempdir_in(own).unwrap();
        }
        tempfile::tempdir_in(target).unwrap()
    }

    fn plugin(dir: &Path) -> Located {
        let p = dir.join("cybedefend-credential-t");
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        crate::discover::at(&p)
    }

    #[test]
    fn a_private_plugin_is_trusted_and_weak_modes_are_refused() {
        let t = scratch();
        let p = plugin(t.path());
        let (v, run) = check(&p, &Rules::default());
        assert!(v.trusted() && run.is_some(), "{v:?}");
        fs::set_permissions(&p.path, fs::Permissions::from_mode(0o777)).unwrap();
        let (v, run) = check(&p, &Rules::default());
        assert!(run.is_none());
        assert!(
            v.refusals
                .iter()
                .any(|r| r.reason.contains("can write to it")),
            "{v:?}"
        );
        fs::set_permissions(&p.path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let (v, _) = check(&p, &Rules::default());
        assert!(
            v.refusals.iter().any(|r| r.reason.contains("its folder")),
            "{v:?}"
        );
    }

    #[test]
    fn pins_and_allow_lists() {
        let t = scratch();
        let p = plugin(t.path());
        let sum = sha256_of(&p.path).unwrap();
        let ok = Rules {
            pin: Some(&sum),
            ..Rules::default()
        };
        assert!(check(&p, &ok).0.trusted());
        let bad = Rules {
            pin: Some("sha256:0000"),
            ..Rules::default()
        };
        let (v, _) = check(&p, &bad);
        assert!(
            v.refusals[0].reason.contains(&sum) && v.refusals[0].reason.contains("0000"),
            "{v:?}"
        );
        let allow = vec!["other".to_owned()];
        let (v, _) = check(
            &p,
            &Rules {
                allow: Some((&allow, "/etc/cybedefend/config.yaml")),
                ..Rules::default()
            },
        );
        assert!(v.refusals[0].reason.contains("plugins.allow"), "{v:?}");
    }

    #[test]
    fn env_lines_take_one_program_name_and_nothing_else() {
        let t = scratch();
        let p = plugin(t.path());
        for (line, needle) in [
            ("#!/usr/bin/env -S PATH=/tmp sh", "passes options"),
            ("#!/usr/bin/env PATH=/tmp sh", "sets variables"),
            ("#!/usr/bin/env sh -e", "more than a program name"),
            ("#!/usr/bin/env /bin/sh", "a path instead"),
            ("#!/usr/bin/env", "without a program"),
        ] {
            fs::write(&p.path, format!("{line}\n")).unwrap();
            let (v, _) = check(&p, &Rules::default());
            assert!(v.reasons().contains(needle), "{line}: {v:?}");
        }
        fs::write(&p.path, "#!/usr/bin/env sh\n").unwrap();
        let (v, run) = check(&p, &Rules::default());
        assert!(v.trusted(), "{v:?}");
        let Some(Trusted {
            run: Run::Exec(e), ..
        }) = run
        else {
            panic!("an exec plugin")
        };
        assert!(e.arg0.ends_with("/sh"), "{e:?}");
        assert_eq!(e.args, vec![Arg::Plugin]);
    }
}
