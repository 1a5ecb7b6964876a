//! Writing the archive: every core compresses files (already-compressed formats are stored),
//! and this thread appends them in order with raw copies.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Cursor, Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::SystemTime;

use time::OffsetDateTime;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{Plan, PlannedFile};
use cybedefend_core::{Error, Result};

/// Batches hold at most this many bytes of input...
const BATCH_BYTES: u64 = 4 << 20;
/// ...or this many files.
pub(super) const BATCH_FILES: usize = 256;
/// Files at least this large are compressed to a temp file instead of memory.
pub(super) const LARGE_FILE: u64 = 16 << 20;

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Files in the archive.
    pub files: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Archive size.
    pub bytes_out: u64,
    /// Files whose size changed between the plan and their turn, in plan order.
    pub changed: Vec<Changed>,
}

/// A file that grew or shrank while the folder was archived (a log written into it): it is
/// archived as it was at the plan's size, never read past it, or as far as it still goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Path inside the archive.
    pub name: String,
    /// Its size in the plan: what was archived of a file that grew.
    pub planned: u64,
    /// What was read of it: less than `planned` when it shrank.
    pub archived: u64,
    /// Its size when its turn came.
    pub now: u64,
}

/// Stack of a compression thread: deflate keeps its state on the heap, so a small stack is
/// plenty, and under a tight `ulimit -v` every reserved megabyte counts.
const WORKER_STACK: usize = 512 << 10;

const MEMORY_HINT: &str = "the process ran short of memory or threads: raise the limit \
     (`ulimit -v`, `ulimit -u`, the container's memory limit) or free some, then run it again";

/// The error for a compression that panicked: an allocation the compressor could not make
/// under a memory limit, or a bug.
fn compress_panicked(batch: &[&PlannedFile], message: &str) -> Error {
    let what = match batch {
        [one] => cybedefend_core::text::neutralize(&one.name).into_owned(),
        _ => format!("{} files", batch.len()),
    };
    if cybedefend_core::recover::out_of_memory(message) {
        Error::failure(format!("cannot compress {what}: out of memory")).with_hint(MEMORY_HINT)
    } else {
        Error::failure(format!("cannot compress {what}: {message}"))
            .with_hint("this is a bug in cybedefend; please report it with the command you ran")
    }
}

fn cancelled() -> Error {
    Error::cancelled("the archive was cancelled")
}

