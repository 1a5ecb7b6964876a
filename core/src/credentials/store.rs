//! `credentials.json`: the stored login, in the official CLI's format.
//!
//! ```json
//! {"type": "pat", "region": "eu", "pat": "..."}
//! {"type": "oauth", "region": "us", "access_token": "...", "refresh_token": "...",
//!  "token_expiry": "2026-03-01T12:00:00Z"}
//! ```
//! Written 2-space indented, 0600 in a 0700 folder, via temp file + rename, under an
//! exclusive lock. Unknown fields are ignored when reading; `storage` (forward-compatible
//! addition) says where the secret lives when it is not in this file.

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::credentials::{Credential, OAuthSession};
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock, ReadError};
use crate::home::Home;
use crate::region::Region;
use crate::secret::normalize_pat;

/// How long a command waits for another process's lock on credentials.json.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The file as stored on disk (strings only, as the official CLI writes them).
#[derive(Debug, Default, Serialize, Deserialize)]
struct RawCredentials {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_expiry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage: Option<String>,
}

/// Where a stored login's secret lives (`storage` in credentials.json; absent means the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In credentials.json itself, as the official CLI keeps it.
    File,
    /// In the OS keyring; the file keeps the region.
    Keyring,
    /// With the configured provider of this name (a plugin that stores); the file keeps the
    /// region and this name.
    Provider(String),
}

