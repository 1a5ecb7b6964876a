//! The native loader. A shared library is loaded once per process from its checked descriptor
//! (`/proc/self/fd/N`, after the libraries it finds through `$ORIGIN`), and kept loaded until
//! the process ends, so no call in flight (a timed-out one included) can outlive the code it
//! runs. Before anything else of the table is used, its ABI version is read and every function
//! pointer is checked: `store` and `erase` may be NULL (the action is `unsupported`), the
//! others may not. Loading does not call `create`: the instance is made before the first
//! request, and `destroy`ed when the command ends with no call in flight ([`finish`]).
//!
//! Native code runs in this process, so three things are guarded here:
//! - stdout: before the first library is loaded, the CLI's stdout moves to a private
//!   descriptor and descriptor 1 points at stderr ([`cybedefend_core::stdio::divert`]), so a
//!   plugin's `printf` never lands in `--json` output;
//! - `exit()`: while a load or a call is in flight, an `atexit` hook turns an exit of the
//!   plugin's into exit code 1 with a message naming the plugin and the call;
//! - time: calls run off the async runtime under the provider's time limit.

use std::collections::HashMap;
use std::ffi::{CStr, c_void};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cybedefend_core::secret::redact;
use cybedefend_core::{Error, Result, text};
use cybedefend_plugin_sdk::native::{
    ABI_VERSION, CallFn, CreateFn, DestroyFn, ENTRY_SYMBOL, EntryPoint, FreeFn, PluginTable,
};
use cybedefend_plugin_sdk::{Action, Request, Response};

use crate::Info;
use crate::trust::{NativeRun, Run, Trusted};

/// The largest answer read from a native plugin (an exec plugin's output has the same cap).
const MAX_ANSWER: usize = 64 * 1024;

/// How long [`finish`] waits for the plugins' `destroy`.
const DESTROY_LIMIT: Duration = Duration::from_secs(2);

/// The table's functions, checked for NULL once.
#[derive(Clone, Copy)]
struct Functions {
    create: CreateFn,
    get: CallFn,
    store: Option<CallFn>,
    erase: Option<CallFn>,
    free: FreeFn,
    destroy: DestroyFn,
}

/// The instance `create` made (a pointer the plugin owns).
#[derive(Clone, Copy)]
struct Instance(*mut c_void);

// SAFETY: the instance is a `Provider + Send + Sync` for SDK plugins, and PROTOCOL.md requires
// every native plugin's instance to be thread-safe.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

/// A loaded plugin: its functions and (once made) its instance.
struct Loaded {
    functions: Functions,
    instance: OnceLock<std::result::Result<Instance, String>>,
    info: Info,
    /// What messages call it: `` `corp` (/opt/p/libcybedefend_credential_corp.so) ``.
    label: String,
    /// Calls of this plugin in flight (`destroy` waits for none).
    calls: AtomicUsize,
    // Last: everything above points into them. Never dropped (see `loaded`).
    _libraries: Vec<libloading::os::unix::Library>,
}

// SAFETY: the functions are static code of the library, which stays loaded.
unsafe impl Send for Loaded {}
// SAFETY: as above.
unsafe impl Sync for Loaded {}

fn cache() -> &'static Mutex<HashMap<String, Arc<Loaded>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Loaded>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Loads, calls and `create`s in flight, with what each is (for the `atexit` message).
static IN_FLIGHT: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
/// Set when the CLI itself is ending the process (its main thread panicked).
static EXITING: AtomicBool = AtomicBool::new(false);

/// Marks one piece of native work in flight until dropped.
struct InFlight(u64);

impl InFlight {
    fn start(what: String) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst) as u64;
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.push((id, what));
        }
        Self(id)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Whether native work is in flight now (a library that never finished loading holds the
/// system loader's lock: the normal exit, which unloads libraries, would wait forever).
pub(crate) fn in_flight() -> bool {
    IN_FLIGHT.lock().map(|v| !v.is_empty()).unwrap_or(true)
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Get => "get",
        Action::Store => "store",
        Action::Erase => "erase",
        Action::Hello => "hello",
        _ => "an unknown action",
    }
}

