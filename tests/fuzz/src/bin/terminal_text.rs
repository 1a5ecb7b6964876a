//! Fuzz target: `cybedefend_core::fuzzing::terminal_text` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::terminal_text(data);
    });
}
