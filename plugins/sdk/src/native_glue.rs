//! The native ABI, v1: one exported symbol, [`ENTRY_SYMBOL`], of type [`EntryPoint`], returns
//! a pointer to a static [`PluginTable`]. The host reads `abi_version` before anything else and
//! refuses a table of another version. Requests and answers cross as UTF-8 JSON (the same
//! messages as exec plugins); no Rust type crosses the boundary.
//!
//! Ownership: the host owns request buffers (the plugin only reads them during the call); the
//! plugin owns answer [`Buffer`]s and frees them when the host hands them back to `free`. The
//! instance from `create` is freed by `destroy`. A panic inside the plugin is caught here and
//! answered as a `failed` error, so it never unwinds into the host.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{Action, Error, Provider, Response};

/// The ABI version of this SDK.
pub const ABI_VERSION: u32 = 1;

/// The symbol every native plugin exports.
pub const ENTRY_SYMBOL: &str = "cybedefend_plugin";

/// The type of [`ENTRY_SYMBOL`].
pub type EntryPoint = unsafe extern "C" fn() -> *const PluginTable;

/// Bytes the plugin allocated (an answer). `cap` lets the plugin free them.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// Start of the bytes (null for none).
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
    /// Capacity of the allocation.
    pub cap: usize,
}

/// `create`: makes an instance (null when it cannot).
pub type CreateFn = unsafe extern "C" fn() -> *mut c_void;
/// `get`, `store` and `erase`: one request (UTF-8 JSON) in, one answer out.
pub type CallFn = unsafe extern "C" fn(*mut c_void, *const u8, usize) -> Buffer;
/// `free`: frees an answer buffer.
pub type FreeFn = unsafe extern "C" fn(Buffer);
/// `destroy`: frees an instance.
pub type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// The table a native plugin exports. Field order is the ABI: `abi_version` comes first and
/// never moves. Every function is an `Option` because a C table may hold NULL: the host
/// checks each one before it calls anything. `store` and `erase` may be NULL (the action is
/// then `unsupported`); a NULL `create`, `get`, `free` or `destroy` is refused.
#[repr(C)]
pub struct PluginTable {
    /// [`ABI_VERSION`] of the SDK the plugin was built with.
    pub abi_version: u32,
    /// The plugin's name, NUL-terminated UTF-8.
    pub name: *const c_char,
    /// The plugin's version, NUL-terminated UTF-8.
    pub version: *const c_char,
    /// Makes an instance (null when it cannot). Called once, before the first request.
    pub create: Option<CreateFn>,
    /// Answers a `get` request (JSON in, JSON answer out).
    pub get: Option<CallFn>,
    /// Answers a `store` request; NULL when the plugin does not store.
    pub store: Option<CallFn>,
    /// Answers an `erase` request; NULL when the plugin does not erase.
    pub erase: Option<CallFn>,
    /// Frees an answer buffer.
    pub free: Option<FreeFn>,
    /// Frees the instance, when the command ends and no call is in flight.
    pub destroy: Option<DestroyFn>,
}

// SAFETY: the table is immutable static data: function pointers and pointers to static strings.
unsafe impl Sync for PluginTable {}

fn to_buffer(text: String) -> Buffer {
    let mut bytes = std::mem::ManuallyDrop::new(text.into_bytes());
    Buffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        cap: bytes.capacity(),
    }
}

thread_local! {
    /// Whether this thread is inside a call of the host.
    static IN_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` for the host: a panic is caught, and the panic hook stays quiet about it (the
/// default hook would print the message and a backtrace on the host's stderr, unmasked); the
/// message travels in the error answer instead, which the host shows safely. Panics of the
/// plugin's own threads still reach the previous hook.
fn guarded<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CALL.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    IN_CALL.with(|c| c.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_CALL.with(|c| c.set(false));
    r
}

/// `create` for a provider type (used by [`crate::export_plugin!`]).
pub fn create<P: Provider + Default + Send + Sync + 'static>() -> *mut c_void {
    match guarded(P::default) {
        Ok(p) => Box::into_raw(Box::new(p)).cast(),
        Err(_) => std::ptr::null_mut(),
    }
}

/// Answers one request (used by [`crate::export_plugin!`]).
///
/// # Safety
/// `instance` comes from [`create`] for the same `P` and was not destroyed; `request` points to
/// `len` readable bytes (or is null with `len` 0).
pub unsafe fn call<P: Provider + Send + Sync + 'static>(
    instance: *mut c_void,
    request: *const u8,
    len: usize,
    action: Action,
) -> Buffer {
    let answer = guarded(|| {
        if instance.is_null() {
            return failed("no plugin instance");
        }
        // SAFETY: the caller promises `instance` is a live `P` from `create`.
        let provider = unsafe { &*instance.cast::<P>() };
        let bytes = if request.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the caller promises `len` readable bytes at `request`.
            unsafe { std::slice::from_raw_parts(request, len) }
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return failed("the request is not UTF-8");
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return crate::respond(provider, text);
        };
        // The entry point says what is asked; a request that says otherwise is refused.
        let said: Option<Action> = value
            .get("action")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        if said != Some(action) {
            return serde_json::to_string(&Response::Err(Error::usage(
                "the request's action does not match the entry point called",
            )))
            .unwrap_or_default();
        }
        crate::respond(provider, text)
    });
    to_buffer(answer.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        failed(&format!("the plugin panicked: {why}"))
    }))
}

fn failed(message: &str) -> String {
    serde_json::to_string(&Response::Err(Error::failed(message))).unwrap_or_default()
}

/// Frees an answer buffer (used by [`crate::export_plugin!`]).
///
/// # Safety
/// `buffer` came from [`call`] and is freed once.
pub unsafe fn free(buffer: Buffer) {
    if !buffer.ptr.is_null() {
        // SAFETY: the buffer was made by `to_buffer` from a Vec with this pointer, length and
        // capacity, and is freed once.
        drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
    }
}

/// Frees an instance (used by [`crate::export_plugin!`]).
///
/// # Safety
/// `instance` came from [`create`] for the same `P` and is destroyed once.
pub unsafe fn destroy<P: Provider + Send + Sync + 'static>(instance: *mut c_void) {
    if !instance.is_null() {
        // SAFETY: `instance` is the `Box<P>` leaked by `create`, destroyed once.
        drop(unsafe { Box::from_raw(instance.cast::<P>()) });
    }
}
