//! `file`: a mounted secret file (Kubernetes or Docker secrets, systemd's
//! `$CREDENTIALS_DIRECTORY`). The first line is the PAT.
//!
//! ```yaml
//! k8s: {type: file, path: /run/secrets/cybedefend_pat}
//! systemd: {type: file, credential: cybedefend_pat}    # $CREDENTIALS_DIRECTORY/cybedefend_pat
//! ```

use std::path::PathBuf;

use async_trait::async_trait;
use cybedefend_core::Error;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::Result;
use cybedefend_core::paths::display;
use cybedefend_core::provider::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::normalize_pat;
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
    id: String,
    source: Source,
}

#[async_trait]
impl CredentialProvider for FileProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let path = match &self.source {
            Source::Path(p) => p.clone(),
            Source::Credential(name) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                Some(dir) => PathBuf::from(dir).join(name),
                None => {
                    return Ok(Lookup::NotFound(
                        "CREDENTIALS_DIRECTORY is not set (not running under systemd credentials)"
                            .into(),
                    ));
                }
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lookup::NotFound(format!(
                    "{} does not exist",
                    display(&path)
                )));
            }
            Err(e) => return Err(cybedefend_core::fsutil::io_error("cannot read", &path, &e)),
        };
        #[allow(unused_mut)]
        let mut warning = None;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(&path) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    warning = Some(format!(
                        "{} can be read by other users (mode {mode:o}); restrict it with `chmod 600`",
                        display(&path)
                    ));
                }
            }
        }
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        match normalize_pat(first) {
            Ok(Some(pat)) => Ok(Lookup::Found(Found {
                credential: Credential::Pat(pat),
                detail: display(&path),
                region: None,
                storage: None,
                plaintext: false,
                warning,
            })),
            Ok(None) => Ok(Lookup::NotFound(format!("{} is empty", display(&path)))),
            Err(e) => Err(Error::failure(format!("the PAT in {} {e}", display(&path)))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let source = match (o.path, o.credential) {
        (Some(p), None) => Source::Path(p),
        (None, Some(c)) if !c.trim().is_empty() => Source::Credential(c),
        _ => {
            return Err(Error::usage(format!(
                "provider `{}` (from {}) needs exactly one of `path` or `credential`",
                init.id, init.origin
            )));
        }
    };
    Ok(Box::new(FileProvider {
        id: init.id.to_owned(),
        source,
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "file",
        summary: "a mounted secret file (Kubernetes/Docker secrets, $CREDENTIALS_DIRECTORY)",
        default_position: None,
        default_timeout: None,
        create,
    }
}
