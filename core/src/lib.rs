//! `cybedefend-core`: the engine of the `cybedefend` CLI. It prints nothing, knows no
//! command-line parser and no concrete provider (those live in `cybedefend-providers` and
//! register with `inventory`); the scan archive is `cybedefend-archive`.
//!
//! Modules, each importing only those above it in this list (the arrows point one way):
//!
//! | module | what it is for |
//! | --- | --- |
//! | [`text`] | outside text made safe to print; "did you mean" for messages |
//! | [`error`](Error) | [`Error`] with its [`ErrorKind`], a hint and its causes |
//! | [`env`] | every environment variable the CLI reads, read in one place |
//! | [`duration`] | durations as users write them (`90s`, `5m`) |
//! | [`secret`] | [`Secret`] values and the redaction of everything printed |
//! | [`region`] | the platform's regions and their default URLs |
//! | [`home`] | the cybedefend home folder (`~/.cybedefend`) and what lives in it; paths shown as `~/…` |
//! | [`pathwalk`] | paths resolved through descriptors, links checked (Unix) |
//! | [`fsutil`] | private, atomic and locked files; reads with a size cap |
//! | [`process`] | helper programs: found on a checked `PATH`, run with a clean environment |
//! | [`recover`] | a library's panic (a failed allocation) answered as an error |
//! | [`shield`] | work a signal must let finish (a token refresh, a PAT creation) |
//! | [`stdio`] | the CLI's stdout, out of native plugins' reach |
//! | [`config`] | layered configuration with an origin for every value, the key table, trust of the working directory, machine policy, network settings |
//! | [`credentials`] | what a credential is, the provider trait and registry, the chain with its trace, the stored login |
//! | [`platform`] | endpoints, HTTP with its safety rules, proxies and TLS trust, PAT exchange and browser login, the typed API by resource |
//!
//! Internal, unstable API.
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

pub mod config;
pub mod credentials;
pub mod duration;
pub mod env;
mod error;
pub mod fsutil;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod home;
#[cfg(unix)]
pub mod pathwalk;
pub mod platform;
pub mod process;
pub mod recover;
pub mod region;
pub mod secret;
pub mod shield;
pub mod stdio;
pub mod text;

pub use error::{Error, ErrorKind, Result};
pub use secret::Secret;
