//! A self-contained HTML page: inline style, no scripts, nothing fetched from anywhere.

use std::fmt::Write as _;
use std::io::{self, Write};

use cybedefend_core::platform::results::{Finding, SEVERITIES};

use super::{Report, counts, location};

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
