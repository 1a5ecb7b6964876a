//! Built-in credential providers of the `cybedefend` CLI. Each module is one provider type and
//! registers it with `inventory::submit!`; the chain finds them through the registry, and the
//! CLI asks for two by type (`stored` and `keyring`, to log in and out) with
//! `credentials::factory`. No code imports these modules.
//!
//! A crate whose only use is `inventory::submit!` can be dropped by the linker, so the binary
//! calls [`link`] once, and a test checks that exactly the types of [`BUILT_IN_TYPES`] are
//! registered (keep the two in sync: a new provider is a new module and a new name here).
//!
//! Internal, unstable API.
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

mod config;
mod env;
mod exec;
mod file;
mod flag;
mod keyring;
mod onepassword;
mod stored;
mod vault;

/// Every provider type this crate registers, sorted.
pub const BUILT_IN_TYPES: &[&str] = &[
    "config",
    "env",
    "exec",
    "file",
    "flag",
    "keyring",
    "onepassword",
    "stored",
    "vault",
];

/// Keeps this crate (and so its `inventory` registrations) in the final binary.
#[inline(never)]
pub fn link() -> usize {
    BUILT_IN_TYPES.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn exactly_the_built_in_types_are_registered() {
        let kinds: Vec<&str> = cybedefend_core::credentials::factories()
            .iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, super::BUILT_IN_TYPES);
        assert_eq!(
            cybedefend_core::credentials::default_chain(),
            vec!["flag", "env", "config", "stored", "keyring"]
        );
        assert!(
            cybedefend_core::platform::exchange::token_store_backend("keyring").is_some(),
            "the keyring token cache is registered"
        );
    }
}
