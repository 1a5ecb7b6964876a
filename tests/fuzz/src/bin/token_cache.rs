//! Fuzz target: `cybedefend_core::fuzzing::token_cache` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::token_cache(data);
    });
}