/// The `atexit` hook: once a native library is loaded, the CLI never ends through `exit()`
/// (see [`finish`]), so an exit is native code's, in a call or from a thread of its own.
extern "C" fn on_exit() {
    if EXITING.load(Ordering::SeqCst) {
        return;
    }
    // Not the CLI's own exit: native code ended the process, in a call or from a thread of
    // its own after one.
    let what = match IN_FLIGHT.try_lock() {
        Ok(v) if !v.is_empty() => v.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>(),
        _ => match cache().try_lock() {
            Ok(c) if !c.is_empty() => c
                .values()
                .map(|l| format!("{} (from a thread of its own)", l.label))
                .collect(),
            // nothing native is loaded or running: this exit is the CLI's own
            Ok(_) => return,
            Err(_) => vec!["a native plugin".to_owned()],
        },
    };
    let text = format!(
        "error: {} ended the process (it called exit) instead of answering; cybedefend stops with exit code 1\n  hint: a native plugin returns an answer or an error and never exits the process; report this to its authors\n",
        what.join(", ")
    );
    let text = redact::redact(&text::neutralize(&text));
    // stderr is unbuffered: one write, then the end
    // SAFETY: writing a buffer we own to descriptor 2, then ending the process at once.
    unsafe {
        libc::write(2, text.as_ptr().cast(), text.len());
        libc::_exit(1);
    }
}

/// The CLI itself is ending the process from here on (a panic of its main thread): an exit is
/// not a plugin's.
pub(crate) fn exiting() {
    EXITING.store(true, Ordering::SeqCst);
}

fn guard_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registering a function with no captured state; it may run at any exit.
        unsafe {
            libc::atexit(on_exit);
        }
    });
}

