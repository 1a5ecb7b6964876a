//! `cybedefend-core`: the credential model, the provider chain, layered configuration, the
//! credential store and the auth flows of the `cybedefend` CLI.
//!
//! This crate prints nothing and knows no command-line parser: the CLI crate turns its
//! results into output. It knows no concrete provider either: those live in
//! `cybedefend-providers` and register a [`provider::ProviderFactory`] with `inventory`.
//!
//! Internal, unstable API.
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

pub mod api;
pub mod archive;
pub mod chain;
pub mod config;
pub mod credential;
pub mod env;
pub mod error;
pub mod exchange;
pub mod fsutil;
pub mod http;
pub mod oauth;
pub mod paths;
pub mod platform;
pub mod provider;
pub mod redact;
pub mod region;
pub mod secret;
pub mod store;

pub use error::{Error, ErrorCategory};
pub use secret::Secret;
