//! Last line of defence against leaks: every secret the process handles is registered here,
//! and the CLI passes everything it writes to stderr (messages, logs, panics) through
//! [`redact`]. Secrets are also kept out of output by construction ([`crate::Secret`] has no
//! `Display` and a redacting `Debug`); this catches what construction cannot, such as a server
//! that echoes the token back in an error body.

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

static KNOWN: Mutex<Vec<SecretString>> = Mutex::new(Vec::new());

/// Shortest value that is redacted: shorter strings would mangle ordinary text.
const MIN_LEN: usize = 6;

/// Remembers a secret value so that [`redact`] masks it.
pub fn register(value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    if let Ok(mut known) = KNOWN.lock()
        && !known.iter().any(|k| k.expose_secret() == value)
    {
        known.push(SecretString::from(value.to_owned()));
    }
}

/// Forgets a value that turned out not to be a secret (a reference such as `op://...`).
pub fn unregister(value: &str) {
    if let Ok(mut known) = KNOWN.lock() {
        known.retain(|k| k.expose_secret() != value);
    }
}

/// Replaces every registered secret in `text` with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let Ok(known) = KNOWN.lock() else {
        return text.to_owned();
    };
    let mut out = text.to_owned();
    for secret in known.iter() {
        let s = secret.expose_secret();
        if out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_and_short_ones_ignored() {
        register("cdp_canary_value_123");
        register("abc");
        assert_eq!(
            redact("token=cdp_canary_value_123; abc"),
            "token=[REDACTED]; abc"
        );
    }
}
