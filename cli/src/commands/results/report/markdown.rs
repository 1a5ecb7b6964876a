//! Markdown: a summary table, then the findings by severity.

use std::fmt::Write as _;
use std::io::{self, Write};

use cybedefend_core::platform::results::SEVERITIES;

use super::{Report, counts, location, strip_bold};

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
