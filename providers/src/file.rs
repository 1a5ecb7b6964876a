//! `file`: a mounted secret file (Kubernetes or Docker secrets, systemd's
//! `$CREDENTIALS_DIRECTORY`). The first line is the PAT.
//!
//! ```yaml
//! k8s: {type: file, path: /run/secrets/cybedefend_pat}
//! systemd: {type: file, credential: cybedefend_pat}    # $CREDENTIALS_DIRECTORY/cybedefend_pat
//! ```
//! Only a regular file of at most 64 KiB is read, opened so that a FIFO cannot block it, off
//! the async runtime so that the provider's time limit holds. A UTF-8 byte-order mark is
//! dropped. A file that other users can read is a warning, and counts as plaintext storage
//! under `require_secure_storage`.

use std::path::PathBuf;

use async_trait::async_trait;
use cybedefend_core::credentials::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::fsutil::{self, ReadError};
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::secret::strip_bom;
use cybedefend_core::{Error, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    credential: Option<String>,
}

enum Source {
    Path(PathBuf),
    Credential(String),
}

struct FileProvider {
    source: Source,
}

#[async_trait]
impl CredentialProvider for FileProvider {
    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let path = match &self.source {
            Source::Path(p) => p.clone(),
            Source::Credential(name) => {
                match cybedefend_core::env::path_var("CREDENTIALS_DIRECTORY") {
                    Some(dir) => PathBuf::from(dir).join(name),
                    None => {
                        return Lookup::not_found(
                            "CREDENTIALS_DIRECTORY is not set (not running under systemd credentials)",
                        );
                    }
                }
            }
        };
        let bytes =
            match fsutil::read_capped_async(path.clone(), fsutil::SECRET_FILE_CAP, true).await {
                Ok(b) => b,
                Err(ReadError::NotFound) => {
                    return Lookup::not_found(format!(
                        "{} does not exist",
                        cybedefend_core::home::tilde(&path)
                    ));
                }
                Err(e) => return Err(e.into_error("secret file", &path)),
            };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::failure(format!(
                "the secret file {} is not UTF-8 text",
                cybedefend_core::home::tilde(&path)
            ))
        })?;
        let (text, bom) = strip_bom(&text);
        if bom {
            let shown = cybedefend_core::home::tilde(&path);
            tracing::debug!(
                "file provider: dropped a UTF-8 byte-order mark at the start of {shown}"
            );
        }
        let shared = std::fs::metadata(&path)
            .map(|m| fsutil::shared_mode(&m))
            .unwrap_or(0);
        let warning = (shared & 0o044 != 0).then(|| {
            format!(
                "{} can be read by other users; restrict it with `chmod 600`",
                cybedefend_core::home::tilde(&path)
            )
        });
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        match normalize_pat(first) {
            Ok(Some(pat)) => Found::pat(pat, cybedefend_core::home::tilde(&path))
                .plaintext(warning.is_some())
                .with_warning(warning)
                .into_lookup(),
            Ok(None) => {
                Lookup::not_found(format!("{} is empty", cybedefend_core::home::tilde(&path)))
            }
            Err(e) => Err(Error::failure(format!(
                "the PAT in {} {e}",
                cybedefend_core::home::tilde(&path)
            ))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let source = match (o.path, o.credential) {
        (Some(p), None) => Source::Path(init.absolute_path("path", &p)?),
        (None, Some(c)) if !c.trim().is_empty() => Source::Credential(c),
        _ => return Err(init.error("needs exactly one of `path` or `credential`")),
    };
    Ok(Box::new(FileProvider { source }))
}

inventory::submit! {
    ProviderFactory::new(
        "file",
        "a mounted secret file (Kubernetes/Docker secrets, $CREDENTIALS_DIRECTORY)",
        create,
    )
    .timeout_secs(10)
}
