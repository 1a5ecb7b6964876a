//! Write credential provider plugins for the `cybedefend` CLI.
//!
//! A plugin gives cybedefend a Personal Access Token from wherever your organisation keeps it.
//! You implement [`Provider`] (`get`, and `store`/`erase` if your store can keep a login), then
//! either:
//!
//! - build an **exec plugin**: an executable named `cybedefend-credential-NAME` whose `main`
//!   calls [`serve`]; cybedefend runs it with [`PLUGIN_ARG`], sends one request on stdin and
//!   reads one answer on stdout (any language can do this: see `plugins/PROTOCOL.md`);
//! - or a **native plugin**: a `cdylib` named `libcybedefend_credential_NAME.so` that calls
//!   [`export_plugin!`]; cybedefend loads it and calls it through a small C table.
//!
//! What your errors make cybedefend do ([`ErrorKind`]): `not-found` moves on to the next
//! provider of the user's chain; `unsupported` says the plugin cannot do that; `usage` (exit 2),
//! `auth` (exit 4), `network` (exit 3) and `failed` (exit 1) stop the chain with your message,
//! unless the user configured `on_error: continue`. Never put a secret in a message.
//!
//! A whole provider, and what it answers (this example is compiled and run by the tests):
//!
//! ```
//! use cybedefend_plugin_sdk::{Credential, Error, Found, Provider, Request};
//!
//! /// Reads the PAT from the environment variable named in the provider's config.
//! #[derive(Default)]
//! struct FromEnv;
//!
//! impl Provider for FromEnv {
//!     fn get(&self, request: &Request) -> Result<Found, Error> {
//!         let var = request.option("variable").unwrap_or("CORP_PAT");
//!         match std::env::var(var) {
//!             Ok(pat) if !pat.trim().is_empty() => {
//!                 Ok(Found::new(Credential::pat(pat.trim()), format!("${var}")))
//!             }
//!             _ => Err(Error::not_found(format!("{var} is not set"))),
//!         }
//!     }
//! }
//!
//! // As an exec plugin, `main` is one line:
//! //     fn main() { cybedefend_plugin_sdk::serve("from-env", "1.0.0", FromEnv) }
//! // As a native plugin (crate-type = ["cdylib"]), one macro:
//! //     cybedefend_plugin_sdk::export_plugin!(FromEnv, name = "from-env", version = "1.0.0");
//!
//! // What the host sees for a request:
//! let answer = cybedefend_plugin_sdk::respond(
//!     &FromEnv,
//!     r#"{"v":1,"action":"get","provider":"corp","config":{"variable":"SURELY_UNSET_VAR"}}"#,
//! );
//! assert_eq!(
//!     answer,
//!     r#"{"err":{"kind":"not-found","message":"SURELY_UNSET_VAR is not set"}}"#
//! );
//! ```
//!
//! Semver: this crate follows semantic versioning; protocol v1 messages only grow (new fields
//! are optional, new kinds have fallbacks).

mod native_glue;
mod protocol;

use std::io::{BufRead, Read, Write};

pub use protocol::{
    Action, Answer, CONFORMANCE_KEY, Context, Credential, Error, ErrorKind, Hello, PLUGIN_ARG,
    PROTOCOL_V1, Request, Response, SUPPORTED_VERSIONS, Secret,
};

/// The native ABI (the C table a native plugin exports); see [`export_plugin!`].
pub mod native {
    pub use crate::native_glue::{
        ABI_VERSION, Buffer, CallFn, CreateFn, DestroyFn, ENTRY_SYMBOL, EntryPoint, FreeFn,
        PluginTable, call, create, destroy, free,
    };
}

/// What `get` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The credential.
    pub credential: Credential,
    /// Where it came from, shown by `cybedefend auth status` (no secret).
    pub detail: String,
}

impl Found {
    /// A credential found at `detail`.
    pub fn new(credential: Credential, detail: impl Into<String>) -> Self {
        Self {
            credential,
            detail: detail.into(),
        }
    }
}

/// A credential provider. Only [`Provider::get`] is required.
pub trait Provider {
    /// The credential for this request, or [`Error::not_found`] when there is none here.
    fn get(&self, request: &Request) -> Result<Found, Error>;

    /// Keeps `credential` (`cybedefend login --store NAME`). Unsupported by default.
    fn store(&self, request: &Request, credential: &Credential) -> Result<(), Error> {
        let _ = (request, credential);
        Err(Error::unsupported("this plugin does not store credentials"))
    }

