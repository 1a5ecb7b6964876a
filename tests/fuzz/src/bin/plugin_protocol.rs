//! Fuzz target: what an exec plugin prints. Judging it never panics, and whatever its output
//! holds under a `secret` key (parsed or not) is never quoted in the error it gives: a secret
//! found in the error must be there also when the secret is replaced in the output (then it
//! is the message's own words, not a quote).
use cybedefend_plugin_host::exec::{read_output, secrets_in_output};

fn shown(stdout: &str) -> Option<String> {
    read_output("plugin", stdout, Some(0), "")
        .err()
        .map(|e| format!("{} {}", e.message(), e.hint().unwrap_or_default()))
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let stdout = String::from_utf8_lossy(data);
        let Some(text) = shown(&stdout) else { return };
        for s in secrets_in_output(&stdout).iter().filter(|s| s.len() >= 8) {
            if text.contains(s.as_str()) {
                let other = stdout.replace(s.as_str(), &"\u{1}".repeat(s.chars().count()));
                let again = shown(&other).unwrap_or_default();
                assert!(again.contains(s.as_str()), "a secret was quoted: {s:?}");
            }
        }
    });
}
