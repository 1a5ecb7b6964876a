//! The plugin host of the cybedefend CLI: finds plugins ([`discover`]), checks that they can
//! be trusted ([`trust`]), talks to exec plugins (a process per request, protocol v1 over
//! stdin/stdout) and native plugins (a shared library, the C table of the SDK), and registers
//! the `plugin` provider type, which the chain uses like any built-in.
//!
//! Internal, unstable API.

// Every trust check works on descriptors (open once, fstat, run or load that descriptor): on a
// system without them the host refuses to build rather than run plugins unchecked.
#[cfg(not(unix))]
compile_error!(
    "the plugin host needs Unix file descriptors for its trust checks; this system is not supported"
);

pub mod conformance;
pub mod discover;
pub mod elf;
pub mod exec;
// Loading a native plugin and calling its table is `unsafe` by nature: allowed in this module
// only, every block with its SAFETY reasoning.
#[allow(unsafe_code)]
mod native;
mod provider;
pub mod trust;

use std::sync::Arc;
use std::time::Duration;

use cybedefend_core::Result;
use cybedefend_plugin_sdk::{Request, Response};

pub use discover::{Kind, Located};
pub use trust::Trusted;

/// Keeps this crate (and its `inventory` registration) in the binary.
#[inline(never)]
pub fn link() -> usize {
    1
}

/// What a plugin says about itself.
#[derive(Debug, Clone)]
pub struct Info {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Exec: the protocol versions it speaks; native: its ABI version.
    pub versions: Vec<u32>,
}

/// The end of a command, called once before the process exits: native plugins' instances with
/// no call in flight are `destroy`ed. False once a native library was loaded (or one is still
/// loading): the caller must then end the process with [`exit_now`], not the normal exit,
/// which could wait for a stuck loader forever or race an `exit()` of a plugin's thread.
pub fn finish() -> bool {
    native::finish()
}

/// The CLI is ending the process itself (its main thread panicked): an exit from here on is
/// not a native plugin's.
pub fn exiting() {
    native::exiting();
}

/// Ends the process at once with `code`, after flushing stdout and stderr (the C library's
/// buffers too: what a native plugin printed), without the normal exit's handlers and
/// unloading of libraries (see [`finish`]).
#[allow(unsafe_code)]
pub fn exit_now(code: u8) -> ! {
    use std::io::Write as _;
    let _ = cybedefend_core::stdio::stdout().flush();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    // SAFETY: fflush(NULL) flushes the C library's open streams; `_exit` only ends the
    // process, and nothing of this process runs after it.
    unsafe {
        libc::fflush(std::ptr::null_mut());
        libc::_exit(i32::from(code))
    }
    #[cfg(not(unix))]
    std::process::exit(i32::from(code))
}

/// Asks a plugin who it is: an exec plugin's hello (to a harmless request), a native plugin's
/// table (read only: nothing of it is called).
pub async fn handshake(plugin: &Arc<Trusted>, limit: Duration) -> Result<Info> {
    match plugin.kind {
        Kind::Exec => {
            // `hello`: no work asked of the plugin, whatever it answers.
            let req = Request::new(
                cybedefend_plugin_sdk::Action::Hello,
                "handshake",
                serde_json::Value::Null,
            );
            let (hello, _, _) = exec::call(plugin, &req, limit).await?;
            // what a plugin says about itself is shown: one short safe line each
            let safe = |s: String, max| {
                cybedefend_core::text::one_line(&cybedefend_core::secret::redact::redact(&s), max)
            };
            Ok(Info {
                name: safe(hello.name.unwrap_or_else(|| plugin.name.clone()), 64),
                version: safe(hello.version.unwrap_or_default(), 40),
                versions: hello.v.into_iter().take(16).collect(),
            })
        }
        Kind::Native => native::info(plugin.clone(), limit).await,
    }
}

/// One request to a plugin, with its time limit; the answer and the plugin's stderr lines
/// (redacted).
pub async fn call(
    plugin: &Arc<Trusted>,
    request: &Request,
    limit: Duration,
) -> Result<(Response, Vec<String>)> {
    let started = std::time::Instant::now();
    let answer = match plugin.kind {
        Kind::Exec => exec::call(plugin, request, limit)
            .await
            .map(|(_, response, stderr)| (response, stderr)),
        Kind::Native => native::call(plugin.clone(), request, limit)
            .await
            .map(|response| (response, Vec::new())),
    };
    // what `--debug` shows: never the request's config or credential, nor the answer's secret
    let outcome = match &answer {
        Ok((Response::Ok(_), _)) => "ok".to_owned(),
        Ok((Response::Err(e), _)) => format!("error: {:?}", e.kind),
        Err(e) => format!("failed: {:?}", e.kind()),
    };
    tracing::debug!(
        "plugin {} ({:?}, {}): {:?} in {} ms: {outcome}",
        plugin.name,
        plugin.kind,
        cybedefend_core::home::tilde(&plugin.real_path),
        request.action,
        started.elapsed().as_millis()
    );
    answer
}
