//! Secret values (PATs, access and refresh tokens), and the redaction that keeps every secret
//! the process has seen out of what it prints ([`redact`]).

pub mod redact;

use std::fmt;
use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A secret string. `Debug` never shows it, there is no `Display`, memory is zeroed on drop,
/// and its value is registered with [`redact`] so that it is masked if it ever reaches
/// the CLI's stderr by another route.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value. Callers normalise first (see [`normalize_pat`]).
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        redact::register(&value);
        Self(SecretString::from(value))
    }

    /// The raw value: only for the wire or the credentials file.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `sha256:` and the first 12 hex digits of the SHA-256 of the value: safe to print,
    /// enough to tell two tokens apart.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.expose())
    }
}

/// The fingerprint of a raw value; see [`Secret::fingerprint`].
pub fn fingerprint_of(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::from("sha256:");
    for byte in digest.iter().take(6) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// Why a PAT was refused before any network call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatFormatError {
    /// Whitespace or control characters inside the token (after trimming the ends).
    #[error("contains whitespace or control characters inside it (a token is a single word)")]
    InnerWhitespace,
    /// A character outside visible ASCII (PATs and tokens are ASCII).
    #[error("contains a character that is not visible ASCII ({0}); a token is plain ASCII")]
    NotAscii(String),
}

/// Trims surrounding whitespace (a PAT pasted with a newline is common) and returns `None`
/// for an empty value, which every source treats as unset. Tokens are visible ASCII: anything
/// else is refused, naming the character's code point (never the token).
pub fn normalize_pat(raw: &str) -> Result<Option<Secret>, PatFormatError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(PatFormatError::InnerWhitespace);
    }
    if let Some(c) = trimmed.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(PatFormatError::NotAscii(format!("U+{:04X}", u32::from(c))));
    }
    Ok(Some(Secret::new(trimmed)))
}

/// Removes a UTF-8 byte-order mark at the start of a file's text (editors on Windows write
/// one); says whether there was one.
pub fn strip_bom(text: &str) -> (&str, bool) {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("cdp_supersecret_abc");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn fingerprint_is_sha256_prefix() {
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(fingerprint_of("abc"), "sha256:ba7816bf8f01");
    }

    #[test]
    fn pats_are_trimmed_and_empty_is_unset() {
        let pat = normalize_pat("  cdp_x1\n").unwrap().unwrap();
        assert_eq!(pat.expose(), "cdp_x1");
        assert!(normalize_pat(" \n\t").unwrap().is_none());
        assert_eq!(
            normalize_pat("cdp a").unwrap_err(),
            PatFormatError::InnerWhitespace
        );
        assert_eq!(
            normalize_pat("\u{feff}cdp_a").unwrap_err(),
            PatFormatError::NotAscii("U+FEFF".into())
        );
        assert_eq!(strip_bom("\u{feff}cdp_a"), ("cdp_a", true));
    }
}
