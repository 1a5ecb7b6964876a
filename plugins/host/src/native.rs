//! The native loader: a shared library is opened once per process (after the trust checks),
//! its ABI version read before any other use, and kept loaded until the process ends, so no
//! call in flight (a timed-out one included) can outlive the code it runs. Calls run off the
//! async runtime under a time limit; requests and answers are UTF-8 JSON.

use std::collections::HashMap;
use std::ffi::{CStr, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cybedefend_core::credentials::{display, redact};
use cybedefend_core::{Error, Result, text};
use cybedefend_plugin_sdk::native::{ABI_VERSION, ENTRY_SYMBOL, EntryPoint, PluginTable};
use cybedefend_plugin_sdk::{Action, Request, Response};

use crate::Info;

/// The largest answer read from a native plugin (an exec plugin's output has the same cap).
const MAX_ANSWER: usize = 64 * 1024;

/// A loaded plugin: the library, its table and one instance.
struct Loaded {
    table: *const PluginTable,
    instance: *mut c_void,
    info: Info,
    // Last: everything above points into it. It is never dropped (see `loaded`).
    _library: libloading::Library,
}

// SAFETY: the table is static data of the library, which stays loaded; the instance is a
// `Provider + Send + Sync` made by the SDK's `create` (the SDK requires both bounds).
unsafe impl Send for Loaded {}
// SAFETY: as above.
unsafe impl Sync for Loaded {}

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<Loaded>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Loaded>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn load(path: &Path) -> Result<Arc<Loaded>> {
    let shown = display(path);
    // SAFETY: opening a library runs its initialisers; the file passed the trust checks (owner,
    // permissions, pin, allow-list) before this is called.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
        // the loader's own words are in the error's source
        let why = match std::error::Error::source(&e) {
            Some(s) => s.to_string(),
            None => e.to_string(),
        };
        Error::usage(format!(
            "plugin {shown} is not a shared library this system can load ({})",
            text::one_line(&why, 200)
        ))
    })?;
    let entry: EntryPoint = {
        // SAFETY: the symbol's type is the SDK's `EntryPoint`; a library that exports this name
        // with another type is not a cybedefend plugin, and ABI_VERSION below guards the table.
        let symbol = unsafe { library.get::<EntryPoint>(ENTRY_SYMBOL.as_bytes()) }.map_err(|_| {
            Error::usage(format!(
                "plugin {shown} has no `{ENTRY_SYMBOL}` symbol: it is not a cybedefend native plugin"
            ))
        })?;
        *symbol
    };
    // SAFETY: calling the entry point the plugin exports for this purpose.
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(Error::usage(format!(
            "plugin {shown} returned no plugin table"
        )));
    }
    // SAFETY: `abi_version` is the first field of every version of the table: it is read
    // before anything else, and nothing else is read unless it matches.
    let abi = unsafe { (*table).abi_version };
    if abi != ABI_VERSION {
        return Err(Error::usage(format!(
            "plugin {shown} was built for native ABI version {abi}; this cybedefend loads version {ABI_VERSION}"
        ))
        .with_hint(if abi > ABI_VERSION {
            "update cybedefend, or use a build of the plugin for ABI 1"
        } else {
            "rebuild the plugin with the current cybedefend-plugin-sdk"
        }));
    }
    // SAFETY: the ABI matched: the table has this layout; name and version are NUL-terminated
    // static strings (the SDK's macro makes them with `concat!(.., "\0")`).
    let (name, version) = unsafe {
        let t = &*table;
        let s = |p: *const std::ffi::c_char| {
            if p.is_null() {
                String::new()
            } else {
                text::one_line(&redact::redact(&CStr::from_ptr(p).to_string_lossy()), 80)
            }
        };
        (s(t.name), s(t.version))
    };
    // SAFETY: the table's `create`, called once for this process.
    let instance = unsafe { ((*table).create)() };
    if instance.is_null() {
        return Err(Error::failure(format!(
            "plugin {shown} could not create its provider"
        )));
    }
    Ok(Arc::new(Loaded {
        table,
        instance,
        info: Info {
            name,
            version,
            versions: vec![abi],
        },
        _library: library,
    }))
}