    /// Removes the kept credential (`cybedefend logout`); whether there was one. Unsupported by
    /// default.
    fn erase(&self, request: &Request) -> Result<bool, Error> {
        let _ = request;
        Err(Error::unsupported("this plugin does not erase credentials"))
    }

    /// Whether `store` and `erase` are implemented (the conformance run asks).
    fn stores(&self) -> bool {
        false
    }
}

/// Answers one request line with one answer line (no newline): what an exec plugin's `main`
/// and a native plugin's table do for each request. Requests of an unknown protocol version,
/// unreadable requests and unknown actions get an error answer; the conformance run's hooks
/// ([`CONFORMANCE_KEY`]) are answered here.
pub fn respond<P: Provider + ?Sized>(provider: &P, request: &str) -> String {
    let response: Response = match serde_json::from_str::<Request>(request) {
        Err(e) => Response::Err(Error::usage(format!(
            "the request is not a protocol v1 request: {e}"
        ))),
        Ok(req) if !SUPPORTED_VERSIONS.contains(&req.v) => {
            Response::Err(Error::unsupported(format!(
                "protocol version {} is not spoken by this plugin (it speaks {:?})",
                req.v, SUPPORTED_VERSIONS
            )))
        }
        Ok(req) => match conformance(provider, &req) {
            Some(r) => r,
            None => dispatch(provider, &req).into(),
        },
    };
    serde_json::to_string(&response).unwrap_or_else(|_| {
        r#"{"err":{"kind":"failed","message":"the answer could not be written"}}"#.to_owned()
    })
}

fn dispatch<P: Provider + ?Sized>(provider: &P, req: &Request) -> Result<Answer, Error> {
    match req.action {
        Action::Get => provider
            .get(req)
            .map(|f| Answer::found(f.credential, f.detail)),
        Action::Store => match &req.credential {
            Some(c) => provider.store(req, c).map(|()| Answer::stored()),
            None => Err(Error::usage("a store request without a credential")),
        },
        Action::Erase => provider.erase(req).map(Answer::erased),
        Action::Hello => Ok(Answer::stored()),
        Action::Unknown => Err(Error::unsupported(
            "this plugin does not know that action (a newer cybedefend?)",
        )),
    }
}

/// The conformance run's hooks: `config["cybedefend-conformance"]` asks for an answer
/// (`found`, `not-found`, `error:KIND`) or, for `store`/`erase`, whether they are supported
/// (`capabilities`), without doing any real work.
fn conformance<P: Provider + ?Sized>(provider: &P, req: &Request) -> Option<Response> {
    let ask = req.config.get(CONFORMANCE_KEY)?.as_str()?;
    if matches!(req.action, Action::Unknown | Action::Hello) {
        return None;
    }
    Some(match ask {
        "found" => Response::Ok(Answer::found(
            Credential::pat("cdp_conformance_0000"),
            "conformance run",
        )),
        "not-found" => Response::Err(Error::not_found("conformance run: nothing here")),
        "capabilities" if provider.stores() => Response::Ok(match req.action {
            Action::Erase => Answer::erased(false),
            _ => Answer::stored(),
        }),
        "capabilities" => Response::Err(Error::unsupported(
            "this plugin does not store or erase credentials",
        )),
        other => match other.strip_prefix("error:") {
            Some(kind) => {
                let kind: ErrorKind = serde_json::from_value(serde_json::Value::from(kind))
                    .unwrap_or(ErrorKind::Unknown);
                Response::Err(Error::new(kind, "conformance run: the error asked for"))
            }
            None => Response::Err(Error::usage(format!(
                "unknown conformance request `{other}`"
            ))),
        },
    })
}

/// Largest request read from stdin.
const REQUEST_CAP: u64 = 1 << 20;

