//! What the data commands share: id checks done by clap (so a bad value stops before any network
//! call), the `--json` switch, tables, and the connection.
//!
//! Output: with `--json` the server's whole answer goes to stdout (every field, as sent, never
//! a re-serialised subset); otherwise a table or `field: value` lines. Messages go to stderr.

use clap::Args;
use cybedefend_core::text::one_line;
use cybedefend_core::{Error, Result};
use serde_json::Value;

use crate::app::App;
use crate::exit::Exit;

/// `--json`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct JsonFlag {
    /// Print the server's whole answer as JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

/// An id given on the command line: trimmed, and one path segment (not `.` or `..`, no `/`,
/// `?`, `#` or control characters, at most 200 bytes).
pub(crate) fn id(value: &str) -> std::result::Result<String, String> {
    let v = value.trim();
    cybedefend_core::platform::check_id("", v).map_err(|e| e.message().trim().to_owned())?;
    Ok(v.to_owned())
}

/// `--project-id`, shared by every command about one project.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ProjectId {
    /// Project [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(id = "project_id", long = "project-id", value_name = "ID", value_parser = id)]
    pub(crate) id: Option<String>,
}

impl ProjectId {
    /// The flag, else the configured project (environment, config files, the active profile).
    pub(crate) fn resolve(&self, app: &App) -> Result<String> {
        self.or(app.config.settings.project_id.as_deref())
    }

    /// The flag, else `configured`: trimmed, one id (the configured one is checked like the
    /// flag), or an error that says how to give one.
    pub(crate) fn or(&self, configured: Option<&str>) -> Result<String> {
        let (value, origin) = match (&self.id, configured) {
            (Some(flag), _) => (flag.as_str(), "--project-id"),
            (None, Some(c)) => (
                c,
                "the configured project id (CYBEDEFEND_PROJECT_ID or `project_id:`)",
            ),
            (None, None) => ("", ""),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::usage("--project-id is required").with_hint(
                "pass --project-id ID, or set CYBEDEFEND_PROJECT_ID or `project_id:` in config; \
                 `cybedefend project list` shows the ids of your projects",
            ));
        }
        cybedefend_core::platform::check_id(origin, value)?;
        Ok(value.to_owned())
    }
}

/// `--organization-id`, shared by every command about one organisation.
#[derive(Debug, Clone, Args)]
pub(crate) struct OrganizationId {
    /// Organisation
    #[arg(id = "organization_id", long = "organization-id", value_name = "ID", value_parser = id)]
    pub(crate) id: String,
}

/// `--team-id`, shared by every command about one team.
#[derive(Debug, Clone, Args)]
pub(crate) struct TeamId {
    /// Team
    #[arg(id = "team_id", long = "team-id", value_name = "ID", value_parser = id)]
    pub(crate) id: String,
}

/// A name (project, team, PAT): trimmed, not empty, no control characters, at most 200
/// characters. Slashes and `#` are fine in a name.
pub(crate) fn name(value: &str) -> std::result::Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("must not be empty".into());
    }
    if v.chars()
        .any(|c| c.is_control() || cybedefend_core::text::is_unsafe(c))
    {
        return Err("must not hold control characters".into());
    }
    if v.chars().count() > 200 {
        return Err("is longer than 200 characters".into());
    }
    Ok(v.to_owned())
}

/// A search text: at most 200 characters, no control characters.
pub(crate) fn search(value: &str) -> std::result::Result<String, String> {
    let v = value.trim();
    if v.chars().count() > 200 || v.chars().any(|c| c.is_control()) {
        return Err("must be at most 200 characters, without control characters".into());
    }
    Ok(v.to_owned())
}

