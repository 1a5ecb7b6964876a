#![allow(unreachable_pub)]
#![expect(
    clippy::disallowed_methods,
    reason = "tests read the test harness's own variables"
)]
//! Integration tests: the built `cybedefend` binary with a temporary HOME, real files, and the
//! platform test double on loopback.

mod common;

mod action;
mod auth_status;
mod config;
mod files;
mod keyring;
mod login;
mod manage;
mod network;
mod oauth;
mod official_surface;
mod one_login;
mod plugin_native;
mod plugin_trust;
mod plugins;
mod profiles;
mod providers;
mod results;
mod scan;
mod secrets;
mod token;
mod vault;
