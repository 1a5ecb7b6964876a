//! A self-contained HTML page a security engineer can triage: inline style, no scripts,
//! nothing fetched from anywhere. A summary by type × severity (each cell a link to its type),
//! severity and type filters made of radio inputs and `:checked` selectors, and the findings
//! grouped by rule (code findings) or package (dependencies, images): each group a `<details>`
//! with the explanation and the fix once and a row per occurrence (where, state, type, a link to
//! the web app). Critical and high groups are open. Light and dark follow the system; printed, the
//! summary comes first and each group is its title and rows.

use std::fmt::Write as _;
use std::io::{self, Write};

use cybedefend_core::platform::results::SEVERITIES;

use super::{Report, place, rank};

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

const STYLE: &str = ":root{color-scheme:light dark;--bg:#fff;--fg:#0f172a;--card:#f8fafc;--muted:#475569;--line:#cbd5e1;--code:#eef2f7}\
@media (prefers-color-scheme:dark){:root{--bg:#0f172a;--fg:#e2e8f0;--card:#1e293b;--muted:#94a3b8;--line:#334155;--code:#0b1220}}\
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg);margin:0;padding:2rem}\
main{max-width:64rem;margin:auto}h1{margin:0 0 1rem}table{border-collapse:collapse;margin:.6rem 0}td,th{padding:.3rem .7rem;border:1px solid var(--line);text-align:left}\
.sum td{text-align:right}.sum a{text-decoration:none}\
.filters{margin:1rem 0;display:flex;flex-wrap:wrap;gap:.3rem;align-items:center}.wrap>input{position:absolute;opacity:0;pointer-events:none}\
.filters label{border:1px solid var(--line);border-radius:1rem;padding:.15rem .7rem;cursor:pointer;font-size:.85rem}\
.group{background:var(--card);border-radius:.5rem;margin:.6rem 0;border-left:.4rem solid #64748b}\
.group>summary{padding:.6rem 1rem;cursor:pointer}.group>div{padding:0 1rem 1rem}\
.s-critical{border-color:#dc2626}.s-high{border-color:#ea580c}.s-medium{border-color:#ca8a04}.s-low{border-color:#2563eb}\
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-size:.75rem;font-weight:700;color:#fff;background:#64748b;margin-right:.4rem}\
.s-critical .badge{background:#dc2626}.s-high .badge{background:#ea580c}.s-medium .badge{background:#a16207}.s-low .badge{background:#2563eb}\
.muted{color:var(--muted)}.occ{width:100%;font-size:.9rem}.occ td:first-child{font-family:ui-monospace,monospace;word-break:break-all}\
pre{background:var(--code);padding:.8rem;overflow:auto;border-radius:.3rem}code{font-family:ui-monospace,monospace}\
.chip{display:inline-block;border:1px solid var(--line);border-radius:1rem;padding:.05rem .6rem;margin:.2rem .2rem 0 0;font-size:.8rem}a{color:#2563eb}\
@media (prefers-color-scheme:dark){a{color:#93c5fd}}\
#f-sev-critical:checked~.groups .group:not(.has-critical),#f-sev-high:checked~.groups .group:not(.has-high),\
#f-sev-medium:checked~.groups .group:not(.has-medium),#f-sev-low:checked~.groups .group:not(.has-low),\
#f-sev-critical:checked~.groups tr.o:not(.s-critical),#f-sev-high:checked~.groups tr.o:not(.s-high),\
#f-sev-medium:checked~.groups tr.o:not(.s-medium),#f-sev-low:checked~.groups tr.o:not(.s-low){display:none}\
.new{font-size:.7rem;font-weight:700;color:#fff;background:#7c3aed;border-radius:.3rem;padding:0 .3rem;margin-right:.3rem}\
TYPE_RULES\
@media print{body{background:#fff;color:#000;padding:0}.filters{display:none}.group{break-inside:avoid-page;border-left-width:.2rem;background:none}\
.group>summary{list-style:none;padding:.3rem 0}.explain{display:none}.group::details-content{content-visibility:visible;display:block}\
.group>div{padding:0}.occ{font-size:.75rem}a{color:#000;text-decoration:none}}";

/// The result types a report can hold, in report order.
const TYPES: &[&str] = &["sast", "sca", "iac", "secret", "cicd", "container"];

