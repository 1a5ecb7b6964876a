//! Fuzz target: what an exec plugin prints. Judging it never panics, and whatever its output
//! holds under a `secret` key (parsed or not) is never quoted in the error it gives.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let stdout = String::from_utf8_lossy(data);
        let secrets = cybedefend_plugin_host::exec::secrets_in_output(&stdout);
        if let Err(e) = cybedefend_plugin_host::exec::read_output("plugin", &stdout, Some(0), "") {
            let shown = format!("{} {}", e.message(), e.hint().unwrap_or_default());
            for s in secrets.iter().filter(|s| s.len() >= 8) {
                assert!(!shown.contains(s.as_str()), "a secret was quoted");
            }
        }
    });
}
