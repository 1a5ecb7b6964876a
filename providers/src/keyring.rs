//! `keyring`: the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows), written by `cybedefend login --pat PAT --store keyring`. credentials.json then
//! holds `{"type":"pat","region":"eu","storage":"keyring"}`, so the region is still remembered.
//!
//! Every keyring call runs on its own thread under a time limit: a locked or missing keyring
//! is "not found" with the reason, never a hang, and nothing here waits for an unlock prompt.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::Secret;
use cybedefend_core::credentials::store;
use cybedefend_core::credentials::{
    Credential, CredentialProvider, Erased, Found, Lookup, ProviderFactory, ProviderInit,
    ResolveContext,
};
use cybedefend_core::fsutil::FileLock;
use cybedefend_core::platform::{TokenStore, TokenStoreBackend};
use cybedefend_core::region::Region;
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::{Error, Result};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Service name of the keyring entry.
pub(crate) const SERVICE: &str = "cybedefend-cli";
/// Account name of the keyring entry (`pat`, or `pat@<profile>` for a profile's login).
pub(crate) fn account(home: &cybedefend_core::home::Home) -> String {
    match home.profile() {
        Some(p) => format!("pat@{p}"),
        None => "pat".to_owned(),
    }
}
/// Limit for one keyring call.
const CALL_LIMIT: Duration = Duration::from_secs(5);

