//! Reports: a project's SBOM, OWASP Top 10 and CWE Top 25 reports, an organisation's or a
//! team's, and a batch over chosen projects. Every report is streamed into a writer (a file
//! written atomically by the caller), never held whole in memory, except the batch report's
//! base64 envelope (see [`batch`]).

use std::io::{BufReader, Read, Seek, Write};

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::platform::api::{About, Api, Kind, Method, about, seg};

/// What a report is about.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// `GET /project/{id}/sbom`.
    Sbom(&'a str),
    /// `GET /project/{id}/{kind}-report/{format}`.
    Project(&'a str),
    /// `GET /organization/{id}/report/{kind}/{format}`.
    Organization(&'a str),
    /// `GET /team/{id}/report/{kind}/{format}`.
    Team(&'a str),
}

impl<'a> Scope<'a> {
    /// The id the report is about.
    pub fn id(&self) -> &'a str {
        match *self {
            Scope::Sbom(id) | Scope::Project(id) | Scope::Organization(id) | Scope::Team(id) => id,
        }
    }
}

/// Report kinds.
pub const KINDS: &[&str] = &["owasp", "cwe"];
/// Report formats.
pub const FORMATS: &[&str] = &["json", "html", "pdf"];

/// A writer that checks the first bytes of a report against its format before passing them
/// on: a login page or a proxy's error page (HTML) answered with 200 is not saved as a PDF or
/// JSON report.
pub struct Checked<'a> {
    inner: &'a mut (dyn Write + Send),
    format: &'a str,
    head: Vec<u8>,
    decided: bool,
}

impl<'a> Checked<'a> {
    /// Checks what is written to `inner` as a `format` report (`json`, `html`, `pdf`).
    pub fn new(inner: &'a mut (dyn Write + Send), format: &'a str) -> Self {
        Self {
            inner,
            format,
            head: Vec::new(),
            decided: false,
        }
    }

    fn verdict(&self) -> std::result::Result<(), String> {
        let text = self
            .head
            .strip_prefix(b"\xef\xbb\xbf")
            .unwrap_or(&self.head);
        let start = text.iter().position(|b| !b.is_ascii_whitespace());
        let first = start.map(|i| &text[i..]).unwrap_or(&[]);
        let html = first.first() == Some(&b'<');
        let ok = match self.format {
            "pdf" => first.starts_with(b"%PDF"),
            "json" => matches!(first.first(), Some(b'{' | b'[')),
            "html" => html,
            _ => true,
        };
        if ok {
            return Ok(());
        }
        let seen = if html {
            "an HTML page (a login page or a proxy's error page?)".to_owned()
        } else if first.is_empty() {
            "nothing".to_owned()
        } else {
            format!(
                "something else (it starts with `{}`)",
                crate::text::one_line(&String::from_utf8_lossy(&first[..first.len().min(16)]), 20)
            )
        };
        let kind = match self.format {
            "html" => "an HTML",
            "json" => "a JSON",
            _ => "a PDF",
        };
        Err(format!(
            "the platform answered with {seen}, not {kind} report"
        ))
    }

    /// Flushes what was held back; fails if the report never looked like its format.
    pub fn finish(self) -> std::io::Result<()> {
        if !self.decided {
            self.verdict()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            self.inner.write_all(&self.head)?;
        }
        self.inner.flush()
    }
}

impl Write for Checked<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.decided {
            return self.inner.write(data);
        }
        self.head.extend_from_slice(data);
        // Enough to decide: 64 bytes, or any byte that is not white space.
        let meaningful = self
            .head
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .count();
        if self.head.len() >= 64 || meaningful >= 8 {
            self.verdict()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            self.decided = true;
            let head = std::mem::take(&mut self.head);
            self.inner.write_all(&head)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A report's format check failing in the middle of a download or at its end.
fn not_a_report(what: &str, e: &std::io::Error) -> Error {
    Error::failure(format!("{what}: {e}"))
        .with_hint("check --api-url and any proxy in between; nothing was saved")
}

/// Streams one report into `out`; the bytes written.
pub async fn download(
    api: &Api<'_>,
    scope: Scope<'_>,
    kind: &str,
    format: &str,
    detailed: bool,
    out: &mut (dyn Write + Send),
) -> Result<u64> {
    let (what, path, thing) = match scope {
        Scope::Sbom(p) => (
            "report sbom",
            format!("/project/{}/sbom", seg(p)),
            About::described(Kind::Project, format!("project `{p}` (or its SBOM)")),
        ),
        Scope::Project(p) => (
            "project report",
            format!("/project/{}/{kind}-report/{format}", seg(p)),
            About::project(p),
        ),
        Scope::Organization(o) => (
            "organisation report",
            format!("/organization/{}/report/{kind}/{format}", seg(o)),
            About::organisation(o),
        ),
        Scope::Team(t) => (
            "team report",
            format!("/team/{}/report/{kind}/{format}", seg(t)),
            About::team(t),
        ),
    };
    let query = if detailed && !matches!(scope, Scope::Sbom(_)) {
        vec![("detailed".to_owned(), "true".to_owned())]
    } else {
        Vec::new()
    };
    let fmt = if matches!(scope, Scope::Sbom(_)) {
        "json"
    } else {
        format
    };
    let mut checked = Checked::new(out, fmt);
    let (n, _) = api
        .download(what, Method::GET, &path, &query, None, &mut checked)
        .await
        .map_err(about(thing))?;
    checked.finish().map_err(|e| not_a_report(what, &e))?;
    Ok(n)
}

/// Largest batch envelope read (its base64 text is held in memory once).
pub const ENVELOPE_CAP: u64 = 1 << 30;

/// What a batch report gave.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Bytes written.
    pub bytes: u64,
    /// The file name the server suggested, reduced to a plain name (no folders, no control
    /// characters), if it sent a usable one.
    pub filename: Option<String>,
}

/// A server-given file name, if it is a plain one: no folder part, not hidden, not starting
/// with `-`, no control characters or bidirectional overrides, no `:`, at most 200 bytes.
pub fn plain_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.trim();
    // Letters, digits and a few plain signs: nothing invisible, nothing a shell expands.
    let ok = !base.is_empty()
        && base.len() <= 200
        && !base.starts_with('.')
        && !base.starts_with('-')
        && base.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ' | '(' | ')' | '+')
        });
    ok.then(|| base.to_owned())
}

