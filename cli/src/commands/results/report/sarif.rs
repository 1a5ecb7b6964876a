//! SARIF 2.1.0, for code-scanning dashboards: one rule per finding name, one result per
//! open finding.

use std::io::{self, Write};

use cybedefend_core::platform::results::{Finding, SEVERITIES};
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::{Report, hashed, rank, strip_bold};
use crate::commands::results::store::{At, Store};

fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        "low" => "note",
        _ => "none",
    }
}

/// What GitHub code scanning reads as a rule's severity: a CVSS-like number it maps to
/// Critical (9.0 and above), High (7.0), Medium (4.0) and Low (0.1).
fn security_severity(severity: &str) -> &'static str {
    match severity {
        "critical" => "9.5",
        "high" => "8.0",
        "medium" => "5.5",
        "low" => "2.0",
        _ => "0.0",
    }
}

/// `problem.severity` takes `error`, `warning` or `recommendation` only.
fn problem_severity(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        _ => "recommendation",
    }
}

/// What is percent-encoded in a path segment of a SARIF URI: controls, space and the
/// characters that would end or change the path.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Where a result points: the file, or for a dependency or an image the manifest when the API
/// names it, else the repository root (the package is in the message), with `--path-prefix`.
fn uri(f: &Finding, prefix: Option<&str>) -> (String, bool) {
    let dependency = matches!(f.kind.as_str(), "sca" | "container");
    let (path, file) = match (&f.manifest, dependency) {
        (Some(m), true) => (m.trim_start_matches("./").to_owned(), false),
        (None, true) => (String::new(), false),
        (_, false) => (f.path.trim_start_matches("./").to_owned(), true),
    };
    let joined = match (prefix.filter(|p| !p.is_empty()), path.is_empty()) {
        (Some(p), true) => p.to_owned(),
        (Some(p), false) => format!("{p}/{path}"),
        (None, true) => ".".to_owned(),
        (None, false) => path,
    };
    // a URI reference: each segment percent-encoded (a space, `%`, `#` or `?` in a name)
    let encoded = joined
        .split('/')
        .map(|seg| percent_encoding::utf8_percent_encode(seg, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/");
    (encoded, file)
}

fn base_id(f: &Finding) -> &str {
    if f.name.is_empty() { &f.id } else { &f.name }
}

/// Rule ids: a finding's name, or `name (severity)` when that name is found at several
/// severities (GitHub shows a rule's one severity on each of its alerts). Names are held as
/// their hashes.
struct RuleIds {
    split: std::collections::HashSet<u64>,
}

impl RuleIds {
    fn of(findings: impl Iterator<Item = Finding>) -> Self {
        let mut seen: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
        let mut split = std::collections::HashSet::new();
        for f in findings {
            let id = hashed(base_id(&f));
            let severity = hashed(&f.severity);
            match seen.get(&id) {
                Some(sev) if *sev != severity => {
                    split.insert(id);
                }
                Some(_) => {}
                None => {
                    seen.insert(id, severity);
                }
            }
        }
        Self { split }
    }

    fn id(&self, f: &Finding) -> String {
        let id = base_id(f);
        if self.split.contains(&hashed(id)) {
            format!("{id} ({})", f.severity)
        } else {
            id.to_owned()
        }
    }
}

fn kept(f: &Finding) -> bool {
    !(f.id.is_empty() && f.name.is_empty())
}

/// One SARIF rule per distinct rule id, described by its first finding (read back from the
/// store), at its highest severity (a [`rank`]).
struct Rules<'a>(&'a Store, &'a RuleIds, Vec<(At, usize)>);

impl Serialize for Rules<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.2.len()))?;
        for (at, rank) in &self.2 {
            let f = &self.0.get(*at);
            let severity = SEVERITIES.get(*rank).copied().unwrap_or("");
            let id = self.1.id(f);
            let id = id.as_str();
            let mut tags: Vec<&str> = f.cwe.iter().map(String::as_str).collect();
            tags.extend(f.owasp_top10.iter().map(String::as_str));
            tags.push(&f.kind);
            tags.push("security");
            let mut rule = serde_json::json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": id},
                "defaultConfiguration": {"level": level(severity)},
                "properties": {
                    "tags": tags,
                    "problem.severity": problem_severity(severity),
                    "security-severity": security_severity(severity),
                },
            });
            if let Some(a) = &f.advisory {
                rule["helpUri"] = serde_json::json!(format!(
                    "https://github.com/advisories/{}",
                    cybedefend_core::platform::seg(a)
                ));
            }
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
    index: &'a std::collections::HashMap<u64, usize>,
    ids: &'a RuleIds,
}