pub(super) fn zip_time(t: Option<SystemTime>) -> zip::DateTime {
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

/// Files up to this size are deflated whole, by libdeflate: at the same level it takes about a
/// quarter less CPU than zlib-rs for output of the same size, and on large build outputs about
/// half (scripts/bench-archive.sh). Larger ones are streamed through zlib-rs, so that a
/// compressor holds at most 1.5 times this much.
pub(super) const WHOLE_FILE: u64 = 16 << 20;

/// The level of the files the ignore rules name, kept by `--no-ignore` (build output and
/// dependencies). Against level 5 on scripts/bench-archive.sh's tree, libdeflate's level 1
/// takes half the CPU on binaries and 40% on bundles, for 6% and 13% more bytes; source keeps
/// its level, so an archive of the kept files is the same either way.
const IGNORED_LEVEL: i64 = 1;

/// The deflate level of `f`: `level`, or [`IGNORED_LEVEL`] for what the ignore rules name.
fn level_of(f: &PlannedFile, level: i64) -> i64 {
    if f.ignored {
        IGNORED_LEVEL.min(level)
    } else {
        level
    }
}

/// Buffers kept from one file to the next; a larger file's are freed after it.
const KEPT_BUFFER: usize = 1 << 20;

/// Most bytes the buffers of files larger than [`KEPT_BUFFER`] hold at once, over every
/// compressor (a file takes 1.5 times its size: itself and room for half of it); a file that
/// needs more than is free waits for it, and one that needs more than all of it waits until
/// none is taken.
const LARGE_BUFFERS: u64 = 24 << 20;

/// What [`LARGE_BUFFERS`] has taken.
static LARGE_TAKEN: Mutex<u64> = Mutex::new(0);
static LARGE_FREED: Condvar = Condvar::new();

/// A share of [`LARGE_BUFFERS`], given back when dropped.
struct LargeShare(u64);

impl LargeShare {
    fn take(bytes: u64, cancel: &AtomicBool) -> Result<Self> {
        let lock = || {
            LARGE_TAKEN
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut taken = lock();
        while *taken > 0 && *taken + bytes > LARGE_BUFFERS {
            if cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            taken = LARGE_FREED
                .wait_timeout(taken, std::time::Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *taken += bytes;
        Ok(Self(bytes))
    }
}

impl Drop for LargeShare {
    fn drop(&mut self) {
        let mut taken = LARGE_TAKEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *taken = taken.saturating_sub(self.0);
        LARGE_FREED.notify_all();
    }
}

/// What a compressor keeps from one file to the next: libdeflate's state and its buffers.
struct Whole {
    compressor: libdeflater::Compressor,
    /// At [`IGNORED_LEVEL`], made when first needed.
    fast: Option<libdeflater::Compressor>,
    input: Vec<u8>,
    output: Vec<u8>,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Whole {
    /// Frees what a large file needed.
    fn shrink(&mut self) {
        for b in [&mut self.input, &mut self.output] {
            if b.capacity() > 2 * KEPT_BUFFER {
                *b = Vec::new();
            }
        }
    }

    fn new(level: i64) -> Self {
        Self {
            compressor: libdeflater::Compressor::new(of_level(level)),
            fast: None,
            input: Vec::new(),
            output: Vec::new(),
            head: Vec::new(),
            tail: Vec::new(),
        }
    }
}

/// libdeflate's level for `level`.
fn of_level(level: i64) -> libdeflater::CompressionLvl {
    libdeflater::CompressionLvl::new(level.clamp(1, 12) as i32).unwrap_or_default()
}

/// Adds one file deflated whole (or stored, when deflate would not make it smaller), read from
/// `input` up to its planned size; returns the bytes read.
fn add_whole<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    w: &mut Whole,
    f: &PlannedFile,
    input: &File,
    level: i64,
    cancel: &AtomicBool,
) -> Result<u64> {
    let _share = (f.size > KEPT_BUFFER as u64)
        .then(|| LargeShare::take(f.size + f.size / 2, cancel))
        .transpose()?;
    w.input.clear();
    w.input.reserve_exact(usize::try_from(f.size).unwrap_or(0));
    Read::take(input, f.size)
        .read_to_end(&mut w.input)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot read", &f.source, &e))?;
    let data = &w.input[..];
    let mut crc = libdeflater::Crc::new();
    crc.update(data);
    // Room for less than the file itself: a small file that does not fit is not worth
    // deflating, and is stored. A large one gets room for half: what does not fit in it (rare
    // in source and build output) is streamed through zlib-rs instead, from memory.
    let large = data.len() > KEPT_BUFFER;
    if large {
        // a new zeroed buffer: the system's zero pages, of which only those written are ever
        // touched (resizing one would write every byte of it)
        w.output = vec![0; data.len() / 2];
    } else {
        w.output.resize(data.len().saturating_sub(1), 0);
    }
    let compressor = if f.ignored {
        w.fast
            .get_or_insert_with(|| libdeflater::Compressor::new(of_level(level_of(f, level))))
    } else {
        &mut w.compressor
    };
    let deflated = match compressor.deflate_compress(data, &mut w.output) {
        Ok(n) if n > 0 && !data.is_empty() => Some(n),
        _ => None,
    };
    if large && deflated.is_none() {
        zip.start_file(f.name.as_str(), options(f, level_of(f, level), false))
            .and_then(|()| zip.write_all(data).map_err(Into::into))
            .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
        let read = data.len() as u64;
        w.shrink();
        return Ok(read);
    }
    let (method, body) = match deflated {
        Some(n) => (8, &w.output[..n]),
        None => (0, data),
    };
    let (head, tail) = (&mut w.head, &mut w.tail);
    single_entry(
        (head, tail),
        &f.name,
        method,
        zip_time(f.modified),
        f.mode,
        crc.sum(),
        data.len(),
        body.len(),
    );
    let mut one = ZipArchive::new(Pieces::new([&w.head[..], body, &w.tail[..]]))
        .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
    let entry = one
        .by_index_raw(0)
        .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
    zip.raw_copy_file(entry)
        .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
    let read = data.len() as u64;
    w.shrink();
    Ok(read)
}

/// Reads pieces of bytes one after the other, as one (what [`single_entry`] describes, without
/// copying the file's data into it).
struct Pieces<'a> {
    pieces: [&'a [u8]; 3],
    at: u64,
}

impl<'a> Pieces<'a> {
    fn new(pieces: [&'a [u8]; 3]) -> Self {
        Self { pieces, at: 0 }
    }

    fn len(&self) -> u64 {
        self.pieces.iter().map(|p| p.len() as u64).sum()
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut start = 0u64;
        for p in self.pieces {
            let end = start + p.len() as u64;
            if self.at < end {
                let from = (self.at - start) as usize;
                let n = buf.len().min(p.len() - from);
                buf[..n].copy_from_slice(&p[from..from + n]);
                self.at += n as u64;
                return Ok(n);
            }
            start = end;
        }
        Ok(0)
    }
}

impl Seek for Pieces<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let to = match pos {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(d) => self.len().checked_add_signed(d),
            io::SeekFrom::Current(d) => self.at.checked_add_signed(d),
        };
        self.at = to.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.at)
    }
}

/// A zip archive of one entry whose data (`packed` bytes, deflated or stored) goes between
/// `head` and `tail`: what the zip writer's raw copy takes. Sizes are below 4 GiB
/// ([`WHOLE_FILE`]); the name is UTF-8 and shorter than 64 KiB.
#[allow(clippy::too_many_arguments)]
fn single_entry(
    (head, tail): (&mut Vec<u8>, &mut Vec<u8>),
    name: &str,
    method: u16,
    time: zip::DateTime,
    mode: u32,
    crc: u32,
    size: usize,
    packed: usize,
) {
    let u16le = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
    let u32le = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    let name = name.as_bytes();
    let (size, packed) = (size as u32, packed as u32);
    let utf8: u16 = 1 << 11;
    head.clear();
    tail.clear();
    // what the local header and the central directory both say, from the version needed on
    let common = |out: &mut Vec<u8>| {
        u16le(out, 20);
        u16le(out, utf8);
        u16le(out, method);
        u16le(out, time.timepart());
        u16le(out, time.datepart());
        u32le(out, crc);
        u32le(out, packed);
        u32le(out, size);
        u16le(out, name.len() as u16);
        u16le(out, 0); // extra
    };
    // local file header
    u32le(head, 0x0403_4b50);
    common(head);
    head.extend_from_slice(name);
    // the data, then the central directory
    let central = head.len() as u32 + packed;
    let out = tail;
    u32le(out, 0x0201_4b50);
    u16le(out, (3 << 8) | 20); // made by Unix, zip 2.0
    common(out);
    u16le(out, 0); // comment
    u16le(out, 0); // disk
    u16le(out, 0); // internal attributes
    u32le(out, (0o100_000 | (mode & 0o7777)) << 16); // a regular file and its permissions
    u32le(out, 0); // local header offset
    out.extend_from_slice(name);
    let central_len = out.len() as u32;
    // end of central directory
    u32le(out, 0x0605_4b50);
    u16le(out, 0);
    u16le(out, 0);
    u16le(out, 1);
    u16le(out, 1);
    u32le(out, central_len);
    u32le(out, central);
    u16le(out, 0);
}

fn add_files<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    files: &[&PlannedFile],
    level: i64,
    progress: &AtomicU64,
    cancel: &AtomicBool,
    changed: &Mutex<Vec<Changed>>,
) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut whole: Option<Whole> = None;
    for f in files {
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        if f.size <= WHOLE_FILE && !stored(&f.name) && f.name.len() < usize::from(u16::MAX) {
            let input = cybedefend_core::fsutil::open_regular(&f.source, false)
                .map_err(|e| e.into_error("file", &f.source))?;
            let w = whole.get_or_insert_with(|| Whole::new(level));
            let read = add_whole(zip, w, f, &input, level, cancel)?;
            progress.fetch_add(read, Ordering::Relaxed);
            note_change(f, &input, read, changed);
            continue;
        }
        zip.start_file(
            f.name.as_str(),
            options(f, level_of(f, level), stored(&f.name)),
        )
        .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
        // Opened without blocking, regular files only: a file swapped for a FIFO since the
        // plan is an error, not a hang.
        // The plan resolved links to their real files inside the folder: a file swapped for a
        // link since then is refused, never followed out of the folder.
        let input = cybedefend_core::fsutil::open_regular(&f.source, false)
            .map_err(|e| e.into_error("file", &f.source))?;
        // Never past the planned size: a file that grows while it is read (a log written into
        // the folder, `scan ... | tee scan.log`) is archived as it was planned, with a note.
        let mut limited = Read::take(&input, f.size);
        let mut read = 0u64;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            let n = limited
                .read(&mut buf)
                .map_err(|e| cybedefend_core::fsutil::io_error("cannot read", &f.source, &e))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            zip.write_all(&buf[..n])
                .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
            progress.fetch_add(n as u64, Ordering::Relaxed);
        }
        note_change(f, &input, read, changed);
    }
    Ok(())
}

