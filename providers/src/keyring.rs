//! `keyring`: the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows), written by `cybedefend login --pat PAT --store keyring`. credentials.json then
//! holds `{"type":"pat","region":"eu","storage":"keyring"}`, so the region is still remembered.
//!
//! Every keyring call runs on its own thread under a time limit: a locked or missing keyring
//! is "not found" with the reason, never a hang, and nothing here waits for an unlock prompt.

use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::fsutil::FileLock;
use cybedefend_core::provider::{
    CredentialProvider, Erased, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::region::Region;
use cybedefend_core::secret::{Secret, normalize_pat};
use cybedefend_core::store;

/// Service name of the keyring entry.
pub(crate) const SERVICE: &str = "cybedefend-cli";
/// Account name of the keyring entry.
pub(crate) const ACCOUNT: &str = "pat";
/// Limit for one keyring call.
const CALL_LIMIT: Duration = Duration::from_secs(5);

/// Why the keyring cannot be used on this machine, if it obviously cannot.
pub(crate) fn unavailable_reason() -> Option<String> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty())
    {
        return Some("no Secret Service on this machine (no D-Bus session bus)".into());
    }
    None
}

enum Outcome<T> {
    Done(T),
    Missing,
    Unavailable(String),
}

/// Runs a keyring call on a detached thread (a hung D-Bus call must not keep the process
/// alive) and waits at most [`CALL_LIMIT`].
fn call<T: Send + 'static>(
    f: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
) -> Outcome<T> {
    if let Some(why) = unavailable_reason() {
        return Outcome::Unavailable(why);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = keyring::Entry::new(SERVICE, ACCOUNT).and_then(|e| f(&e));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(CALL_LIMIT) {
        Ok(Ok(v)) => Outcome::Done(v),
        Ok(Err(keyring::Error::NoEntry)) => Outcome::Missing,
        Ok(Err(keyring::Error::NoStorageAccess(e))) => {
            Outcome::Unavailable(format!("the keyring is locked or refused access ({e})"))
        }
        Ok(Err(e)) => Outcome::Unavailable(format!("the keyring is not usable ({e})")),
        Err(_) => Outcome::Unavailable(format!(
            "the keyring did not answer within {} s (locked, waiting for an unlock prompt?)",
            CALL_LIMIT.as_secs()
        )),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Outcome<T> + Send + 'static,
) -> Outcome<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await
        .unwrap_or(Outcome::Unavailable("keyring thread ended".into()))
}

/// Reads the PAT from the keyring.
pub(crate) async fn read() -> Result<std::result::Result<Secret, String>> {
    match blocking(|| call(|e| e.get_password())).await {
        Outcome::Done(p) => match normalize_pat(&p) {
            Ok(Some(s)) => Ok(Ok(s)),
            Ok(None) => Ok(Err("the keyring entry is empty".into())),
            Err(e) => Err(Error::failure(format!("the PAT in the keyring {e}"))),
        },
        Outcome::Missing => Ok(Err("no cybedefend entry in the keyring".into())),
        Outcome::Unavailable(why) => Ok(Err(why)),
    }
}

/// Writes the PAT to the keyring and reads it back to verify.
pub(crate) async fn write(pat: &Secret) -> Result<()> {
    let value = pat.expose().to_owned();
    match blocking(move || call(move |e| e.set_password(&value))).await {
        Outcome::Done(()) => {}
        Outcome::Missing => return Err(Error::failure("the keyring refused the entry")),
        Outcome::Unavailable(why) => {
            return Err(
                Error::failure(format!("cannot store the PAT in the keyring: {why}")).with_hint(
                    "use `--store file`, or unlock/start the keyring (Secret Service) and retry",
                ),
            );
        }
    }
    match read().await? {
        Ok(back) if back == *pat => Ok(()),
        Ok(_) => Err(Error::failure(
            "the keyring returned a different value than was stored",
        )),
        Err(why) => Err(Error::failure(format!(
            "the PAT could not be read back from the keyring: {why}"
        ))),
    }
}

/// Deletes the keyring entry; `Ok(false)` when there was none or no keyring.
pub(crate) async fn delete() -> Result<bool> {
    match blocking(|| call(|e| e.delete_credential())).await {
        Outcome::Done(()) => Ok(true),
        Outcome::Missing | Outcome::Unavailable(_) => Ok(false),
    }
}

/// Whether a keyring answers on this machine (for the plaintext warning).
pub(crate) async fn available() -> bool {
    matches!(
        blocking(|| call(|e| e.get_password())).await,
        Outcome::Done(_) | Outcome::Missing
    )
}

struct KeyringProvider {
    id: String,
}

#[async_trait]
impl CredentialProvider for KeyringProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "keyring"
    }

    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        if ctx.peek {
            return Ok(Lookup::NotFound("not consulted".into()));
        }
        // Only a login stored with --store keyring says where the region is; without it the
        // keyring is not consulted (no D-Bus call on machines that never used it).
        let login = store::load(&ctx.home).ok().flatten();
        let Some(login) = login.filter(|l| l.storage == "keyring") else {
            return Ok(Lookup::NotFound("no login stored in the keyring".into()));
        };
        match read().await? {
            Ok(pat) => Ok(Lookup::Found(Found {
                credential: Credential::Pat(pat),
                detail: format!("OS keyring ({SERVICE})"),
                region: Some(login.region),
                storage: Some("keyring".into()),
                plaintext: false,
                warning: None,
            })),
            Err(why) => Ok(Lookup::NotFound(why)),
        }
    }

    async fn store(
        &self,
        ctx: &ResolveContext,
        credential: &Credential,
        region: Region,
    ) -> Result<()> {
        let Credential::Pat(pat) = credential else {
            return Err(Error::usage("only a PAT can be kept in the keyring"));
        };
        let _lock = FileLock::acquire(&ctx.home.credentials_lock(), store::LOCK_WAIT)?;
        write(pat).await?;
        // Region remembered, secret elsewhere.
        store::save_locked(&ctx.home, region, credential, Some("keyring"))
    }

    async fn erase(&self, _ctx: &ResolveContext) -> Result<Erased> {
        let removed = delete().await?;
        Ok(Erased {
            removed,
            detail: format!("the OS keyring entry ({SERVICE})"),
            pat_fingerprint: None,
        })
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(KeyringProvider {
        id: init.id.to_owned(),
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "keyring",
        summary: "the OS keyring (Secret Service, Keychain, Credential Manager), written by `login --store keyring`",
        default_position: Some(50),
        default_timeout: Some(Duration::from_secs(10)),
        create,
    }
}

/// Helpers for `login --store keyring`, `logout`, `auth migrate` and `auth status`.
pub mod api {
    use super::*;

    /// Stores a PAT in the keyring (verified by reading it back) and records the login.
    pub async fn store_login(ctx: &ResolveContext, pat: &Secret, region: Region) -> Result<()> {
        KeyringProvider {
            id: "keyring".into(),
        }
        .store(ctx, &Credential::Pat(pat.clone()), region)
        .await
    }

    /// Deletes the keyring entry.
    pub async fn erase() -> Result<bool> {
        delete().await
    }

    /// Whether a keyring answers here.
    pub async fn is_available() -> bool {
        available().await
    }
}
