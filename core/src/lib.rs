//! `cybedefend-core`: the engine of the `cybedefend` CLI, in three parts.
//!
//! - [`credentials`]: what a credential is, the provider trait and registry, the chain with its
//!   trace, the stored login, redaction of secrets.
//! - [`config`]: layered configuration with an origin for every value, trust of the working
//!   directory, machine policy, the key table.
//! - [`platform`]: regions and endpoints, HTTP with its safety rules, PAT exchange and browser
//!   login, the one bearer path, the typed API by resource.
//! - [`archive`]: the scan archive.
//!
//! Shared by all: [`Error`] with its [`ErrorKind`], [`duration`], [`text`] (safe printing of
//! outside text), [`fsutil`] (private and atomic files, safe reads), [`pathwalk`] (paths resolved
//! through descriptors, links checked), [`stdio`] (the CLI's stdout, out of native plugins'
//! reach), [`env`].
//!
//! This crate prints nothing and knows no command-line parser, and no concrete provider
//! (those live in `cybedefend-providers` and register with `inventory`).
//!
//! Internal, unstable API.
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

pub mod archive;
pub mod config;
pub mod credentials;
pub mod duration;
pub mod env;
mod error;
pub mod fsutil;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(unix)]
pub mod pathwalk;
pub mod platform;
pub mod process;
pub mod recover;
pub mod shield;
pub mod stdio;
pub mod text;

pub use credentials::Secret;
pub use error::{Error, ErrorKind, Result};
