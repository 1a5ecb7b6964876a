//! One way of writing durations, for every flag, environment variable and config value:
//! `500ms`, `90s`, `5m`, `1h`, `2h30m`, `1d`, or a bare number of seconds (`30`, `2.5`).
//! Config files may also give a plain YAML number (seconds).
//!
//! Every duration is checked when it is parsed: it is greater than zero and at most
//! [`Span::MAX`], so no later arithmetic on it can overflow.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration as written by a user: positive and at most [`Span::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(Duration);

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanError(String);

impl fmt::Display for SpanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpanError {}

const GRAMMAR: &str =
    "use a number with a unit, such as 90s, 5m, 1h or 2h30m (a bare number is seconds)";

impl Span {
    /// The longest duration accepted anywhere: 30 days.
    pub const MAX: Duration = Duration::from_secs(30 * 24 * 3600);

    /// A span of whole seconds (for defaults); clamped to [`Span::MAX`], at least 1 s.
    pub const fn from_secs(secs: u64) -> Self {
        let s = if secs == 0 {
            1
        } else if secs > Self::MAX.as_secs() {
            Self::MAX.as_secs()
        } else {
            secs
        };
        Self(Duration::from_secs(s))
    }

    /// Checks a duration against the accepted range.
    pub fn new(d: Duration) -> Result<Self, SpanError> {
        if d.is_zero() {
            return Err(SpanError("a duration must be greater than zero".into()));
        }
        if d < Duration::from_millis(1) {
            return Err(SpanError("a duration must be at least 1ms".into()));
        }
        if d > Self::MAX {
            return Err(SpanError(format!(
                "{} is longer than the longest accepted duration ({})",
                format(d),
                format(Self::MAX)
            )));
        }
        Ok(Self(d))
    }

    /// A number of seconds (from a YAML number or a bare number).
    pub fn from_secs_f64(secs: f64) -> Result<Self, SpanError> {
        if !secs.is_finite() || secs <= 0.0 {
            return Err(SpanError(format!(
                "`{secs}` is not a positive number of seconds"
            )));
        }
        if secs > Self::MAX.as_secs_f64() {
            return Err(SpanError(format!(
                "{secs} seconds is longer than the longest accepted duration ({})",
                format(Self::MAX)
            )));
        }
        Self::new(Duration::from_secs_f64(secs))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Span> for Duration {
    fn from(s: Span) -> Duration {
        s.0
    }
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 0.001,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    })
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let bad = |why: &str| SpanError(format!("`{t}` is not a duration{why}: {GRAMMAR}"));
        if t.is_empty() {
            return Err(SpanError(format!("a duration is empty: {GRAMMAR}")));
        }
        if t.len() > 64 {
            return Err(SpanError(format!(
                "a duration of {} characters is not a duration: {GRAMMAR}",
                t.len()
            )));
        }
        let mut total = 0.0f64;
        let mut rest = t;
        let mut parts = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_len);
            let unit_len = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            if num.is_empty() {
                return Err(bad(""));
            }
            let n: f64 = num.parse().map_err(|_| bad(""))?;
            let factor = if unit.is_empty() {
                if parts > 0 || !after.is_empty() {
                    return Err(bad(" (a unit is missing)"));
                }
                1.0
            } else {
                unit_seconds(&unit.to_ascii_lowercase())
                    .ok_or_else(|| bad(&format!(" (unknown unit `{unit}`)")))?
            };
            total += n * factor;
            parts += 1;
            rest = after.trim_start();
        }
        Self::from_secs_f64(total).map_err(|e| SpanError(format!("`{t}`: {e}")))
    }
}

/// Writes a duration the way users write it: `2h30m`, `90s` is `1m30s`, `500ms`, `2.5s`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) && d.as_secs() < 60 {
        let s = format!("{:.3}", d.as_secs_f64());
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a duration such as 90s, 5m or 1h, or a number of seconds"
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Span::from_secs_f64(v as f64).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                Span::from_secs_f64(v as f64).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Span, E> {
                Span::from_secs_f64(v).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: &str) -> f64 {
        t.parse::<Span>().unwrap().get().as_secs_f64()
    }

    #[test]
    fn one_grammar_for_every_duration() {
        assert_eq!(secs("90s"), 90.0);
        assert_eq!(secs("30m"), 1800.0);
        assert_eq!(secs("1h"), 3600.0);
        assert_eq!(secs("2h30m"), 9000.0);
        assert_eq!(secs("2h 30m"), 9000.0);
        assert_eq!(secs("500ms"), 0.5);
        assert_eq!(secs("10"), 10.0);
        assert_eq!(secs("2.5"), 2.5);
        assert_eq!(secs(" 5M "), 300.0);
        assert_eq!(secs("1d"), 86400.0);
    }

    #[test]
    fn bad_or_absurd_durations_are_refused_with_the_grammar() {
        for bad in [
            "10x",
            "",
            "h",
            "1h30",
            "-5s",
            "0",
            "0s",
            "1e300",
            "99999999999999999999",
            "1..2s",
            "5 m x",
            "NaN",
            "inf",
            ".000000051",
        ] {
            let e = bad.parse::<Span>().unwrap_err().to_string();
            assert!(
                e.contains("duration") || e.contains("seconds"),
                "{bad:?}: {e}"
            );
        }
        assert!(
            "31d"
                .parse::<Span>()
                .unwrap_err()
                .to_string()
                .contains("longest")
        );
    }

    #[test]
    fn formats_as_users_write() {
        assert_eq!(format(Duration::from_secs(9000)), "2h30m");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_millis(2500)), "2.5s");
        assert_eq!(Span::from_secs(300).to_string(), "5m");
    }

    #[test]
    fn config_numbers_and_strings_both_work() {
        let s: Span = serde_json::from_str("30").unwrap();
        assert_eq!(s.get(), Duration::from_secs(30));
        let s: Span = serde_json::from_str("\"1h\"").unwrap();
        assert_eq!(s.get(), Duration::from_secs(3600));
        assert!(serde_json::from_str::<Span>("1e300").is_err());
        assert!(serde_json::from_str::<Span>("-1").is_err());
        assert!(serde_json::from_str::<Span>("true").is_err());
    }
}