/// Notes a file whose size is not the planned one.
fn note_change(f: &PlannedFile, input: &File, read: u64, changed: &Mutex<Vec<Changed>>) {
    let now = input.metadata().map_or(read, |m| m.len());
    if (now != f.size || read != f.size)
        && let Ok(mut c) = changed.lock()
    {
        c.push(Changed {
            name: f.name.clone(),
            planned: f.size,
            archived: read,
            now,
        });
    }
}

/// The names of the files in a zip archive (`scan --file`), read from its central directory:
/// what the secret-files check looks at when the archive was made elsewhere.
pub fn entry_names(path: &Path) -> Result<Vec<String>> {
    let file = cybedefend_core::fsutil::open_regular(path, true)
        .map_err(|e| e.into_error("archive", path))?;
    let zip = ZipArchive::new(io::BufReader::new(file)).map_err(|e| {
        Error::usage(format!(
            "{} is not a readable zip archive: {e}",
            cybedefend_core::home::tilde(path)
        ))
    })?;
    Ok(zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| !n.ends_with('/'))
        .map(|n| n.into_owned())
        .collect())
}

/// File name extensions of formats that are compressed already (images, fonts, audio and
/// video, archives and packages, office documents): deflate gains nothing on them, so they are
/// stored as they are.
const STORED: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "heif", "jxl", "woff", "woff2", "zip",
    "jar", "war", "ear", "aar", "apk", "aab", "ipa", "whl", "egg", "nupkg", "crate", "gem", "gz",
    "tgz", "bz2", "tbz2", "xz", "txz", "zst", "lz4", "lzma", "br", "7z", "rar", "mp3", "mp4",
    "m4a", "m4v", "mov", "mkv", "webm", "ogg", "oga", "ogv", "opus", "flac", "aac", "docx", "xlsx",
    "pptx", "odt", "ods", "odp", "epub", "vsix",
];