fn style() -> String {
    let hide: Vec<String> = TYPES
        .iter()
        .map(|t| {
            format!("#f-type-{t}:checked~.groups .group:not(.t-{t}),#f-type-{t}:checked~.groups h2:not(.t-{t})")
        })
        .collect();
    let ids: Vec<String> = ["all", "critical", "high", "medium", "low"]
        .iter()
        .map(|s| format!("sev-{s}"))
        .chain(std::iter::once("type-all".to_owned()))
        .chain(TYPES.iter().map(|t| format!("type-{t}")))
        .collect();
    let chosen: Vec<String> = ids
        .iter()
        .map(|id| format!("#f-{id}:checked~.filters label[for=f-{id}]"))
        .collect();
    STYLE.replace(
        "TYPE_RULES",
        &format!(
            "{}{{display:none}}{}{{background:var(--fg);color:var(--bg)}}",
            hide.join(","),
            chosen.join(",")
        ),
    )
}

/// Whether a type's findings are grouped by package (dependencies, images) or by rule.
fn by_package(kind: &str) -> bool {
    matches!(kind, "sca" | "container")
}

/// One type's findings grouped by rule (or package): most severe groups first, then the
/// largest; each group's occurrences most severe first.
fn groups(r: &Report<'_>, segment: usize) -> super::Groups {
    super::grouped(r.store.segment(segment), |f| {
        Some(super::hashed(if by_package(&f.kind) {
            &f.path
        } else if f.name.is_empty() {
            &f.id
        } else {
            &f.name
        }))
    })
}

/// A self-contained HTML page: inline style, no scripts, no external resources.
pub(crate) fn html(r: &Report<'_>, generated: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Scan results: {}</title><style>{}</style></head><body><main>",
        html_escape(r.project_name),
        style()
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
    // the summary: a row per type, a column per severity, each count a link to its type
    s.push_str("<h2>Summary</h2><table class=\"sum\"><tr><th>Type</th>");
    for sev in SEVERITIES {
        let _ = write!(s, "<th>{}</th>", capital(sev));
    }
    s.push_str("<th>Total</th></tr>");
    for segment in r.store.segments().iter().filter(|s| s.len > 0) {
        let kind = segment.kind;
        let _ = write!(
            s,
            "<tr><th><a href=\"#t-{0}\">{0}</a></th>",
            html_escape(kind)
        );
        for n in segment.counts {
            let _ = write!(s, "<td><a href=\"#t-{}\">{n}</a></td>", html_escape(kind));
        }
        let _ = write!(s, "<td>{}</td></tr>", segment.len);
    }
    let c = r.store.counts();
    let _ = write!(
        s,
        "<tr><th>All</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        c[0],
        c[1],
        c[2],
        c[3],
        r.count()
    );
    if let Some(a) = r.against {
        let fixed = &a.fixed;
        let _ = write!(
            s,
            "<p>Against {}: <strong>{} new</strong>, {} fixed.</p>",
            html_escape(&a.baseline.shown),
            a.new.len(),
            fixed.len()
        );
        if !fixed.is_empty() {
            let _ = write!(
                s,
                "<details><summary>Fixed since the baseline ({})</summary><table class=\"occ\"><tr><th>Where</th><th>Severity</th><th>Finding</th><th>Type</th></tr>",
                fixed.len()
            );
            for e in fixed {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html_escape(&e.path),
                    html_escape(&e.vulnerability.severity.to_ascii_lowercase()),
                    html_escape(&e.vulnerability.name),
                    html_escape(&e.vulnerability.kind)
                );
            }
            s.push_str("</table></details>");
        }
    }
    if r.count() == 0 {
        s.push_str("<p>No vulnerabilities found.</p></main></body></html>\n");
        return out.write_all(s.as_bytes());
    }
    // the filters: radio inputs that come before the labels and the groups, their siblings,
    // which `:checked ~ .groups` and `:checked ~ .filters` selectors read
    let kinds: Vec<&str> = r
        .store
        .segments()
        .iter()
        .filter(|s| s.len > 0 && TYPES.contains(&s.kind))
        .map(|s| s.kind)
        .collect();
    s.push_str("<div class=\"wrap\">");
    s.push_str("<input type=\"radio\" name=\"sev\" id=\"f-sev-all\" checked>");
    for sev in SEVERITIES {
        let _ = write!(s, "<input type=\"radio\" name=\"sev\" id=\"f-sev-{sev}\">");
    }
    s.push_str("<input type=\"radio\" name=\"type\" id=\"f-type-all\" checked>");
    for kind in &kinds {
        let _ = write!(
            s,
            "<input type=\"radio\" name=\"type\" id=\"f-type-{kind}\">"
        );
    }
    s.push_str("<div class=\"filters\"><span class=\"muted\">Severity</span><label for=\"f-sev-all\">All</label>");
    for sev in SEVERITIES {
        let _ = write!(s, "<label for=\"f-sev-{sev}\">{}</label>", capital(sev));
    }
    s.push_str("<span class=\"muted\">Type</span><label for=\"f-type-all\">All</label>");
    for kind in &kinds {
        let _ = write!(s, "<label for=\"f-type-{kind}\">{kind}</label>");
    }
    s.push_str("</div><div class=\"groups\">");
    out.write_all(s.as_bytes())?;
    for (i, segment) in r.store.segments().iter().enumerate() {
        if segment.len == 0 {
            continue;
        }
        write!(
            out,
            "<h2 id=\"t-{0}\" class=\"t-{0}\">{0}</h2>",
            html_escape(segment.kind)
        )?;
        for g in groups(r, i).iter() {
            group(r, g, out)?;
        }
    }
    out.write_all(b"</div></div></main></body></html>\n")
}

