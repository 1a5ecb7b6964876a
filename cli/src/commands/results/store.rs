//! Where `results` keeps findings between fetching and writing the report: in memory up to
//! [`IN_MEMORY`] bytes a result type, then in a temporary file (unnamed, removed by the system
//! when the command ends however it ends), so that memory does not grow with the number of
//! findings. When no temporary file can be made (a read-only or full `TMPDIR`), they stay in
//! memory, as they always did before. A report reads them back in order ([`Store::segment`]),
//! as often as it needs, or one by one where it noted them ([`At`]). Counts by severity are kept
//! as findings arrive (summaries need no pass).
//!
//! A record is a 4-byte little-endian length and the finding as JSON, with every registered
//! secret masked (a finding that echoes the user's token never puts it on disk).

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
    records: Records,
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

/// Bytes of records a type keeps in memory before they go to a temporary file.
pub(crate) const IN_MEMORY: usize = 2 << 20;

/// Where a type's records are.
#[derive(Debug)]
enum Records {
    Memory(Vec<u8>),
    File(File),
}

/// Writes one type's findings as they arrive.
pub(crate) struct SegmentWriter {
    kind: &'static str,
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// No temporary file could be made: everything stays in memory.
    no_file: bool,
    len: usize,
    counts: [usize; 4],
}

fn spill_error(e: &io::Error) -> Error {
    Error::failure(format!("cannot keep the findings in a temporary file: {e}"))
        .with_hint("check the free space of the temporary folder (TMPDIR)")
}

impl SegmentWriter {
    /// A new, empty type.
    pub(crate) fn new(kind: &'static str) -> Self {
        Self {
            kind,
            memory: Vec::new(),
            file: None,
            no_file: false,
            len: 0,
            counts: [0; 4],
        }
    }

    /// Adds findings at the end.
    pub(crate) fn push(&mut self, findings: Vec<Finding>) -> Result<()> {
        for f in findings {
            let json = serde_json::to_string(&f).map_err(|e| Error::failure(e.to_string()))?;
            let json = cybedefend_core::secret::redact::redact(&json);
            let len = u32::try_from(json.len())
                .map_err(|_| Error::failure("a finding larger than 4 GiB"))?;
            let record = [&len.to_le_bytes()[..], json.as_bytes()];
            match &mut self.file {
                Some(out) => {
                    for part in record {
                        out.write_all(part).map_err(|e| spill_error(&e))?;
                    }
                }
                None => {
                    for part in record {
                        self.memory.extend_from_slice(part);
                    }
                    if self.memory.len() > IN_MEMORY && !self.no_file {
                        self.spill()?;
                    }
                }
            }
            if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
                self.counts[i] += 1;
            }
            self.len += 1;
        }
        Ok(())
    }

    /// Moves what is in memory to a temporary file, which takes what comes next; without one,
    /// everything stays in memory.
    fn spill(&mut self) -> Result<()> {
        match tempfile::tempfile() {
            Ok(file) => {
                let mut out = BufWriter::with_capacity(64 << 10, file);
                out.write_all(&self.memory).map_err(|e| spill_error(&e))?;
                self.memory = Vec::new();
                self.file = Some(out);
            }
            Err(e) => {
                tracing::debug!(
                    "{} results: no temporary file ({e}); the findings stay in memory",
                    self.kind
                );
                self.no_file = true;
            }
        }
        Ok(())
    }

    /// The type, complete.
    pub(crate) fn finish(self) -> Result<Segment> {
        let records = match self.file {
            Some(out) => Records::File(out.into_inner().map_err(|e| spill_error(e.error()))?),
            None => Records::Memory(self.memory),
        };
        Ok(Segment {
            kind: self.kind,
            records,
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
            records: Records::Memory(Vec::new()),
            len: 0,
            counts: [0; 4],
        }
    }
}

/// Reads records from an offset, without moving any shared position (`pread` for a file).
struct ReadAt<'a> {
    records: &'a Records,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.records {
            Records::Memory(bytes) => {
                let from = usize::try_from(self.at)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let n = buf.len().min(bytes.len() - from);
                buf[..n].copy_from_slice(&bytes[from..from + n]);
                n
            }
            #[cfg(unix)]
            Records::File(file) => std::os::unix::fs::FileExt::read_at(file, buf, self.at)?,
            #[cfg(windows)]
            Records::File(file) => std::os::windows::fs::FileExt::seek_read(file, buf, self.at)?,
        };
        self.at += n as u64;
        Ok(n)
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(usize, Finding)>> {
    let mut len = [0u8; 4];
    // the end comes between records, never inside one
    let first = loop {
        match r.read(&mut len[..1]) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if first == 0 {
        return Ok(None);
    }
    r.read_exact(&mut len[1..])?;
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
                let mut w = SegmentWriter::new(kind);
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
        let records = self.segments.get(index).map(|s| &s.records);
        let mut reader =
            records.map(|records| BufReader::with_capacity(64 << 10, ReadAt { records, at: 0 }));
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
            .map(|s| &s.records)
            .ok_or_else(|| io::Error::other("no such finding"))
            .and_then(|records| {
                read_record(&mut ReadAt {
                    records,
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
    /// record larger than the read buffer too; kept in memory, and past [`IN_MEMORY`] in a
    /// temporary file.
    #[test]
    fn findings_come_back_in_order_and_where_noted() {
        let many: Vec<Finding> = (0..40)
            .map(|i| finding(&i.to_string(), "low", &"y".repeat(100_000)))
            .collect();
        let spilled = Store::of(&[("sast", many.clone())]);
        assert!(matches!(spilled.segments()[0].records, Records::File(_)));
        let back: Vec<Finding> = spilled.findings().map(|(_, f)| f).collect();
        assert_eq!(back, many);
        let places: Vec<At> = spilled.findings().map(|(at, _)| at).collect();
        assert_eq!(spilled.get(places[39]), many[39]);
        spilled.check().unwrap();

        let big = "x".repeat(200_000);
        let sast = vec![
            finding("1", "high", "first"),
            finding("2", "critical", &big),
            finding("3", "weird", "é ✓ \u{0}"),
        ];
        let store = Store::of(&[("sast", sast.clone()), ("sca", vec![])]);
        assert!(matches!(store.segments()[0].records, Records::Memory(_)));
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