/// Whether a file is stored rather than deflated, by its extension (any case).
pub(super) fn stored(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| STORED.iter().any(|s| s.eq_ignore_ascii_case(ext)))
}

fn options(f: &PlannedFile, level: i64, store: bool) -> SimpleFileOptions {
    let o = SimpleFileOptions::default()
        .unix_permissions(f.mode)
        .last_modified_time(zip_time(f.modified))
        .large_file(f.size >= u64::from(u32::MAX) - (1 << 20));
    if store {
        o.compression_method(CompressionMethod::Stored)
    } else {
        o.compression_method(CompressionMethod::Deflated)
            .compression_level(Some(level))
    }
}

/// A batch compressed into a partial archive: in memory, or on disk for a large file.
enum Partial {
    Memory(Vec<u8>),
    Disk(tempfile::NamedTempFile),
}

/// A file writer that, after its first failure, takes and drops everything: the zip writer
/// finishes the archive once more when it is dropped (and prints its own raw error line when
/// that fails too, on a full disk); after a failure, that second attempt goes nowhere. The
/// first error is what the caller reports, and the file is deleted.
struct Fused<W> {
    inner: W,
    failed: std::sync::Arc<Mutex<Option<io::ErrorKind>>>,
}

impl<W> Fused<W> {
    fn new(inner: W) -> (Self, std::sync::Arc<Mutex<Option<io::ErrorKind>>>) {
        let failed = std::sync::Arc::new(Mutex::new(None));
        (
            Self {
                inner,
                failed: failed.clone(),
            },
            failed,
        )
    }

