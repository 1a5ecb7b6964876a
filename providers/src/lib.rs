//! Built-in credential providers of the `cybedefend` CLI. Each module registers its type with
//! `inventory::submit!`; nothing else refers to them by name.
//!
//! A crate whose only use is `inventory::submit!` can be dropped by the linker, so the binary
//! calls [`link`] once, and a test checks that every type here is registered.
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
mod process;
mod stored;
mod vault;

/// Every provider type this crate registers, for the registration test.
pub const BUILT_IN_TYPES: &[&str] = &[
    "config",
    "env",
    "exec",
    "file",
    "flag",
    "onepassword",
    "stored",
];

pub use keyring::api as keyring_store;

/// Keeps this crate (and so its `inventory` registrations) in the final binary.
#[inline(never)]
pub fn link() -> usize {
    BUILT_IN_TYPES.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_type_is_registered() {
        let kinds: Vec<&str> = cybedefend_core::provider::factories()
            .iter()
            .map(|f| f.kind)
            .collect();
        for t in super::BUILT_IN_TYPES {
            assert!(kinds.contains(t), "{t} missing from {kinds:?}");
        }
        assert_eq!(
            cybedefend_core::provider::default_chain(),
            vec!["flag", "env", "config", "stored", "keyring"]
        );
    }
}