/// The `main` of an exec plugin: without [`PLUGIN_ARG`] it explains itself (exit 2); with it,
/// it writes its hello, reads one request line from stdin, writes one answer line and exits.
pub fn serve<P: Provider>(name: &str, version: &str, provider: P) -> ! {
    let mut args = std::env::args().skip(1);
    if !args.any(|a| a == PLUGIN_ARG) {
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "{name} {version}: a credential plugin for the cybedefend CLI.\n\
             cybedefend runs it itself. To use it, put it on PATH as cybedefend-credential-NAME\n\
             (or in ~/.cybedefend/plugins) and add to your config:\n\n\
             credentials:\n  chain: [env, {name}]\n  providers:\n    {name}: {{type: plugin, plugin: NAME}}\n\n\
             `cybedefend plugin verify NAME` checks it; `cybedefend plugin test NAME` runs the conformance cases."
        );
        std::process::exit(2);
    }
    let mut out = std::io::stdout().lock();
    let hello = serde_json::to_string(&Hello::new(name, version)).unwrap_or_default();
    if writeln!(out, "{hello}").and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .take(REQUEST_CAP)
        .read_line(&mut line);
    let answer = match read {
        Ok(0) | Err(_) => {
            serde_json::to_string(&Response::Err(Error::usage("no request on stdin")))
                .unwrap_or_default()
        }
        Ok(_) => respond(&provider, line.trim_end()),
    };
    let ok = writeln!(out, "{answer}").and_then(|()| out.flush()).is_ok();
    std::process::exit(if ok { 0 } else { 1 });
}

/// Exports a [`Provider`] as a native plugin: a `cdylib` with one C symbol,
/// `cybedefend_plugin`, returning a [`native::PluginTable`] (ABI version first). The type must
/// implement `Provider + Default + Send + Sync + 'static`. Panics are caught at the boundary
/// and answered as `failed` errors.
///
/// ```
/// use cybedefend_plugin_sdk::{Credential, Error, Found, Provider, Request};
///
/// #[derive(Default)]
/// struct CorpSecrets;
///
/// impl Provider for CorpSecrets {
///     fn get(&self, request: &Request) -> Result<Found, Error> {
///         match request.context.region.as_str() {
///             "eu" => Ok(Found::new(Credential::pat("cdp_from_corp"), "corp vault, eu")),
///             _ => Err(Error::not_found("no PAT for this region")),
///         }
///     }
/// }
///
/// cybedefend_plugin_sdk::export_plugin!(CorpSecrets, name = "corp-secrets", version = "1.0.0");
/// # fn main() {
/// #     let table = unsafe { &*cybedefend_plugin() };
/// #     assert_eq!(table.abi_version, cybedefend_plugin_sdk::native::ABI_VERSION);
/// # }
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($provider:ty, name = $name:expr, version = $version:expr $(,)?) => {
        #[doc(hidden)]
        mod __cybedefend_plugin_export {
            use super::*;
            use $crate::native::{Buffer, PluginTable};

            unsafe extern "C" fn create() -> *mut ::core::ffi::c_void {
                $crate::native::create::<$provider>()
            }
            unsafe extern "C" fn get(
                i: *mut ::core::ffi::c_void,
                p: *const u8,
                n: usize,
            ) -> Buffer {
                // SAFETY: the host passes the instance from `create` and a buffer of `n` bytes.
                unsafe { $crate::native::call::<$provider>(i, p, n, $crate::Action::Get) }
            }
            unsafe extern "C" fn store(
                i: *mut ::core::ffi::c_void,
                p: *const u8,
                n: usize,
            ) -> Buffer {
                // SAFETY: as for `get`.
                unsafe { $crate::native::call::<$provider>(i, p, n, $crate::Action::Store) }
            }
            unsafe extern "C" fn erase(
                i: *mut ::core::ffi::c_void,
                p: *const u8,
                n: usize,
            ) -> Buffer {
                // SAFETY: as for `get`.
                unsafe { $crate::native::call::<$provider>(i, p, n, $crate::Action::Erase) }
            }
            unsafe extern "C" fn free(b: Buffer) {
                // SAFETY: the host returns a buffer this library allocated, once.
                unsafe { $crate::native::free(b) }
            }
            unsafe extern "C" fn destroy(i: *mut ::core::ffi::c_void) {
                // SAFETY: the host passes the instance from `create`, once.
                unsafe { $crate::native::destroy::<$provider>(i) }
            }

            pub(super) static TABLE: PluginTable = PluginTable {
                abi_version: $crate::native::ABI_VERSION,
                name: concat!($name, "\0").as_ptr().cast(),
                version: concat!($version, "\0").as_ptr().cast(),
                create: Some(create),
                get: Some(get),
                store: Some(store),
                erase: Some(erase),
                free: Some(free),
                destroy: Some(destroy),
            };
        }

        /// The entry point cybedefend looks for.
        #[unsafe(no_mangle)]
        pub extern "C" fn cybedefend_plugin() -> *const $crate::native::PluginTable {
            &__cybedefend_plugin_export::TABLE
        }
    };
}

#[cfg(test)]
mod tests;