    fn broken(&self) -> bool {
        self.failed.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    fn record<T>(&self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r
            && let Ok(mut f) = self.failed.lock()
            && f.is_none()
        {
            *f = Some(e.kind());
        }
        r
    }
}

impl<W: Write> Write for Fused<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken() {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.record(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.broken() {
            return Ok(());
        }
        let r = self.inner.flush();
        self.record(r)
    }
}

impl<W: io::Seek> io::Seek for Fused<W> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        if self.broken() {
            return Ok(0);
        }
        let r = self.inner.seek(pos);
        self.record(r)
    }
}

fn compress_batch(
    files: &[&PlannedFile],
    level: i64,
    spill_dir: &Path,
    progress: &AtomicU64,
    cancel: &AtomicBool,
    changed: &Mutex<Vec<Changed>>,
) -> Result<Partial> {
    let large = files.iter().map(|f| f.size).sum::<u64>() >= LARGE_FILE;
    let finish_err =
        |e: zip::result::ZipError| Error::failure(format!("cannot write the archive: {e}"));
    if large {
        let tmp = tempfile::NamedTempFile::new_in(spill_dir).map_err(|e| {
            cybedefend_core::fsutil::io_error("cannot create a temp file in", spill_dir, &e)
        })?;
        let handle = tmp
            .reopen()
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot open", tmp.path(), &e))?;
        let (fused, _) = Fused::new(BufWriter::new(handle));
        let mut zip = ZipWriter::new(fused);
        add_files(&mut zip, files, level, progress, cancel, changed)?;
        let mut w = zip.finish().map_err(finish_err)?;
        w.flush()
            .map_err(|e| Error::failure(format!("cannot write the archive: {e}")))?;
        Ok(Partial::Disk(tmp))
    } else {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        add_files(&mut zip, files, level, progress, cancel, changed)?;
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

/// The pipeline's shared state: the next batch to take, the input bytes taken but not yet
/// written.
struct Budget {
    next: usize,
    in_flight: u64,
}

/// Input bytes (of small files) that may be taken and held at once over all workers, as input
/// being compressed or as a compressed partial archive waiting for its turn: memory stays flat
/// on any tree. Large files stream through a temp file and do not count.
const IN_FLIGHT: u64 = 16 << 20;

/// Writes the archive to `out` with `threads` compressing threads. `progress` counts bytes
/// read; setting `cancel` stops the work (the caller removes `out`).
///
/// Workers take batches in plan order, each as soon as it is free (so every core works to the
/// end), and hand their partial archives to this thread, which appends them in order with raw
/// copies. A worker waits before taking a batch while more than [`IN_FLIGHT`] bytes are taken
/// and not yet written, unless the batch is the very next one to write (so the pipeline never
/// blocks itself).
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
            cybedefend_core::home::tilde(&plan.root)
        ))
        .with_hint("check the folder, or pass --no-ignore to keep ignored files"));
    }
    let threads = threads.max(1);
    let spill_dir = out.parent().unwrap_or(Path::new(".")).to_owned();
    let file = File::create(out)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot create", out, &e))?;
    let (fused, failed) = Fused::new(BufWriter::with_capacity(256 * 1024, file));
    let mut zip = ZipWriter::new(fused);
    let files = batches(plan);
    let budget = Mutex::new(Budget {
        next: 0,
        in_flight: 0,
    });
    let written_upto = AtomicUsize::new(0);
    let changed = Mutex::new(Vec::new());
    let wake = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, u64, Result<Partial>)>();
    let cost = |batch: &[&PlannedFile]| match batch {
        [one] if one.size >= LARGE_FILE => 0,
        _ => batch.iter().map(|f| f.size).sum::<u64>().max(1),
    };

    let result = std::thread::scope(|s| -> Result<()> {
        let mut started = 0;
        let mut refused = None;
        for n in 0..threads {
            let tx = tx.clone();
            let (files, budget, wake, written_upto, spill_dir, changed) =
                (&files, &budget, &wake, &written_upto, &spill_dir, &changed);
            let worker = std::thread::Builder::new()
                .name(format!("compress-{n}"))
                .stack_size(WORKER_STACK);
            let spawned = worker.spawn_scoped(s, move || {
                loop {
                    // Take the next file when the budget allows it (or it is the next to write).
                    let (i, c) = {
                        let Ok(mut b) = budget.lock() else { return };
                        loop {
                            if cancel.load(Ordering::Relaxed) || b.next >= files.len() {
                                return;
                            }
                            let c = cost(&files[b.next]);
                            let first = b.next == written_upto.load(Ordering::Relaxed);
                            if first || b.in_flight + c <= IN_FLIGHT {
                                break;
                            }
                            // A cancel from outside (Ctrl-C) notifies nobody: look again
                            // every 50 ms.
                            b = match wake.wait_timeout(b, std::time::Duration::from_millis(50)) {
                                Ok((b, _)) => b,
                                Err(_) => return,
                            };
                        }
                        let i = b.next;
                        b.next += 1;
                        let c = cost(&files[i]);
                        b.in_flight += c;
                        (i, c)
                    };
                    let r = cybedefend_core::recover::catching(|| {
                        compress_batch(&files[i], level, spill_dir, progress, cancel, changed)
                    })
                    .unwrap_or_else(|message| Err(compress_panicked(&files[i], &message)));
                    let failed = r.is_err();
                    if tx.send((i, c, r)).is_err() || failed {
                        return;
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                // fewer workers are slower, not wrong
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        if started == 0 {
            let e = refused.map_or_else(|| "no reason given".to_owned(), |e| e.to_string());
            return Err(Error::failure(format!(
                "cannot start a thread to compress the files: {e}"
            ))
            .with_hint(MEMORY_HINT));
        }

        // This thread appends in plan order.
        let mut pending: BTreeMap<usize, (u64, Partial)> = BTreeMap::new();
        let mut at = 0;
        let merge_err =
            |e: zip::result::ZipError| Error::failure(format!("cannot write the archive: {e}"));
        let stop = |e: Error| {
            cancel.store(true, Ordering::Relaxed);
            wake.notify_all();
            e
        };
        while at < files.len() {
            let Ok((i, c, r)) = rx.recv() else {
                return Err(stop(cancelled()));
            };
            let done = r.map_err(stop)?;
            pending.insert(i, (c, done));
            while let Some((c, done)) = pending.remove(&at) {
                match done {
                    Partial::Memory(bytes) => {
                        let archive = ZipArchive::new(io::Cursor::new(bytes))
                            .map_err(merge_err)
                            .map_err(stop)?;
                        zip.merge_archive(archive)
                            .map_err(merge_err)
                            .map_err(stop)?;
                    }
                    Partial::Disk(tmp) => {
                        let f = File::open(tmp.path())
                            .map_err(|e| {
                                cybedefend_core::fsutil::io_error("cannot read", tmp.path(), &e)
                            })
                            .map_err(stop)?;
                        let archive = ZipArchive::new(io::BufReader::new(f))
                            .map_err(merge_err)
                            .map_err(stop)?;
                        zip.merge_archive(archive)
                            .map_err(merge_err)
                            .map_err(stop)?;
                    }
                }
                at += 1;
                written_upto.store(at, Ordering::Relaxed);
                if let Ok(mut b) = budget.lock() {
                    b.in_flight -= c;
                }
                wake.notify_all();
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(stop(cancelled()));
            }
        }
        Ok(())
    });
    result?;
    let written = |e: &dyn std::fmt::Display| {
        // the first failure of the file says more than the zip writer's (a full disk)
        match failed.lock().ok().and_then(|f| *f) {
            Some(kind) => {
                cybedefend_core::fsutil::io_error("cannot write", out, &io::Error::from(kind))
            }
            None => Error::failure(format!("cannot write the archive: {e}")),
        }
    };
    let mut w = zip.finish().map_err(|e| written(&e))?;
    w.flush().map_err(|e| written(&e))?;
    if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
        return Err(written(&"the file could not be written"));
    }
    let bytes_out = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let mut changed = changed.into_inner().unwrap_or_default();
    let order: std::collections::HashMap<&str, usize> = plan
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    changed.sort_by_key(|c| order.get(c.name.as_str()).copied());
    Ok(Written {
        files: plan.files.len() as u64,
        bytes_in: progress.load(Ordering::Relaxed),
        bytes_out,
        changed,
    })
}
