//! Report formats for `results`, written as a stream into a file or stdout (no whole report
//! in memory): JSON in the official CLI's record shape, SARIF 2.1.0, Markdown and a
//! self-contained HTML page.

use std::fmt::Write as _;
use std::io::{self, Write};

use cybedefend_core::platform::results::{Finding, SEVERITIES};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Everything a report shows.
pub(crate) struct Report<'a> {
    pub(crate) project_id: &'a str,
    pub(crate) project_name: &'a str,
    /// The `--type` asked for.
    pub(crate) kind: &'a str,
    /// Findings by type, in report order (one entry for a single type).
    pub(crate) by_type: &'a [(&'a str, Vec<Finding>)],
    /// Page, pages and total for a single type (`--all=false`).
    pub(crate) page: (u64, u64, u64),
}

impl Report<'_> {
    fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.by_type.iter().flat_map(|(_, f)| f.iter())
    }

    pub(crate) fn count(&self) -> usize {
        self.by_type.iter().map(|(_, f)| f.len()).sum()
    }
}

/// The official CLI's record for one finding.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    language: &'a str,
    path: &'a str,
    #[serde(rename = "vulnerableStartLine")]
    start: Option<u64>,
    #[serde(rename = "vulnerableEndLine")]
    end: Option<u64>,
    vulnerability: RecordDetails<'a>,
    branch: &'a str,
}

#[derive(Serialize)]
struct RecordDetails<'a> {
    name: &'a str,
    description: &'a str,
    severity: String,
    #[serde(rename = "howToPrevent")]
    how_to_prevent: &'a str,
    cwe: &'a [String],
    #[serde(rename = "owaspTop10")]
    owasp_top10: &'a [String],
    #[serde(rename = "vulnerabilityType")]
    kind: &'a str,
}

fn record(f: &Finding) -> Record<'_> {
    Record {
        id: &f.id,
        language: &f.language,
        path: &f.path,
        start: f.start_line,
        end: f.end_line,
        vulnerability: RecordDetails {
            name: &f.name,
            description: &f.description,
            severity: f.severity.to_ascii_uppercase(),
            how_to_prevent: &f.how_to_prevent,
            cwe: &f.cwe,
            owasp_top10: &f.owasp_top10,
            kind: &f.kind,
        },
        branch: &f.branch,
    }
}

struct Records<'a>(&'a [Finding]);

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for f in self.0 {
            seq.serialize_element(&record(f))?;
        }
        seq.end()
    }
}

struct JsonReport<'a>(&'a Report<'a>);

impl Serialize for JsonReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("projectId", r.project_id)?;
        m.serialize_entry("projectName", r.project_name)?;
        if r.kind == "all" {
            for (t, f) in r.by_type {
                m.serialize_entry(t, &Records(f))?;
            }
        } else {
            let empty = Vec::new();
            let f = r.by_type.first().map_or(&empty, |(_, f)| f);
            m.serialize_entry("page", &r.page.0)?;
            m.serialize_entry("total", &r.page.2)?;
            m.serialize_entry("totalPages", &r.page.1)?;
            m.serialize_entry("severity", &Option::<()>::None)?;
            m.serialize_entry("vulnerabilities", &Records(f))?;
        }
        m.end()
    }
}

/// JSON in the official CLI's shape.
pub(crate) fn json(r: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &JsonReport(r)).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        "low" => "note",
        _ => "none",
    }
}

fn rule_id(f: &Finding) -> &str {
    if f.name.is_empty() { &f.id } else { &f.name }
}

fn kept(f: &Finding) -> bool {
    !(f.id.is_empty() && f.name.is_empty())
}

/// One SARIF rule per distinct rule id, described by its first finding.
struct Rules<'a>(Vec<&'a Finding>);

impl Serialize for Rules<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for f in &self.0 {
            let id = rule_id(f);
            let mut tags: Vec<&str> = f.cwe.iter().map(String::as_str).collect();
            tags.extend(f.owasp_top10.iter().map(String::as_str));
            tags.push(&f.kind);
            let mut rule = serde_json::json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": id},
                "defaultConfiguration": {"level": level(&f.severity)},
                "properties": {"tags": tags, "problem.severity": f.severity},
            });
            if !f.description.is_empty() {
                rule["fullDescription"] = serde_json::json!({"text": strip_bold(&f.description)});
            }
            if !f.how_to_prevent.is_empty() {
                rule["help"] =
                    serde_json::json!({"text": f.how_to_prevent, "markdown": f.how_to_prevent});
            }
            seq.serialize_element(&rule)?;
        }
        seq.end()
    }
}

