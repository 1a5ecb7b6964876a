//! Report formats for `results`: JSON (the official CLI's record shape), SARIF 2.1.0,
//! Markdown and a self-contained HTML page.

use std::fmt::Write as _;

use cybedefend_core::platform::{Finding, SEVERITIES};
use serde_json::{Value, json};

/// Everything a report shows.
pub(crate) struct Report<'a> {
    pub(crate) project_id: &'a str,
    pub(crate) project_name: &'a str,
    /// The `--type` asked for.
    pub(crate) kind: &'a str,
    pub(crate) findings: &'a [Finding],
}

/// The official CLI's record for one finding.
pub(crate) fn record(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "language": f.language,
        "path": f.path,
        "vulnerableStartLine": f.start_line,
        "vulnerableEndLine": f.end_line,
        "vulnerability": {
            "name": f.name,
            "description": f.description,
            "severity": f.severity.to_ascii_uppercase(),
            "howToPrevent": f.how_to_prevent,
            "cwe": f.cwe,
            "owaspTop10": f.owasp_top10,
            "vulnerabilityType": f.kind,
        },
        "branch": f.branch,
    })
}

fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        "low" => "note",
        _ => "none",
    }
}

fn rule_id(f: &Finding) -> String {
    if f.name.is_empty() {
        f.id.clone()
    } else {
        f.name.clone()
    }
}

/// SARIF 2.1.0 with a `rules` array; `results` is `[]` when there is nothing.
pub(crate) fn sarif(r: &Report<'_>) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for f in r
        .findings
        .iter()
        .filter(|f| !(f.id.is_empty() && f.name.is_empty()))
    {
        let id = rule_id(f);
        let idx = match index.iter().position(|x| *x == id) {
            Some(i) => i,
            None => {
                let mut tags: Vec<String> = f.cwe.clone();
                tags.extend(f.owasp_top10.iter().cloned());
                tags.push(f.kind.clone());
                let mut rule = json!({
                    "id": id,
                    "name": id,
                    "shortDescription": {"text": if f.name.is_empty() { id.clone() } else { f.name.clone() }},
                    "defaultConfiguration": {"level": level(&f.severity)},
                    "properties": {"tags": tags, "problem.severity": f.severity},
                });
                if !f.description.is_empty() {
                    rule["fullDescription"] = json!({"text": strip_bold(&f.description)});
                }
                if !f.how_to_prevent.is_empty() {
                    rule["help"] = json!({"text": f.how_to_prevent, "markdown": f.how_to_prevent});
                }
                rules.push(rule);
                index.push(id.clone());
                index.len() - 1
            }
        };
        let text = match (f.name.is_empty(), f.description.is_empty()) {
            (false, false) => format!("{}: {}", f.name, strip_bold(&f.description)),
            (false, true) => f.name.clone(),
            (true, _) => strip_bold(&f.description),
        };
        let start = f.start_line.filter(|l| *l >= 1).unwrap_or(1);
        let end = f.end_line.filter(|e| *e >= start).unwrap_or(start);
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": idx,
            "level": level(&f.severity),
            "message": {"text": if text.is_empty() { id.clone() } else { text }},
            "properties": {"severity": f.severity, "state": f.state, "type": f.kind, "findingId": f.id},
        });
        if !f.path.is_empty() {
            result["locations"] = json!([{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": start, "endLine": end},
                }
            }]);
        }
        results.push(result);
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "CybeDefend CLI",
                "informationUri": "https://www.cybedefend.com",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn strip_bold(s: &str) -> String {
    s.replace("**", "")
}

fn counts(findings: &[Finding]) -> [usize; 4] {
    let mut c = [0; 4];
    for f in findings {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
            c[i] += 1;
        }
    }
    c
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

/// Markdown report.
pub(crate) fn markdown(r: &Report<'_>, generated: &str) -> String {
    let mut s = String::from("# CybeDefend scan results\n\n| | |\n|---|---|\n");
    let _ = writeln!(s, "| Project | {} |", md_escape(r.project_name));
    let _ = writeln!(s, "| Project ID | `{}` |", r.project_id);
    let _ = writeln!(s, "| Type | {} |", r.kind);
    let _ = writeln!(s, "| Findings | {} |", r.findings.len());
    let _ = writeln!(s, "| Generated | {generated} |\n");
    if r.findings.is_empty() {
        s.push_str("No vulnerabilities found.\n");
        return s;
    }
    let c = counts(r.findings);
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
    for sev in SEVERITIES {
        let list: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == *sev).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n### {} ({})\n", sev.to_ascii_uppercase(), list.len());
        for f in list {
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
                        format!("[{c}](https://cwe.mitre.org/data/definitions/{n}.html)")
                    })
                    .collect();
                let _ = writeln!(s, "- CWE: {}", links.join(", "));
            }
            if !f.owasp_top10.is_empty() {
                let _ = writeln!(s, "- OWASP: {}", f.owasp_top10.join(", "));
            }
            if !f.description.is_empty() {
                let _ = writeln!(s, "\n{}\n", strip_bold(&f.description));
            }
            if !f.how_to_prevent.is_empty() {
                let _ = writeln!(s, "**How to fix**\n\n{}\n", f.how_to_prevent);
            }
            s.push_str("</details>\n");
        }
    }
    s
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

/// A self-contained HTML page: inline style, no scripts, no external resources.
pub(crate) fn html(r: &Report<'_>, generated: &str) -> String {
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
        r.findings.len(),
        html_escape(generated)
    );
    let c = counts(r.findings);
    s.push_str("<table><tr>");
    for sev in SEVERITIES {
        let _ = write!(s, "<th>{}</th>", sev.to_ascii_uppercase());
    }
    s.push_str("</tr><tr>");
    for n in c {
        let _ = write!(s, "<td>{n}</td>");
    }
    s.push_str("</tr></table>");
    if r.findings.is_empty() {
        s.push_str("<p>No vulnerabilities found.</p>");
    }
    let mut ordered: Vec<&Finding> = r.findings.iter().collect();
    ordered.sort_by_key(|f| {
        SEVERITIES
            .iter()
            .position(|x| *x == f.severity)
            .unwrap_or(9)
    });
    for f in ordered {
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
    }
    s.push_str("</main></body></html>\n");
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

    #[test]
    fn sarif_has_rules_and_sane_regions_and_empty_results_are_a_list() {
        let f = [finding("XSS", "critical"), finding("XSS", "high")];
        let v = sarif(&Report {
            project_id: "p",
            project_name: "n",
            kind: "sast",
            findings: &f,
        });
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert_eq!(run["results"][1]["ruleIndex"], 0);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        let empty = sarif(&Report {
            project_id: "p",
            project_name: "n",
            kind: "sast",
            findings: &[],
        });
        assert_eq!(empty["runs"][0]["results"], json!([]));
    }

    #[test]
    fn html_escapes_and_needs_no_network() {
        let f = [finding("<img src=x onerror=alert(1)>", "high")];
        let page = html(
            &Report {
                project_id: "p",
                project_name: "n",
                kind: "sast",
                findings: &f,
            },
            "now",
        );
        assert!(!page.contains("<img src=x"));
        assert!(!page.contains("<script"));
        assert!(page.contains("<strong>Bad</strong>"));
        assert!(!page.contains("src=\"http"), "no external resources");
    }
}