/// `POST /organization/{id}/project/report/batch/{kind}/{format}` with `{projectIds,
/// detailed}`. The official CLI reads a JSON envelope `{filename, contentType, content}` with
/// the report in base64; a server that sends the report itself is accepted too. The answer is
/// spooled to an unnamed temporary file (capped), then decoded into `out` in chunks.
pub async fn batch(
    api: &Api<'_>,
    org: &str,
    kind: &str,
    format: &str,
    projects: &[String],
    detailed: bool,
    out: &mut (dyn Write + Send),
) -> Result<Batch> {
    let path = format!(
        "/organization/{}/project/report/batch/{kind}/{format}",
        seg(org)
    );
    let body = serde_json::json!({"projectIds": projects, "detailed": detailed});
    let mut spool = tempfile::tempfile().map_err(|e| {
        Error::failure(format!("report batch: cannot create a temporary file: {e}"))
    })?;
    let (n, _) = api
        .download(
            "report batch",
            Method::POST,
            &path,
            &[],
            Some(body),
            &mut spool,
        )
        .await
        .map_err(about(About::described(
            Kind::Organisation,
            format!(
                "organisation `{org}` or one of the projects `{}`",
                projects.join("`, `")
            ),
        )))?;
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            not_a_report("report batch", &e)
        } else {
            Error::failure(format!("report batch: {e}"))
        }
    };
    let mut checked = Checked::new(out, format);
    let out = &mut checked;
    spool.rewind().map_err(io)?;
    let mut first = [0u8; 1];
    let mut peek = spool.try_clone().map_err(io)?;
    let starts_json = loop {
        match peek.read(&mut first) {
            Ok(0) => break false,
            // white space and a UTF-8 byte order mark come before the JSON
            Ok(_) if first[0].is_ascii_whitespace() || matches!(first[0], 0xef | 0xbb | 0xbf) => {}
            Ok(_) => break first[0] == b'{',
            Err(e) => return Err(io(e)),
        }
    };
    spool.rewind().map_err(io)?;
    // The envelope is a JSON object; an HTML or PDF report never starts with `{`.
    if !starts_json {
        let copied = std::io::copy(&mut spool, out).map_err(io)?;
        checked.finish().map_err(io)?;
        return Ok(Batch {
            bytes: copied,
            filename: None,
        });
    }
    if n > ENVELOPE_CAP {
        return Err(Error::failure(format!(
            "report batch: the answer is larger than {} MiB; refused",
            ENVELOPE_CAP >> 20
        )));
    }
    // Whether it is an envelope: read as JSON without its `content` (never held in memory).
    let mut reader = BufReader::new(&mut spool);
    {
        use std::io::BufRead;
        if reader.fill_buf().map_err(io)?.starts_with(b"\xef\xbb\xbf") {
            reader.consume(3);
        }
    }
    let mut sink = std::io::sink();
    let envelope = envelope::read(&mut reader, &mut sink);
    let filename = match envelope {
        Ok(e) if e.had_content => e.filename,
        // A JSON report sent as itself (no envelope): written as it came.
        _ if format == "json" => {
            spool.rewind().map_err(io)?;
            let copied = std::io::copy(&mut spool, out).map_err(io)?;
            checked.finish().map_err(io)?;
            return Ok(Batch {
                bytes: copied,
                filename: None,
            });
        }
        Ok(_) => {
            return Err(Error::failure(
                "report batch: the answer is neither a report nor an envelope this CLI can read (no `content`)",
            ));
        }
        Err(e) => {
            return Err(Error::failure(format!(
                "report batch: the answer is neither a report nor an envelope this CLI can read ({e})"
            )));
        }
    };
    // Then the report itself, decoded from the spooled answer as it is read.
    spool.rewind().map_err(io)?;
    let mut reader = BufReader::new(&mut spool);
    {
        use std::io::BufRead;
        if reader.fill_buf().map_err(io)?.starts_with(b"\xef\xbb\xbf") {
            reader.consume(3);
        }
    }
    let written = envelope::read(&mut reader, out).map_err(|e| match e {
        envelope::Failure::Write(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            not_a_report("report batch", &e)
        }
        envelope::Failure::Write(e) => {
            Error::failure(format!("report batch: cannot write the file: {e}"))
        }
        other => Error::failure(format!(
            "report batch: the report in the answer is not valid base64 ({other})"
        )),
    })?;
    checked.finish().map_err(io)?;
    Ok(Batch {
        bytes: written.bytes,
        filename: filename.as_deref().and_then(plain_file_name).filter(|n| {
            n.rsplit_once('.')
                .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case(format))
        }),
    })
}

