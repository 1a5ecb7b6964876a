//! One module per command group.

pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod login;
pub(crate) mod results;
pub(crate) mod scan;
pub(crate) mod version;
