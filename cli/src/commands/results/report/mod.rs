//! Report formats for `results`, written as a stream into a file or stdout: JSON in the
//! official CLI's record shape ([`json`]), SARIF 2.1.0 ([`sarif`]), Markdown ([`markdown`]) and
//! a self-contained HTML page ([`html`]). The findings are read from the [`Store`] (a temporary
//! file) as often as a format needs; what a format holds is a few bytes per finding (where it
//! is, for grouping and sorting), never the findings, so memory stays flat however many there
//! are. This module holds what they share: the [`Report`] and the small facts every format shows
//! the same way.

mod html;
mod json;
mod markdown;
mod sarif;

use cybedefend_core::platform::results::{Finding, SEVERITIES};

pub(super) use super::baseline::hashed;
use super::baseline::{Baseline, Entry, Seen};
use super::store::{At, Store};

pub(crate) use html::html;
pub(crate) use json::json;
pub(crate) use markdown::markdown;
pub(crate) use sarif::sarif;

/// Everything a report shows.
pub(crate) struct Report<'a> {
    pub(crate) project_id: &'a str,
    pub(crate) project_name: &'a str,
    /// The `--type` asked for.
    pub(crate) kind: &'a str,
    /// Findings by type, in report order (one type for a single type).
    pub(crate) store: &'a Store,
    /// Page, pages and total for a single type (`--all=false`).
    pub(crate) page: (u64, u64, u64),
    /// `--path-prefix`: the folder of the repository the scanned folder is (SARIF paths).
    pub(crate) path_prefix: Option<&'a str>,
    /// `--max-findings`: occurrences the Markdown report lists.
    pub(crate) max_findings: Option<usize>,
    /// `--baseline`: what the findings are against an earlier report.
    pub(crate) against: Option<&'a Against<'a>>,
    /// The web app's base URL, for links to each finding (HTML).
    pub(crate) app_url: Option<&'a str>,
    /// `--branch`, when given (the full-report command repeats it).
    pub(crate) branch: Option<&'a str>,
}

impl Report<'_> {
    /// The command that writes this report in full, as HTML: its type and branch kept.
    pub(crate) fn full_report_command(&self) -> String {
        let word = cybedefend_core::text::shell_word;
        let mut c = format!("cybedefend results --project-id {}", word(self.project_id));
        if self.kind != "all" {
            c.push_str(&format!(" -t {}", word(self.kind)));
        }
        if let Some(b) = self.branch.filter(|b| !b.is_empty()) {
            c.push_str(&format!(" --branch {}", word(b)));
        }
        c.push_str(" -o html");
        c
    }
}

impl Report<'_> {
    /// `Some("new")` or `Some("existing")` against the baseline, if one was given.
    pub(super) fn state_against_baseline(&self, f: &Finding) -> Option<&'static str> {
        self.against.map(|a| {
            if a.baseline.is_new(f) {
                "new"
            } else {
                "existing"
            }
        })
    }

    pub(crate) fn count(&self) -> usize {
        self.store.len()
    }
}

/// The report against `--baseline`, worked out in one pass over the findings.
pub(crate) struct Against<'a> {
    pub(crate) baseline: &'a Baseline,
    /// The new findings, most severe first: their severity's [`rank`] and where they are.
    pub(crate) new: Vec<(usize, At)>,
    /// Findings in the baseline too.
    pub(crate) existing: usize,
    /// The baseline's findings that are not in this report.
    pub(crate) fixed: Vec<&'a Entry>,
}

impl<'a> Against<'a> {
    pub(crate) fn of(baseline: &'a Baseline, store: &Store) -> Self {
        let mut seen = Seen::default();
        let mut new: Vec<(usize, At)> = Vec::new();
        let mut existing = 0;
        for (at, f) in store.findings() {
            if baseline.is_new(&f) {
                new.push((rank(&f.severity), at));
            } else {
                existing += 1;
            }
            seen.add(&f);
        }
        // stable: the report's order within a severity
        new.sort_by_key(|(rank, _)| *rank);
        Self {
            baseline,
            new,
            existing,
            fixed: baseline.fixed_given(&seen),
        }
    }
}

