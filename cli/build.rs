//! Linker arguments for the `cybedefend` binary that only the shipping build uses
//! (scripts/build-dist.sh): `CYBEDEFEND_LINK_MAP=FILE` writes lld's link map (where each function
//! landed), `CYBEDEFEND_LINK_ORDER=FILE` lays the functions FILE names out first, in its order.
//! Unset, the link is the toolchain's default.

// A build script runs in cargo, not in the CLI: the CLI's reader of the environment
// (cybedefend_core::env) is not a dependency here.
#[allow(clippy::disallowed_methods)]
fn main() {
    // see `__wrap_pow` in src/main.rs: the binary's one call to libm, answered in Rust
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bin=cybedefend=-Wl,--wrap=pow");
    }
    for (var, option) in [
        ("CYBEDEFEND_LINK_MAP", "-Map="),
        ("CYBEDEFEND_LINK_ORDER", "--symbol-ordering-file="),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            let path = path.to_string_lossy();
            // one `-Xlinker` per argument: `-Wl,` would split a path at its commas
            println!("cargo::rustc-link-arg-bin=cybedefend=-Xlinker");
            println!("cargo::rustc-link-arg-bin=cybedefend={option}{path}");
            if var == "CYBEDEFEND_LINK_ORDER" {
                // functions of the list that this build does not have (inlined, renamed) are
                // expected, not worth a warning each
                println!("cargo::rustc-link-arg-bin=cybedefend=-Xlinker");
                println!("cargo::rustc-link-arg-bin=cybedefend=--no-warn-symbol-ordering");
            }
        }
    }
}
