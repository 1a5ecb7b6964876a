//! Report formats for `results`, written as a stream into a file or stdout (no whole report
//! in memory): JSON in the official CLI's record shape ([`json`]), SARIF 2.1.0 ([`sarif`]),
//! Markdown ([`markdown`]) and a self-contained HTML page ([`html`]). This module holds what
//! they share: the [`Report`] and the small facts every format shows the same way.

mod html;
mod json;
mod markdown;
mod sarif;

use cybedefend_core::platform::results::{Finding, SEVERITIES};

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
    /// Findings by type, in report order (one entry for a single type).
    pub(crate) by_type: &'a [(&'a str, Vec<Finding>)],
    /// Page, pages and total for a single type (`--all=false`).
    pub(crate) page: (u64, u64, u64),
    /// `--path-prefix`: the folder of the repository the scanned folder is (SARIF paths).
    pub(crate) path_prefix: Option<&'a str>,
    /// `--max-findings`: occurrences the Markdown report lists.
    pub(crate) max_findings: Option<usize>,
    /// `--baseline`: what a finding is against an earlier report.
    pub(crate) baseline: Option<&'a super::baseline::Baseline>,
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
        self.baseline
            .map(|b| if b.is_new(f) { "new" } else { "existing" })
    }
}

impl Report<'_> {
    pub(super) fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.by_type.iter().flat_map(|(_, f)| f.iter())
    }

    pub(crate) fn count(&self) -> usize {
        self.by_type.iter().map(|(_, f)| f.len()).sum()
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

/// Findings of one list by severity, most severe first (others not counted).
pub(crate) fn severity_counts(findings: &[Finding]) -> [usize; 4] {
    let mut c = [0; 4];
    for f in findings {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
            c[i] += 1;
        }
    }
    c
}

/// Findings by severity, most severe first.
pub(super) fn counts(r: &Report<'_>) -> [usize; 4] {
    let mut c = [0; 4];
    for f in r.findings() {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == f.severity) {
            c[i] += 1;
        }
    }
    c
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
        by_type: &[(&str, Vec<Finding>)],
        f: fn(&Report<'_>, &mut dyn Write) -> io::Result<()>,
    ) -> String {
        let r = Report {
            project_id: "p",
            project_name: "n",
            kind: "sast",
            by_type,
            page: (1, 1, 0),
            path_prefix: None,
            max_findings: None,
            baseline: None,
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
        let render_with = |prefix: Option<&str>| {
            let r = Report {
                project_id: "p",
                project_name: "n",
                kind: "all",
                by_type: &by_type,
                page: (1, 1, 0),
                path_prefix: prefix,
                max_findings: None,
                baseline: None,
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

    #[test]
    fn json_streams_the_official_shape() {
        let by_type = [("sast", vec![finding("XSS", "high")])];
        let v: serde_json::Value = serde_json::from_str(&render(&by_type, json)).unwrap();
        assert_eq!(v["vulnerabilities"][0]["vulnerability"]["severity"], "HIGH");
        assert_eq!(v["severity"], serde_json::Value::Null);
    }
}