/// One occurrence in [`Groups`]: its severity's [`rank`] and where it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) rank: u8,
    pub(super) at: At,
}

/// Findings grouped, as [`grouped`] orders them: 16 bytes a finding and about as much a group,
/// never the findings themselves.
pub(super) struct Groups {
    rows: Vec<Row>,
    ends: Vec<usize>,
}

impl Groups {
    /// Each group's occurrences, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[Row]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.rows[a..b])
    }
}

/// Findings grouped by a key (`None`: left out): each group's occurrences most severe first
/// (report order within a severity); the groups most severe first, then the largest, then in
/// the order they first appear.
pub(super) fn grouped(
    findings: impl Iterator<Item = (At, Finding)>,
    key: impl Fn(&Finding) -> Option<u64>,
) -> Groups {
    let mut index: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    // per group: its most severe rank and its size
    let mut info: Vec<(u8, u32)> = Vec::new();
    let mut rows: Vec<(u32, Row)> = Vec::new();
    for (at, f) in findings {
        let Some(k) = key(&f) else { continue };
        let rank = rank(&f.severity) as u8;
        let next = info.len() as u32;
        let g = *index.entry(k).or_insert(next);
        if g == next {
            info.push((rank, 0));
        }
        let i = &mut info[g as usize];
        i.0 = i.0.min(rank);
        i.1 += 1;
        rows.push((g, Row { rank, at }));
    }
    drop(index);
    let mut order: Vec<u32> = (0..info.len() as u32).collect();
    order.sort_by_key(|g| {
        let (rank, len) = info[*g as usize];
        (rank, std::cmp::Reverse(len), *g)
    });
    let mut place = vec![0u32; info.len()];
    for (p, g) in order.iter().enumerate() {
        place[*g as usize] = p as u32;
    }
    // stable: report order within a group and a severity
    rows.sort_by_key(|(g, row)| (place[*g as usize], row.rank));
    let mut ends = Vec::with_capacity(info.len());
    for (i, (g, _)) in rows.iter().enumerate() {
        if rows.get(i + 1).is_none_or(|(next, _)| next != g) {
            ends.push(i + 1);
        }
    }
    Groups {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        ends,
    }
}

/// `src/db.js:42`, or for a dependency `lodash@4.17.20 in package.json`.
pub(crate) fn place(f: &Finding) -> String {
    let at = location(f);
    match &f.manifest {
        Some(m) => format!("{at} in {m}"),
        None => at,
    }
}

pub(super) fn location(f: &Finding) -> String {
    match (f.start_line, f.end_line) {
        (Some(s), Some(e)) if e > s => format!("{}:{s}-{e}", f.path),
        (Some(s), _) => format!("{}:{s}", f.path),
        _ => f.path.clone(),
    }
}

/// 0 for critical ... 3 for low, 4 for anything else: lower is more severe.
pub(crate) fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(4)
}

