//! Fuzz target: `cybedefend_core::fuzzing::credentials_json` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::credentials_json(data);
    });
}