fn open_library(
    fd: &std::os::fd::OwnedFd,
    real: &std::path::Path,
) -> std::result::Result<libloading::os::unix::Library, String> {
    // Linux: the checked descriptor itself; elsewhere its real path, whose folders only root
    // and the user can change
    let path = if cfg!(any(target_os = "linux", target_os = "android")) {
        format!("/proc/self/fd/{}", fd.as_raw_fd())
    } else {
        real.to_string_lossy().into_owned()
    };
    // SAFETY: opening a library runs its initialisers; the file passed the trust checks (owner,
    // permissions, folders, pin, allow-list, its library folders) and this is its descriptor.
    unsafe {
        libloading::os::unix::Library::open(
            Some(&path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| {
        let why = match std::error::Error::source(&e) {
            Some(s) => s.to_string(),
            None => e.to_string(),
        };
        text::one_line(&why.replace(&path, "the library"), 200)
    })
}

fn load(plugin: &Trusted, run: &NativeRun) -> Result<Arc<Loaded>> {
    let shown = cybedefend_core::home::tilde(&plugin.real_path);
    cybedefend_core::stdio::divert().map_err(|e| {
        Error::failure(format!(
            "cannot set stdout aside before loading plugin {shown}: {e}"
        ))
    })?;
    guard_exit();
    let mut libraries = Vec::new();
    for dep in &run.preload {
        libraries.push(open_library(dep, &plugin.real_path).map_err(|why| {
            Error::usage(format!(
                "a library of plugin {shown} (found through $ORIGIN) cannot be loaded ({why})"
            ))
        })?);
    }
    let library = open_library(&run.library, &plugin.real_path).map_err(|why| {
        Error::usage(format!(
            "plugin {shown} is not a shared library this system can load ({why})"
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
    libraries.push(library);
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
    // SAFETY: the ABI matched, so the table has this layout; every function field is an
    // `Option` of a function pointer, which has the same representation as a nullable C
    // function pointer.
    let t: &PluginTable = unsafe { &*table };
    let missing: Vec<&str> = [
        ("create", t.create.is_none()),
        ("get", t.get.is_none()),
        ("free", t.free.is_none()),
        ("destroy", t.destroy.is_none()),
    ]
    .iter()
    .filter(|(_, null)| *null)
    .map(|(n, _)| *n)
    .collect();
    let (Some(create), Some(get), Some(free), Some(destroy)) = (t.create, t.get, t.free, t.destroy)
    else {
        return Err(Error::usage(format!(
            "plugin {shown} has a table whose `{}` is NULL; only `store` and `erase` may be NULL",
            missing.join("`, `")
        ))
        .with_hint("fill every function of the table (plugins/PROTOCOL.md, Native plugins)"));
    };
    // SAFETY: name and version are NUL-terminated strings of the library (the SDK's macro
    // makes them with `concat!(.., "\0")`), or NULL.
    let (name, version) = unsafe {
        let s = |p: *const std::ffi::c_char| {
            if p.is_null() {
                String::new()
            } else {
                text::one_line(&redact::redact(&CStr::from_ptr(p).to_string_lossy()), 80)
            }
        };
        (s(t.name), s(t.version))
    };
    Ok(Arc::new(Loaded {
        functions: Functions {
            create,
            get,
            store: t.store,
            erase: t.erase,
            free,
            destroy,
        },
        instance: OnceLock::new(),
        info: Info {
            name,
            version,
            versions: vec![abi],
        },
        label: format!("native plugin `{}` ({shown})", plugin.name),
        calls: AtomicUsize::new(0),
        _libraries: libraries,
    }))
}

fn loaded(plugin: &Trusted) -> Result<Arc<Loaded>> {
    let Run::Native(run) = &plugin.run else {
        return Err(Error::failure("not a native plugin"));
    };
    let mut cache = cache()
        .lock()
        .map_err(|_| Error::failure("plugin cache poisoned"))?;
    if let Some(l) = cache.get(&run.key) {
        return Ok(l.clone());
    }
    let _flight = InFlight::start(format!(
        "native plugin `{}` ({}) while it was being loaded",
        plugin.name,
        cybedefend_core::home::tilde(&plugin.real_path)
    ));
    let l = load(plugin, run)?;
    // Kept for the life of the process: never unloaded, so nothing taken from it dangles.
    cache.insert(run.key.clone(), l.clone());
    Ok(l)
}

/// [`loaded`] off the async runtime, under `limit`: a library's initialisers may block.
async fn loaded_within(plugin: Arc<Trusted>, limit: Duration) -> Result<Arc<Loaded>> {
    let shown = cybedefend_core::home::tilde(&plugin.real_path);
    let task = tokio::task::spawn_blocking(move || loaded(&plugin));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(Error::failure(format!(
            "plugin {shown} stopped while it was being loaded"
        ))),
        Err(_) => Err(Error::failure(format!(
            "plugin {shown} did not finish loading within {}",
            cybedefend_core::duration::format(limit)
        ))),
    }
}

/// The plugin's name, version and ABI version: loads it and reads its table, nothing else.
pub(crate) async fn info(plugin: Arc<Trusted>, limit: Duration) -> Result<Info> {
    Ok(loaded_within(plugin, limit).await?.info.clone())
}

/// One request, off the async runtime, under `limit`.
pub(crate) async fn call(
    plugin: Arc<Trusted>,
    request: &Request,
    limit: Duration,
) -> Result<Response> {
    if let Some(c) = &request.credential {
        redact::register(c.secret.expose());
    }
    let value = serde_json::to_value(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    call_raw(plugin, &value, request.action, limit).await
}

/// [`call`] with a request as JSON, sent to the entry point of `action`.
pub(crate) async fn call_raw(
    plugin: Arc<Trusted>,
    request: &serde_json::Value,
    action: Action,
    limit: Duration,
) -> Result<Response> {
    let shown = cybedefend_core::home::tilde(&plugin.real_path);
    if action == Action::Hello {
        // a native plugin's hello is its table: nothing to call
        return Ok(Response::Ok(cybedefend_plugin_sdk::Answer::stored()));
    }
    let started = std::time::Instant::now();
    let name = plugin.name.clone();
    let loaded = loaded_within(plugin, limit).await?;
    let function = match action {
        Action::Store => loaded.functions.store,
        Action::Erase => loaded.functions.erase,
        _ => Some(loaded.functions.get),
    };
    let Some(function) = function else {
        // a NULL slot: the plugin does not do that
        return Ok(Response::Err(cybedefend_plugin_sdk::Error::unsupported(
            format!("plugin `{name}` does not {}", action_name(action)),
        )));
    };
    let limit = limit.saturating_sub(started.elapsed());
    let json = serde_json::to_vec(request)
        .map_err(|e| Error::failure(format!("cannot write the request: {e}")))?;
    let task = tokio::task::spawn_blocking(move || {
        // The Arc keeps the functions (and the library, which is never unloaded) alive for
        // the whole call, even if the caller stopped waiting.
        let p = loaded;
        p.calls.fetch_add(1, Ordering::SeqCst);
        let _flight = InFlight::start(format!("{} during `{}`", p.label, action_name(action)));
        let instance = p.instance.get_or_init(|| {
            // SAFETY: `create` was checked non-NULL at load and is called once.
            let i = unsafe { (p.functions.create)() };
            if i.is_null() {
                Err("it could not create its provider (`create` returned NULL)".to_owned())
            } else {
                Ok(Instance(i))
            }
        });
        let result = match instance {
            Err(why) => Err(Err(why.clone())),
            Ok(instance) => {
                // SAFETY: the function was checked non-NULL at load; the instance is live
                // (destroyed only when no call is in flight); the request outlives the call.
                let buffer = unsafe { function(instance.0, json.as_ptr(), json.len()) };
                let bytes = if buffer.ptr.is_null() {
                    Ok(Vec::new())
                } else if buffer.len > MAX_ANSWER {
                    // not read: an answer this large is a bug (or worse); only its size is
                    // reported
                    Err(Ok(buffer.len))
                } else {
                    // SAFETY: the plugin returned `len` initialised bytes at `ptr`, valid
                    // until `free`.
                    Ok(unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec())
                };
                // SAFETY: the buffer goes back to the library that allocated it, once.
                unsafe { (p.functions.free)(buffer) };
                bytes
            }
        };
        p.calls.fetch_sub(1, Ordering::SeqCst);
        result
    });
    let bytes = match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(b))) => b,
        Ok(Ok(Err(Ok(len)))) => {
            return Err(Error::failure(format!(
                "plugin {shown} answered with {len} bytes; an answer is one short JSON object (at most {} KiB)",
                MAX_ANSWER / 1024
            )));
        }
        Ok(Ok(Err(Err(why)))) => {
            return Err(Error::failure(format!("plugin {shown}: {why}")));
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
    // whatever the answer holds under `secret` is masked from here on, parsed or not
    let lossy = String::from_utf8_lossy(&bytes);
    for s in crate::exec::secrets_in_output(&lossy) {
        redact::register(&s);
    }
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
    Ok(response)
}

/// The end of the command: each instance with no call in flight is `destroy`ed (within 2 s).
/// False once any native library was loaded: its code (a call that timed out, a thread of
/// its own) may still run, and the normal exit would run its exit handlers, wait for a stuck
/// loader, or race an `exit()` of its threads; the caller then ends the process at once, as
/// [`crate::exit_now`] does, after flushing the output.
pub(crate) fn finish() -> bool {
    // a load that never finished holds the cache: nothing to destroy then
    let loaded: Vec<Arc<Loaded>> = match cache().try_lock() {
        Ok(c) => c.values().cloned().collect(),
        Err(_) => return false,
    };
    let to_destroy: Vec<(DestroyFn, Instance, String)> = loaded
        .iter()
        .filter(|l| l.calls.load(Ordering::SeqCst) == 0)
        .filter_map(|l| match l.instance.get() {
            Some(Ok(i)) => Some((l.functions.destroy, *i, l.label.clone())),
            _ => None,
        })
        .collect();
    if !to_destroy.is_empty() {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().spawn(move || {
            for (destroy, instance, label) in to_destroy {
                let _flight = InFlight::start(format!("{label} during `destroy`"));
                // SAFETY: checked non-NULL at load; the instance was made by `create`, no call
                // of it is in flight, and it is destroyed once (the process ends next).
                unsafe { destroy(instance.0) };
            }
            let _ = tx.send(());
        });
        // no thread to spare (a memory limit): the instances end with the process, undestroyed
        if spawned.is_ok() {
            let _ = rx.recv_timeout(DESTROY_LIMIT);
        }
    }
    loaded.is_empty() && !in_flight()
}