impl Storage {
    /// `storage` as written in the file (absent: the file).
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("file") => Storage::File,
            Some("keyring") => Storage::Keyring,
            Some(name) => Storage::Provider(name.to_owned()),
        }
    }

    /// As written in the file, and shown (`file`, `keyring`, the provider's name).
    pub fn as_str(&self) -> &str {
        match self {
            Storage::File => "file",
            Storage::Keyring => "keyring",
            Storage::Provider(name) => name,
        }
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored login, parsed.
#[derive(Debug, Clone)]
pub struct StoredLogin {
    /// Region recorded at login.
    pub region: Region,
    /// The credential (for `storage` other than the file, the secret is elsewhere).
    pub credential: Option<Credential>,
    /// Where the secret lives.
    pub storage: Storage,
    /// Set when other users can read the file (it is made private again on the next write).
    pub warning: Option<String>,
}

/// Reads credentials.json. `Ok(None)` when there is none; an error naming the file and the
/// remedy when it cannot be used (also when it is a FIFO, a device or far too large: only a
/// regular file of at most 64 KiB is read, and opening it never blocks).
pub fn load(home: &Home) -> Result<Option<StoredLogin>> {
    let path = home.credentials_file();
    let bytes = match fsutil::read_capped(&path, fsutil::SECRET_FILE_CAP, true) {
        Ok(b) => b,
        Err(ReadError::NotFound) => return Ok(None),
        Err(e) => {
            return Err(e
                .into_error("stored credentials", &path)
                .with_kind(crate::ErrorKind::Auth)
                .with_hint("run `cybedefend logout` to remove it, then `cybedefend login`"));
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(corrupt(&path, "are not UTF-8 text"));
    };
    let mut login = parse(&path, &text)?;
    if let Ok(meta) = fs::metadata(&path) {
        let shared = fsutil::shared_mode(&meta);
        if shared != 0 {
            login.warning = Some(format!(
                "{} can be read by other users (mode {:o}); it is made private (0600) on the next login, or run `chmod 600` on it now",
                crate::home::tilde(&path),
                0o600 | shared
            ));
        }
    }
    Ok(Some(login))
}

fn corrupt(path: &Path, what: &str) -> Error {
    Error::auth(format!(
        "stored credentials {} {what}",
        crate::home::tilde(path)
    ))
    .with_hint(
        "run `cybedefend login` to store a new login, or `cybedefend logout` to remove the file",
    )
}

fn parse(path: &Path, text: &str) -> Result<StoredLogin> {
    if text.trim().is_empty() {
        return Err(corrupt(path, "are empty"));
    }
    let raw: RawCredentials = serde_json::from_str(text).map_err(|e| {
        // serde_json errors quote no input, only positions and expectations.
        corrupt(
            path,
            &format!(
                "are not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let region = match raw.region.as_deref() {
        None | Some("") => Region::Us,
        Some(r) => r
            .parse()
            .map_err(|_| corrupt(path, &format!("name an unknown region `{r}`")))?,
    };
    let storage = Storage::parse(raw.storage.as_deref());
    let kind = raw.kind.as_deref().unwrap_or("");
    let credential = match kind {
        "pat" => {
            if storage != Storage::File {
                None
            } else {
                let pat = raw
                    .pat
                    .as_deref()
                    .map(normalize_pat)
                    .transpose()
                    .map_err(|e| corrupt(path, &format!("hold a PAT that {e}")))?
                    .flatten()
                    .ok_or_else(|| corrupt(path, "have type `pat` but no `pat` value"))?;
                Some(Credential::Pat(pat))
            }
        }
        "oauth" => {
            let access = raw
                .access_token
                .as_deref()
                .map(normalize_pat)
                .transpose()
                .map_err(|e| corrupt(path, &format!("hold an access token that {e}")))?
                .flatten()
                .ok_or_else(|| corrupt(path, "have type `oauth` but no `access_token`"))?;
            let refresh = raw
                .refresh_token
                .as_deref()
                .map(normalize_pat)
                .transpose()
                .map_err(|e| corrupt(path, &format!("hold a refresh token that {e}")))?
                .flatten();
            // An unreadable expiry counts as expired, as in the official CLI.
            let expires_at = raw
                .token_expiry
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
            Some(Credential::OAuth(OAuthSession {
                access_token: access,
                refresh_token: refresh,
                expires_at,
            }))
        }
        "" => return Err(corrupt(path, "have no `type`")),
        other => {
            return Err(corrupt(
                path,
                &format!("have an unknown type `{other}` (expected `pat` or `oauth`)"),
            ));
        }
    };
    Ok(StoredLogin {
        region,
        credential,
        storage,
        warning: None,
    })
}

/// credentials.json's text through the parser (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_text(text: &str) {
    if let Ok(login) = parse(Path::new("credentials.json"), text)
        && let Some(c) = &login.credential
    {
        let _ = render(login.region, c, &Storage::File);
    }
}

/// Serialises a login in the official format (2-space indent, no trailing newline).
fn render(region: Region, credential: &Credential, storage: &Storage) -> Result<Vec<u8>> {
    let mut raw = RawCredentials {
        kind: Some(credential.type_name().to_owned()),
        region: Some(region.as_str().to_owned()),
        // the official CLI's file has no `storage`: written only when the secret is elsewhere
        storage: (*storage != Storage::File).then(|| storage.as_str().to_owned()),
        ..RawCredentials::default()
    };
    match credential {
        Credential::Pat(pat) => {
            if *storage == Storage::File {
                raw.pat = Some(pat.expose().to_owned());
            }
        }
        Credential::OAuth(s) => {
            raw.access_token = Some(s.access_token.expose().to_owned());
            raw.refresh_token = s.refresh_token.as_ref().map(|t| t.expose().to_owned());
            raw.token_expiry = s
                .expires_at
                .map(|t| t.to_offset(time::UtcOffset::UTC))
                .and_then(|t| t.replace_nanosecond(0).ok())
                .and_then(|t| t.format(&Rfc3339).ok());
        }
    }
    serde_json::to_vec_pretty(&raw)
        .map_err(|e| Error::failure(format!("cannot serialise credentials: {e}")))
}

/// Stores a login, replacing any previous one, under the lock.
pub fn save(home: &Home, region: Region, credential: &Credential) -> Result<()> {
    let _lock = FileLock::acquire(&home.credentials_lock(), LOCK_WAIT)?;
    save_locked(home, region, credential, &Storage::File)
}

/// Records a login whose secret `storage` keeps, under the lock.
pub fn save_with_storage(
    home: &Home,
    region: Region,
    credential: &Credential,
    storage: &Storage,
) -> Result<()> {
    let _lock = FileLock::acquire(&home.credentials_lock(), LOCK_WAIT)?;
    save_locked(home, region, credential, storage)
}

/// Stores a login while the caller holds the credentials lock.
pub fn save_locked(
    home: &Home,
    region: Region,
    credential: &Credential,
    storage: &Storage,
) -> Result<()> {
    let bytes = render(region, credential, storage)?;
    fsutil::write_private_atomic(&home.credentials_file(), &bytes)
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// The file existed and was deleted; the fingerprint of its PAT if it held one.
    Deleted {
        /// Fingerprint of the stored PAT, to clear its cached access tokens.
        pat_fingerprint: Option<String>,
    },
    /// There was nothing to delete.
    NothingStored,
}

/// Deletes credentials.json under the lock; a corrupt file is deleted too (that is the remedy).
pub fn remove(home: &Home) -> Result<Removed> {
    let _lock = FileLock::acquire(&home.credentials_lock(), LOCK_WAIT)?;
    let path = home.credentials_file();
    // a write killed half-way left its temporary, with the secret: logging out removes it
    fsutil::remove_stale_temporaries(&path);
    let pat_fingerprint = match load(home) {
        Ok(Some(StoredLogin {
            credential: Some(Credential::Pat(p)),
            ..
        })) => Some(p.fingerprint()),
        _ => None,
    };
    match fs::remove_file(&path) {
        Ok(()) => Ok(Removed::Deleted { pat_fingerprint }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Removed::NothingStored),
        Err(e) => Err(fsutil::io_error("cannot delete", &path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn home() -> (tempfile::TempDir, Home) {
        let t = tempfile::tempdir().unwrap();
        let h = Home::at(t.path().join(".cybedefend"));
        (t, h)
    }

    #[test]
    fn pat_round_trip_uses_official_format() {
        let (_t, h) = home();
        save(&h, Region::Eu, &Credential::Pat(Secret::new("cdp_abcdef"))).unwrap();
        let text = fs::read_to_string(h.credentials_file()).unwrap();
        assert_eq!(
            text,
            "{\n  \"type\": \"pat\",\n  \"region\": \"eu\",\n  \"pat\": \"cdp_abcdef\"\n}"
        );
        let login = load(&h).unwrap().unwrap();
        assert_eq!(login.region, Region::Eu);
        assert_eq!(
            login.credential,
            Some(Credential::Pat(Secret::new("cdp_abcdef")))
        );
    }

    #[test]
    fn oauth_session_reads_official_fields() {
        let (_t, h) = home();
        fs::create_dir_all(h.dir()).unwrap();
        fs::write(
            h.credentials_file(),
            r#"{"type":"oauth","region":"us","access_token":"at_123456","refresh_token":"rt_123456","token_expiry":"2030-01-01T00:00:00Z","extra":1}"#,
        )
        .unwrap();
        let login = load(&h).unwrap().unwrap();
        let Some(Credential::OAuth(s)) = login.credential else {
            panic!("expected oauth")
        };
        assert_eq!(s.expires_at.unwrap().year(), 2030);
        assert_eq!(s.refresh_token.unwrap().expose(), "rt_123456");
    }

    #[test]
    fn corrupt_and_unknown_files_are_explained_without_content() {
        let (_t, h) = home();
        fs::create_dir_all(h.dir()).unwrap();
        for (content, needle) in [
            ("{\"type\":\"pat\",\"pat\":\"cdp_secret", "not valid JSON"),
            ("", "empty"),
            (
                "{\"type\":\"magic\",\"pat\":\"cdp_secret\"}",
                "unknown type `magic`",
            ),
            ("{\"type\":\"pat\"}", "no `pat` value"),
            ("[1,2]", "not valid JSON"),
        ] {
            fs::write(h.credentials_file(), content).unwrap();
            let err = load(&h).unwrap_err();
            assert!(err.message().contains(needle), "{content:?} -> {err}");
            assert!(!err.message().contains("cdp_secret"));
            assert!(err.is_auth());
        }
    }

    #[test]
    fn remove_reports_nothing_stored() {
        let (_t, h) = home();
        assert_eq!(remove(&h).unwrap(), Removed::NothingStored);
        save(&h, Region::Us, &Credential::Pat(Secret::new("cdp_abcdef"))).unwrap();
        assert!(matches!(remove(&h).unwrap(), Removed::Deleted { .. }));
        assert!(!h.credentials_file().exists());
    }
}