/// A comma-separated list whose items must be among `allowed` (compared without case); the
/// items as `allowed` spells them.
pub(crate) fn one_of(flag: &str, value: Option<&str>, allowed: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for item in value.map(list).unwrap_or_default() {
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(&item)) {
            Some(a) => out.push((*a).to_owned()),
            None => {
                return Err(cybedefend_core::Error::usage(format!(
                    "{flag}: `{}` is not one of {}",
                    one_line(&item, 40),
                    allowed.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// `from` is not after `to` (dates as `date` accepts them; the day part is compared).
pub(crate) fn ordered(
    from_flag: &str,
    from: Option<&str>,
    to_flag: &str,
    to: Option<&str>,
) -> Result<()> {
    if let (Some(f), Some(t)) = (from, to)
        && f.get(..10) > t.get(..10)
    {
        return Err(cybedefend_core::Error::usage(format!(
            "{from_flag} {f} is after {to_flag} {t}"
        )));
    }
    Ok(())
}

/// A comma-separated list: items trimmed, empty items dropped.
pub(crate) fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A date for a filter: `YYYY-MM-DD` or an RFC 3339 time.
pub(crate) fn date(value: &str) -> std::result::Result<String, String> {
    let v = value.trim();
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(v, &day).is_ok()
        || time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok()
    {
        Ok(v.to_owned())
    } else {
        Err("expected a date, YYYY-MM-DD (or an RFC 3339 time such as 2026-01-31T12:00:00Z)".into())
    }
}

/// Prints the answer: the whole JSON with `--json`, else `human`.
pub(crate) fn show(
    app: &App,
    json: bool,
    raw: &Value,
    human: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        app.out.json(raw)
    } else {
        let text = human();
        if !text.is_empty() {
            app.out.data(&text);
        }
        Ok(())
    }
}

/// A project answer with the official CLI's `id` beside the server's `projectId` (scripts
/// written for the official CLI read `.id`); everything the server sent is kept.
pub(crate) fn project_json(raw: &Value) -> Value {
    let mut v = raw.clone();
    if let Value::Object(o) = &mut v
        && !o.contains_key("id")
        && let Some(id) = o.get("projectId").cloned()
    {
        o.insert("id".to_owned(), id);
    }
    v
}

/// A team list as the official CLI prints it: a bare array, whether the server sent one (as
/// its specification says) or `{"teams": [...]}` (as the official CLI reads).
pub(crate) fn teams_json(raw: &Value) -> Value {
    match raw {
        Value::Object(o) => match o.get("teams") {
            Some(teams @ Value::Array(_)) => teams.clone(),
            _ => raw.clone(),
        },
        _ => raw.clone(),
    }
}

/// For commands whose human output is a message: the server's answer as JSON with `--json`,
/// else `message` on stderr.
pub(crate) fn done(app: &App, json: bool, raw: &Value, message: &str) -> Result<Exit> {
    if json {
        app.out.json(raw)?;
    }
    app.out.success(message);
    Ok(Exit::Success)
}

/// A cell: secrets masked first (a cut must never leave part of one), then one line, cut at 60
/// characters.
pub(crate) fn cell(text: &str) -> String {
    one_line(&cybedefend_core::secret::redact::redact(text), 60)
}

/// A time the server sent, as people read it: `2026-12-06 10:34 UTC` (RFC 3339 in any offset,
/// fractions dropped); text that is not such a time is shown as a [`cell`], and none as `-`.
pub(crate) fn when(raw: Option<&str>) -> String {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let Some(raw) = raw else {
        return "-".into();
    };
    match OffsetDateTime::parse(raw.trim(), &Rfc3339) {
        Ok(t) => human_time(t),
        Err(_) => cell(raw),
    }
}

/// `2026-12-06 10:34 UTC`.
pub(crate) fn human_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// An optional value, `-` when absent.
pub(crate) fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| cell(&v.to_string()))
}

/// A number as people read it: whole numbers without decimals; one out of any sensible
/// range (a trillion or more) is shown as `-`.
pub(crate) fn number(v: Option<f64>) -> String {
    match v {
        Some(n) if n.abs() >= 1e12 => "-".into(),
        Some(n) if n.fract() == 0.0 => format!("{}", n as i64),
        Some(n) => format!("{n:.2}"),
        None => "-".into(),
    }
}

/// A table with a header row; columns as wide as their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

/// `label: value` lines, labels aligned.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    pairs
        .iter()
        .map(|(k, v)| format!("{:w$} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_anything_runs() {
        assert_eq!(id(" abc ").unwrap(), "abc");
        assert!(id("").is_err());
        assert!(id("../x").is_err());
        assert!(id("a\u{1b}[2J").is_err());
        assert!(date("2026-02-30").is_err());
        assert!(date("2026-01-31").is_ok());
        assert!(date("2026-01-31T10:00:00Z").is_ok());
        assert_eq!(list(" a, ,b "), vec!["a", "b"]);
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["ID", "NAME"],
            &[vec!["1".into(), "x".into()], vec!["22".into(), "yy".into()]],
        );
        assert_eq!(t, "ID  NAME\n1   x\n22  yy");
        assert_eq!(
            fields(&[("a", "1".into()), ("bcd", "2".into())]),
            "a:   1\nbcd: 2"
        );
    }
}
