//! Fuzz target: `cybedefend_core::fuzzing::redaction` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::redaction(data);
    });
}