fn loaded(path: &Path) -> Result<Arc<Loaded>> {
    let mut cache = cache()
        .lock()
        .map_err(|_| Error::failure("plugin cache poisoned"))?;
    if let Some(l) = cache.get(path) {
        return Ok(l.clone());
    }
    let l = load(path)?;
    // Kept for the life of the process: never unloaded, so nothing taken from it dangles.
    cache.insert(path.to_owned(), l.clone());
    Ok(l)
}

/// [`loaded`] off the async runtime, under `limit`: a library's initialisers or its `create`
/// may block.
async fn loaded_within(path: &Path, limit: Duration) -> Result<Arc<Loaded>> {
    let owned = path.to_owned();
    let task = tokio::task::spawn_blocking(move || {
        LOADING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let r = loaded(&owned);
        LOADING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        r
    });
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(Error::failure(format!(
            "plugin {} stopped while it was being loaded",
            display(path)
        ))),
        Err(_) => Err(Error::failure(format!(
            "plugin {} did not finish loading within {}",
            display(path),
            cybedefend_core::duration::format(limit)
        ))),
    }
}

/// How many libraries are being loaded now. One that is still loading when the command ends
/// (it timed out) holds the system's loader lock, so the normal process exit (which unloads
/// libraries) would wait for it forever.
pub(crate) static LOADING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The plugin's name, version and ABI version (loads it).
pub(crate) async fn info(path: &Path, limit: Duration) -> Result<Info> {
    Ok(loaded_within(path, limit).await?.info.clone())
}

/// One request, off the async runtime, under `limit`.
pub(crate) async fn call(path: &Path, request: &Request, limit: Duration) -> Result<Response> {
    if let Some(c) = &request.credential {
        redact::register(c.secret.expose());
    }
    let value = serde_json::to_value(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_raw(path, &value, request.action, limit).await
}

/// [`call`] with a request as JSON, sent to the entry point of `action`.
pub(crate) async fn call_raw(
    path: &Path,
    request: &serde_json::Value,
    action: Action,
    limit: Duration,
) -> Result<Response> {
    let shown = display(path);
    if action == Action::Hello {
        // a native plugin's hello is its table: nothing to call
        return Ok(Response::Ok(cybedefend_plugin_sdk::Answer::stored()));
    }
    let started = std::time::Instant::now();
    let plugin = loaded_within(path, limit).await?;
    let limit = limit.saturating_sub(started.elapsed());
    let json = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    let task = tokio::task::spawn_blocking(move || {
        // The Arc keeps the instance (and the library, which is never unloaded) alive for the
        // whole call, even if the caller stopped waiting.
        let p = plugin;
        // SAFETY: the table matched the ABI at load; the instance is live (never destroyed);
        // the request buffer outlives the call.
        let buffer = unsafe {
            let t = &*p.table;
            let f = match action {
                Action::Store => t.store,
                Action::Erase => t.erase,
                _ => t.get,
            };
            f(p.instance, json.as_ptr(), json.len())
        };
        let bytes = if buffer.ptr.is_null() {
            Ok(Vec::new())
        } else if buffer.len > MAX_ANSWER {
            // not read: an answer this large is a bug (or worse); only its size is reported
            Err(buffer.len)
        } else {
            // SAFETY: the plugin returned `len` initialised bytes at `ptr`, valid until `free`.
            Ok(unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec())
        };
        // SAFETY: the buffer goes back to the library that allocated it, once.
        unsafe { ((*p.table).free)(buffer) };
        bytes
    });
    let bytes = match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(b))) => b,
        Ok(Ok(Err(len))) => {
            return Err(Error::failure(format!(
                "plugin {shown} answered with {len} bytes; an answer is one short JSON object (at most {} KiB)",
                MAX_ANSWER / 1024
            )));
        }
        Ok(Err(_)) => {
            return Err(Error::failure(format!(
                "plugin {shown} stopped the call it was making"
            )));
        }
        Err(_) => {
            return Err(Error::failure(format!(
                "plugin {shown} did not answer within {}",
                cybedefend_core::duration::format(limit)
            )));
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::failure(format!(
            "plugin {shown} answered with bytes that are not UTF-8"
        ))
    })?;
    let response: Response = serde_json::from_str(text).map_err(|_| {
        Error::failure(format!(
            "plugin {shown} answered with {}, not a protocol answer ({{\"ok\": ...}} or {{\"err\": ...}})",
            crate::exec::describe(text)
        ))
    })?;
    if let Response::Ok(a) = &response
        && let Some(s) = &a.secret
    {
        redact::register(s.expose());
    }
    Ok(response)
}