/// A dependency's message: what, which package, which advisory, which version fixes it.
fn dependency_text(f: &Finding) -> String {
    let mut t = if f.name.is_empty() {
        f.path.clone()
    } else {
        format!("{} in {}", f.name, f.path)
    };
    if let Some(a) = &f.advisory {
        t.push_str(&format!(" ({a})"));
    }
    if let Some(v) = &f.fixed_version {
        t.push_str(&format!("; fixed in {v}"));
    }
    t
}

impl Serialize for SarifResults<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for (_, finding) in self.report.store.findings().filter(|(_, f)| kept(f)) {
            let f = &finding;
            let id = self.ids.id(f);
            let id = id.as_str();
            let (uri, file) = uri(f, self.report.path_prefix);
            let text = if !file {
                dependency_text(f)
            } else {
                match (f.name.is_empty(), f.description.is_empty()) {
                    (false, false) => format!("{}: {}", f.name, strip_bold(&f.description)),
                    (false, true) => f.name.clone(),
                    (true, _) => strip_bold(&f.description),
                }
            };
            let start = f.start_line.filter(|l| *l >= 1).unwrap_or(1);
            let end = f.end_line.filter(|e| *e >= start).unwrap_or(start);
            let mut result = serde_json::json!({
                "ruleId": id,
                "ruleIndex": self.index.get(&hashed(id)).copied().unwrap_or(0),
                "level": level(&f.severity),
                "message": {"text": if text.is_empty() { id.to_owned() } else { text }},
                "properties": {"severity": f.severity, "state": f.state, "type": f.kind, "findingId": f.id},
            });
            if let Some(state) = self.report.state_against_baseline(f) {
                result["baselineState"] =
                    serde_json::json!(if state == "new" { "new" } else { "unchanged" });
            }
            if file && f.path.is_empty() {
                // nowhere to point
            } else if file {
                result["locations"] = serde_json::json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": start, "endLine": end},
                    }
                }]);
            } else {
                result["locations"] = serde_json::json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 1},
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
    // two passes over the findings before the results: the rule ids, then the rules
    let ids = RuleIds::of(r.store.findings().map(|(_, f)| f).filter(kept));
    let mut index: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut rules: Vec<(At, usize)> = Vec::new();
    for (at, f) in r.store.findings().filter(|(_, f)| kept(f)) {
        let id = hashed(&ids.id(&f));
        let rank = rank(&f.severity);
        match index.get(&id) {
            Some(&i) => {
                if rank < rules[i].1 {
                    rules[i].1 = rank;
                }
            }
            None => {
                index.insert(id, rules.len());
                rules.push((at, rank));
            }
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
    serde_json::to_writer(&mut *out, &Rules(r.store, &ids, rules)).map_err(io::Error::other)?;
    writeln!(out, "\n        }}\n      }},")?;
    // one category per scanned folder, so that a monorepo's uploads do not replace each other
    let category = format!(
        "cybedefend/{}/",
        r.path_prefix.filter(|p| !p.is_empty()).unwrap_or(".")
    );
    writeln!(
        out,
        "      \"automationDetails\": {},",
        serde_json::json!({ "id": category })
    )?;
    write!(out, "      \"results\": ")?;
    serde_json::to_writer(
        &mut *out,
        &SarifResults {
            report: r,
            index: &index,
            ids: &ids,
        },
    )
    .map_err(io::Error::other)?;
    writeln!(out, "\n    }}\n  ]\n}}")
}