fn capital(sev: &str) -> String {
    let mut c = sev.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// One group: its title (severity, rule or package, type, count), the explanation and the fix
/// once, and a row per occurrence (written as read: a group may hold every finding).
fn group(r: &Report<'_>, g: &[super::Row], out: &mut dyn Write) -> io::Result<()> {
    let f = &r.store.get(g[0].at);
    let sev = if f.severity.is_empty() {
        "unknown"
    } else {
        f.severity.as_str()
    };
    let title = if by_package(&f.kind) {
        if f.name.is_empty() {
            f.path.clone()
        } else {
            format!("{} — {}", f.path, f.name)
        }
    } else if f.name.is_empty() {
        f.id.clone()
    } else {
        f.name.clone()
    };
    // the severities its occurrences have, for the severity filter (which also hides the rows
    // of other severities inside a group)
    let has: String = SEVERITIES
        .iter()
        .enumerate()
        .filter(|(i, _)| g.iter().any(|row| usize::from(row.rank) == *i))
        .map(|(_, sev)| sev)
        .map(|sev| format!(" has-{sev}"))
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        "<details class=\"group s-{} t-{}{has}\"{}><summary><span class=\"badge\">{}</span><strong>{}</strong> <span class=\"muted\">{} · {} occurrence{}</span></summary><div>",
        html_escape(sev),
        html_escape(&f.kind),
        if rank(sev) <= 1 { " open" } else { "" },
        html_escape(&sev.to_ascii_uppercase()),
        html_escape(&title),
        html_escape(&f.kind),
        g.len(),
        if g.len() == 1 { "" } else { "s" }
    );
    s.push_str("<div class=\"explain\">");
    let mut facts = Vec::new();
    if let Some(a) = &f.advisory {
        facts.push(format!(
            "Advisory <a href=\"https://github.com/advisories/{}\">{}</a>",
            html_escape(&cybedefend_core::platform::seg(a)),
            html_escape(a)
        ));
    }
    if let Some(v) = &f.fixed_version {
        facts.push(format!("fixed in <strong>{}</strong>", html_escape(v)));
    }
    if let Some(m) = &f.manifest {
        facts.push(format!("manifest <code>{}</code>", html_escape(m)));
    }
    if !facts.is_empty() {
        let _ = write!(s, "<p>{}</p>", facts.join(" · "));
    }
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
    s.push_str("</div><table class=\"occ\"><tr><th>Where</th><th>Severity</th><th>State</th><th>Type</th><th>First seen</th><th></th></tr>");
    out.write_all(s.as_bytes())?;
    for row in g {
        let o = &r.store.get(row.at);
        let link = match (r.app_url, o.id.is_empty()) {
            (Some(app), false) => format!(
                "<a href=\"{}/project/{}/{}/issue/{}\">open</a>",
                html_escape(app.trim_end_matches('/')),
                html_escape(&cybedefend_core::platform::seg(r.project_id)),
                html_escape(&cybedefend_core::platform::seg(&o.kind)),
                html_escape(&cybedefend_core::platform::seg(&o.id))
            ),
            _ => String::new(),
        };
        let new = if r.state_against_baseline(o) == Some("new") {
            "<span class=\"new\">NEW</span>"
        } else {
            ""
        };
        write!(
            out,
            "<tr class=\"o s-{}\"><td>{new}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{link}</td></tr>",
            html_escape(&o.severity),
            html_escape(&place(o)),
            html_escape(&o.severity),
            html_escape(&o.state),
            html_escape(&o.kind),
            html_escape(&crate::commands::data::when(o.first_seen.as_deref()))
        )?;
    }
    out.write_all(b"</table></div></details>")
}
