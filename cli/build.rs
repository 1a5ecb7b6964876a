//! Linker arguments for the `cybedefend` binary (and its unit-test harness, which cargo links
//! the same way).
//!
//! - On Linux, `--wrap=pow`: see `__wrap_pow` in src/main.rs (the binary's one call to libm,
//!   answered in Rust, so that libm.so is not loaded).
//! - For scripts/build-dist.sh only: `CYBEDEFEND_LINK_MAP=FILE` writes lld's link map (where each
//!   function landed, names not demangled), `CYBEDEFEND_LINK_ORDER=FILE` lays out the functions
//!   FILE names first, in its order. Unset or empty, the link is the toolchain's default.

// A build script runs in cargo, not in the CLI: the CLI's reader of the environment
// (cybedefend_core::env) is not a dependency here.
#[allow(clippy::disallowed_methods)]
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bin=cybedefend=-Wl,--wrap=pow");
    }
    for (var, options) in [
        ("CYBEDEFEND_LINK_MAP", &["--no-demangle", "-Map="][..]),
        ("CYBEDEFEND_LINK_ORDER", &["--symbol-ordering-file="][..]),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
            continue;
        };
        let Some(path) = path.to_str() else {
            panic!("{var} must be a UTF-8 path");
        };
        for option in options {
            // one `-Xlinker` per argument: `-Wl,` would split a path at its commas
            println!("cargo::rustc-link-arg-bin=cybedefend=-Xlinker");
            if option.ends_with('=') {
                println!("cargo::rustc-link-arg-bin=cybedefend={option}{path}");
            } else {
                println!("cargo::rustc-link-arg-bin=cybedefend={option}");
            }
        }
    }
}