/// The batch envelope `{"filename": ..., "content": "<base64>", ...}` read as a stream: the
/// `content` string is decoded as its characters arrive and written out in chunks, so the
/// report is never in memory whole (neither its base64 text nor its bytes). Other members are
/// skipped (strings of at most 64 KiB; `filename` is kept).
mod envelope {
    use std::io::{BufRead, Write};

    /// Why the envelope could not be read.
    #[derive(Debug)]
    pub(super) enum Failure {
        /// Not the JSON of an envelope.
        Json(&'static str),
        /// The content is not base64.
        Base64,
        /// Writing the report failed.
        Write(std::io::Error),
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Failure::Json(why) => f.write_str(why),
                Failure::Base64 => f.write_str("a character that is not base64"),
                Failure::Write(e) => write!(f, "{e}"),
            }
        }
    }

    /// What was read.
    pub(super) struct Read {
        pub(super) filename: Option<String>,
        pub(super) had_content: bool,
        pub(super) bytes: u64,
    }

    const SMALL: usize = 64 * 1024;

    fn byte(r: &mut dyn BufRead) -> Result<Option<u8>, Failure> {
        let buf = r
            .fill_buf()
            .map_err(|_| Failure::Json("the answer could not be read"))?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        r.consume(1);
        Ok(Some(b))
    }

    fn skip_ws(r: &mut dyn BufRead) -> Result<Option<u8>, Failure> {
        loop {
            match byte(r)? {
                Some(b) if b.is_ascii_whitespace() => {}
                other => return Ok(other),
            }
        }
    }

    /// A small JSON string (after its opening quote), unescaped.
    fn small_string(r: &mut dyn BufRead) -> Result<String, Failure> {
        let mut raw = vec![b'"'];
        loop {
            let b = byte(r)?.ok_or(Failure::Json("a string does not end"))?;
            raw.push(b);
            if raw.len() > SMALL {
                return Err(Failure::Json("a member other than `content` is too long"));
            }
            match b {
                b'\\' => raw.push(byte(r)?.ok_or(Failure::Json("a string does not end"))?),
                b'"' => break,
                _ => {}
            }
        }
        serde_json::from_slice(&raw).map_err(|_| Failure::Json("a string is not valid JSON"))
    }

    /// Skips a value (its first byte read): strings, numbers, literals, arrays, objects.
    fn skip_value(r: &mut dyn BufRead, first: u8) -> Result<(), Failure> {
        match first {
            b'"' => small_string(r).map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 1usize;
                while depth > 0 {
                    match byte(r)?.ok_or(Failure::Json("the envelope does not end"))? {
                        b'"' => {
                            small_string(r)?;
                        }
                        b'{' | b'[' => {
                            depth += 1;
                            if depth > 64 {
                                return Err(Failure::Json("the envelope nests too deep"));
                            }
                        }
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                }
                Ok(())
            }
            _ => {
                // a number or a literal: up to the next delimiter
                loop {
                    let buf = r
                        .fill_buf()
                        .map_err(|_| Failure::Json("the answer could not be read"))?;
                    match buf.first() {
                        Some(b',' | b'}' | b']') | None => return Ok(()),
                        Some(b) if b.is_ascii_whitespace() => return Ok(()),
                        Some(_) => r.consume(1),
                    }
                }
            }
        }
    }

    /// Decodes the `content` string (after its opening quote) into `out`.
    fn content(r: &mut dyn BufRead, out: &mut dyn Write) -> Result<u64, Failure> {
        use base64::Engine as _;
        const CHUNK: usize = 64 * 1024;
        let mut quad = Vec::with_capacity(CHUNK + 4);
        let mut written = 0u64;
        let mut emit = |quad: &mut Vec<u8>, last: bool| -> Result<(), Failure> {
            let whole = if last { quad.len() } else { quad.len() / 4 * 4 };
            if whole == 0 {
                return Ok(());
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&quad[..whole])
                .map_err(|_| Failure::Base64)?;
            out.write_all(&bytes).map_err(Failure::Write)?;
            written += bytes.len() as u64;
            quad.drain(..whole);
            Ok(())
        };
        loop {
            let b = byte(r)?.ok_or(Failure::Json("the content does not end"))?;
            match b {
                b'"' => break,
                // JSON escapes in base64 text: `\/` and escaped white space
                b'\\' => match byte(r)?.ok_or(Failure::Json("the content does not end"))? {
                    b'/' => quad.push(b'/'),
                    b'n' | b'r' | b't' => {}
                    _ => return Err(Failure::Base64),
                },
                b if b.is_ascii_whitespace() => {}
                b => quad.push(b),
            }
            if quad.len() >= CHUNK {
                emit(&mut quad, false)?;
            }
        }
        emit(&mut quad, true)?;
        Ok(written)
    }

    /// Reads the envelope from `r`, writing the decoded `content` into `out`.
    pub(super) fn read(r: &mut dyn BufRead, out: &mut dyn Write) -> Result<Read, Failure> {
        if skip_ws(r)? != Some(b'{') {
            return Err(Failure::Json("the answer is not a JSON object"));
        }
        let mut found = Read {
            filename: None,
            had_content: false,
            bytes: 0,
        };
        loop {
            match skip_ws(r)? {
                Some(b'}') => return Ok(found),
                Some(b'"') => {}
                _ => return Err(Failure::Json("a member name is missing")),
            }
            let key = small_string(r)?;
            if skip_ws(r)? != Some(b':') {
                return Err(Failure::Json("a `:` is missing"));
            }
            let first = skip_ws(r)?.ok_or(Failure::Json("a value is missing"))?;
            match (key.as_str(), first) {
                ("content", b'"') => {
                    found.bytes = content(r, out)?;
                    found.had_content = true;
                }
                ("filename", b'"') => found.filename = Some(small_string(r)?),
                (_, first) => skip_value(r, first)?,
            }
            match skip_ws(r)? {
                Some(b',') => {}
                Some(b'}') => return Ok(found),
                _ => return Err(Failure::Json("a `,` or `}` is missing")),
            }
        }
    }
}

