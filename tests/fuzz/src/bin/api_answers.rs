//! Fuzz target: `cybedefend_core::fuzzing::api_answers` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::api_answers(data);
    });
}