/// A description without markdown's bold marks (plain-text formats).
pub(super) fn strip_bold(s: &str) -> String {
    s.replace("**", "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Write};

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
            manifest: None,
            advisory: None,
            fixed_version: None,
            first_seen: None,
        }
    }

    fn render(
        by_type: &[(&'static str, Vec<Finding>)],
        f: fn(&Report<'_>, &mut dyn Write) -> io::Result<()>,
    ) -> String {
        let store = Store::of(by_type);
        let r = Report {
            project_id: "p",
            project_name: "n",
            kind: "sast",
            store: &store,
            page: (1, 1, 0),
            path_prefix: None,
            max_findings: None,
            against: None,
            app_url: None,
            branch: None,
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
        // one rule per severity of a name: GitHub shows a rule's severity on all its alerts
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        assert_eq!(run["results"][1]["ruleIndex"], 1);
        assert_eq!(run["results"][1]["ruleId"], "XSS (high)");
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

    /// GitHub reads `security-severity` (the rule's highest) and `problem.severity` (error,
    /// warning or recommendation only); a dependency points at its manifest, or at the root
    /// with the package in the message, never at `pkg@version`; `--path-prefix` leads every
    /// path.
    #[test]
    fn sarif_speaks_github_code_scanning() {
        let mut dep = finding("Prototype pollution", "medium");
        dep.kind = "sca".into();
        dep.path = "lodash@4.17.20".into();
        dep.advisory = Some("GHSA-35jh-r3h4-6jhm".into());
        dep.fixed_version = Some("4.17.21".into());
        let mut in_manifest = dep.clone();
        in_manifest.manifest = Some("package.json".into());
        let by_type = [
            (
                "sast",
                vec![
                    finding("XSS", "high"),
                    finding("XSS", "critical"),
                    finding("Weak hash", "low"),
                ],
            ),
            ("sca", vec![in_manifest, dep]),
        ];
        let store = Store::of(&by_type);
        let render_with = |prefix: Option<&str>| {
            let r = Report {
                project_id: "p",
                project_name: "n",
                kind: "all",
                store: &store,
                page: (1, 1, 0),
                path_prefix: prefix,
                max_findings: None,
                against: None,
                app_url: None,
                branch: None,
            };
            let mut out = Vec::new();
            sarif(&r, &mut out).unwrap();
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        };
        let v = render_with(None);
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let props = |i: usize| &rules[i]["properties"];
        assert_eq!(rules[0]["id"], "XSS (high)");
        assert_eq!(props(0)["security-severity"], "8.0");
        assert_eq!(rules[1]["id"], "XSS (critical)");
        assert_eq!(props(1)["security-severity"], "9.5");
        assert_eq!(props(1)["problem.severity"], "error");
        assert_eq!(props(2)["security-severity"], "2.0");
        assert_eq!(props(2)["problem.severity"], "recommendation");
        assert_eq!(props(3)["problem.severity"], "warning");
        assert!(
            rules
                .iter()
                .all(|r| r["properties"]["security-severity"].is_string())
        );
        let results = v["runs"][0]["results"].as_array().unwrap();
        let uri = |i: usize| {
            results[i]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].clone()
        };
        assert_eq!(uri(3), "package.json");
        assert_eq!(uri(4), ".");
        let text = results[4]["message"]["text"].as_str().unwrap();
        assert!(
            text.contains("lodash@4.17.20")
                && text.contains("GHSA-35jh-r3h4-6jhm")
                && text.contains("fixed in 4.17.21"),
            "{text}"
        );
        assert!(
            results
                .iter()
                .all(|r| !r.to_string().contains("\"uri\":\"lodash@"))
        );
        let v = render_with(Some("services/api"));
        let results = v["runs"][0]["results"].as_array().unwrap();
        let uri = |i: usize| {
            results[i]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].clone()
        };
        assert_eq!(uri(0), "services/api/a.js");
        assert_eq!(uri(3), "services/api/package.json");
        assert_eq!(uri(4), "services/api");
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

    /// Groups: most severe first, then the largest, then the first seen; inside a group most
    /// severe first and the report's order within a severity.
    #[test]
    fn groups_are_ordered_by_severity_size_and_first_appearance() {
        let mut list = Vec::new();
        for (i, (name, sev)) in [
            ("A", "low"),
            ("B", "high"),
            ("A", "critical"),
            ("C", "high"),
            ("B", "medium"),
            ("C", "high"),
            ("D", "high"),
            ("A", "low"),
        ]
        .iter()
        .enumerate()
        {
            let mut f = finding(name, sev);
            f.id = i.to_string();
            list.push(f);
        }
        let store = Store::of(&[("sast", list)]);
        let groups = grouped(store.findings(), |f| Some(hashed(&f.name)));
        let shown: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.iter().map(|row| store.get(row.at).id).collect())
            .collect();
        assert_eq!(
            shown,
            vec![
                vec!["2", "0", "7"], // A: critical
                vec!["1", "4"],      // B: high, two, seen before C
                vec!["3", "5"],      // C: high, two
                vec!["6"],           // D: high, one
            ]
            .into_iter()
            .map(|g| g.into_iter().map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn json_streams_the_official_shape() {
        let by_type = [("sast", vec![finding("XSS", "high")])];
        let v: serde_json::Value = serde_json::from_str(&render(&by_type, json)).unwrap();
        assert_eq!(v["vulnerabilities"][0]["vulnerability"]["severity"], "HIGH");
        assert_eq!(v["severity"], serde_json::Value::Null);
    }
}