struct SarifResults<'a> {
    report: &'a Report<'a>,
    index: &'a std::collections::HashMap<&'a str, usize>,
}

impl Serialize for SarifResults<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for f in self.report.findings().filter(|f| kept(f)) {
            let id = rule_id(f);
            let text = match (f.name.is_empty(), f.description.is_empty()) {
                (false, false) => format!("{}: {}", f.name, strip_bold(&f.description)),
                (false, true) => f.name.clone(),
                (true, _) => strip_bold(&f.description),
            };
            let start = f.start_line.filter(|l| *l >= 1).unwrap_or(1);
            let end = f.end_line.filter(|e| *e >= start).unwrap_or(start);
            let mut result = serde_json::json!({
                "ruleId": id,
                "ruleIndex": self.index.get(id).copied().unwrap_or(0),
                "level": level(&f.severity),
                "message": {"text": if text.is_empty() { id.to_owned() } else { text }},
                "properties": {"severity": f.severity, "state": f.state, "type": f.kind, "findingId": f.id},
            });
            if !f.path.is_empty() {
                result["locations"] = serde_json::json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": start, "endLine": end},
                    }
                }]);
            }
            seq.serialize_element(&result)?;
        }
        seq.end()
    }
}

/// SARIF 2.1.0 with a `rules` array; `results` is `[]` when there is nothing.
pub(crate) fn sarif(r: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut rules: Vec<&Finding> = Vec::new();
    for f in r.findings().filter(|f| kept(f)) {
        let id = rule_id(f);
        if !index.contains_key(id) {
            index.insert(id, rules.len());
            rules.push(f);
        }
    }
    let doc = serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    });
    // The document is written in pieces so that no result is held twice in memory.
    let head = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    let head = head.trim_end().trim_end_matches('}').trim_end();
    writeln!(out, "{head},")?;
    writeln!(
        out,
        "  \"runs\": [\n    {{\n      \"tool\": {{\n        \"driver\": {{"
    )?;
    writeln!(out, "          \"name\": \"CybeDefend CLI\",")?;
    writeln!(
        out,
        "          \"informationUri\": \"https://www.cybedefend.com\","
    )?;
    writeln!(
        out,
        "          \"version\": \"{}\",",
        env!("CARGO_PKG_VERSION")
    )?;
    write!(out, "          \"rules\": ")?;
    serde_json::to_writer(&mut *out, &Rules(rules)).map_err(io::Error::other)?;
    writeln!(out, "\n        }}\n      }},")?;
    write!(out, "      \"results\": ")?;
    serde_json::to_writer(
        &mut *out,
        &SarifResults {
            report: r,
            index: &index,
        },
    )
    .map_err(io::Error::other)?;
    writeln!(out, "\n    }}\n  ]\n}}")
}

fn strip_bold(s: &str) -> String {
    s.replace("**", "")
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn location(f: &Finding) -> String {
    match (f.start_line, f.end_line) {
        (Some(s), Some(e)) if e > s => format!("{}:{s}-{e}", f.path),
        (Some(s), _) => format!("{}:{s}", f.path),
        _ => f.path.clone(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small markdown subset (after escaping): fenced code, inline code, bold, paragraphs.
fn md_to_html(text: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut String| {
        if !para.trim().is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(para.trim()));
        }
        para.clear();
    };
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            if in_code {
                out.push_str("</code></pre>");
            } else {
                flush(&mut para, &mut out);
                out.push_str("<pre><code>");
            }
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(&html_escape(line));
            out.push('\n');
        } else if line.trim().is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push_str(line);
            para.push(' ');
        }
    }
    if in_code {
        out.push_str("</code></pre>");
    }
    flush(&mut para, &mut out);
    out
}