/// Why the keyring cannot be used on this machine, if it obviously cannot.
pub(crate) fn unavailable_reason() -> Option<String> {
    if cfg!(target_os = "linux") && !cybedefend_core::env::is_set("DBUS_SESSION_BUS_ADDRESS") {
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
    service: &'static str,
    account: String,
    f: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
) -> Outcome<T> {
    if let Some(why) = unavailable_reason() {
        return Outcome::Unavailable(why);
    }
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().spawn(move || {
        let r = keyring::Entry::new(service, &account).and_then(|e| f(&e));
        let _ = tx.send(r);
    });
    if let Err(e) = spawned {
        return Outcome::Unavailable(format!("cannot start a thread to ask the keyring ({e})"));
    }
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
    let spawned = std::thread::Builder::new().spawn(move || {
        let _ = tx.send(f());
    });
    if let Err(e) = spawned {
        return Outcome::Unavailable(format!("cannot start a thread to ask the keyring ({e})"));
    }
    rx.await
        .unwrap_or(Outcome::Unavailable("keyring thread ended".into()))
}

/// Reads the PAT from the keyring.
pub(crate) async fn read(account: String) -> Result<std::result::Result<Secret, String>> {
    match blocking(|| call(SERVICE, account, |e| e.get_password())).await {
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
pub(crate) async fn write(account: String, pat: &Secret) -> Result<()> {
    let value = pat.expose().to_owned();
    let again = account.clone();
    match blocking(move || call(SERVICE, account, move |e| e.set_password(&value))).await {
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
    match read(again).await? {
        Ok(back) if back == *pat => Ok(()),
        Ok(_) => Err(Error::failure(
            "the keyring returned a different value than was stored",
        )),
        Err(why) => Err(Error::failure(format!(
            "the PAT could not be read back from the keyring: {why}"
        ))),
    }
}

/// Deletes the keyring entry: `Ok(false)` when there was none; an error when the keyring
/// cannot be reached (the entry may still be there).
pub(crate) async fn delete(account: String) -> Result<bool> {
    match blocking(|| call(SERVICE, account, |e| e.delete_credential())).await {
        Outcome::Done(()) => Ok(true),
        Outcome::Missing => Ok(false),
        Outcome::Unavailable(why) => Err(Error::failure(format!(
            "the PAT in the OS keyring could not be erased: {why}"
        ))
        .with_hint(
            "unlock or start the keyring (Secret Service), then run `cybedefend logout` again",
        )),
    }
}

/// Whether a keyring answers on this machine (for the plaintext warning).
pub(crate) async fn available() -> bool {
    matches!(
        blocking(|| call(SERVICE, "pat".to_owned(), |e| e.get_password())).await,
        Outcome::Done(_) | Outcome::Missing
    )
}

struct KeyringProvider;

#[async_trait]
impl CredentialProvider for KeyringProvider {
    async fn resolve(&self, ctx: &ResolveContext) -> Result<Lookup> {
        if ctx.peek {
            return Lookup::not_found("not consulted");
        }
        // Only a login stored with --store keyring says where the region is; without it the
        // keyring is not consulted (no D-Bus call on machines that never used it).
        let login = store::load(&ctx.home).ok().flatten();
        let Some(login) = login.filter(|l| l.storage == store::Storage::Keyring) else {
            return Lookup::not_found("no login stored in the keyring");
        };
        match read(account(&ctx.home)).await? {
            Ok(pat) => Found::pat(
                pat,
                match ctx.home.profile() {
                    Some(_) => format!("OS keyring ({SERVICE}, {})", account(&ctx.home)),
                    None => format!("OS keyring ({SERVICE})"),
                },
            )
            .stored(login.region, "keyring")
            .into_lookup(),
            Err(why) => Lookup::not_found(why),
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
        write(account(&ctx.home), pat).await?;
        // Region remembered, secret elsewhere.
        store::save_locked(&ctx.home, region, credential, &store::Storage::Keyring)
    }

    async fn erase(&self, ctx: &ResolveContext) -> Result<Erased> {
        // The PAT's fingerprint first, so that its cached access tokens can go too.
        let pat_fingerprint = match read(account(&ctx.home)).await? {
            Ok(pat) => Some(pat.fingerprint()),
            Err(_) => None,
        };
        let removed = delete(account(&ctx.home)).await?;
        Ok(Erased {
            removed,
            detail: format!("the OS keyring entry ({SERVICE})"),
            pat_fingerprint,
        })
    }

    async fn can_store(&self, _ctx: &ResolveContext) -> bool {
        available().await
    }
}

fn create(_: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    Ok(Box::new(KeyringProvider))
}

inventory::submit! {
    ProviderFactory::new(
        "keyring",
        "the OS keyring (Secret Service, Keychain, Credential Manager), written by `login --store keyring`",
        create,
    )
    .in_default_chain(50)
    .timeout_secs(10)
}

/// Service name of the token cache entries (`credentials.token_cache: keyring`).
const TOKEN_SERVICE: &str = "cybedefend-cli-token-cache";

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenEntries(BTreeMap<String, TokenEntry>);

#[derive(Debug, Serialize, Deserialize)]
struct TokenEntry {
    access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Exchanged access tokens in the keyring: one entry per PAT (named by its fingerprint)
/// holding its tokens by cache key, so logout can remove them all.
struct KeyringTokenStore;

async fn token_entries(fp: &str) -> TokenEntries {
    let account = fp.to_owned();
    match blocking(move || call(TOKEN_SERVICE, account, |e| e.get_password())).await {
        Outcome::Done(text) => serde_json::from_str(&text).unwrap_or_default(),
        _ => TokenEntries::default(),
    }
}

#[async_trait]
impl TokenStore for KeyringTokenStore {
    async fn get(&self, key: &str, pat_fingerprint: &str) -> Option<(Secret, OffsetDateTime)> {
        let entries = token_entries(pat_fingerprint).await;
        let e = entries.0.get(key)?;
        let fresh = e.expires_at - cybedefend_core::platform::exchange::EXPIRY_MARGIN
            > OffsetDateTime::now_utc();
        (fresh && cybedefend_core::text::is_visible_ascii(&e.access_token))
            .then(|| (Secret::new(e.access_token.clone()), e.expires_at))
    }

    async fn put(
        &self,
        key: &str,
        pat_fingerprint: &str,
        token: &Secret,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let mut entries = token_entries(pat_fingerprint).await;
        let now = OffsetDateTime::now_utc();
        entries.0.retain(|_, e| e.expires_at > now);
        entries.0.insert(
            key.to_owned(),
            TokenEntry {
                access_token: token.expose().to_owned(),
                expires_at,
            },
        );
        let text = serde_json::to_string(&entries)
            .map_err(|e| Error::failure(format!("cannot serialise the token cache: {e}")))?;
        let account = pat_fingerprint.to_owned();
        match blocking(move || call(TOKEN_SERVICE, account, move |e| e.set_password(&text))).await {
            Outcome::Done(()) => Ok(()),
            Outcome::Missing => Err(Error::failure("the keyring refused the token cache entry")),
            Outcome::Unavailable(why) => Err(Error::failure(format!(
                "the token cache could not be written to the keyring: {why}"
            ))),
        }
    }

    async fn forget(&self, pat_fingerprint: &str) -> Result<usize> {
        let n = token_entries(pat_fingerprint).await.0.len();
        let account = pat_fingerprint.to_owned();
        match blocking(move || call(TOKEN_SERVICE, account, |e| e.delete_credential())).await {
            Outcome::Done(()) => Ok(n),
            Outcome::Missing => Ok(0),
            Outcome::Unavailable(why) => Err(Error::failure(format!(
                "cached access tokens in the keyring could not be removed: {why}"
            ))),
        }
    }
}

fn open_token_store(
    _home: &cybedefend_core::home::Home,
) -> std::result::Result<Box<dyn TokenStore>, String> {
    match unavailable_reason() {
        Some(why) => Err(why),
        None => Ok(Box::new(KeyringTokenStore)),
    }
}

inventory::submit! {
    TokenStoreBackend { name: "keyring", open: open_token_store }
}
