//! Fuzz target: `cybedefend_core::fuzzing::config_yaml` must return for any input.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        cybedefend_core::fuzzing::config_yaml(data);
    });
}
