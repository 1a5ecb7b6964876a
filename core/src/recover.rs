//! Panics that are answered, not reported: work that a library may abort with a panic (an
//! allocation a compressor could not make under `ulimit -v`) runs under [`catching`], which
//! turns the panic into a value. The CLI's panic hook stays quiet for those ([`is_catching`]),
//! so the user sees the error the caller makes of it, not a bug report.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, returning its panic's message instead of unwinding further.
pub fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let before = CATCHING.with(|c| c.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(before));
    r.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

/// Whether a panic on this thread will be caught by [`catching`] (a panic hook stays quiet).
pub fn is_catching() -> bool {
    CATCHING.with(Cell::get)
}

/// Whether a caught panic's message says an allocation failed.
pub fn out_of_memory(message: &str) -> bool {
    [
        "MemError",
        "memory allocation",
        "out of memory",
        "capacity overflow",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_flag_is_restored() {
        let r: Result<(), String> = catching(|| {
            assert!(is_catching());
            panic!("deflate: MemError")
        });
        let message = r.unwrap_err();
        assert!(out_of_memory(&message), "{message}");
        assert!(!is_catching());
        assert_eq!(catching(|| 7), Ok(7));
    }
}
