//! Last line of defence against leaks: every secret the process handles is registered here,
//! and everything the CLI writes (stdout, stderr, logs, panics, report files) passes through
//! [`redact`] or a [`RedactingWriter`]. Secrets are also kept out of output by construction
//! ([`crate::Secret`] has no `Display` and a redacting `Debug`); this catches what construction
//! cannot, such as a server that echoes the token back in an error body.

use std::io::{self, Write};
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

static KNOWN: Mutex<Vec<SecretString>> = Mutex::new(Vec::new());

/// Shortest value that is redacted: shorter strings would mangle ordinary text.
const MIN_LEN: usize = 6;

/// What a registered secret becomes in output.
pub const MASK: &str = "[REDACTED]";

/// Remembers a secret value so that [`redact`] masks it.
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < MIN_LEN {
        return;
    }
    if let Ok(mut known) = KNOWN.lock()
        && !known.iter().any(|k| k.expose_secret() == value)
    {
        known.push(SecretString::from(value.to_owned()));
    }
}

/// Forgets a value that turned out not to be a secret (a reference such as `op://...`).
pub fn unregister(value: &str) {
    if let Ok(mut known) = KNOWN.lock() {
        known.retain(|k| k.expose_secret() != value);
    }
}

/// Whether a variable or option name says its value is a secret (`OP_SERVICE_ACCOUNT_TOKEN`,
/// `secret_id`, `password`, `api_key`, `apiKey`, `clientSecret`), but not one that names where
/// a secret is (`token_file`, `secret_id_env`, `tokenPath`). Give the name as written: its
/// case separates words.
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    if words
        .last()
        .is_some_and(|w| matches!(w.as_str(), "env" | "file" | "path"))
    {
        return false;
    }
    words.iter().any(|w| {
        matches!(
            w.as_str(),
            "token"
                | "tokens"
                | "secret"
                | "secrets"
                | "password"
                | "passwords"
                | "passwd"
                | "passphrase"
                | "pwd"
                | "pat"
                | "key"
                | "apikey"
                | "credential"
                | "credentials"
                | "authorization"
                | "bearer"
        )
    })
}

/// The lower-case words of a name: split at `_`, `-`, `.` and where a lower-case letter or a
/// digit meets an upper-case one (`clientSecret` → client, secret).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in name.split(['_', '-', '.', ' ']) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in piece.chars() {
            if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

fn snapshot() -> Vec<SecretString> {
    KNOWN.lock().map(|k| k.clone()).unwrap_or_default()
}

/// Replaces every registered secret in `text` with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for secret in snapshot() {
        let s = secret.expose_secret();
        if out.contains(s) {
            out = out.replace(s, MASK);
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A writer that masks registered secrets in a stream (report files, JSON on stdout), also
/// when a secret is split across two writes: it holds back the last bytes that could be the
/// start of one until more data or [`RedactingWriter::finish`] comes.
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

/// Buffered bytes before a pass of redaction.
const CHUNK: usize = 64 * 1024;

impl<W: Write> RedactingWriter<W> {
    /// Wraps a writer.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    /// The inner writer (what it has received so far; some bytes may be held back here).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Writes out everything held back and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn drain(&mut self, all: bool) -> io::Result<()> {
        let secrets = snapshot();
        let longest = secrets
            .iter()
            .map(|s| s.expose_secret().len())
            .max()
            .unwrap_or(0);
        let keep = if all { 0 } else { longest.saturating_sub(1) };
        let mut cut = self.buf.len().saturating_sub(keep);
        // Every complete occurrence, sorted; one that straddles the cut moves the cut past it.
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for s in &secrets {
            let needle = s.expose_secret().as_bytes();
            let mut at = 0;
            while let Some(i) = find(&self.buf, needle, at) {
                hits.push((i, i + needle.len()));
                at = i + 1;
            }
        }
        hits.sort_unstable();
        loop {
            let moved = hits
                .iter()
                .filter(|(s, e)| *s < cut && *e > cut)
                .map(|(_, e)| *e)
                .max();
            match moved {
                Some(e) => cut = e,
                None => break,
            }
        }
        let mut out = Vec::with_capacity(cut + 16);
        let mut pos = 0;
        for (s, e) in hits.into_iter().filter(|(_, e)| *e <= cut) {
            if s < pos {
                // Overlapping secrets: extend the masked span.
                pos = pos.max(e);
                continue;
            }
            out.extend_from_slice(&self.buf[pos..s]);
            out.extend_from_slice(MASK.as_bytes());
            pos = e;
        }
        if pos < cut {
            out.extend_from_slice(&self.buf[pos..cut]);
        }
        self.inner.write_all(&out)?;
        self.buf.drain(..cut);
        Ok(())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.drain(false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Held-back bytes stay until more data or `finish`: flushing them could split a secret.
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_and_short_ones_ignored() {
        register("cdp_canary_value_123");
        register("abc");
        assert_eq!(
            redact("token=cdp_canary_value_123; abc"),
            "token=[REDACTED]; abc"
        );
    }

    #[test]
    fn secret_names() {
        for n in [
            "OP_SERVICE_ACCOUNT_TOKEN",
            "secret_id",
            "password",
            "API_KEY",
            "pat",
            "GITHUB_TOKEN",
            "apiKey",
            "accessToken",
            "clientSecret",
            "passphrase",
            "pwd",
            "Authorization",
            "bearer",
            "tokens",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "token_file",
            "secret_id_env",
            "VAULT_ADDR",
            "keyring",
            "path",
            "role_id",
            "tokenFile",
            "keyring_service",
            "monkey",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn a_secret_split_across_writes_is_masked() {
        register("split_secret_value_42");
        let mut w = RedactingWriter::new(Vec::new());
        let text = format!("{}split_secret_val", "x".repeat(CHUNK));
        w.write_all(text.as_bytes()).unwrap();
        w.write_all(b"ue_42 tail split_secret_value_42").unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(!out.contains("split_secret"), "{}", &out[out.len() - 80..]);
        assert_eq!(out.matches(MASK).count(), 2);
        assert!(out.ends_with("[REDACTED] tail [REDACTED]"));
        assert_eq!(out.len(), CHUNK + 2 * MASK.len() + " tail ".len());
    }
}