fn inline(text: &str) -> String {
    let escaped = html_escape(text);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            let mut bold = false;
            for (j, seg) in part.split("**").enumerate() {
                if j > 0 {
                    out.push_str(if bold { "</strong>" } else { "<strong>" });
                    bold = !bold;
                }
                out.push_str(seg);
            }
            if bold {
                out.push_str("</strong>");
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#0f172a;color:#e2e8f0;margin:0;padding:2rem}\
main{max-width:60rem;margin:auto}h1{margin:0 0 1rem}table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .8rem;border:1px solid #334155;text-align:left}\
.card{background:#1e293b;border-radius:.5rem;padding:1rem 1.2rem;margin:1rem 0;border-left:.4rem solid #64748b}\
.critical{border-color:#dc2626}.high{border-color:#ea580c}.medium{border-color:#ca8a04}.low{border-color:#2563eb}\
.critical .badge{background:#dc2626}.high .badge{background:#ea580c}.medium .badge{background:#a16207}.low .badge{background:#2563eb}\
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-size:.8rem;font-weight:700;background:#334155;margin-right:.5rem}\
.loc{color:#94a3b8;font-family:ui-monospace,monospace;font-size:.9rem}pre{background:#0b1220;padding:.8rem;overflow:auto;border-radius:.3rem}\
code{font-family:ui-monospace,monospace}.chip{display:inline-block;background:#334155;border-radius:1rem;padding:.1rem .6rem;margin:.2rem .2rem 0 0;font-size:.8rem}\
a{color:#93c5fd}";

fn counts(r: &Report<'_>) -> [usize; 4] {
    let mut c = [0; 4];
    for f in r.findings() {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
            c[i] += 1;
        }
    }
    c
}

/// Markdown report.
pub(crate) fn markdown(r: &Report<'_>, generated: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::from("# CybeDefend scan results\n\n| | |\n|---|---|\n");
    let _ = writeln!(s, "| Project | {} |", md_escape(r.project_name));
    let _ = writeln!(s, "| Project ID | `{}` |", md_escape(r.project_id));
    let _ = writeln!(s, "| Type | {} |", r.kind);
    let _ = writeln!(s, "| Findings | {} |", r.count());
    let _ = writeln!(s, "| Generated | {generated} |\n");
    if r.count() == 0 {
        s.push_str("No vulnerabilities found.\n");
        return out.write_all(s.as_bytes());
    }
    let c = counts(r);
    s.push_str("| Severity | Count |\n|---|---|\n");
    for (i, sev) in SEVERITIES.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} {} | {} |",
            ["🔴", "🟠", "🟡", "🔵"][i],
            sev.to_ascii_uppercase(),
            c[i]
        );
    }
    out.write_all(s.as_bytes())?;
    for (i, sev) in SEVERITIES.iter().enumerate() {
        if c[i] == 0 {
            continue;
        }
        writeln!(out, "\n### {} ({})\n", sev.to_ascii_uppercase(), c[i])?;
        for f in r.findings().filter(|f| f.severity == *sev) {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "<details>\n<summary><b>{}</b> — <code>{}</code></summary>\n",
                md_escape(&f.name),
                md_escape(&location(f))
            );
            if !f.language.is_empty() {
                let _ = writeln!(s, "- Language: {}", md_escape(&f.language));
            }
            let _ = writeln!(s, "- Type: {}", f.kind);
            if !f.cwe.is_empty() {
                let links: Vec<String> = f
                    .cwe
                    .iter()
                    .map(|c| {
                        let n = c.trim_start_matches("CWE-");
                        format!(
                            "[{}](https://cwe.mitre.org/data/definitions/{}.html)",
                            md_escape(c),
                            md_escape(n)
                        )
                    })
                    .collect();
                let _ = writeln!(s, "- CWE: {}", links.join(", "));
            }
            if !f.owasp_top10.is_empty() {
                let _ = writeln!(s, "- OWASP: {}", md_escape(&f.owasp_top10.join(", ")));
            }
            if !f.description.is_empty() {
                let _ = writeln!(s, "\n{}\n", strip_bold(&f.description));
            }
            if !f.how_to_prevent.is_empty() {
                let _ = writeln!(s, "**How to fix**\n\n{}\n", f.how_to_prevent);
            }
            s.push_str("</details>\n");
            out.write_all(s.as_bytes())?;
        }
    }
    Ok(())
}

/// A self-contained HTML page: inline style, no scripts, no external resources.
pub(crate) fn html(r: &Report<'_>, generated: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Scan results: {}</title><style>{STYLE}</style></head><body><main>",
        html_escape(r.project_name)
    );
    let _ = write!(
        s,
        "<h1>Scan results</h1><table><tr><th>Project</th><td>{}</td></tr><tr><th>Project ID</th><td>{}</td></tr>\
<tr><th>Type</th><td>{}</td></tr><tr><th>Findings</th><td>{}</td></tr><tr><th>Generated</th><td>{}</td></tr></table>",
        html_escape(r.project_name),
        html_escape(r.project_id),
        html_escape(r.kind),
        r.count(),
        html_escape(generated)
    );
    let c = counts(r);
    s.push_str("<table><tr>");
    for sev in SEVERITIES {
        let _ = write!(s, "<th>{}</th>", sev.to_ascii_uppercase());
    }
    s.push_str("</tr><tr>");
    for n in c {
        let _ = write!(s, "<td>{n}</td>");
    }
    s.push_str("</tr></table>");
    if r.count() == 0 {
        s.push_str("<p>No vulnerabilities found.</p>");
    }
    out.write_all(s.as_bytes())?;
    // Most severe first; severities outside the four last.
    let order = |f: &Finding| {
        SEVERITIES
            .iter()
            .position(|x| *x == f.severity)
            .unwrap_or(9)
    };
    for rank in [0, 1, 2, 3, 9] {
        for f in r.findings().filter(|f| order(f) == rank) {
            out.write_all(card(f).as_bytes())?;
        }
    }
    out.write_all(b"</main></body></html>\n")
}

fn card(f: &Finding) -> String {
    let mut s = String::new();
    let sev = if f.severity.is_empty() {
        "unknown"
    } else {
        f.severity.as_str()
    };
    let _ = write!(
        s,
        "<section class=\"card {}\"><div><span class=\"badge\">{}</span><strong>{}</strong></div><div class=\"loc\">{} — {}</div>",
        html_escape(sev),
        html_escape(&sev.to_ascii_uppercase()),
        html_escape(&f.name),
        html_escape(&f.language),
        html_escape(&location(f))
    );
    if !f.description.is_empty() {
        s.push_str(&md_to_html(&f.description));
    }
    if !f.how_to_prevent.is_empty() {
        let _ = write!(s, "<h4>How to fix</h4>{}", md_to_html(&f.how_to_prevent));
    }
    for c in &f.cwe {
        let n = c.trim_start_matches("CWE-");
        let _ = write!(
            s,
            "<a class=\"chip\" href=\"https://cwe.mitre.org/data/definitions/{}.html\">{}</a>",
            html_escape(n),
            html_escape(c)
        );
    }
    for o in &f.owasp_top10 {
        let _ = write!(s, "<span class=\"chip\">{}</span>", html_escape(o));
    }
    s.push_str("</section>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(name: &str, sev: &str) -> Finding {
        Finding {
            id: "1".into(),
            kind: "sast".into(),
            name: name.into(),
            description: "**Bad** thing <script>".into(),
            severity: sev.into(),
            state: "to_verify".into(),
            language: "js".into(),
            path: "a.js".into(),
            start_line: Some(0),
            end_line: None,
            branch: "main".into(),
            how_to_prevent: "Use `escape()`".into(),
            cwe: vec!["CWE-79".into()],
            owasp_top10: vec![],
        }
    }

    fn render(
        by_type: &[(&str, Vec<Finding>)],
        f: fn(&Report<'_>, &mut dyn Write) -> io::Result<()>,
    ) -> String {
        let r = Report {
            project_id: "p",
            project_name: "n",
            kind: "sast",
            by_type,
            page: (1, 1, 0),
        };
        let mut out = Vec::new();
        f(&r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn sarif_has_rules_and_sane_regions_and_empty_results_are_a_list() {
        let by_type = [(
            "sast",
            vec![finding("XSS", "critical"), finding("XSS", "high")],
        )];
        let v: serde_json::Value = serde_json::from_str(&render(&by_type, sarif)).unwrap();
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert_eq!(run["results"][1]["ruleIndex"], 0);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        let empty: serde_json::Value =
            serde_json::from_str(&render(&[("sast", vec![])], sarif)).unwrap();
        assert_eq!(empty["runs"][0]["results"], serde_json::json!([]));
        assert_eq!(empty["version"], "2.1.0");
    }

    #[test]
    fn html_escapes_and_needs_no_network() {
        let by_type = [(
            "sast",
            vec![finding("<img src=x onerror=alert(1)>", "high")],
        )];
        let page = render(&by_type, |r, o| html(r, "now", o));
        assert!(!page.contains("<img src=x"));
        assert!(!page.contains("<script"));
        assert!(page.contains("<strong>Bad</strong>"));
        assert!(!page.contains("src=\"http"), "no external resources");
    }

    #[test]
    fn json_streams_the_official_shape() {
        let by_type = [("sast", vec![finding("XSS", "high")])];
        let v: serde_json::Value = serde_json::from_str(&render(&by_type, json)).unwrap();
        assert_eq!(v["vulnerabilities"][0]["vulnerability"]["severity"], "HIGH");
        assert_eq!(v["severity"], serde_json::Value::Null);
    }
}
