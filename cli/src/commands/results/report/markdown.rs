//! Markdown that fits a pull-request comment: a summary table (type × severity), then the
//! critical and high findings grouped by rule (how to fix shown once a rule), then a line with
//! how many more there are and the command for the full report. Never over
//! [`COMMENT_LIMIT`] characters; `--max-findings` sets how many occurrences are listed.

use std::fmt::Write as _;
use std::io::{self, Write};

use cybedefend_core::platform::results::{Finding, SEVERITIES};

use super::{Report, place, strip_bold};

/// What a GitHub pull-request comment holds, in characters.
pub(crate) const COMMENT_LIMIT: usize = 65_536;

/// Occurrences listed when `--max-findings` is not given.
pub(crate) const DEFAULT_MAX_FINDINGS: usize = 50;

/// Room kept for the closing line.
const TAIL: usize = 1_000;

/// How much of a rule's "how to fix" is shown.
const FIX_CHARS: usize = 1_500;

fn md_escape(s: &str) -> String {
    cybedefend_core::text::one_line(s, 300)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

/// Text with a running character count (what the comment limit counts).
struct Budgeted {
    text: String,
    chars: usize,
}

impl Budgeted {
    fn push(&mut self, piece: &str) {
        self.chars += piece.chars().count();
        self.text.push_str(piece);
    }

    fn fits(&self, piece: &str, limit: usize) -> bool {
        self.chars + piece.chars().count() <= limit
    }
}

/// Text for a code span: one line, no backtick (which would end the span), and when long the
/// end kept (a path's file name and line matter most). Code spans show `<` and `&` as they are.
fn md_code(s: &str) -> String {
    let one = cybedefend_core::text::one_line(s, 4_096).replace('`', "'");
    let n = one.chars().count();
    if n <= 200 {
        one
    } else {
        format!("…{}", one.chars().skip(n - 199).collect::<String>())
    }
}

/// Markdown from the platform (how to fix) made safe for a comment: outside code fences, `<`
/// is escaped, so that no tag (`<!--`, `</details>`) can hide or break the rest.
fn md_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push_str(line);
        } else if fenced {
            out.push_str(line);
        } else {
            out.push_str(&line.replace('<', "&lt;"));
        }
        out.push('\n');
    }
    out
}

/// One occurrence's line.
fn row(r: &Report<'_>, f: &Finding) -> String {
    let new = if r.state_against_baseline(f) == Some("new") {
        "🆕 "
    } else {
        ""
    };
    format!(
        "- {new}`{}` ({})\n",
        md_code(&place(f)),
        md_escape(&f.state)
    )
}

