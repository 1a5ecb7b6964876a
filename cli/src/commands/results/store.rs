//! Where `results` keeps findings between fetching and writing the report: one temporary file
//! per result type (unnamed, removed by the system when the command ends however it ends), so
//! that memory does not grow with the number of findings. A report reads them back in order
//! ([`Segment::findings`]), as often as it needs, or one by one where it noted them ([`At`]).
//! Counts by severity are kept as findings arrive (summaries need no pass).
//!
//! A record is a 4-byte little-endian length and the finding as JSON.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

use cybedefend_core::platform::results::{Finding, SEVERITIES};
use cybedefend_core::{Error, Result};

/// Where a finding is: its type's place in the store (the top 8 bits) and its record's offset
/// (8 bytes, so that a report can note where each of a million findings is in 8 MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At(u64);

impl At {
    fn new(segment: usize, offset: u64) -> Self {
        Self(((segment as u64) << 56) | (offset & ((1 << 56) - 1)))
    }

    fn segment(self) -> usize {
        (self.0 >> 56) as usize
    }

    fn offset(self) -> u64 {
        self.0 & ((1 << 56) - 1)
    }
}

/// The findings of one result type, in the order the pages gave them.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The result type.
    pub(crate) kind: &'static str,
    file: Option<File>,
    /// Findings in it.
    pub(crate) len: usize,
    /// Findings by severity, most severe first (others not counted).
    pub(crate) counts: [usize; 4],
}

/// Findings of every type of a report.
#[derive(Debug, Default)]
pub(crate) struct Store {
    segments: Vec<Segment>,
    /// The first read error (a read of this process's own temporary file: not expected, but
    /// never a report with findings silently missing).
    error: RefCell<Option<io::Error>>,
}

/// Writes one type's findings as they arrive.
pub(crate) struct SegmentWriter {
    kind: &'static str,
    out: BufWriter<File>,
    len: usize,
    counts: [usize; 4],
}

fn spill_error(e: &io::Error) -> Error {
    Error::failure(format!("cannot keep the findings in a temporary file: {e}"))
        .with_hint("check the free space of the temporary folder (TMPDIR)")
}

impl SegmentWriter {
    /// A new, empty type.
    pub(crate) fn new(kind: &'static str) -> Result<Self> {
        let file = tempfile::tempfile().map_err(|e| spill_error(&e))?;
        Ok(Self {
            kind,
            out: BufWriter::with_capacity(64 << 10, file),
            len: 0,
            counts: [0; 4],
        })
    }

    /// Adds findings at the end.
    pub(crate) fn push(&mut self, findings: Vec<Finding>) -> Result<()> {
        for f in findings {
            let bytes = serde_json::to_vec(&f).map_err(|e| Error::failure(e.to_string()))?;
            let len = u32::try_from(bytes.len())
                .map_err(|_| Error::failure("a finding larger than 4 GiB"))?;
            self.out
                .write_all(&len.to_le_bytes())
                .and_then(|()| self.out.write_all(&bytes))
                .map_err(|e| spill_error(&e))?;
            if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
                self.counts[i] += 1;
            }
            self.len += 1;
        }
        Ok(())
    }

    /// The type, complete.
    pub(crate) fn finish(self) -> Result<Segment> {
        let file = self.out.into_inner().map_err(|e| spill_error(e.error()))?;
        Ok(Segment {
            kind: self.kind,
            file: Some(file),
            len: self.len,
            counts: self.counts,
        })
    }
}

impl Segment {
    /// A type without findings (not fetched, or nothing found).
    pub(crate) fn empty(kind: &'static str) -> Self {
        Self {
            kind,
            file: None,
            len: 0,
            counts: [0; 4],
        }
    }
}

/// Reads a file from an offset without moving any shared position (`pread`).
struct ReadAt<'a> {
    file: &'a File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.at)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(usize, Finding)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_le_bytes(len) as usize;
    let mut bytes = vec![0; n];
    r.read_exact(&mut bytes)?;
    let f = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    Ok(Some((4 + n, f)))
}

impl Store {
    /// The store of these types, in report order (at most 255).
    pub(crate) fn new(segments: Vec<Segment>) -> Self {
        debug_assert!(segments.len() < 256);
        Self {
            segments,
            error: RefCell::new(None),
        }
    }

