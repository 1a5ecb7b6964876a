//! Entry points for the fuzz targets (`tests/fuzz`): each reads bytes that come from outside
//! (a config file, credentials.json, the token cache, a server's answer, a duration, text for
//! the terminal) and must return, whatever they are: no panic, no hang, no unbounded memory.
//! Built only with the `fuzzing` feature.

use crate::platform::{parse, policies, results, scan};

/// A config file's text through the YAML parser, the typed settings and the unknown-key and
/// masking logic.
pub fn config_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(loaded) = crate::config::fuzz_text(text) {
            let _ = crate::platform::Endpoints::resolve(&loaded, None);
            let _ = crate::credentials::Chain::from_config(&loaded);
        }
    }
}

/// credentials.json.
pub fn credentials_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        crate::credentials::store::fuzz_text(text);
    }
}

/// token-cache.json.
pub fn token_cache(data: &[u8]) {
    crate::platform::exchange::fuzz_cache(data);
}

/// Answers of the platform: every typed reader the CLI uses, and the OAuth token answer.
pub fn api_answers(data: &[u8]) {
    let _ = parse::<Option<scan::ScanStatus>>("fuzz", data);
    let _ = parse::<Option<policies::Evaluation>>("fuzz", data);
    results::fuzz_page(data);
    policies::fuzz_violations(data);
    scan::fuzz_start(data);
    crate::platform::exchange::fuzz_token_answer(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = results::finding("sast", &v);
        let _ = crate::platform::body_excerpt(data);
    }
}

/// Durations as users write them.
pub fn durations(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(span) = text.parse::<crate::duration::Span>() {
            assert!(span.get() <= crate::duration::Span::MAX);
            // What is shown parses back to the same duration, give or take the sub-second part
            // that is not shown for durations of a minute or more.
            let back: crate::duration::Span =
                span.to_string().parse().expect("formatted span parses");
            assert!(back.get().abs_diff(span.get()) < std::time::Duration::from_secs(1));
        }
        let _ = serde_json::from_str::<crate::duration::Span>(text);
    }
}

/// Text made safe for a terminal: the result never holds a control character.
pub fn terminal_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let safe = crate::text::neutralize(&text);
    assert!(
        !safe
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );
    let line = crate::text::one_line(&text, 100);
    assert!(!line.chars().any(char::is_control));
    assert!(line.chars().count() <= 101);
}

/// A registered secret never survives the redacting writer, however the stream is cut.
pub fn redaction(data: &[u8]) {
    use std::io::Write as _;
    const SECRET: &str = "cdp_fuzz_secret_value_0001";
    crate::secret::redact::register(SECRET);
    let cut = data.first().map_or(1, |b| usize::from(*b).max(1));
    let mut w = crate::secret::redact::RedactingWriter::new(Vec::new());
    let mut all = Vec::new();
    for chunk in data.chunks(cut) {
        all.extend_from_slice(chunk);
        all.extend_from_slice(&SECRET.as_bytes()[..cut.min(SECRET.len())]);
        let _ = w.write_all(chunk);
        let _ = w.write_all(&SECRET.as_bytes()[..cut.min(SECRET.len())]);
    }
    let out = w.finish().expect("vec writer");
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains(SECRET), "a secret survived redaction");
}