/// Markdown report.
pub(crate) fn markdown(r: &Report<'_>, generated: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut s = Budgeted {
        text: String::new(),
        chars: 0,
    };
    s.push("# CybeDefend scan results\n\n| | |\n|---|---|\n");
    s.push(&format!("| Project | {} |\n", md_escape(r.project_name)));
    s.push(&format!("| Project ID | `{}` |\n", md_code(r.project_id)));
    s.push(&format!("| Type | {} |\n", r.kind));
    if let Some(b) = r.branch.filter(|b| !b.is_empty()) {
        s.push(&format!("| Branch | `{}` |\n", md_code(b)));
    }
    s.push(&format!("| Findings | {} |\n", r.count()));
    s.push(&format!("| Generated | {generated} |\n"));
    let no_fixed = Vec::new();
    let fixed = r.against.map_or(&no_fixed, |a| &a.fixed);
    if let Some(a) = r.against {
        s.push(&format!(
            "| Against {} | {} new, {} fixed |\n",
            md_escape(&a.baseline.shown),
            a.new.len(),
            fixed.len()
        ));
    }
    s.push("\n");
    if r.count() == 0 && fixed.is_empty() {
        s.push("No vulnerabilities found.\n");
        return out.write_all(s.text.as_bytes());
    }
    s.push(&summary_table(r));

    let c = r.store.counts();
    let limit = COMMENT_LIMIT - TAIL;
    let max = r.max_findings.unwrap_or(DEFAULT_MAX_FINDINGS);
    let mut listed = 0usize;
    // against a baseline, what changed comes first: the new findings, then the fixed ones
    if let Some(a) = r.against {
        let new = &a.new;
        if !new.is_empty() {
            s.push(&format!("\n## New since the baseline ({})\n\n", new.len()));
            for (_, at) in new {
                let f = r.store.get(*at);
                let line = format!(
                    "- 🆕 **{}** {} — `{}`\n",
                    md_escape(&f.severity),
                    md_escape(if f.name.is_empty() { &f.id } else { &f.name }),
                    md_code(&place(&f))
                );
                if listed >= max || !s.fits(&line, limit) {
                    break;
                }
                s.push(&line);
                listed += 1;
            }
        }
        if !fixed.is_empty() {
            s.push(&format!(
                "\n## Fixed since the baseline ({})\n\n",
                fixed.len()
            ));
            for e in fixed.iter().take(20) {
                let line = format!(
                    "- ✅ {} {} — `{}`\n",
                    md_escape(&e.vulnerability.severity.to_ascii_lowercase()),
                    md_escape(&e.vulnerability.name),
                    md_code(&e.path)
                );
                if !s.fits(&line, limit) {
                    break;
                }
                s.push(&line);
            }
            if fixed.len() > 20 {
                s.push(&format!("- … and {} more\n", fixed.len() - 20));
            }
        }
        // the rest of the list counts the new ones again only once
        listed = 0;
    }
    if c[0] + c[1] == 0 {
        s.push("\nNo critical or high finding.\n");
    } else {
        s.push("\n## Critical and high\n");
    }
    'groups: for g in groups(r, 1).iter() {
        let first = &r.store.get(g[0].at);
        let sev = first.severity.as_str();
        let mut block = format!(
            "\n### {} {} — {}, {} occurrence{}\n\n",
            ["🔴", "🟠", "🟡", "🔵"][super::rank(sev).min(3)],
            md_escape(if first.name.is_empty() {
                &first.id
            } else {
                &first.name
            }),
            first.kind,
            g.len(),
            if g.len() == 1 { "" } else { "s" }
        );
        let mut about = String::new();
        if let Some(a) = &first.advisory {
            let _ = write!(about, "Advisory {}. ", md_escape(a));
        }
        if let Some(v) = &first.fixed_version {
            let _ = write!(about, "Fixed in {}. ", md_escape(v));
        }
        if !first.cwe.is_empty() {
            let _ = write!(about, "{}. ", md_escape(&first.cwe.join(", ")));
        }
        if !about.is_empty() {
            let _ = write!(block, "{}\n\n", about.trim_end());
        }
        if !first.how_to_prevent.is_empty() {
            let fix = cut(&md_block(&strip_bold(&first.how_to_prevent)), FIX_CHARS);
            let _ = write!(
                block,
                "<details><summary>How to fix</summary>\n\n{fix}\n\n</details>\n\n"
            );
        }
        // a group goes in with at least its first row, or not at all
        let first_row = row(r, first);
        if listed >= max || !s.fits(&format!("{block}{first_row}"), limit) {
            break;
        }
        s.push(&block);
        for o in g {
            let line = row(r, &r.store.get(o.at));
            if listed >= max || !s.fits(&line, limit) {
                break 'groups;
            }
            s.push(&line);
            listed += 1;
        }
    }
    let rest = r.count() - listed.min(c[0] + c[1]);
    if rest > 0 {
        let others: Vec<String> = SEVERITIES
            .iter()
            .enumerate()
            .filter(|(i, _)| c[*i] > 0)
            .map(|(i, sev)| format!("{} {sev}", c[i]))
            .collect();
        s.push(&format!(
            "\n_{rest} more finding{} not listed here ({} in all: {}). The full report: `{}`._\n",
            if rest == 1 { " is" } else { "s are" },
            r.count(),
            others.join(", "),
            r.full_report_command().replace('`', "'")
        ));
    }
    out.write_all(s.text.as_bytes())
}

/// The summary table: a row per result type, a column per severity.
fn summary_table(r: &Report<'_>) -> String {
    let mut t = String::from(
        "| Type | 🔴 Critical | 🟠 High | 🟡 Medium | 🔵 Low | Total |\n|---|---|---|---|---|---|\n",
    );
    let all = r.store.counts();
    for segment in r.store.segments() {
        let c = segment.counts;
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} |",
            segment.kind, c[0], c[1], c[2], c[3], segment.len
        );
    }
    if r.store.segments().len() > 1 {
        let _ = writeln!(
            t,
            "| **All** | {} | {} | {} | {} | {} |",
            all[0],
            all[1],
            all[2],
            all[3],
            r.count()
        );
    }
    t
}

/// The findings of severity rank `..=up_to` (0 critical, 1 high), grouped by type and rule:
/// most severe groups first, then the largest.
fn groups(r: &Report<'_>, up_to: usize) -> super::Groups {
    super::grouped(r.store.findings(), |f| {
        (super::rank(&f.severity) <= up_to).then(|| super::hashed(&(&f.kind, &f.name)))
    })
}

/// `text` cut to `max` characters at a line end when it can be, with `…`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    let at = head.rfind('\n').unwrap_or(head.len());
    let mut out = head[..at].to_owned();
    // an open code fence would swallow the rest of the comment
    if out.matches("```").count() % 2 == 1 {
        out.push_str("\n```");
    }
    out.push_str("\n…");
    out
}
