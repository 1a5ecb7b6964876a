//! SARIF 2.1.0, for code-scanning dashboards: one rule per finding name, one result per
//! open finding.

use std::io::{self, Write};

use cybedefend_core::platform::results::Finding;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::{Report, strip_bold};

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