/// Decodes standard base64 (whitespace ignored) into `out` in chunks; the bytes written.
pub fn decode_base64(text: &str, out: &mut dyn Write) -> Result<u64> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(CHUNK);
    let mut written = 0u64;
    let mut flush = |buf: &mut Vec<u8>| -> Result<()> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&buf[..])
            .map_err(|e| {
                Error::failure(format!(
                    "report batch: the report in the answer is not valid base64 ({e})"
                ))
            })?;
        out.write_all(&bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                not_a_report("report batch", &e)
            } else {
                Error::failure(format!("report batch: cannot write the file: {e}"))
            }
        })?;
        written += bytes.len() as u64;
        buf.clear();
        Ok(())
    };
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        buf.push(b);
        if buf.len() == CHUNK {
            flush(&mut buf)?;
        }
    }
    if !buf.is_empty() {
        flush(&mut buf)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_file_names_are_reduced_to_plain_names() {
        assert_eq!(plain_file_name("batch.pdf").as_deref(), Some("batch.pdf"));
        assert_eq!(
            plain_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(plain_file_name("a\\b.html").as_deref(), Some("b.html"));
        assert_eq!(plain_file_name(".."), None);
        assert_eq!(plain_file_name(".bashrc"), None);
        assert_eq!(plain_file_name("x\u{1b}[2J.pdf"), None);
        assert_eq!(plain_file_name("rep\u{202e}fdp.exe"), None);
        assert_eq!(plain_file_name("-"), None);
        assert_eq!(plain_file_name("-rf.pdf"), None);
        assert_eq!(plain_file_name("r\u{200b}x.pdf"), None);
        assert_eq!(plain_file_name("r\u{2028}x.pdf"), None);
        assert_eq!(plain_file_name("*.pdf"), None);
        assert_eq!(
            plain_file_name("OWASP report (2).pdf").as_deref(),
            Some("OWASP report (2).pdf")
        );
        assert_eq!(plain_file_name("dir/"), None);
    }

    #[test]
    fn the_envelope_is_read_as_a_stream_in_any_member_order() {
        use base64::Engine as _;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        // JSON may escape `/` and carry escaped line breaks in base64 text
        let escaped = b64.replace('/', "\\/").replacen('A', "A\\n", 3);
        for text in [
            format!(r#"{{"filename":"r.pdf","contentType":"application/pdf","content":"{b64}"}}"#),
            format!(
                r#"{{"content":"{escaped}","extra":{{"a":[1,2,{{"b":"x"}}]}},"n":12.5,"ok":true,"filename":"r.pdf"}}"#
            ),
        ] {
            let mut out = Vec::new();
            let r = envelope::read(&mut text.as_bytes(), &mut out).expect("envelope");
            assert_eq!(out, data);
            assert_eq!(r.bytes, data.len() as u64);
            assert_eq!(r.filename.as_deref(), Some("r.pdf"));
            assert!(r.had_content);
        }
        for bad in [
            r#"{"content":"@@@@"}"#,
            r#"{"content":"QUJD"#,
            r#"["content"]"#,
            r#"{"content" "QUJD"}"#,
        ] {
            assert!(
                envelope::read(&mut bad.as_bytes(), &mut Vec::new()).is_err(),
                "{bad}"
            );
        }
        let r = envelope::read(&mut &br#"{"filename":"x"}"#[..], &mut Vec::new()).expect("json");
        assert!(!r.had_content);
    }

    #[test]
    fn base64_is_decoded_in_chunks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut text = base64::engine::general_purpose::STANDARD.encode(&data);
        text.insert(100, '\n');
        let mut out = Vec::new();
        assert_eq!(decode_base64(&text, &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
        assert!(decode_base64("@@@@", &mut Vec::new()).is_err());
    }
}
