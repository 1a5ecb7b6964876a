//! Tolerant readers for API answers, for the places where the OpenAPI spec and the live API
//! disagree: numbers sent as strings, strings sent as numbers, a list sent as one value, a
//! field of an unexpected type (read as absent rather than failing the whole answer).
//!
//! Use them as `#[serde(default, deserialize_with = "de::text")]`. Numbers are range-checked:
//! a value that does not fit is absent, never wrapped or saturated. Text is cut at
//! [`TEXT_CAP`] characters, so one field cannot hold the memory of a whole report.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Longest text kept from one field of an answer.
pub const TEXT_CAP: usize = 32 * 1024;

fn cut(mut s: String) -> String {
    if s.len() > TEXT_CAP {
        let mut end = TEXT_CAP;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Text from a string or a number; anything else (and an empty string) is absent.
pub fn text_of(v: Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(cut(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number from a number or a numeric string; anything else is absent.
pub fn number_of(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

/// A whole, non-negative number that fits in `u64`.
pub fn count_of(v: &Value) -> Option<u64> {
    if let Value::Number(n) = v
        && let Some(u) = n.as_u64()
    {
        return Some(u);
    }
    let f = number_of(v)?;
    (f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as u64)
}

/// `Option<String>` from a string or a number.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text_of(Value::deserialize(d)?))
}

/// `String` (empty when absent) from a string or a number.
pub fn text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(text_of(Value::deserialize(d)?).unwrap_or_default())
}

/// `Option<f64>` from a number or a numeric string.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(number_of(&Value::deserialize(d)?))
}

/// `Option<u64>` from a whole number or a numeric string, range-checked.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(count_of(&Value::deserialize(d)?))
}

/// `Option<bool>` from a boolean (or `"true"`/`"false"`).
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `Vec<String>` from a list of strings or numbers, or a single string.
pub fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a.into_iter().filter_map(text_of).collect(),
        Value::String(s) if !s.is_empty() => vec![cut(s)],
        _ => Vec::new(),
    })
}

/// A list whose items are read one by one; items that are not objects of the expected shape
/// are skipped, and a value that is not a list is an empty list.
pub fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_that_do_not_fit_are_absent() {
        assert_eq!(count_of(&json!(12)), Some(12));
        assert_eq!(count_of(&json!("12")), Some(12));
        assert_eq!(count_of(&json!(1e30)), None);
        assert_eq!(count_of(&json!(-1)), None);
        assert_eq!(count_of(&json!(1.5)), None);
        assert_eq!(count_of(&json!("NaN")), None);
        assert_eq!(number_of(&json!("inf")), None);
        assert_eq!(count_of(&json!(u64::MAX)), Some(u64::MAX));
    }

    #[test]
    fn text_is_cut() {
        let long = "é".repeat(TEXT_CAP);
        let t = text_of(json!(long)).unwrap();
        assert!(t.len() <= TEXT_CAP + 3 && t.ends_with('…'));
        assert_eq!(text_of(json!(5)), Some("5".into()));
        assert_eq!(text_of(json!({})), None);
    }
}