    /// A store of findings already in memory (tests, small reports).
    #[cfg(test)]
    pub(crate) fn of(by_type: &[(&'static str, Vec<Finding>)]) -> Self {
        let segments = by_type
            .iter()
            .map(|(kind, findings)| {
                let mut w = SegmentWriter::new(kind).unwrap();
                w.push(findings.clone()).unwrap();
                w.finish().unwrap()
            })
            .collect();
        Self::new(segments)
    }

    /// The types, in report order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Findings in all.
    pub(crate) fn len(&self) -> usize {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Findings by severity over every type.
    pub(crate) fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for s in &self.segments {
            for (a, n) in c.iter_mut().zip(s.counts) {
                *a += n;
            }
        }
        c
    }

    /// One type's findings, in order, with where each is.
    pub(crate) fn segment(&self, index: usize) -> impl Iterator<Item = (At, Finding)> + '_ {
        let file = self.segments.get(index).and_then(|s| s.file.as_ref());
        let mut reader =
            file.map(|f| BufReader::with_capacity(64 << 10, ReadAt { file: f, at: 0 }));
        let mut offset = 0u64;
        std::iter::from_fn(move || {
            let r = reader.as_mut()?;
            match read_record(r) {
                Ok(Some((n, f))) => {
                    let at = At::new(index, offset);
                    offset += n as u64;
                    Some((at, f))
                }
                Ok(None) => None,
                Err(e) => {
                    self.failed(e);
                    reader = None;
                    None
                }
            }
        })
    }

    /// Every finding, type after type.
    pub(crate) fn findings(&self) -> impl Iterator<Item = (At, Finding)> + '_ {
        (0..self.segments.len()).flat_map(|i| self.segment(i))
    }

    /// The finding at `at` (a default one after a read error, which [`Store::check`] reports).
    pub(crate) fn get(&self, at: At) -> Finding {
        let read = self
            .segments
            .get(at.segment())
            .and_then(|s| s.file.as_ref())
            .ok_or_else(|| io::Error::other("no such finding"))
            .and_then(|file| {
                read_record(&mut ReadAt {
                    file,
                    at: at.offset(),
                })
            });
        match read {
            Ok(Some((_, f))) => f,
            Ok(None) => {
                self.failed(io::ErrorKind::UnexpectedEof.into());
                Finding::default()
            }
            Err(e) => {
                self.failed(e);
                Finding::default()
            }
        }
    }

    fn failed(&self, e: io::Error) {
        self.error.borrow_mut().get_or_insert(e);
    }

    /// Whether every read went well (checked before a report is kept).
    pub(crate) fn check(&self) -> io::Result<()> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(io::Error::other(format!(
                "cannot read back the findings kept in a temporary file: {e}"
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: &str, text: &str) -> Finding {
        Finding {
            id: id.into(),
            kind: "sast".into(),
            severity: severity.into(),
            description: text.into(),
            start_line: Some(7),
            manifest: Some("package.json".into()),
            ..Finding::default()
        }
    }

    /// What goes in comes back, in order, as often as asked, and one by one where noted; a
    /// record larger than the read buffer too.
    #[test]
    fn findings_come_back_in_order_and_where_noted() {
        let big = "x".repeat(200_000);
        let sast = vec![
            finding("1", "high", "first"),
            finding("2", "critical", &big),
            finding("3", "weird", "é ✓ \u{0}"),
        ];
        let store = Store::of(&[("sast", sast.clone()), ("sca", vec![])]);
        assert_eq!(store.len(), 3);
        assert_eq!(
            store.counts(),
            [1, 1, 0, 0],
            "an unknown severity is not counted"
        );
        for _ in 0..2 {
            let back: Vec<Finding> = store.findings().map(|(_, f)| f).collect();
            assert_eq!(back, sast);
        }
        let places: Vec<At> = store.findings().map(|(at, _)| at).collect();
        for (at, f) in places.iter().rev().zip(sast.iter().rev()) {
            assert_eq!(&store.get(*at), f);
        }
        assert_eq!(store.segment(1).count(), 0);
        store.check().unwrap();
    }

    /// A place that is not a record is an error the report sees, not a finding made up.
    #[test]
    fn a_failed_read_is_reported() {
        let store = Store::of(&[("sast", vec![finding("1", "high", "a")])]);
        let _ = store.get(At::new(0, 3));
        assert!(store.check().is_err());
        store.check().unwrap();
        let _ = store.get(At::new(5, 0));
        assert!(store.check().is_err());
    }
}
