//! Writing the archive: batches deflated on every core into partial archives, appended in
//! order with raw copies.

use std::fs::{self, File};
use std::io::{self, BufWriter, Cursor, Read, Seek, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use time::OffsetDateTime;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{Plan, PlannedFile};
use crate::credentials::display;
use crate::error::{Error, Result};

/// Batches hold at most this many bytes of input...
const BATCH_BYTES: u64 = 4 << 20;
/// ...or this many files.
pub(super) const BATCH_FILES: usize = 256;
/// Files at least this large are compressed to a temp file instead of memory.
pub(super) const LARGE_FILE: u64 = 16 << 20;

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

enum Partial {
    Memory(Vec<u8>),
    Disk(tempfile::NamedTempFile),
}

fn cancelled() -> Error {
    Error::cancelled("the archive was cancelled")
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
            return Err(cancelled());
        }
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(level))
            .unix_permissions(f.mode)
            .last_modified_time(zip_time(f.modified))
            .large_file(f.size >= u64::from(u32::MAX) - (1 << 20));
        zip.start_file(f.name.as_str(), options)
            .map_err(|e| Error::failure(format!("cannot add {} to the archive: {e}", f.name)))?;
        // Opened without blocking, regular files only: a file swapped for a FIFO since the
        // plan is an error, not a hang.
        let mut input = crate::fsutil::open_regular(&f.source, true)
            .map_err(|e| e.into_error("file", &f.source))?;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
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
                .unwrap_or_else(|| Err(cancelled()));
            collected.push(r);
        }
        if let Some(pos) = collected
            .iter()
            .position(|r| matches!(r, Err(e) if !e.is_cancelled()))
        {
            return Err(match collected.swap_remove(pos) {
                Err(e) => e,
                Ok(_) => cancelled(),
            });
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
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
